//! Group chatter: messages in groups that are not commands addressed to
//! this bot, which is most of what a bot in busy groups receives and which
//! the bot never answers.
//!
//! Both ends use the same rule: acceptance remembers such an update's id
//! and queues nothing (no claim, no acknowledgement, a bit of de-dup
//! state), and the handler does nothing with one that was queued anyway.

use crate::intake::command::{addressed, parse_command};
use crate::intake::partition::{self, Location};

/// True for an update that certainly needs nothing done: a group message
/// that is not a command addressed to the bot `username`. Read from three
/// fields: building teloxide's whole `Update` costs more than everything
/// else the mesh does for such an update. Anything else (unreadable JSON
/// included) is not chatter and gets the full treatment.
pub fn ignorable(update: &[u8], username: Option<&str>) -> bool {
    partition::read(update).is_ok_and(|l| is_chatter(&l, username))
}

/// [`ignorable`] for an update already read by [`partition::read`].
pub fn is_chatter(location: &Location<'_>, username: Option<&str>) -> bool {
    let Some(message) = &location.message else {
        return false;
    };
    match (message.private(), message.text()) {
        (Some(false), Some(text)) => {
            text.is_none_or(|text| !addressed(parse_command(&text).as_ref(), username))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(chat_type: &str, text: Option<&str>) -> Vec<u8> {
        let mut message = serde_json::json!({
            "message_id": 1, "date": 0,
            "chat": {"id": -100, "type": chat_type},
            "from": {"id": 7, "is_bot": false, "first_name": "A"},
        });
        if let Some(text) = text {
            message["text"] = text.into();
        }
        serde_json::to_vec(&serde_json::json!({"update_id": 1, "message": message}))
            .unwrap_or_default()
    }

    #[test]
    fn only_group_messages_not_for_the_bot_are_chatter() {
        let me = Some("PaidBot");
        assert!(ignorable(&update("supergroup", Some("hello")), me));
        assert!(ignorable(&update("group", None), me));
        assert!(ignorable(&update("group", Some("/start")), me));
        assert!(ignorable(&update("group", Some("/start@OtherBot")), me));
        assert!(!ignorable(&update("group", Some("/start@paidbot")), me));
        assert!(!ignorable(&update("private", Some("hello")), me));
        assert!(ignorable(&update("group", Some("/start@PaidBot")), None));
        assert!(!ignorable(br#"{"update_id":1,"callback_query":{}}"#, me));
        assert!(!ignorable(b"not json", me));
        // Odd values are not chatter, and the update is still readable.
        let odd = br#"{"update_id":1,"message":{"chat":{"id":-5,"type":7},"text":"hi"}}"#;
        assert!(!ignorable(odd, me));
        assert!(partition::locate(odd).is_ok());
        let odd = br#"{"update_id":1,"message":{"chat":{"id":-5,"type":"group"},"text":[1]}}"#;
        assert!(!ignorable(odd, me));
        assert!(partition::locate(odd).is_ok());
    }
}
