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
--       segment ("" for a key mark)
-- Returns one 1 (new) or 0 (duplicate) per item.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = '\1' .. string.format('%d', now) .. '\1'
local n = (#KEYS - 3) / 2
local fresh = {}
-- Bit marks, one BITFIELD per segment (in item order within it).
local segments, order = {}, {}
for i = 1, n do
  local offset = ARGV[3 * i + 1]
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
local out = {}
local added = 0
for i = 1, n do
  if ARGV[3 * i + 1] == '' then
    fresh[i] = redis.call('SET', KEYS[2 * i + 2], '1', 'NX', 'PX', ARGV[1]) and true or false
  end
  if fresh[i] then
    local partition = ARGV[3 * i - 1]
    if redis.call('RPUSH', KEYS[2 * i + 3], stamp .. ARGV[3 * i]) == 1 then
      redis.call('ZADD', KEYS[3], now, partition)
    end
    redis.call('ZADD', KEYS[1], 'NX', now, partition)
    added = added + 1
    out[i] = 1
  else
    out[i] = 0
  end
end
if added > 0 then redis.call('INCRBY', KEYS[2], added) end
return out
