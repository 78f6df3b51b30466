//! A Bot API double.
//!
//! Serves `POST /bot<token>/<method>` like api.telegram.org: a wrong token
//! gets 401, an unknown method 404, a missing parameter 400, all in the
//! `{"ok":false,"error_code":..,"description":..}` envelope. Failures can
//! be scripted per chat: a 429 with `parameters.retry_after`, a 403 "bot
//! was blocked by the user", or a 500.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

/// One call the double received.
#[derive(Debug, Clone)]
pub struct Call {
    /// Bot API method, for example `sendMessage`.
    pub method: String,
    /// Its parameters (JSON or form body, as an object).
    pub params: Value,
    /// When it arrived.
    pub at: Instant,
    /// Whether it was answered with success.
    pub ok: bool,
}

/// A scripted failure for the next call that targets a chat.
#[derive(Debug, Clone)]
pub enum Failure {
    /// 429 with `retry_after` seconds.
    TooManyRequests(u32),
    /// 403 "Forbidden: bot was blocked by the user".
    Blocked,
    /// 500.
    ServerError,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    failures: HashMap<i64, VecDeque<Failure>>,
    delays: HashMap<i64, std::time::Duration>,
    /// Updates waiting for getUpdates.
    pending: Vec<Value>,
    /// The webhook URL set with setWebhook.
    webhook: Option<String>,
    started: Vec<(String, Option<i64>)>,
    next_message_id: i64,
    /// Chats where the bot may not make invite links.
    no_invite_rights: std::collections::HashSet<i64>,
    /// Invite links made: link -> (chat, revoked).
    links: HashMap<String, (i64, bool)>,
    /// The command menus set: (scope as JSON text, language) -> commands.
    commands: HashMap<(String, String), Value>,
    /// Telegram Stars.
    stars: crate::telegram_stars::Stars,
    /// Update ids handed out by the Stars helpers.
    next_update: i64,
}

/// The running double.
#[derive(Clone)]
pub struct TelegramDouble {
    /// Base URL to put in `TELEGRAM_API_URL`.
    pub url: String,
    /// The token it accepts.
    pub token: String,
    inner: Arc<Mutex<Inner>>,
}

const KNOWN: &[&str] = &[
    "getMe",
    "sendMessage",
    "editMessageText",
    "answerCallbackQuery",
    "createChatInviteLink",
    "approveChatJoinRequest",
    "declineChatJoinRequest",
    "banChatMember",
    "unbanChatMember",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
    "getChatMember",
    "revokeChatInviteLink",
    "copyMessage",
    "setMyCommands",
    "getMyCommands",
];

fn error(
    status: StatusCode,
    description: &str,
    parameters: Option<Value>,
) -> (StatusCode, Json<Value>) {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, Json(body))
}

impl TelegramDouble {
    /// Starts the double on an ephemeral port.
    pub async fn start() -> Self {
        let token = "123456789:TEST-token-AAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
        let inner = Arc::new(Mutex::new(Inner {
            next_message_id: 1000,
            ..Inner::default()
        }));
        let double = Self {
            url: String::new(),
            token: token.clone(),
            inner: inner.clone(),
        };
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(double.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            ..double
        }
    }

    /// The command menu set for `scope` (e.g. `{"type":"default"}`) and
    /// `language` (`""` for none).
    pub fn commands(&self, scope: &Value, language: &str) -> Option<Value> {
        self.lock()
            .commands
            .get(&(scope.to_string(), language.to_owned()))
            .cloned()
    }

    /// Whether invite `link` was revoked (`None`: never made).
    pub fn link_revoked(&self, link: &str) -> Option<bool> {
        self.lock().links.get(link).map(|(_, revoked)| *revoked)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Successful calls of `method`.
    pub fn successful(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.ok && c.method == method)
            .collect()
    }

    /// Messages successfully sent to `chat`, as (text, params).
    pub fn messages_to(&self, chat: i64) -> Vec<Value> {
        self.successful("sendMessage")
            .into_iter()
            .filter(|c| c.params.get("chat_id").and_then(as_i64) == Some(chat))
            .map(|c| c.params)
            .collect()
    }

    /// Holds the next call for `chat` for `delay` before answering. A
    /// caller that goes away meanwhile leaves no record (the call never
    /// happened, as far as Telegram is concerned).
    pub fn delay_next(&self, chat: i64, delay: std::time::Duration) {
        self.lock().delays.insert(chat, delay);
    }

