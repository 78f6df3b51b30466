//! Every key and queue bot-service keeps in the shared store.
//!
//! Everything a handler writes lives in the `{bot}` scope (one Redis
//! Cluster slot), so handling an update commits its acknowledgement, its
//! replies, the dialogue state and the registry changes in one step. Rate
//! limits are the exception: each has a slot of its own, as nothing else
//! is written with them.

/// Accepted updates, entitlement notices and broadcast jobs, per chat.
pub const UPDATES: &str = "{bot}:updates";
/// Outgoing Bot API calls, per chat.
pub const OUTBOX: &str = "{bot}:outbox";
/// Everyone who wrote to the bot.
pub const USERS: &str = "{bot}:users";
/// Users who blocked the bot.
pub const BLOCKED: &str = "{bot}:blocked";
/// The getUpdates offset (polling mode).
pub const POLL_OFFSET: &str = "{bot}:poll:offset";

/// A user's `language_code`, as last seen.
pub fn lang(user: i64) -> String {
    format!("{{bot}}:lang:{user}")
}

/// The invite links made for a user last time, per chat.
pub fn invites(user: i64) -> String {
    format!("{{bot}}:invites:{user}")
}

/// An admin's broadcast waiting for confirmation.
pub fn broadcast_draft(admin: i64) -> String {
    format!("{{bot}}:broadcast:draft:{admin}")
}

/// The broadcasts running (or recently run), for `/broadcast_cancel`.
pub const BROADCASTS: &str = "{bot}:broadcasts";

/// A user's pending `/cancel` confirmation.
pub fn cancel_session(user: i64) -> String {
    format!("{{bot}}:session:cancel:{user}")
}

/// A broadcast job's record.
pub fn broadcast(job: &str) -> String {
    format!("{{bot}}:broadcast:{job}")
}

/// A broadcast job's counter (`total`, `done`, `sent`).
pub fn broadcast_count(job: &str, which: &str) -> String {
    format!("{{bot}}:broadcast:{job}:{which}")
}

/// The flood limit of a user (a rate limit: its own slot).
pub fn flood(user: i64) -> String {
    format!("bot:flood:{user}")
}

/// The send limit of a chat (a rate limit).
pub fn send_limit(chat: i64) -> String {
    if chat < 0 {
        format!("tg:group:{chat}")
    } else {
        format!("tg:chat:{chat}")
    }
}

/// The global send pace (a paced stream).
pub const SEND_PACE: &str = "tg:global";

/// The queue partition of a chat.
pub fn chat_partition(chat: i64) -> String {
    format!("chat:{chat}")
}
