-- Lease the partition that has been ready longest. The ready zset's score is
-- the time the partition may next be handed out: "now" when it has work,
-- the lease deadline while a worker holds it. The deadline doubles as the
-- lease token.
-- KEYS: 1 ready zset, 2 attempts hash
-- ARGV: 1 lease ms, 2 partition list key prefix (same hash tag as KEYS)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _ = 1, 8 do
  local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
  if #r == 0 then
    local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if #nxt == 0 then return {0, -1} end
    return {0, math.max(0, tonumber(nxt[2]) - now)}
  end
  local partition = r[1]
  local item = redis.call('LINDEX', ARGV[2] .. partition, 0)
  if item then
    local deadline = now + tonumber(ARGV[1])
    redis.call('ZADD', KEYS[1], deadline, partition)
    local attempts = redis.call('HINCRBY', KEYS[2], partition, 1)
    return {1, partition, item, deadline, attempts}
  end
  -- A ready partition without items: drop it and look again.
  redis.call('ZREM', KEYS[1], partition)
end
return {0, 0}
