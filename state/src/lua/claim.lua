-- Lease up to ARGV[3] partitions, those ready longest first. The ready
-- zset's score is the time the partition may next be handed out: "now" when
-- it has work, the lease deadline while a worker holds it. The claim's
-- deadline is also its token, kept in the held hash: renewals move the
-- deadline but keep the token, and settling checks the token, so a worker
-- whose lease was taken over can no longer settle.
-- KEYS: 1 ready zset, 2 attempts hash, 3 held hash
-- ARGV: 1 lease ms, 2 partition list key prefix (same hash tag as KEYS), 3 most partitions
-- Returns {1, token, partition, item, attempts, partition, item, attempts, ...}
-- or {0, ms until the next partition is ready (-1: queue empty)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local want = tonumber(ARGV[3])
local out = {1, deadline}
local claimed = {}
-- Each round's leases go into one ZADD, the attempts and held entries of
-- all rounds into one HMGET and two HSETs: a claim of k partitions costs k
-- LINDEXes and a handful of commands, not four per partition.
for _ = 1, 8 do
  local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want - #claimed)
  if #r == 0 then break end
  local leased, empty = {}, {}
  for _, partition in ipairs(r) do
    local item = redis.call('LINDEX', ARGV[2] .. partition, 0)
    if item then
      leased[#leased + 1] = deadline
      leased[#leased + 1] = partition
      claimed[#claimed + 1] = partition
      out[#out + 1] = partition
      out[#out + 1] = item
      out[#out + 1] = 0
    else
      -- A ready partition without items: drop it.
      empty[#empty + 1] = partition
    end
  end
  if #leased > 0 then redis.call('ZADD', KEYS[1], unpack(leased)) end
  if #empty > 0 then
    redis.call('ZREM', KEYS[1], unpack(empty))
    redis.call('HDEL', KEYS[3], unpack(empty))
  end
  if #claimed >= want then break end
end
if #claimed > 0 then
  local before = redis.call('HMGET', KEYS[2], unpack(claimed))
  local attempts, held = {}, {}
  local token = string.format('%d', deadline)
  for i, partition in ipairs(claimed) do
    local n = (tonumber(before[i]) or 0) + 1
    out[2 + 3 * i] = n
    attempts[#attempts + 1] = partition
    attempts[#attempts + 1] = n
    held[#held + 1] = partition
    held[#held + 1] = token
  end
  redis.call('HSET', KEYS[2], unpack(attempts))
  redis.call('HSET', KEYS[3], unpack(held))
  return out
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return {0, -1} end
return {0, math.max(0, tonumber(nxt[2]) - now)}
