-- Apply transactions, each all or nothing: a transaction's guards are
-- checked first, and only when every one holds are its writes applied. A
-- refused transaction changes nothing; the others in the call still apply.
-- The whole call is one atomic step (this script), so a failure or a lost
-- reply leaves either all of a transaction or none of it.
--
-- Encoding: ARGV[1] = number of transactions; then per transaction the
-- number of guards, the guards, the number of writes, the writes. Each
-- guard or write is its name followed by its arguments; its keys are taken
-- from KEYS in order. ARITY gives each name's (keys, arguments), so a
-- refused transaction's writes can be skipped without being run.
-- Returns one integer per transaction: 0 applied, else the 1-based index
-- of the guard that failed.
local ki, ai = 0, 0
local function K() ki = ki + 1; return KEYS[ki] end
local function A() ai = ai + 1; return ARGV[ai] end
local ARITY = {} -- written from tx/table.rs when loaded

local function skip(name)
  local a = ARITY[name]
  ki = ki + a[1]
  ai = ai + a[2]
end

-- Acknowledgements, enqueues and set removals defer their bookkeeping (pending count,
-- held and attempts entries, ready and head-time entries) and one flush applies
-- each kind for all of them in one command, so acknowledging k items costs
-- their LPOP and LINDEX and a handful of commands, not eight each. Nothing
-- may observe a partition's deferred state: any queue guard or write on a
-- partition with some flushes first (partitions are matched by name
-- across queues, which only flushes more often).
local function fresh_deferred()
  return {touched = {}, decr = {}, incr = {}, hdel = {}, zrem = {}, zadd = {}, zaddnx = {}, srem = {}, order = {}}