    /// Calls that have arrived (including ones still being held), as (method, chat).
    pub fn started(&self) -> Vec<(String, Option<i64>)> {
        self.lock().started.clone()
    }

    /// Queues an update for `getUpdates`.
    pub fn push_update(&self, update: Value) {
        self.lock().pending.push(update);
    }

    /// The bot loses the right to make invite links in `chat`:
    /// `createChatInviteLink` there answers 400 from now on.
    pub fn take_invite_rights(&self, chat: i64) {
        self.lock().no_invite_rights.insert(chat);
    }

    /// Makes the next call for `chat` fail as scripted.
    pub fn fail_next(&self, chat: i64, failure: Failure) {
        self.lock()
            .failures
            .entry(chat)
            .or_default()
            .push_back(failure);
    }

    /// Invoice links made with `createInvoiceLink`, with what each sells.
    pub fn invoices(&self) -> Vec<(String, crate::telegram_stars::Invoice)> {
        let inner = self.lock();
        let mut all: Vec<_> = inner
            .stars
            .invoices
            .iter()
            .map(|(l, i)| (l.clone(), i.clone()))
            .collect();
        all.sort_by_key(|(link, _)| {
            link.trim_start_matches("https://t.me/$invoice")
                .parse::<u64>()
                .unwrap_or(0)
        });
        all
    }

    /// The `pre_checkout_query` update a user opening `link` sends, with a
    /// fresh update id; the query's id is `pcq<update id>`.
    pub fn pre_checkout_update(&self, link: &str, user: i64) -> Option<Value> {
        let mut inner = self.lock();
        let invoice = inner.stars.invoices.get(link)?.clone();
        inner.next_update += 1;
        let id = 990_000_000 + inner.next_update;
        Some(json!({
            "update_id": id,
            "pre_checkout_query": {
                "id": format!("pcq{id}"),
                "from": crate::telegram_stars::user(user),
                "currency": "XTR",
                "total_amount": invoice.amount,
                "invoice_payload": invoice.payload,
            },
        }))
    }

    /// The answer the bot gave pre-checkout query `id`, when it answered.
    pub fn pre_checkout_answer(&self, id: &str) -> Option<Value> {
        self.lock().stars.answered.get(id).cloned()
    }

    /// The user pays `link` (payment number `n`: 1 for the first, more
    /// for a subscription's renewals) at unix time `date`: Telegram's
    /// ledger records the charge, and the `successful_payment` message
    /// update is returned (the charge id is its
    /// `telegram_payment_charge_id`).
    pub fn pay_stars(&self, link: &str, user: i64, n: u32, date: i64) -> Option<Value> {
        let mut inner = self.lock();
        let payment = inner.stars.pay(link, user, n, date)?;
        Some(inner.private_message(user, date, "successful_payment", payment))
    }

    /// The `refunded_payment` message update Telegram sends when charge
    /// `charge` is refunded (outside the bot, say by Telegram's support):
    /// the refund is recorded in Telegram's ledger too.
    pub fn refund_update(&self, charge: &str) -> Option<Value> {
        let mut inner = self.lock();
        let c = inner.stars.charges.get(charge)?.clone();
        if !c.refunded {
            let params = json!({"user_id": c.user, "telegram_payment_charge_id": charge});
            inner.stars.respond("refundStarPayment", &params);
        }
        let refunded = json!({
            "currency": "XTR",
            "total_amount": c.amount,
            "invoice_payload": c.payload,
            "telegram_payment_charge_id": charge,
        });
        Some(inner.private_message(c.user, 1_700_000_000, "refunded_payment", refunded))
    }

    /// Charge `charge`: refunded, and renewals stopped by the bot.
    pub fn charge(&self, charge: &str) -> Option<crate::telegram_stars::Charge> {
        self.lock().stars.charges.get(charge).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    /// An update with a service message in `user`'s private chat carrying
    /// `field` (a payment or a refund), with fresh update and message ids.
    fn private_message(&mut self, user: i64, date: i64, field: &str, value: Value) -> Value {
        self.next_update += 1;
        self.next_message_id += 1;
        let mut message = json!({
            "message_id": self.next_message_id,
            "date": date,
            "chat": {"id": user, "type": "private", "first_name": "Payer"},
            "from": crate::telegram_stars::user(user),
        });
        message[field] = value;
        json!({"update_id": 990_000_000 + self.next_update, "message": message})
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn parse_params(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if body.is_empty() {
        return Some(json!({}));
    }
    if content_type.starts_with("application/json") {
        return serde_json::from_slice(body).ok().filter(Value::is_object);
    }
    if let Some(boundary) = content_type.strip_prefix("multipart/form-data; boundary=") {
        return Some(parse_multipart(body, boundary.trim_matches('"')));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: HashMap<String, String> = form_urlencoded_pairs(body);
        return Some(json!(pairs));
    }
    None
}

/// Form fields of a multipart body; values that are JSON (numbers, bools,
/// arrays) are read as JSON, as the Bot API does.
fn parse_multipart(body: &[u8], boundary: &str) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let value = value.trim_end_matches("\r\n");
        let parsed = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_owned()));
        out.insert(name.to_owned(), parsed);
    }
    Value::Object(out)
}

