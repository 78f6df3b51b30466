-- Finish the head item of a leased partition, if the lease is still ours,
-- and make the partition ready again when more items wait behind it.
-- KEYS: 1 ready zset, 2 partition list, 3 attempts hash, 4 pending counter, 5 dead-letter list
-- ARGV: 1 partition, 2 lease token, 3 '1' to dead-letter the item
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not s) or tonumber(s) ~= tonumber(ARGV[2]) then
  return 0
end
local item = redis.call('LPOP', KEYS[2])
if item and ARGV[3] == '1' then
  redis.call('RPUSH', KEYS[5], item)
  redis.call('LTRIM', KEYS[5], -1000, -1)
end
redis.call('HDEL', KEYS[3], ARGV[1])
if item then redis.call('DECR', KEYS[4]) end
if redis.call('LLEN', KEYS[2]) > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], now, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
