-- Book the next send slot of a paced stream: slots are `interval` apart,
-- each caller gets its own, and the answer is how long to wait for it.
-- Unlike GCRA's allow/deny, no slot is lost when nobody happens to be
-- asking at the instant it opens. Microseconds, from the server's clock.
-- KEYS: 1 next free slot; ARGV: 1 interval µs
-- In microseconds here: slots are spaced finer than a millisecond.
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or now)
if slot < now then slot = now end
local ttl_ms = math.ceil((slot + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', ttl_ms)
return slot - now
