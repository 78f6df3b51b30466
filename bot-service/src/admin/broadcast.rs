//! Admin broadcasts, as jobs that run in steps through the update queue.
//!
//! A confirmed broadcast commits the job's record and its first step with
//! the admin's reply. Each step is a queue item of its own (partition
//! `job:<id>`, so steps run in order): it takes the next few hundred users
//! (ordered by user id, so a step knows exactly where the last one
//! stopped), keeps those in the job's segment (billing answers for the
//! page), and queues their messages in the outbox and the following step,
//! all in one commit. A crash between steps loses nothing and repeats
//! nothing. When every recipient is queued, the last step watches the
//! deliveries and reports progress to the admin at each quarter (each
//! report once: its id is its quarter). The outbox sends within Telegram's
//! limits, skipping users who blocked the bot. A cancelled job queues no
//! more, and the outbox skips what it had queued.

use std::time::Duration;

use mesh_proto::billing::v1::Segment;
use mesh_state::{QueueConfig, Store, StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::delivery::action::{Action, message};
use crate::intake::envelope::{self, Kind};
use crate::keys;
use crate::messages::Lang;

/// Recipients queued per step: one commit of a few hundred outbox items.
pub(crate) const STEP: usize = 200;
/// How often the last step looks at the deliveries.
pub(crate) const WATCH: Duration = Duration::from_secs(2);
/// How long a job's record and counters are kept.
const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// What every recipient gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// A text message.
    Text(String),
    /// A copy of a message the admin replied to (a photo, a document,
    /// formatted text): `copyMessage`.
    Copy {
        /// The chat it is in.
        from_chat: i64,
        /// The message.
        message_id: i32,
    },
}

impl Content {
    /// The Bot API call that delivers it to `chat`.
    pub fn to(&self, chat: i64) -> Action {
        match self {
            Self::Text(text) => message(chat, text.clone()),
            Self::Copy {
                from_chat,
                message_id,
            } => Action::CopyMessage {
                chat_id: chat,
                from_chat_id: *from_chat,
                message_id: *message_id,
            },
        }
    }
}

/// A broadcast job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Its id (from the admin's update: handling it again starts nothing new).
    pub id: String,
    /// Where progress is reported.
    pub admin_chat: i64,
    /// The admin's language.
    pub lang: Lang,
    /// What every recipient gets.
    pub content: Content,
    /// Who gets it (a billing.v1 `Segment`).
    pub segment: i32,
}

impl Job {
    /// Who gets it.
    pub fn segment(&self) -> Segment {
        Segment::try_from(self.segment).unwrap_or(Segment::All)
    }
}

/// Whether job `job` was cancelled.
pub async fn canceled(store: &Store, job: &str) -> Result<bool, StoreError> {
    Ok(store.get(&canceled_key(job)).await?.is_some())
}

/// The mark of a cancelled job.
fn canceled_key(job: &str) -> String {
    format!("{}:canceled", keys::broadcast(job))
}

/// Cancels job `job` in `tx`.
pub fn cancel(tx: &mut Tx, job: &str) {
    tx.set(&canceled_key(job), b"1", Some(KEEP));
}

/// One step of a job (the queue item's payload).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Step {
    pub(crate) job: String,
    /// Its number (the item's de-duplication id).
    pub(crate) n: u64,
    /// Recipients after this user id are next.
    #[serde(default)]
    pub(crate) after: i64,
    /// All recipients are queued: watch the deliveries.
    #[serde(default)]
    pub(crate) watching: bool,
}

impl Step {
    pub(crate) fn enqueue(&self, tx: &mut Tx, queue: &QueueConfig) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(self).map_err(|e| StoreError::Protocol(e.to_string()))?;
        let item = envelope::seal(Kind::Job, &mesh_telemetry::current_traceparent(), &payload);
        tx.enqueue(
            keys::UPDATES,
            queue,
            &format!("job:{}:{}", self.job, self.n),
            &format!("job:{}", self.job),
            item,
        );
        Ok(())
    }
}

impl Job {
    /// Adds the job's record and first step to `tx`.
    pub fn start(&self, tx: &mut Tx, queue: &QueueConfig) -> Result<(), StoreError> {
        let json = serde_json::to_vec(self).map_err(|e| StoreError::Protocol(e.to_string()))?;
        tx.set(&keys::broadcast(&self.id), &json, Some(KEEP));
        tx.set_add(keys::BROADCASTS, &self.id);
        Step {
            job: self.id.clone(),
            n: 0,
            after: 0,
            watching: false,
        }
        .enqueue(tx, queue)
    }
}

/// Counts one finished recipient of `job` in `tx` (`delivered`: not
/// skipped or refused).
pub fn count_recipient(tx: &mut Tx, job: &str, delivered: bool) {
    tx.incr(&keys::broadcast_count(job, "done"), 1);
    if delivered {
        tx.incr(&keys::broadcast_count(job, "sent"), 1);
    }
}
