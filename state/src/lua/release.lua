-- Give a lease back without finishing the item: it is handed out again
-- after the delay (transient failure, back-off).
-- KEYS: 1 ready zset; ARGV: 1 partition, 2 lease token, 3 delay ms
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not s) or tonumber(s) ~= tonumber(ARGV[2]) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
