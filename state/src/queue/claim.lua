-- Lease up to ARGV[3] items, from the partitions and lanes ready longest
-- first. The ready zset's score is the time an entry may next be handed
-- out: "now" when it has work, the lease deadline while a worker holds it.
-- The claim's deadline is also its token, kept in the held hash (a lane's
-- as "token:settled", the count of its run's items settled so far):
-- renewals move the deadline but keep the token, and settling checks the
-- token, so a worker whose lease was taken over can no longer settle.
--
-- A partition (a parked chat, or a queue without lanes) hands out its head
-- item. A lane hands out a run of its items, many chats' in arrival order;
-- an item whose partition is parked (has an entry of its own in the ready
-- zset) is moved behind that partition's items instead, so a chat's items
-- keep their order whichever way they go.
-- KEYS: 1 ready zset, 2 attempts hash, 3 held hash, 4 since zset
-- ARGV: 1 lease ms, 2 list key prefix (same hash tag as KEYS), 3 most items
-- Returns {1, token, then per item: lease, partition, stamped item (a
-- lane's whole entry), attempts, position in its lane's run (-1: a
-- partition's item), run length}
-- or {0, ms until the next partition is ready (-1: queue empty)}.
local deadline = now + tonumber(ARGV[1])
local token = string.format('%d', deadline)
local want = tonumber(ARGV[3])
local LANE = '\1lane:'

-- The partition of a stamped lane entry ("\1ms\1\2partition\2item"),
-- read without copying the item: the entry goes back whole and Rust takes
-- it apart.
local function partition_of(entry)
  local e = string.find(entry, '\1', 2, true)
  if not e or string.byte(entry, e + 1) ~= 2 then return nil end
  local f = string.find(entry, '\2', e + 2, true)
  if not f then return nil end
  return string.sub(entry, e + 2, f - 1)
end

-- Up to `cap` entries of a lane with their partitions. nil: it is empty.
local function read_run(list, cap)
  local entries = redis.call('LRANGE', list, 0, cap - 1)
  if #entries == 0 then return nil end
  local run = {}
  for i, e in ipairs(entries) do
    run[i] = {entry = e, partition = partition_of(e) or ''}
  end
  return run
end

-- Moves a lane's entries of parked partitions behind those partitions'
-- items (rare): the run is taken out, the parked partitions' items are
-- appended to their lists (stamps kept: they have waited since), the rest
-- goes back. Returns what is left to hand out; nil when the lane is empty.
local function divert(name, list, run, parked)
  local any = false
  for _, e in ipairs(run) do
    if parked[e.partition] then any = true end
  end
  if not any then return run end
  redis.call('LTRIM', list, #run, -1)
  local keep, moves, order = {}, {}, {}
  for _, e in ipairs(run) do
    if parked[e.partition] then
      local at, bare = unstamp(e.entry)
      local item = string.sub(bare, #e.partition + 3)
      local m = moves[e.partition]
      if not m then
        m = {at = at, items = {}}
        moves[e.partition] = m
        order[#order + 1] = e.partition
      end
      m.items[#m.items + 1] = '\1' .. string.format('%d', at) .. '\1' .. item
    else
      keep[#keep + 1] = e
    end
  end
  for _, p in ipairs(order) do
    local m = moves[p]
    if redis.call('RPUSH', ARGV[2] .. p, unpack(m.items)) == #m.items then
      redis.call('ZADD', KEYS[4], m.at, p)
    end
  end
  if #keep > 0 then
    local back = {}
    for i = #keep, 1, -1 do back[#back + 1] = keep[i].entry end
    redis.call('LPUSH', list, unpack(back))
  end
  if #keep == 0 and redis.call('LLEN', list) == 0 then return nil end
  return keep
end

local out = {1, deadline}
local count = 0
-- Head times of the leased lanes (a lane's settle does not keep it).
local heads = {}
-- Per leased partition or lane: its name and where its items are in `out`.
local claimed = {}
-- Each round's leases go into one ZADD, the attempts and held entries of
-- all rounds into one HMGET and two HSETs.
for _ = 1, 8 do
  local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want - count)
  if #r == 0 then break end
  local leased, empty = {}, {}
  -- The round's lane runs are read first, so that one ZMSCORE tells which
  -- of all their partitions are parked.
  local runs, names, seen = {}, {}, {}
  local planned = count
  for _, name in ipairs(r) do
    if planned >= want then break end
    if string.sub(name, 1, #LANE) == LANE then
      local run = read_run(ARGV[2] .. name, want - planned)
      if run == nil then
        empty[#empty + 1] = name
      else
        runs[name] = run
        planned = planned + #run
        for _, e in ipairs(run) do
          if e.partition ~= '' and not seen[e.partition] then
            seen[e.partition] = true
            names[#names + 1] = e.partition
          end
        end
      end
    else
      planned = planned + 1
    end
  end
  local parked = {}
  if #names > 0 then
    local scores = redis.call('ZMSCORE', KEYS[1], unpack(names))
    for i, p in ipairs(names) do
      if scores[i] then parked[p] = true end
    end
  end
  for _, name in ipairs(r) do
    if count >= want then break end
    local list = ARGV[2] .. name
    local lease = {name = name, at = {}}
    if runs[name] then
      local run = divert(name, list, runs[name], parked)
      if run == nil then
        empty[#empty + 1] = name
      elseif #run > 0 then
        lease.lane = true
        heads[#heads + 1] = (unstamp(run[1].entry))
        heads[#heads + 1] = name
        for pos, e in ipairs(run) do
          out[#out + 1] = name
          out[#out + 1] = e.partition
          out[#out + 1] = e.entry
          out[#out + 1] = 0
          lease.at[#lease.at + 1] = #out
          out[#out + 1] = pos - 1
          out[#out + 1] = #run
        end
        count = count + #run
      end
    elseif string.sub(name, 1, #LANE) ~= LANE then
      local item = redis.call('LINDEX', list, 0)
      if item then
        out[#out + 1] = name
        out[#out + 1] = name
        out[#out + 1] = item
        out[#out + 1] = 0
        lease.at[1] = #out
        out[#out + 1] = -1
        out[#out + 1] = 1
        count = count + 1
      else
        -- A ready partition without items: drop it.
        empty[#empty + 1] = name
      end
    end
    if #lease.at > 0 then
      leased[#leased + 1] = deadline
      leased[#leased + 1] = name
      claimed[#claimed + 1] = lease
    end
  end
  if #leased > 0 then redis.call('ZADD', KEYS[1], unpack(leased)) end
  if #empty > 0 then
    redis.call('ZREM', KEYS[1], unpack(empty))
    redis.call('ZREM', KEYS[4], unpack(empty))
    redis.call('HDEL', KEYS[3], unpack(empty))
  end
  if count >= want then break end
end
if #claimed > 0 then
  local names = {}
  for i, lease in ipairs(claimed) do names[i] = lease.name end
  local before = redis.call('HMGET', KEYS[2], unpack(names))
  local attempts, held = {}, {}
  for i, lease in ipairs(claimed) do
    local n = (tonumber(before[i]) or 0) + 1
    for _, at in ipairs(lease.at) do out[at] = n end
    attempts[#attempts + 1] = lease.name
    attempts[#attempts + 1] = n
    held[#held + 1] = lease.name
    held[#held + 1] = lease.lane and (token .. ':0') or token
  end
  redis.call('HSET', KEYS[2], unpack(attempts))
  redis.call('HSET', KEYS[3], unpack(held))
  if #heads > 0 then redis.call('ZADD', KEYS[4], unpack(heads)) end
  return out
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return {0, -1} end
return {0, math.max(0, tonumber(nxt[2]) - now)}
