-- Generic cell rate algorithm: one key holds the theoretical arrival time
-- (TAT). A request is allowed when TAT - burst*interval <= now. A second key
-- remembers that the caller was already told about the limit this window.
-- With a memo key, the decision is remembered under it: asking again for
-- the same thing (a retried update) gets the same answer and consumes
-- nothing, so a retry never turns a reply into "slow down".
-- KEYS: 1 TAT, 2 notice mark, [3 memo]
-- ARGV: 1 emission interval ms, 2 burst, [3 memo ttl ms]
-- Returns {allowed (1/0), wait ms, first time limited (1/0)}.
if KEYS[3] then
  local memo = redis.call('GET', KEYS[3])
  if memo then
    local a, w, f = string.match(memo, '^(%d+):(%d+):(%d+)$')
    if a then return {tonumber(a), tonumber(w), tonumber(f)} end
  end
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
local out
if allow_at > now then
  local wait = allow_at - now
  local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', wait)
  out = {0, wait, first and 1 or 0}
else
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1)
  out = {1, 0, 0}
end
if KEYS[3] then
  redis.call('SET', KEYS[3], out[1] .. ':' .. out[2] .. ':' .. out[3], 'PX', ARGV[3])
end
return out
