-- Generic cell rate algorithm: one key holds the theoretical arrival time
-- (TAT). A request is allowed when TAT - burst*interval <= now. A second key
-- remembers that the caller was already told about the limit this window.
-- With a memo id, the decision is remembered in the TAT key itself, with
-- the caller's last few (RECENT) decisions: asking again for the same
-- thing (a retried update) gets the same answer and consumes nothing, so a
-- retry never turns a reply into "slow down". Kept in the one key rather
-- than a key per item, a check costs two commands, not four, and leaves
-- no key of its own behind for the memo's lifetime.
-- The key's value: "TAT" or "TAT|id=a:w:f|id=a:w:f..." (newest first).
-- Several checks go in one call (those that arrived together, see
-- limiter/redis.rs), decided in order as if called one by one.
-- KEYS: per check, 1 TAT, 2 notice mark
-- ARGV: per check, 1 emission interval ms, 2 burst, 3 memo ttl ms,
-- 4 memo id ('' for none)
-- Returns per check allowed (1/0), wait ms, first time limited (1/0).
local RECENT = 8
local function decide(tat_key, notice_key, interval, burst, memo_ttl, id)
  local raw = redis.call('GET', tat_key)
  local tat, recent = now, ''
  if raw then
    local bar = string.find(raw, '|', 1, true)
    if bar then
      tat = tonumber(string.sub(raw, 1, bar - 1)) or now
      recent = string.sub(raw, bar)
    else
      tat = tonumber(raw) or now
    end
  end
  if id then
    local at = string.find(recent, '|' .. id .. '=', 1, true)
    if at then
      local a, w, f = string.match(recent, '^(%d+):(%d+):(%d+)', at + #id + 2)
      if a then return {tonumber(a), tonumber(w), tonumber(f)} end
    end
  end
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  local out
  if allow_at > now then
    local wait = allow_at - now
    local first = redis.call('SET', notice_key, '1', 'NX', 'PX', wait)
    out = {0, wait, first and 1 or 0}
    new_tat = tat
  else
    out = {1, 0, 0}
  end
  local ttl = new_tat - now + 1
  if id then
    -- The newest decision first; the oldest beyond RECENT are dropped.
    local kept, n, pos = recent, 0, 1
    while recent ~= '' do
      n = n + 1
      if n == RECENT then kept = string.sub(recent, 1, pos - 1); break end
      local nxt = string.find(recent, '|', pos + 1, true)
      if not nxt then break end
      pos = nxt
    end
    recent = '|' .. id .. '=' .. out[1] .. ':' .. out[2] .. ':' .. out[3] .. kept
    ttl = math.max(ttl, memo_ttl)
  elseif out[1] == 0 then
    -- A limited call without a memo changes nothing.
    return out
  end
  redis.call('SET', tat_key, string.format('%d', new_tat) .. recent, 'PX', ttl)
  return out
end
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local id = ARGV[4 * i + 4]
  if id == '' then id = nil end
  local r = decide(KEYS[2 * i + 1], KEYS[2 * i + 2], tonumber(ARGV[4 * i + 1]),
    tonumber(ARGV[4 * i + 2]), tonumber(ARGV[4 * i + 3]), id)
  out[#out + 1] = r[1]
  out[#out + 1] = r[2]
  out[#out + 1] = r[3]
end
return out
