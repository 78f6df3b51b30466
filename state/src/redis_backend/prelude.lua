-- The prelude of every script (prepended when a script is loaded, see
-- redis_backend.rs): the store's clock, and the stamp queue items carry.
-- `now` is the store's time in milliseconds. A stored queue item has its
-- enqueue time in front ("\1MS\1"); `unstamp` splits it off (an item
-- stored by an older version has none: it counts as enqueued now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = '\1' .. string.format('%d', now) .. '\1'
local function unstamp(entry)
  if string.byte(entry, 1) == 1 then
    local e = string.find(entry, '\1', 2, true)
    if e then return tonumber(string.sub(entry, 2, e - 1)) or now, string.sub(entry, e + 1) end
  end
  return now, entry
end
