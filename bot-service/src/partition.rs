//! Which chat an update belongs to, read without parsing the whole update.
//!
//! Telegram orders updates per chat; the queue keeps that order per
//! partition, so the partition is the chat. Membership updates of a group
//! (join requests, members joining) are ordered per member instead: one
//! member's join request that waits for billing must not hold up everyone
//! else's. Updates that belong to no chat (inline queries, polls) get their
//! own partition and run in parallel.

use serde::Deserialize;

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

/// Only the fields that locate a chat; serde skips the rest.
#[derive(Deserialize)]
struct Peek {
    update_id: i64,
    message: Option<HasChat>,
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
    let p: Peek = serde_json::from_slice(update)?;
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
        return Ok((p.update_id, format!("chat:{chat}:member:{user}")));
    }
    let chat = [
        p.message,
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
    .map(|m| m.chat.id)
    .next()
    .or_else(|| {
        p.callback_query
            .as_ref()
            .map(|c| c.message.as_ref().map_or(c.from.id, |m| m.chat.id))
    });
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
    Ok((p.update_id, key))
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
