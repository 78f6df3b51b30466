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
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ki, ai = 0, 0
local function K() ki = ki + 1; return KEYS[ki] end
local function A() ai = ai + 1; return ARGV[ai] end
local ARITY = {
  rev = {1, 1}, absent = {1, 0}, lease = {1, 2},
  put = {1, 2}, set = {1, 2}, del = {1, 0}, incr = {1, 2},
  sadd = {1, 1}, srem = {1, 1}, push = {1, 2}, xadd = {1, 2},
  zadd = {1, 2}, zrem = {1, 1},
  enq = {5, 3}, ack = {7, 2}, rel = {3, 3},
}
-- Queue items carry their enqueue time in front ("\1MS\1", see
-- enqueue.lua); an item stored by an older version has none.
local stamp = '\1' .. string.format('%d', now) .. '\1'
local function unstamp(item)
  if string.byte(item, 1) == 1 then
    local e = string.find(item, '\1', 2, true)
    if e then return tonumber(string.sub(item, 2, e - 1)) or now, string.sub(item, e + 1) end
  end
  return now, item
end

local function skip(name)
  local a = ARITY[name]
  ki = ki + a[1]
  ai = ai + a[2]
end

-- Acknowledgements defer their bookkeeping (pending count, held and
-- attempts entries, ready and head-time entries) and one flush applies
-- each kind for all of them in one command, so acknowledging k items costs
-- their LPOP and LINDEX and a handful of commands, not eight each. Nothing
-- may observe a partition's deferred state: any queue guard or write on a
-- partition with some flushes first (partitions are matched by name
-- across queues, which only flushes more often).
local deferred = {touched = {}, decr = {}, hdel = {}, zrem = {}, zadd = {}, order = {}}
local function defer(kind, key, ...)
  local bucket = deferred[kind][key]
  if not bucket then
    bucket = {}
    deferred[kind][key] = bucket
    deferred.order[#deferred.order + 1] = {kind, key}
  end
  for _, v in ipairs({...}) do bucket[#bucket + 1] = v end
end
local function flush()
  for _, entry in ipairs(deferred.order) do
    local kind, key = entry[1], entry[2]
    local bucket = deferred[kind][key]
    if kind == 'decr' then
      redis.call('DECRBY', key, #bucket)
    elseif kind == 'hdel' then
      redis.call('HDEL', key, unpack(bucket))
    elseif kind == 'zrem' then
      redis.call('ZREM', key, unpack(bucket))
    else
      redis.call('ZADD', key, unpack(bucket))
    end
  end
  deferred = {touched = {}, decr = {}, hdel = {}, zrem = {}, zadd = {}, order = {}}
end
local function touch(partition)
  if deferred.touched[partition] then flush() end
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
    redis.call('SADD', key, A())
  elseif name == 'srem' then
    local key = K()
    redis.call('SREM', key, A())
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
  elseif name == 'enq' then
    local ready = K()
    local pending = K()
    local since = K()
    local seen = K()
    local list = K()
    local ttl = A()
    local partition = A()
    local item = A()
    touch(partition)
    if redis.call('SET', seen, '1', 'NX', 'PX', ttl) then
      if redis.call('RPUSH', list, stamp .. item) == 1 then
        redis.call('ZADD', since, now, partition)
      end
      redis.call('ZADD', ready, 'NX', now, partition)
      redis.call('INCRBY', pending, 1)
    end
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
  else
    error('unknown write ' .. name)
  end
end

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
flush()
return out
