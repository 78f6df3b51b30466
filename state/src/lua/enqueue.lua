-- De-duplicate and enqueue in one step, so an id is either marked seen AND
-- queued, or neither (a crash between the two can't lose or double an item).
-- KEYS: 1 dedup mark, 2 partition list, 3 ready zset, 4 pending counter
-- ARGV: 1 dedup ttl ms, 2 partition, 3 item
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[3], 'NX', now, ARGV[2])
redis.call('INCR', KEYS[4])
return 1
