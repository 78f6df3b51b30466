-- De-duplicate and enqueue a batch of items in one step, so each id is
-- either marked seen AND queued, or neither (a crash can't lose or double an
-- item), and a batch costs one round trip however many items it holds.
-- Each stored item is stamped with its enqueue time ("\1MS\1" in front),
-- and the since zset holds each partition's head item's time, so the age
-- of the oldest queued item is one ZRANGE (a partition's first item costs
-- one ZADD more; later ones nothing).
-- KEYS: 1 ready zset, 2 pending counter, 3 since zset, then per item: dedup mark, partition list
-- ARGV: 1 dedup ttl ms, then per item: partition, item
-- Returns one 1 (new) or 0 (duplicate) per item.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = '\1' .. string.format('%d', now) .. '\1'
local out = {}
local added = 0
for i = 1, (#KEYS - 3) / 2 do
  if redis.call('SET', KEYS[2 * i + 2], '1', 'NX', 'PX', ARGV[1]) then
    if redis.call('RPUSH', KEYS[2 * i + 3], stamp .. ARGV[2 * i + 1]) == 1 then
      redis.call('ZADD', KEYS[3], now, ARGV[2 * i])
    end
    redis.call('ZADD', KEYS[1], 'NX', now, ARGV[2 * i])
    added = added + 1
    out[i] = 1
  else
    out[i] = 0
  end
end
if added > 0 then redis.call('INCRBY', KEYS[2], added) end
return out
