//! Reading a raw update as teloxide's [`Update`], faster.
//!
//! `Update` keeps its kind in a `#[serde(flatten)]` field, and serde reads
//! a flattened field by first copying the whole rest of the object into a
//! buffer of its own (`Content`) and then reading that: for a message,
//! every field twice, allocations included. That was the largest single
//! cost of handling a `/start` (a profile of the in-memory mesh under load
//! put it at about a tenth of all CPU). Here the object's top-level fields
//! are split without copying (borrowed raw JSON), and the one besides
//! `update_id` is read as [`UpdateKind`] straight from its JSON, with
//! teloxide's own deserializer: the same result, one pass fewer. Anything
//! unusual (escaped keys, several kinds, an id teloxide would refuse) goes
//! the ordinary way, so what is read never differs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use teloxide_core::types::{Update, UpdateId, UpdateKind, User};

/// Reads `raw` as an [`Update`], as `serde_json::from_slice` would.
pub fn read_update(raw: &[u8]) -> serde_json::Result<Update> {
    match split(raw) {
        Some(update) => Ok(update),
        None => serde_json::from_slice(raw),
    }
}

fn split(raw: &[u8]) -> Option<Update> {
    let fields: BTreeMap<&str, &RawValue> = serde_json::from_slice(raw).ok()?;
    if fields.len() != 2 {
        return None;
    }
    let id: u32 = fields.get("update_id")?.get().parse().ok()?;
    let (key, value) = fields.iter().find(|(k, _)| **k != "update_id")?;
    // The kind's visitor reads a one-entry map: rebuild just that.
    let one = format!("{{\"{key}\":{}}}", value.get());
    let kind = UpdateKind::deserialize(&mut serde_json::Deserializer::from_str(&one)).ok()?;
    Some(Update {
        id: UpdateId(id),
        kind,
    })
}

/// A plain text message: what the text commands read of one. Most
/// handled updates are these (a command in a private chat), and reading
/// one as teloxide's [`Message`](teloxide_core::types::Message) costs
/// several times more: its kind is an untagged, flattened enum of some
/// forty variants, which serde tries one after another over a buffered
/// copy of the object (the largest single cost of a handled `/start` in
/// the in-memory mesh's profile).
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage<'a> {
    /// The update's id.
    pub update_id: i64,
    /// The sender (none for a channel's post).
    pub from: Option<User>,
    /// The chat's id.
    pub chat: i64,
    /// Whether the chat is a private one.
    pub private: bool,
    /// The text (borrowed from the update unless it has escapes).
    pub text: Cow<'a, str>,
    /// The chat and id of the message this one replies to.
    pub reply_to: Option<(i64, i32)>,
}

// Only the fields a plain text message has: any other (a photo, a
// payment, a service event) makes the read fail and the update go the
// ordinary way, so this never reads a message teloxide would read as
// another kind. Fields the commands don't use are skipped, not checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextUpdate<'a> {
    update_id: u32,
    #[serde(borrow)]
    message: Plain<'a>,
}

// The fields only named so that they are allowed are never read.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Plain<'a> {
    message_id: i32,
    date: i64,
    #[serde(borrow)]
    chat: ChatRef<'a>,
    from: Option<User>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    reply_to_message: Option<Replied<'a>>,
    #[serde(borrow, default)]
    message_thread_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    is_topic_message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    entities: Option<&'a RawValue>,
    #[serde(borrow, default)]
    link_preview_options: Option<&'a RawValue>,
    #[serde(borrow, default)]
    has_protected_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    is_from_offline: Option<&'a RawValue>,
    #[serde(borrow, default)]
    effect_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    edit_date: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChatRef<'a> {
    id: i64,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Replied<'a> {
    message_id: i32,
    #[serde(borrow)]
    chat: ChatRef<'a>,
}

/// Reads `raw` as a plain text message, or `None` when it is anything
/// else (then [`read_update`] reads it). Where it reads one, teloxide
/// reads the same sender, chat, text and replied-to message.
pub fn read_text(raw: &[u8]) -> Option<TextMessage<'_>> {
    let update: TextUpdate<'_> = serde_json::from_slice(raw).ok()?;
    let m = update.message;
    // teloxide refuses a chat of a type it doesn't know.
    let known =
        |c: &ChatRef<'_>| matches!(&*c.kind, "private" | "group" | "supergroup" | "channel");
    if !known(&m.chat) || m.reply_to_message.as_ref().is_some_and(|r| !known(&r.chat)) {
        return None;
    }
    Some(TextMessage {
        update_id: i64::from(update.update_id),
        from: m.from,
        chat: m.chat.id,
        private: m.chat.kind == "private",
        text: m.text,
        reply_to: m.reply_to_message.map(|r| (r.chat.id, r.message_id)),
    })
}

#[cfg(test)]
mod tests {
    use teloxide_core::types::UpdateKind;

    use super::{read_text, read_update};

