-- Store a record unless the stored one carries a higher version, so late or
-- re-delivered events can't roll state back. Equal versions overwrite
-- (re-applying the same event is harmless).
-- KEYS: 1 record hash; ARGV: 1 version, 2 data
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and tonumber(cur) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
return 1
