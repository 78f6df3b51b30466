//! Which chat an update belongs to, read without parsing the whole update.
//!
//! Telegram orders updates per chat; the queue keeps that order per
//! partition, so the partition is the chat. Membership updates of a group
//! (join requests, members joining) are ordered per member instead: one
//! member's join request that waits for billing must not hold up everyone
//! else's. Updates that belong to no chat (inline queries, polls) get their
//! own partition and run in parallel.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Id {
    id: i64,
}

#[derive(Deserialize)]
struct HasChat {
    chat: Id,
}

#[derive(Deserialize)]
struct Callback {
    from: Id,
    message: Option<HasChat>,
}

#[derive(Deserialize)]
struct HasFrom {
    from: Id,
}

#[derive(Deserialize)]
struct HasUser {
    user: Id,
}

#[derive(Deserialize)]
struct JoinRequest {
    chat: Id,
    from: Id,
}

#[derive(Deserialize)]
struct MemberUpdate {
    chat: Id,
    new_chat_member: HasUser,
}

/// A new message, read a little further than its chat's id: its chat's
/// type and its text tell group chatter (see [`crate::intake::chatter`]). Both are
/// kept raw, so an odd value only means "not chatter", never an update
/// refused.
#[derive(Deserialize)]
pub struct MessageHead<'a> {
    #[serde(borrow)]
    chat: ChatHead<'a>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChatHead<'a> {
    id: i64,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
}

impl MessageHead<'_> {
    /// Whether the chat is a private one (`None`: its type is unreadable).
    pub fn private(&self) -> Option<bool> {
        let kind: Cow<'_, str> = serde_json::from_str(self.chat.kind?.get()).ok()?;
        Some(kind == "private")
    }

    /// The message's text: `Some(None)` when it has none, `None` when it is
    /// not a string.
    pub fn text(&self) -> Option<Option<Cow<'_, str>>> {
        match self.text {
            None => Some(None),
            Some(raw) => serde_json::from_str(raw.get()).ok().map(Some),
        }
    }
}

/// Where an update goes, read in one pass over its JSON.
pub struct Location<'a> {
    /// Its `update_id`.
    pub update_id: i64,
    /// The queue partition it belongs to.
    pub partition: String,
    /// Its new message, when it is one.
    pub message: Option<MessageHead<'a>>,
    /// It is a pre-checkout query (answered as it is accepted: see
    /// [`crate::intake::precheckout`]).
    pub pre_checkout: bool,
}

/// Only the fields that locate a chat; serde skips the rest.
#[derive(Deserialize)]
struct Peek<'a> {
    update_id: i64,
    #[serde(borrow)]
    message: Option<MessageHead<'a>>,
    edited_message: Option<HasChat>,
    channel_post: Option<HasChat>,
    edited_channel_post: Option<HasChat>,
    business_message: Option<HasChat>,
    edited_business_message: Option<HasChat>,
    message_reaction: Option<HasChat>,
    my_chat_member: Option<HasChat>,
    chat_member: Option<MemberUpdate>,
    chat_join_request: Option<JoinRequest>,
    chat_boost: Option<HasChat>,
    callback_query: Option<Callback>,
    inline_query: Option<HasFrom>,
    chosen_inline_result: Option<HasFrom>,
    shipping_query: Option<HasFrom>,
    pre_checkout_query: Option<HasFrom>,
    poll_answer: Option<HasUser>,
}

/// Reads the update's id and its partition key.
pub fn locate(update: &[u8]) -> Result<(i64, String), serde_json::Error> {
    read(update).map(|l| (l.update_id, l.partition))
}

/// Reads where `update` goes, and its message for the chatter check.
pub fn read(update: &[u8]) -> Result<Location<'_>, serde_json::Error> {
    let p: Peek<'_> = serde_json::from_slice(update)?;
    let located = |partition| Location {
        update_id: p.update_id,
        partition,
        message: None,
        pre_checkout: false,
    };
    let member = p
        .chat_join_request
        .as_ref()
        .map(|r| (r.chat.id, r.from.id))
        .or_else(|| {
            p.chat_member
                .as_ref()
                .map(|m| (m.chat.id, m.new_chat_member.user.id))
        });
    if let Some((chat, user)) = member {
        return Ok(located(format!("chat:{chat}:member:{user}")));
    }
    let message_chat = p.message.as_ref().map(|m| m.chat.id);
    let chat = message_chat
        .into_iter()
        .chain(
            [
                p.edited_message,
                p.channel_post,
                p.edited_channel_post,
                p.business_message,
                p.edited_business_message,
                p.message_reaction,
                p.my_chat_member,
                p.chat_boost,
            ]
            .into_iter()
            .flatten()
            .map(|m| m.chat.id),
        )
        .next()
        .or_else(|| {
            p.callback_query
                .as_ref()
                .map(|c| c.message.as_ref().map_or(c.from.id, |m| m.chat.id))
        });
    let pre_checkout = p.pre_checkout_query.is_some();
    let user = [
        p.inline_query,
        p.chosen_inline_result,
        p.shipping_query,
        p.pre_checkout_query,
    ]
    .into_iter()
    .flatten()
    .map(|f| f.from.id)
    .next()
    .or(p.poll_answer.map(|a| a.user.id));
    let key = match (chat, user) {
        (Some(chat), _) => format!("chat:{chat}"),
        (None, Some(user)) => format!("user:{user}"),
        (None, None) => format!("update:{}", p.update_id),
    };
    Ok(Location {
        update_id: p.update_id,
        partition: key,
        message: p.message,
        pre_checkout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages, callbacks, join requests and chatless updates land where they should.
    #[test]
    fn partitions() {
        let msg = br#"{"update_id":1,"message":{"message_id":5,"chat":{"id":42,"type":"private"},"text":"/start"}}"#;
        assert_eq!(locate(msg).unwrap(), (1, "chat:42".into()));
        let cb = br#"{"update_id":2,"callback_query":{"id":"x","from":{"id":7},"message":{"chat":{"id":42}},"data":"d"}}"#;
        assert_eq!(locate(cb).unwrap(), (2, "chat:42".into()));
        let cb_inline =
            br#"{"update_id":3,"callback_query":{"id":"x","from":{"id":7},"data":"d"}}"#;
        assert_eq!(locate(cb_inline).unwrap(), (3, "chat:7".into()));
        let join =
            br#"{"update_id":4,"chat_join_request":{"chat":{"id":-100},"from":{"id":7},"date":1}}"#;
        assert_eq!(locate(join).unwrap(), (4, "chat:-100:member:7".into()));
        let member = br#"{"update_id":7,"chat_member":{"chat":{"id":-100},"from":{"id":1},"date":1,"old_chat_member":{"user":{"id":8},"status":"left"},"new_chat_member":{"user":{"id":8},"status":"member"}}}"#;
        assert_eq!(locate(member).unwrap(), (7, "chat:-100:member:8".into()));
        let inline = br#"{"update_id":5,"inline_query":{"id":"q","from":{"id":9},"query":""}}"#;
        assert_eq!(locate(inline).unwrap(), (5, "user:9".into()));
        assert_eq!(
            locate(br#"{"update_id":6,"poll":{}}"#).unwrap(),
            (6, "update:6".into())
        );
        assert!(locate(br#"{"message":{}}"#).is_err());
    }
}