end
local deferred = fresh_deferred()
-- One or two values (a member, or a score and member), passed as such:
-- a vararg table per call showed in the settle's cost.
local function defer(kind, key, a, b)
  local bucket = deferred[kind][key]
  if not bucket then
    bucket = {}
    deferred[kind][key] = bucket
    deferred.order[#deferred.order + 1] = {kind, key}
  end
  bucket[#bucket + 1] = a
  if b ~= nil then bucket[#bucket + 1] = b end
end
local function flush()
  for _, entry in ipairs(deferred.order) do
    local kind, key = entry[1], entry[2]
    local bucket = deferred[kind][key]
    if kind == 'decr' then
      redis.call('DECRBY', key, #bucket)
    elseif kind == 'incr' then
      redis.call('INCRBY', key, #bucket)
    elseif kind == 'zaddnx' then
      redis.call('ZADD', key, 'NX', unpack(bucket))
    elseif kind == 'hdel' then
      redis.call('HDEL', key, unpack(bucket))
    elseif kind == 'zrem' then
      redis.call('ZREM', key, unpack(bucket))
    elseif kind == 'srem' then
      redis.call('SREM', key, unpack(bucket))
    else
      redis.call('ZADD', key, unpack(bucket))
    end
  end
  deferred = fresh_deferred()
end
local function touch(partition)
  if deferred.touched[partition] then flush() end
end

-- Lanes (see claim.lua): a lane's held entry is "token:settled". Each
-- lane's entry is read once per call and kept here, with the items
-- settled in this call; the LTRIM of acknowledged items and the new held
-- entry are written once per lane at the end (or before an item has to be
-- taken out on its own), so a run of k items settles in a few commands.
local lanes = {}
-- Keyed by held hash and lane: two queues' lanes never share an entry.
local function parse_held(held, lane, v)
  local token, settled = false, 0
  if v then
    local c = string.find(v, ':', 1, true)
    if c then
      token = tonumber(string.sub(v, 1, c - 1))
      settled = tonumber(string.sub(v, c + 1)) or 0
    else
      token = tonumber(v)
    end
  end
  return {held = held, lane = lane, token = token, settled = settled, trim = 0, dirty = false}
end
local function lane_state(held, lane)
  local st = lanes[held .. '\0' .. lane]
  if not st then
    st = parse_held(held, lane, redis.call('HGET', held, lane))
    lanes[held .. '\0' .. lane] = st
  end
  return st
end
local function trim_lane(st)
  if st.trim > 0 then
    redis.call('LTRIM', st.list, st.trim, -1)
    st.trim = 0
  end
end
-- A lane entry's partition and item ("\2partition\2item").
local function split(bare)
  if string.byte(bare, 1) == 2 then
    local e = string.find(bare, '\2', 2, true)
    if e then return string.sub(bare, 2, e - 1), string.sub(bare, e + 1) end
  end
  return nil, bare
end
-- The run's last item is settled: the lane goes back, ready at once. Its
-- list is not read to see whether anything is left: the next claim reads
-- it anyway, drops the lane when it is empty and sets its head time.
local function release_lane(st, lane, ready, attempts)
  trim_lane(st)
  defer('zadd', ready, now, lane)
  defer('hdel', st.held, lane)
  defer('hdel', attempts, lane)
  -- An enqueue to this lane later in the call flushes these first.
  deferred.touched[lane] = true
  st.token = false
  st.dirty = false
end
-- One more item of the lane's run is settled; the last gives it back.
local function lane_settled(st, lane, last, ready, attempts)
  st.settled = st.settled + 1
  st.dirty = true
  if last == '1' then release_lane(st, lane, ready, attempts) end
end
local function flush_lanes()
  local held = {}
  for _, st in pairs(lanes) do
    if st.dirty and st.token then
      trim_lane(st)
      local h = held[st.held]
      if not h then
        h = {}
        held[st.held] = h
      end
      h[#h + 1] = st.lane
      h[#h + 1] = string.format('%d', st.token) .. ':' .. st.settled
    end
    st.dirty = false
  end
  for key, fields in pairs(held) do redis.call('HSET', key, unpack(fields)) end
end

local function guard(name)
  if name == 'rev' then
    local key = K()
    local want = tonumber(A())
    return tonumber(redis.call('HGET', key, 'v') or '0') == want
  elseif name == 'absent' then
    return redis.call('EXISTS', K()) == 0
  elseif name == 'lease' then
    local held = K()
    local partition = A()
    local token = A()
    touch(partition)
    return tonumber(redis.call('HGET', held, partition) or '-1') == tonumber(token)
  elseif name == 'laneheld' then
    local held = K()
    local lane = A()
    local token = tonumber(A())
    local pos = tonumber(A())
    local st = lane_state(held, lane)
    return st.token == token and st.settled == pos
  end
  error('unknown guard ' .. name)
end

local function write(name)
  if name == 'put' then
    local key = K()
    local rev = A()
    local data = A()
    redis.call('HSET', key, 'v', rev, 'd', data)
  elseif name == 'set' then
    local key = K()
    local value = A()
    local ttl = tonumber(A())
    if ttl > 0 then redis.call('SET', key, value, 'PX', ttl) else redis.call('SET', key, value) end
  elseif name == 'del' then
    redis.call('DEL', K())
  elseif name == 'incr' then
    local key = K()
    redis.call('INCRBY', key, A())
    local ttl = tonumber(A())
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  elseif name == 'sadd' then
    local key = K()
    -- A removal deferred before it goes first.
    if deferred.srem[key] then flush() end
    redis.call('SADD', key, A())
  elseif name == 'srem' then
    -- Deferred to one SREM per set for the call: every handled message
    -- lifts its sender's block (almost always a no-op), and a script's
    -- call costs Redis far more than the SREM itself.
    defer('srem', K(), A())
  elseif name == 'push' then
    local key = K()
    local value = A()
    local cap = tonumber(A())
    redis.call('RPUSH', key, value)
    redis.call('LTRIM', key, -cap, -1)
  elseif name == 'xadd' then
    local key = K()
    local cap = A()
    local entry = A()
    redis.call('XADD', key, 'MAXLEN', '~', cap, '*', 'e', entry)
  elseif name == 'zadd' then
    local key = K()
    local member = A()
    local score = A()
    redis.call('ZADD', key, score, member)
  elseif name == 'zrem' then
    local key = K()
    redis.call('ZREM', key, A())
  elseif name == 'enq' or name == 'enq0' then
    -- 'enq0' keeps no de-dup mark (its transaction commits at most once)
    -- and is sent without the mark's key and ttl.
    local marked = name == 'enq'
    local ready = K()
    local pending = K()
    local since = K()
    local seen = marked and K()
    local list = K()
    local ttl = marked and A()
    local partition = A()
    local item = A()
    touch(partition)
    if not marked or redis.call('SET', seen, '1', 'NX', 'PX', ttl) then
      -- The bookkeeping is deferred like an acknowledgement's: replies
      -- committed together cost one ZADD and one INCRBY, not one each.
      if redis.call('RPUSH', list, stamp .. item) == 1 then
        defer('zadd', since, now, partition)
      end
      defer('zaddnx', ready, now, partition)
      defer('incr', pending, 1)
      deferred.touched[partition] = true
    end
  elseif name == 'lack' then
    -- A lane item acknowledged, the common settle, with only the keys it
    -- touches: the item is trimmed from its lane with the run's others.
    local ready = K()
    local held = K()
    local attempts = K()
    local pending = K()
    local list = K()
    local lane = A()
    local last = A()
    local st = lane_state(held, lane)
    st.list = list
    st.trim = st.trim + 1
    defer('decr', pending, 1)
    lane_settled(st, lane, last, ready, attempts)
  elseif name == 'ack' then
    local ready = K()
    local held = K()
    local attempts = K()
    local pending = K()
    local dead = K()
    local since = K()
    local list = K()
    local partition = A()
    local reason = A()
    touch(partition)
    local item = redis.call('LPOP', list)
    if item then
      defer('decr', pending, 1)
      if reason ~= '' then
        local n = redis.call('HGET', attempts, partition) or '0'
        local _, bare = unstamp(item)
        redis.call('XADD', dead, 'MAXLEN', '~', 10000, '*',
          'p', partition, 'i', bare, 'r', reason, 'a', n)
      end
    end
    defer('hdel', held, partition)
    defer('hdel', attempts, partition)
    local head = redis.call('LINDEX', list, 0)
    if head then
      defer('zadd', ready, now, partition)
      defer('zadd', since, (unstamp(head)), partition)
    else
      defer('zrem', ready, partition)
      defer('zrem', since, partition)
    end
    deferred.touched[partition] = true
  elseif name == 'rel' then
    local ready = K()
    local held = K()
    local attempts = K()
    local partition = A()
    local delay = tonumber(A())
    local counts = A()
    touch(partition)
    redis.call('ZADD', ready, now + delay, partition)
    redis.call('HDEL', held, partition)
    if counts == '0' and tonumber(redis.call('HGET', attempts, partition) or '0') > 0 then
      redis.call('HINCRBY', attempts, partition, -1)
    end
  elseif name == 'lane' then
    local ready = K()
    local held = K()
    local attempts = K()
    local pending = K()
    local dead = K()
    local since = K()
    local list = K()
    local plist = K()
    local lane = A()
    local partition = A()
    local last = A()
    local mode = A()
    local text = A()
    local n = A()
    local st = lane_state(held, lane)
    st.list = list
    -- An acknowledgement comes as 'lack'; these take the item out on its
    -- own.
    trim_lane(st)
    local entry = redis.call('LPOP', list)
    if entry then
      local at, bare = unstamp(entry)
      local _, item = split(bare)
      if mode == 'dead' then
        defer('decr', pending, 1)
        redis.call('XADD', dead, 'MAXLEN', '~', 10000, '*',
          'p', partition, 'i', item, 'r', text, 'a', n)
      else
        -- Parked: the partition gets a list of its own (stamp kept),
        -- which the claim sends its later lane items to until drained.
        touch(partition)
        if redis.call('RPUSH', plist, '\1' .. string.format('%d', at) .. '\1' .. item) == 1 then
          redis.call('ZADD', since, at, partition)
        end
        if mode == 'park' then
          redis.call('ZADD', ready, now + tonumber(text), partition)
          redis.call('HSET', attempts, partition, n)
        else
          redis.call('ZADD', ready, 'NX', now, partition)
        end
      end
    end
    lane_settled(st, lane, last, ready, attempts)
  else
    error('unknown write ' .. name)
  end
end

-- Every lane guard's held entry in one HMGET per held hash: a first pass
-- over the encoding reads only the guards' names and skips the rest.
local function prefetch()
  local want, order = {}, {}
  for _ = 1, tonumber(A()) do
    for _ = 1, tonumber(A()) do
      local name = A()
      if name == 'laneheld' then
        local held, lane = K(), A()
        A()
        A()
        local w = want[held]
        if not w then
          w = {seen = {}, names = {}}
          want[held] = w
          order[#order + 1] = held
        end
        if not w.seen[lane] then
          w.seen[lane] = true
          w.names[#w.names + 1] = lane
        end
      else
        skip(name)
      end
    end
    for _ = 1, tonumber(A()) do skip(A()) end
  end
  for _, held in ipairs(order) do
    local names = want[held].names
    local values = redis.call('HMGET', held, unpack(names))
    for i, lane in ipairs(names) do lanes[held .. '\0' .. lane] = parse_held(held, lane, values[i]) end
  end
  ki, ai = 0, 0
end
prefetch()

local out = {}
local count = tonumber(A())
for tx = 1, count do
  local failed = 0
  local guards = tonumber(A())
  for g = 1, guards do
    local name = A()
    if failed == 0 then
      if not guard(name) then failed = g end
    else
      skip(name)
    end
  end
  local writes = tonumber(A())
  for _ = 1, writes do
    local name = A()
    if failed == 0 then write(name) else skip(name) end
  end
  out[tx] = failed
end
flush_lanes()
flush()
return out
