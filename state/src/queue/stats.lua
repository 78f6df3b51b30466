-- A queue's numbers in one step, for gauges sampled every few seconds.
-- Held and paused partitions are those ready later than now; a worker's
-- lease shows in the held hash, anything else waits out a delay. The walk
-- over them is capped (ARGV[1]) so a sample stays cheap.
-- KEYS: 1 ready zset, 2 held hash, 3 pending counter, 4 since zset, 5 dead-letter stream
-- Returns {items, partitions, oldest enqueue ms (-1: none), held, paused,
-- longest remaining pause ms, dead letters, now ms}.
local items = tonumber(redis.call('GET', KEYS[3]) or '0')
local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local oldest = -1
if #first > 0 then oldest = tonumber(first[2]) end
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now), '+inf',
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local held, paused, longest = 0, 0, 0
for i = 1, #later, 2 do
  if redis.call('HEXISTS', KEYS[2], later[i]) == 1 then
    held = held + 1
  else
    paused = paused + 1
    longest = math.max(longest, tonumber(later[i + 1]) - now)
  end
end
return {items, redis.call('ZCARD', KEYS[4]), oldest, held, paused, longest,
  redis.call('XLEN', KEYS[5]), now}