    /// Where the plain read reads a message, teloxide reads the same text
    /// message; where teloxide reads one with only these fields, so does
    /// the plain read.
    #[test]
    fn text_reads_as_teloxide_does() {
        let samples = [
            (
                true,
                r#"{"update_id":7,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private","first_name":"A"},"from":{"id":42,"is_bot":false,"first_name":"A","language_code":"de"},"text":"/start x","entities":[{"type":"bot_command","offset":0,"length":6}]}}"#,
            ),
            (
                true,
                r#"{"message":{"message_id":1,"date":0,"chat":{"id":-100,"type":"supergroup","title":"G"},"from":{"id":5,"is_bot":true,"first_name":"Bot"},"text":"hi"},"update_id":8}"#,
            ),
            (
                true,
                r#"{"update_id":9,"message":{"message_id":3,"date":0,"chat":{"id":-5,"type":"group","title":"G"},"text":"/broadcast","from":{"id":1,"is_bot":false,"first_name":"Z"},"reply_to_message":{"message_id":2,"date":0,"chat":{"id":-5,"type":"group","title":"G"},"text":"hello"}}}"#,
            ),
            (
                true,
                r#"{"update_id":10,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"/help é"}}"#,
            ),
            (
                true,
                r#"{"update_id":11,"message":{"message_id":1,"date":0,"chat":{"id":-1001,"type":"channel","title":"C"},"text":"post","link_preview_options":{"is_disabled":true}}}"#,
            ),
            // A photo with a caption, a payment, a service message: other kinds.
            (
                false,
                r#"{"update_id":12,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"photo":[],"caption":"x"}}"#,
            ),
            (
                false,
                r#"{"update_id":13,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"from":{"id":1,"is_bot":false,"first_name":"A"},"successful_payment":{"currency":"XTR","total_amount":1,"invoice_payload":"p","telegram_payment_charge_id":"c","provider_payment_charge_id":""}}}"#,
            ),
            (
                false,
                r#"{"update_id":14,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a","photo":[]}}"#,
            ),
            // No message_id or date: teloxide refuses it, and so does this.
            (
                false,
                r#"{"update_id":15,"message":{"chat":{"id":8101,"type":"private"},"text":"/help"}}"#,
            ),
            (
                false,
                r#"{"update_id":16,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"secret"},"text":"a"}}"#,
            ),
            (
                false,
                r#"{"update_id":17,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a","text":"b"}}"#,
            ),
            (
                false,
                r#"{"update_id":18,"edited_message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a"}}"#,
            ),
            (
                false,
                r#"{"update_id":19,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a"},"callback_query":{}}"#,
            ),
            (
                false,
                r#"{"update_id":99999999999,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a"}}"#,
            ),
            (
                false,
                r#"{"update_id":20,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":7}}"#,
            ),
        ];
        for (plain, raw) in samples {
            let ours = read_text(raw.as_bytes());
            assert_eq!(ours.is_some(), plain, "{raw}");
            let Some(ours) = ours else { continue };
            let update = read_update(raw.as_bytes()).expect(raw);
            let UpdateKind::Message(m) = update.kind else {
                panic!("teloxide reads another kind: {raw}")
            };
            assert_eq!(ours.update_id, i64::from(update.id.0), "{raw}");
            assert_eq!(ours.from, m.from, "{raw}");
            assert_eq!(
                (ours.chat, ours.private),
                (m.chat.id.0, m.chat.is_private()),
                "{raw}"
            );
            assert_eq!(Some(&*ours.text), m.text(), "{raw}");
            let reply = m.reply_to_message().map(|r| (r.chat.id.0, r.id.0));
            assert_eq!(ours.reply_to, reply, "{raw}");
        }
    }

    /// Whatever the update, the split read and teloxide's agree.
    #[test]
    fn reads_as_teloxide_does() {
        let samples = [
            r#"{"update_id":7,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private","first_name":"A"},"from":{"id":42,"is_bot":false,"first_name":"A","language_code":"de"},"text":"/start x","entities":[{"type":"bot_command","offset":0,"length":6}]}}"#,
            r#"{"message":{"message_id":1,"date":0,"chat":{"id":-100,"type":"supergroup","title":"G"},"text":"hi"},"update_id":8}"#,
            r#"{"update_id":9,"callback_query":{"id":"c1","from":{"id":5,"is_bot":false,"first_name":"B"},"chat_instance":"i","data":"plan:monthly"}}"#,
            r#"{"update_id":10,"pre_checkout_query":{"id":"q","from":{"id":5,"is_bot":false,"first_name":"B"},"currency":"XTR","total_amount":250,"invoice_payload":"v1.x"}}"#,
            r#"{"update_id":11,"some_future_kind":{"a":1}}"#,
            r#"{"update_id":12,"message":{"broken":true}}"#,
            r#"{"update_id":13}"#,
            r#"{"update_id":99999999999,"message":{}}"#,
            r#"{"update_id":14,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"a"},"edited_message":{}}"#,
            r#"{"update_\u0069d":15,"message":{}}"#,
            r#"[1,2]"#,
        ];
        for raw in samples {
            let ours = read_update(raw.as_bytes()).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<teloxide_core::types::Update>(raw.as_bytes())
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{raw}");
        }
    }
}
