//! Dead letters: work given up on, kept with why until an operator
//! replays it (`mesh dead-letters`, or the `ListDeadLetters` and
//! `ReplayDeadLetters` RPCs).

use mesh_proto::bot::v1::{DeadLetter, NotifyEntitlementRequest};
use mesh_state::{QueueConfig, Store, StoreError};
use prost::Message;

use crate::delivery::outbox::Item;
use crate::error::BotError;
use crate::intake::envelope::{self, Kind};
use crate::keys;

/// The queues that keep dead letters, by their public names.
const QUEUES: &[(&str, &str)] = &[("updates", keys::UPDATES), ("outbox", keys::OUTBOX)];

/// The queue named `name` (`updates` or `outbox`).
pub fn queue_key(name: &str) -> Result<&'static str, BotError> {
    QUEUES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, key)| *key)
        .ok_or_else(|| BotError::InvalidArgument(format!("no queue {name:?}: updates or outbox")))
}

/// The queues a listing covers: the one named, or all when empty.
pub fn queues(name: &str) -> Result<Vec<&'static str>, BotError> {
    if name.is_empty() {
        return Ok(QUEUES.iter().map(|(n, _)| *n).collect());
    }
    queue_key(name)?;
    Ok(QUEUES
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(n, _)| *n)
        .collect())
}

/// A dead letter as the API shows it, with a short summary of what it was.
pub fn describe(queue: &str, letter: mesh_state::DeadLetter) -> DeadLetter {
    let summary = if queue == "outbox" {
        match serde_json::from_slice::<Item>(&letter.item) {
            Ok(item) => format!("{} to chat {}", item.action.method(), item.action.chat()),
            Err(_) => "unreadable call".into(),
        }
    } else {
        match envelope::open(&letter.item) {
            Some((Kind::Update, _, payload)) => match crate::intake::partition::locate(&payload) {
                Ok((id, _)) => format!("update {id}"),
                Err(_) => "unreadable update".into(),
            },
            Some((Kind::Notice, _, payload)) => match NotifyEntitlementRequest::decode(payload) {
                Ok(n) => format!("notice {} ({})", n.notice_id, n.kind().as_str_name()),
                Err(_) => "unreadable notice".into(),
            },
            Some((Kind::Job, _, _)) => "broadcast step".into(),
            None => "unreadable item".into(),
        }
    };
    DeadLetter {
        queue: queue.to_owned(),
        id: letter.id,
        partition: letter.partition,
        reason: letter.reason,
        attempts: letter.attempts,
        at: Some(mesh_proto::Timestamp {
            seconds: letter.at_ms / 1000,
            nanos: 0,
        }),
        summary,
    }
}

/// Replays `ids` of `queue` (every dead letter when empty), configured as
/// `config`; returns how many were put back.
pub async fn replay(
    store: &Store,
    queue: &str,
    config: &QueueConfig,
    ids: &[String],
) -> Result<u32, StoreError> {
    let ids: Vec<String> = if ids.is_empty() {
        store
            .dead_letters(queue, 10_000)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect()
    } else {
        ids.to_vec()
    };
    let mut replayed = 0;
    for id in &ids {
        if store.replay_dead_letter(queue, config, id).await? {
            replayed += 1;
        }
    }
    Ok(replayed)
}
