-- Generic cell rate algorithm: one key holds the theoretical arrival time
-- (TAT). A request is allowed when TAT - burst*interval <= now. A second key
-- remembers that the caller was already told about the limit this window.
-- KEYS: 1 TAT, 2 notice mark
-- ARGV: 1 emission interval ms, 2 burst
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  local wait = allow_at - now
  local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', wait)
  return {0, wait, first and 1 or 0}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1)
return {1, 0, 0}
