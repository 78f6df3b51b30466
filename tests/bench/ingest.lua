-- wrk script: distinct update_ids, many group chats, messages the bot
-- ignores (not addressed to it), so only the durable accept is measured.
-- KIND=edited_message sends edits of such messages instead: the bot does
-- not tell those from work at the door, so each is queued, claimed and
-- acknowledged (and needs nothing sent). KIND=start sends `/start` in
-- private chats from 5,000 users: the handled path (queued, claimed,
-- handled, its reply committed to the outbox and sent). TEXT changes the
-- command (`TEXT=/nosuch` is answered with one short line rather than
-- /start's welcome and plans: the same path with a smaller reply).
local counter = 0
local text = os.getenv("TEXT") or "/start"
local offset = tonumber(os.getenv("ID_OFFSET") or "0")
local kind = os.getenv("KIND") or "message"
request = function()
  counter = counter + 1
  local id = offset + counter
  if kind == "start" then
    local user = 10000 + counter % 5000
    local body = string.format(
      '{"update_id":%d,"message":{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"private","first_name":"U"},"from":{"id":%d,"is_bot":false,"first_name":"U","language_code":"en"},"text":"%s"}}',
      id, counter, user, user, text)
    return wrk.format("POST", "/telegram-webhook",
      {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = "benchsecret"}, body)
  end
  local chat = -1000000000 - (counter % 500)
  local body = string.format(
    '{"update_id":%d,"%s":{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"supergroup","title":"Group"},"from":{"id":%d,"is_bot":false,"first_name":"U"},"text":"hello everyone"}}',
    id, kind, counter, chat, 10000 + counter % 500)
  return wrk.format("POST", "/telegram-webhook",
    {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = "benchsecret"}, body)
end
