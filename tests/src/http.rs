//! Calling the gateway as Telegram and Stripe do.

use serde_json::{Value, json};

/// A plain HTTP client (no proxy from the environment).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A private-chat text message update from `user`.
pub fn text_update(update_id: i64, user: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user, "type": "private", "first_name": "Ann"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "text": text,
        }
    })
}

/// A private-chat text message from `user` whose Telegram is set to
/// `language` (`es`, `ru`, ...).
pub fn text_update_in(update_id: i64, user: i64, text: &str, language: &str) -> Value {
    let mut update = text_update(update_id, user, text);
    update["message"]["from"]["language_code"] = json!(language);
    update
}

/// Waits until the gateway at `gateway` says everything is ready (not
/// only `degraded`: billing too).
pub async fn wait_ready(gateway: &str) {
    let ready = format!("{gateway}/ready");
    crate::eventually(
        std::time::Duration::from_secs(30),
        "the mesh to be ready",
        || async {
            let r = client().get(&ready).send().await.ok()?;
            let body: Value = r.json().await.ok()?;
            (body["status"] == "ready").then_some(())
        },
    )
    .await;
}

/// Posts an update as Telegram does; returns (status, body).
pub async fn post_update(gateway: &str, update: &Value, secret: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(format!("{gateway}/telegram-webhook"))
        .header("content-type", "application/json")
        .body(update.to_string());
    if let Some(s) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    send(request).await
}

/// Sends a request; returns (status, JSON body), or (0, null) when the
/// connection failed.
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Posts a signed Stripe event; returns (status, body).
pub async fn post_event(gateway: &str, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(format!("{gateway}/stripe-webhook"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_vec());
    if let Some(s) = signature {
        request = request.header("Stripe-Signature", s);
    }
    send(request).await
}

/// A user's tap on an inline button.
pub fn callback_update(update_id: i64, user: i64, query_id: &str, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": {"id": user, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 1, "date": 1_700_000_000, "text": "Choose a plan:",
                "chat": {"id": user, "type": "private", "first_name": "Ann"},
            },
        }
    })
}

/// A text message in a group.
pub fn group_update(update_id: i64, chat: i64, user: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000, "text": text,
            "chat": {"id": chat, "type": "supergroup", "title": "Group"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann"},
        }
    })
}

/// A request to join `chat` (a chat with join requests on).
pub fn join_request_update(update_id: i64, chat: i64, user: i64) -> Value {
    json!({
        "update_id": update_id,
        "chat_join_request": {
            "chat": {"id": chat, "type": "supergroup", "title": "Premium"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann"},
            "user_chat_id": user,
            "date": 1_700_000_000,
        }
    })
}

/// `user`'s membership of `chat` changing from `old` to `new` status.
pub fn chat_member_update(update_id: i64, chat: i64, user: i64, old: &str, new: &str) -> Value {
    let member = |status: &str| json!({"user": {"id": user, "is_bot": false, "first_name": "Ann"}, "status": status});
    json!({
        "update_id": update_id,
        "chat_member": {
            "chat": {"id": chat, "type": "supergroup", "title": "Premium"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann"},
            "date": 1_700_000_000,
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
    })
}