fn form_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace('+', " ")))
        .collect()
}

async fn handle(
    State(double): State<TelegramDouble>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    if bot.strip_prefix("bot") != Some(double.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // The Bot API matches method names case-insensitively (teloxide sends
    // `SendMessage`); calls are recorded under the documented spelling.
    let Some(method) = KNOWN
        .iter()
        .chain(crate::telegram_stars::METHODS)
        .find(|m| m.eq_ignore_ascii_case(&method))
        .map(|m| (*m).to_owned())
    else {
        return error(StatusCode::NOT_FOUND, "Not Found: method not found", None);
    };
    let Some(params) = parse_params(&headers, &body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad Request: invalid request body",
            None,
        );
    };
    if method == "getUpdates" {
        return get_updates(&double, &params).await;
    }
    // Scripted failures and delays target a chat, or the user of a Stars
    // method.
    let chat = params
        .get("chat_id")
        .or_else(|| params.get("user_id"))
        .and_then(as_i64);
    let delay = {
        let mut inner = double.lock();
        inner.started.push((method.clone(), chat));
        chat.and_then(|c| inner.delays.remove(&c))
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut inner = double.lock();
    let failure = chat.and_then(|c| inner.failures.get_mut(&c).and_then(VecDeque::pop_front));
    let (status, body) = respond(&mut inner, &method, &params, chat, failure);
    inner.calls.push(Call {
        method,
        params,
        at: Instant::now(),
        ok: status == StatusCode::OK,
    });
    (status, body)
}

fn respond(
    inner: &mut Inner,
    method: &str,
    params: &Value,
    chat: Option<i64>,
    failure: Option<Failure>,
) -> (StatusCode, Json<Value>) {
    match failure {
        Some(Failure::TooManyRequests(secs)) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {secs}"),
                Some(json!({"retry_after": secs})),
            );
        }
        Some(Failure::Blocked) => {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden: bot was blocked by the user",
                None,
            );
        }
        Some(Failure::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                None,
            );
        }
        None => {}
    }
    if let Some(reply) = inner.stars.respond(method, params) {
        return reply;
    }
    let result = match method {
        "sendMessage" | "editMessageText" => {
            let text = params
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(chat) = chat else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            };
            if text.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message text is empty",
                    None,
                );
            }
            inner.next_message_id += 1;
            json!({
                "message_id": inner.next_message_id,
                "date": 1_700_000_000,
                "chat": {"id": chat, "type": if chat > 0 { "private" } else { "supergroup" }, "first_name": "User", "title": "Chat"},
                "from": {"id": 123456789, "is_bot": true, "first_name": "Test", "username": "test_bot"},
                "text": text,
            })
        }
        "getMe" => json!({
            "id": 123456789, "is_bot": true, "first_name": "Test", "username": "test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        }),
        // The bot's own membership: an administrator, without the right to
        // invite where it was taken away.
        "getChatMember" => {
            let Some(chat) = chat else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            };
            let user = params.get("user_id").and_then(as_i64).unwrap_or_default();
            if user != 123_456_789 {
                return error(StatusCode::BAD_REQUEST, "Bad Request: user not found", None);
            }
            json!({
                "status": "administrator",
                "user": {"id": user, "is_bot": true, "first_name": "Test", "username": "test_bot"},
                "can_be_edited": false, "is_anonymous": false, "can_manage_chat": true,
                "can_delete_messages": true, "can_manage_video_chats": true,
                "can_restrict_members": true, "can_promote_members": false, "can_change_info": false,
                "can_invite_users": !inner.no_invite_rights.contains(&chat),
                "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false,
            })
        }
        "createChatInviteLink" => {
            let Some(chat) = chat else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            };
            if inner.no_invite_rights.contains(&chat) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: not enough rights to manage chat invite links",
                    None,
                );
            }
            let link = format!("https://t.me/+invite{}", inner.links.len() + 1);
            inner.links.insert(link.clone(), (chat, false));
            json!({
                "invite_link": link,
                "creator": {"id": 123456789, "is_bot": true, "first_name": "Test"},
                "creates_join_request": params.get("creates_join_request").and_then(Value::as_bool).unwrap_or(false),
                "is_primary": false,
                "is_revoked": false,
            })
        }
        "revokeChatInviteLink" => {
            let link = params
                .get("invite_link")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match inner.links.get_mut(&link) {
                Some((owner, revoked)) if Some(*owner) == chat => {
                    *revoked = true;
                    json!({
                        "invite_link": link,
                        "creator": {"id": 123456789, "is_bot": true, "first_name": "Test"},
                        "creates_join_request": false,
                        "is_primary": false,
                        "is_revoked": true,
                    })
                }
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Bad Request: INVITE_HASH_EXPIRED",
                        None,
                    );
                }
            }
        }
        "copyMessage" => {
            let from = params.get("from_chat_id").and_then(as_i64);
            let id = params.get("message_id").and_then(as_i64);
            if chat.is_none() || from.is_none() || id.is_none() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message to copy not found",
                    None,
                );
            }
            inner.next_message_id += 1;
            json!({"message_id": inner.next_message_id})
        }
        "setMyCommands" | "getMyCommands" => {
            let scope = params
                .get("scope")
                .map(|s| match s {
                    Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    other => other.clone(),
                })
                .unwrap_or_else(|| json!({"type": "default"}));
            let language = params
                .get("language_code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let key = (scope.to_string(), language);
            if method == "getMyCommands" {
                inner
                    .commands
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| json!([]))
            } else {
                let commands = match params.get("commands") {
                    Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
                    Some(other) => other.clone(),
                    None => Value::Null,
                };
                let valid = commands.as_array().is_some_and(|list| {
                    !list.is_empty()
                        && list.len() <= 100
                        && list.iter().all(|c| {
                            let name = c["command"].as_str().unwrap_or_default();
                            let description = c["description"].as_str().unwrap_or_default();
                            (1..=32).contains(&name.len())
                                && name.bytes().all(|b| {
                                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
                                })
                                && (1..=256).contains(&description.chars().count())
                        })
                });
                if !valid {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Bad Request: BOT_COMMAND_INVALID",
                        None,
                    );
                }
                inner.commands.insert(key, commands);
                json!(true)
            }
        }
        "setWebhook" => {
            let Some(url) = params
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| u.starts_with("https://"))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                    None,
                );
            };
            inner.webhook = Some(url.to_owned());
            if params.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
                inner.pending.clear();
            }
            json!(true)
        }
        "deleteWebhook" => {
            inner.webhook = None;
            json!(true)
        }
        "getWebhookInfo" => json!({
            "url": inner.webhook.clone().unwrap_or_default(),
            "has_custom_certificate": false,
            "pending_update_count": inner.pending.len(),
            "max_connections": 40,
            "last_error_date": 1_700_000_000,
            "last_error_message": "Wrong response from the webhook: 503 Service Unavailable",
        }),
        _ => json!(true),
    };
    (StatusCode::OK, Json(json!({"ok": true, "result": result})))
}

/// `getUpdates`: long polling with `offset` (confirming earlier updates) and
/// `timeout`; 409 while a webhook is set, as Telegram answers.
async fn get_updates(double: &TelegramDouble, params: &Value) -> (StatusCode, Json<Value>) {
    let offset = params.get("offset").and_then(as_i64).unwrap_or(0);
    let timeout = params
        .get("timeout")
        .and_then(as_i64)
        .unwrap_or(0)
        .clamp(0, 50);
    let deadline = Instant::now() + std::time::Duration::from_secs(timeout.unsigned_abs());
    loop {
        {
            let mut inner = double.lock();
            let ok = inner.webhook.is_none();
            inner.calls.push(Call {
                method: "getUpdates".into(),
                params: params.clone(),
                at: Instant::now(),
                ok,
            });
            if inner.webhook.is_some() {
                return error(
                    StatusCode::CONFLICT,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                    None,
                );
            }
            inner
                .pending
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !inner.pending.is_empty() || Instant::now() >= deadline {
                return (
                    StatusCode::OK,
                    Json(json!({"ok": true, "result": inner.pending.clone()})),
                );
            }
            inner.calls.pop();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
