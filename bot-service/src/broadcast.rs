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

use crate::action::{Action, message};
use crate::effects::Effects;
use crate::envelope::{self, Kind};
use crate::handler::{HandleError, Handler};
use crate::keys;
use crate::messages::Lang;

/// Recipients queued per step: one commit of a few hundred outbox items.
const STEP: usize = 200;
/// How often the last step looks at the deliveries.
const WATCH: Duration = Duration::from_secs(2);
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
struct Step {
    job: String,
    /// Its number (the item's de-duplication id).
    n: u64,
    /// Recipients after this user id are next.
    #[serde(default)]
    after: i64,
    /// All recipients are queued: watch the deliveries.
    #[serde(default)]
    watching: bool,
}

impl Step {
    fn enqueue(&self, tx: &mut Tx, queue: &QueueConfig) -> Result<(), StoreError> {
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

impl Handler {
    /// Runs one step of a broadcast job.
    pub async fn handle_job(&self, payload: &[u8]) -> Result<Effects, HandleError> {
        let step: Step = serde_json::from_slice(payload)
            .map_err(|e| HandleError::Permanent(format!("unreadable job step: {e}")))?;
        let store = self.store();
        let Some(raw) = store.get(&keys::broadcast(&step.job)).await? else {
            return Err(HandleError::Permanent(format!("no broadcast {}", step.job)));
        };
        let job: Job = serde_json::from_slice(&raw)
            .map_err(|e| HandleError::Permanent(format!("unreadable broadcast: {e}")))?;
        let mut out = Effects::new(format!("job:{}:{}", job.id, step.n));
        if !step.watching && canceled(store, &job.id).await? {
            out.writes.set_remove(keys::BROADCASTS, &job.id);
            out.send_as(
                format!("bcast:{}:stopped", job.id),
                message(
                    job.admin_chat,
                    self.texts().text(job.lang, "broadcast-stopped", &[]),
                ),
                None,
            );
            return Ok(out);
        }
        if !step.watching {
            let users = store.sorted_after(keys::USERS, step.after, STEP).await?;
            let ids: Vec<i64> = users.iter().filter_map(|(u, _)| u.parse().ok()).collect();
            // Billing picks the segment's members of this page; billing away
            // makes the step wait (back-off), it does not skip anyone.
            let recipients = match job.segment() {
                Segment::All => ids,
                segment => self
                    .billing()
                    .segment(segment, ids)
                    .await
                    .map_err(Self::billing_down)?,
            };
            for id in &recipients {
                out.send_as(
                    format!("bcast:{}:{id}", job.id),
                    job.content.to(*id),
                    Some(&job.id),
                );
            }
            let queued = i64::try_from(recipients.len()).unwrap_or(i64::MAX);
            out.writes
                .incr(&keys::broadcast_count(&job.id, "total"), queued);
            let next = Step {
                job: job.id.clone(),
                n: step.n + 1,
                after: users.last().map_or(step.after, |(_, score)| *score),
                watching: users.len() < STEP,
            };
            next.enqueue(&mut out.writes, &self.config().queue)?;
            return Ok(out);
        }
        let count = |which: &'static str| {
            let key = keys::broadcast_count(&job.id, which);
            async move {
                Ok::<i64, StoreError>(
                    store
                        .get(&key)
                        .await?
                        .and_then(|v| String::from_utf8(v).ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                )
            }
        };
        let (total, done, sent) = (
            count("total").await?,
            count("done").await?,
            count("sent").await?,
        );
        let quarter = if total == 0 {
            4
        } else {
            (done * 4 / total).min(4)
        };
        if quarter > 0 {
            let text = self.texts().text(
                job.lang,
                "broadcast-progress",
                &[
                    ("done", done.into()),
                    ("total", total.into()),
                    ("sent", sent.into()),
                ],
            );
            out.send_as(
                format!("bcast:{}:progress:{quarter}", job.id),
                message(job.admin_chat, text),
                None,
            );
        }
        if done < total {
            out.again = Some(WATCH);
        } else {
            out.writes.set_remove(keys::BROADCASTS, &job.id);
        }
        Ok(out)
    }
}
