-- Put a dead letter back at the end of its partition: handed out again as
-- new (no de-duplication: its id was seen, and replaying is deliberate).
-- KEYS: 1 dead-letter stream, 2 ready zset, 3 pending counter, 4 since zset
-- ARGV: 1 dead-letter id, 2 partition list key prefix (same hash tag)
-- Returns 1 when replayed, 0 when no such dead letter.
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return 0 end
local fields = found[1][2]
local partition, item
for i = 1, #fields, 2 do
  if fields[i] == 'p' then partition = fields[i + 1] end
  if fields[i] == 'i' then item = fields[i + 1] end
end
redis.call('XDEL', KEYS[1], ARGV[1])
if not partition or not item then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Stamped now, as enqueue.lua does: its wait starts again.
local stamp = '\1' .. string.format('%d', now) .. '\1'
if redis.call('RPUSH', ARGV[2] .. partition, stamp .. item) == 1 then
  redis.call('ZADD', KEYS[4], now, partition)
end
redis.call('ZADD', KEYS[2], 'NX', now, partition)
redis.call('INCRBY', KEYS[3], 1)
return 1
