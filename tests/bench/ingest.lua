-- wrk script: distinct update_ids, many group chats, messages the bot
-- ignores (not addressed to it), so only the durable accept is measured.
local counter = 0
local offset = tonumber(os.getenv("ID_OFFSET") or "0")
request = function()
  counter = counter + 1
  local id = offset + counter
  local chat = -1000000000 - (counter % 500)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"supergroup","title":"Group"},"from":{"id":%d,"is_bot":false,"first_name":"U"},"text":"hello everyone"}}',
    id, counter, chat, 10000 + counter % 500)
  return wrk.format("POST", "/telegram-webhook",
    {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = "benchsecret"}, body)
end
