//! Running a broadcast job's steps (see [`crate::admin::broadcast`]): a
//! step picks the next users of the segment, queues their messages and
//! the following step in one commit; the last one watches and reports.

use mesh_proto::billing::v1::Segment;
use mesh_state::StoreError;

use crate::admin::broadcast::*;
use crate::delivery::action::message;
use crate::effects::Effects;
use crate::handler::{HandleError, Handler};
use crate::keys;

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
