-- Finish the head item of leased partitions, each only if its lease is
-- still ours, and make a partition ready again when more items wait in it.
-- KEYS: 1 ready zset, 2 attempts hash, 3 pending counter, 4 dead-letter list,
--       then per claim: its partition list
-- ARGV: per claim: partition, lease token, '1' to dead-letter the item
-- Returns one 1 (finished) or 0 (lease lost) per claim.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local popped = 0
for i = 1, #KEYS - 4 do
  local partition, token, dead = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local list = KEYS[4 + i]
  local s = redis.call('ZSCORE', KEYS[1], partition)
  if (not s) or tonumber(s) ~= tonumber(token) then
    out[i] = 0
  else
    local item = redis.call('LPOP', list)
    if item then
      popped = popped + 1
      if dead == '1' then
        redis.call('RPUSH', KEYS[4], item)
        redis.call('LTRIM', KEYS[4], -1000, -1)
      end
    end
    redis.call('HDEL', KEYS[2], partition)
    if redis.call('LLEN', list) > 0 then
      redis.call('ZADD', KEYS[1], now, partition)
    else
      redis.call('ZREM', KEYS[1], partition)
    end
    out[i] = 1
  end
end
if popped > 0 then redis.call('DECRBY', KEYS[3], popped) end
return out
