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
--
-- Redis spends most of a check in this Lua rather than in its two
-- commands, so the common case avoids Lua's slow paths: number
-- formatting (an allowed decision is the constant '1:0:0'), a parse per
-- argument (checks in one call share their settings: each distinct
-- string is parsed once), and a scan per remembered decision (one
-- pattern finds where the RECENT-th begins).
local RECENT = 8
local find, sub, match, format = string.find, string.sub, string.match, string.format
local ALLOWED = '1:0:0'
-- Matches RECENT - 1 decisions and captures where the next one starts.
local KEEP = '^' .. string.rep('|[^|]*', RECENT - 1) .. '()|'
local parsed = {}
local function num(s)
  local v = parsed[s]
  if not v then
    v = tonumber(s)
    parsed[s] = v
  end
  return v
end
local function decide(tat_key, notice_key, interval, burst, memo_ttl, id)
  local raw = redis.call('GET', tat_key)
  local tat, recent = now, ''
  if raw then
    local bar = find(raw, '|', 1, true)
    if bar then
      tat = tonumber(sub(raw, 1, bar - 1)) or now
      recent = sub(raw, bar)
    else
      tat = tonumber(raw) or now
    end
  end
  local tag
  if id then
    tag = '|' .. id .. '='
    local at = find(recent, tag, 1, true)
    if at then
      local a, w, f = match(recent, '^(%d+):(%d+):(%d+)', at + #tag)
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
    local cut = match(recent, KEEP)
    if cut then recent = sub(recent, 1, cut - 1) end
    local said = out[1] == 1 and ALLOWED or format('%d:%d:%d', out[1], out[2], out[3])
    recent = tag .. said .. recent
    if memo_ttl > ttl then ttl = memo_ttl end
  elseif out[1] == 0 then
    -- A limited call without a memo changes nothing.
    return out
  end
  redis.call('SET', tat_key, format('%d', new_tat) .. recent, 'PX', ttl)
  return out
end
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local id = ARGV[4 * i + 4]
  if id == '' then id = nil end
  local r = decide(KEYS[2 * i + 1], KEYS[2 * i + 2], num(ARGV[4 * i + 1]),
    num(ARGV[4 * i + 2]), num(ARGV[4 * i + 3]), id)
  out[#out + 1] = r[1]
  out[#out + 1] = r[2]
  out[#out + 1] = r[3]
end
return out
