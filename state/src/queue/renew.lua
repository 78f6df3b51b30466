-- Extend leases that are still held: a worker busy with a slow item keeps
-- its partition (or lane), so nobody else starts the same item meanwhile.
-- A lane's held entry is "token:settled"; the token is what counts.
-- KEYS: 1 ready zset, 2 held hash
-- ARGV: 1 lease ms, then per claim: lease name, token
-- Returns one 1 (renewed) or 0 (taken over or settled) per claim.
local deadline = now + tonumber(ARGV[1])
local out = {}
for i = 1, (#ARGV - 1) / 2 do
  local name, token = ARGV[2 * i], ARGV[2 * i + 1]
  local held = redis.call('HGET', KEYS[2], name)
  if held and tonumber(string.match(held, '^-?%d+')) == tonumber(token) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, name)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
