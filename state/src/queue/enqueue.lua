-- De-duplicate and enqueue a batch of items in one step, so each id is
-- either marked seen AND queued, or neither (a crash can't lose or double an
-- item), and a batch costs one round trip however many items it holds.
--
-- An id is marked either as a key of its own (SET NX PX) or, for a queue of
-- sequence ids, as one bit of a segment bitmap: every bit of a segment is
-- set by one BITFIELD (its old values say which ids were seen), and the
-- segment lives a TTL past its last write.
--
-- Each stored item is stamped with its enqueue time ("\1MS\1" in front),
-- and the since zset holds each partition's head item's time, so the age
-- of the oldest queued item is one ZRANGE (a partition's first item costs
-- one ZADD more; later ones nothing).
-- KEYS: 1 ready zset, 2 pending counter, 3 since zset, then per item: its
--       mark (key or segment), its partition list
-- ARGV: 1 dedup ttl ms, then per item: partition, item, bit offset in the
--       segment ("" for a key mark), 1 to only remember the id (0: queue it)
--
-- A remembered-only item (one that needs no work) costs its mark alone: for
-- a sequence id one bit in the segment's BITFIELD, nothing queued, claimed
-- or acknowledged.
-- Returns one 1 (new) or 0 (duplicate) per item.
local n = (#KEYS - 3) / 2
local fresh = {}
-- Bit marks, one BITFIELD per segment (in item order within it).
local segments, order = {}, {}
for i = 1, n do
  local offset = ARGV[4 * i]
  if offset ~= '' then
    local key = KEYS[2 * i + 2]
    if not segments[key] then
      segments[key] = {args = {}, items = {}}
      order[#order + 1] = key
    end
    local s = segments[key]
    s.args[#s.args + 1] = 'SET'
    s.args[#s.args + 1] = 'u1'
    s.args[#s.args + 1] = offset
    s.args[#s.args + 1] = 1
    s.items[#s.items + 1] = i
  end
end
for _, key in ipairs(order) do
  local s = segments[key]
  local old = redis.call('BITFIELD', key, unpack(s.args))
  for j, i in ipairs(s.items) do fresh[i] = (old[j] == 0) end
  redis.call('PEXPIRE', key, ARGV[1])
end
-- Items to queue are grouped by partition (in batch order within each), so
-- a partition costs one RPUSH per batch however many of its items the
-- batch holds, and the batch's ready and head-time entries one ZADD each.
local out = {}
local added = 0
local lists, porder = {}, {}
for i = 1, n do
  if ARGV[4 * i] == '' then
    fresh[i] = redis.call('SET', KEYS[2 * i + 2], '1', 'NX', 'PX', ARGV[1]) and true or false
  end
  if not fresh[i] then
    out[i] = 0
  else
    out[i] = 1
    if ARGV[4 * i + 1] ~= '1' then
      local partition = ARGV[4 * i - 2]
      local l = lists[partition]
      if not l then
        l = {key = KEYS[2 * i + 3], items = {}}
        lists[partition] = l
        porder[#porder + 1] = partition
      end
      l.items[#l.items + 1] = stamp .. ARGV[4 * i - 1]
      added = added + 1
    end
  end
end
-- New heads' times and ready entries go in one ZADD each for the batch.
local heads, readies = {}, {}
for _, partition in ipairs(porder) do
  local l = lists[partition]
  -- The list was empty before: this partition's head is new.
  if redis.call('RPUSH', l.key, unpack(l.items)) == #l.items then
    heads[#heads + 1] = now
    heads[#heads + 1] = partition
  end
  readies[#readies + 1] = now
  readies[#readies + 1] = partition
end
if #heads > 0 then redis.call('ZADD', KEYS[3], unpack(heads)) end
if #readies > 0 then redis.call('ZADD', KEYS[1], 'NX', unpack(readies)) end
if added > 0 then redis.call('INCRBY', KEYS[2], added) end
return out
