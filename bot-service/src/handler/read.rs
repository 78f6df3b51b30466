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

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use teloxide_core::types::{Update, UpdateId, UpdateKind};

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

#[cfg(test)]
mod tests {
    use super::read_update;

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
