-- Extend leases that are still held: a worker busy with a slow item keeps
-- its partition, so nobody else starts the same item meanwhile.
-- KEYS: 1 ready zset, 2 held hash
-- ARGV: 1 lease ms, then per claim: partition, token
-- Returns one 1 (renewed) or 0 (taken over or settled) per claim.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local out = {}
for i = 1, (#ARGV - 1) / 2 do
  local partition, token = ARGV[2 * i], ARGV[2 * i + 1]
  if tonumber(redis.call('HGET', KEYS[2], partition) or '-1') == tonumber(token) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, partition)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
