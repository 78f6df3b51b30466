//! Admin broadcasts, as jobs that run in steps through the update queue.
//!
//! `/broadcast` commits the job's record and its first step with the
//! admin's reply. Each step is a queue item of its own (partition
//! `job:<id>`, so steps run in order): it queues the next few hundred
//! recipients in the outbox (ordered by user id, so a step knows exactly
//! where the last one stopped) and the following step, all in one commit.
//! A crash between steps loses nothing and repeats nothing. When every
//! recipient is queued, the last step watches the deliveries and reports
//! progress to the admin at each quarter (each report once: its id is its
//! quarter). The outbox sends within Telegram's limits, skipping users who
//! blocked the bot.

use std::time::Duration;

use mesh_state::{QueueConfig, StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::action::message;
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
    pub text: String,
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
        if !step.watching {
            let users = store.sorted_after(keys::USERS, step.after, STEP).await?;
            for (user, _) in &users {
                let Ok(id) = user.parse::<i64>() else {
                    continue;
                };
                out.send_as(
                    format!("bcast:{}:{id}", job.id),
                    message(id, job.text.clone()),
                    Some(&job.id),
                );
            }
            let queued = i64::try_from(users.len()).unwrap_or(i64::MAX);
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
        }
        Ok(out)
    }
}
