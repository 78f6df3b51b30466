-- Put a dead letter back at the end of its partition: handed out again as
-- new (no de-duplication: its id was seen, and replaying is deliberate).
-- KEYS: 1 dead-letter stream, 2 ready zset, 3 pending counter, 4 since zset
-- ARGV: 1 dead-letter id, 2 partition list key prefix (same hash tag),
--       3 the queue's lanes (0: none; else it goes back into its lane, so
--       it waits behind its chat's items like any new one)
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
-- Stamped now (the prelude's `stamp`), as enqueue.lua does: its wait
-- starts again.
local name, entry = partition, item
local lanes = tonumber(ARGV[3]) or 0
if lanes > 0 then
  -- The lane Rust's lane_of picks: the same polynomial hash.
  local h = 0
  for i = 1, #partition do h = (h * 31 + string.byte(partition, i)) % 1000003 end
  name = '\1lane:' .. string.format('%d', h % lanes)
  entry = '\2' .. partition .. '\2' .. item
end
if redis.call('RPUSH', ARGV[2] .. name, stamp .. entry) == 1 then
  redis.call('ZADD', KEYS[4], now, name)
end
redis.call('ZADD', KEYS[2], 'NX', now, name)
redis.call('INCRBY', KEYS[3], 1)
return 1
