//! Admin broadcasts: one message to every reachable user, through the
//! outbox (so within Telegram's limits), with progress reported to the
//! admin. A broadcast is queued under ids derived from the admin's update,
//! so handling that update again after a crash resumes it without sending
//! anything twice.

use mesh_state::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::action::message;
use crate::messages::{Lang, Text};
use crate::outbox::Outbox;

#[derive(Serialize, Deserialize)]
struct Job {
    admin_chat: i64,
    total: i64,
    lang: Lang,
}

/// Broadcast jobs in the shared store.
#[derive(Clone)]
pub struct Broadcasts {
    store: Store,
}

impl Broadcasts {
    /// Jobs kept in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Queues `text` for every user in `users` (once per job and user).
    pub async fn start(
        &self,
        job: &str,
        admin_chat: i64,
        lang: Lang,
        text: &str,
        users: &[i64],
        outbox: &Outbox,
    ) -> Result<(), StoreError> {
        let record = Job {
            admin_chat,
            total: i64::try_from(users.len()).unwrap_or(i64::MAX),
            lang,
        };
        let json = serde_json::to_vec(&record).map_err(|e| StoreError::Protocol(e.to_string()))?;
        self.store
            .set_if_absent(
                &format!("bot:broadcast:{job}"),
                &json,
                std::time::Duration::from_secs(30 * 24 * 3600),
            )
            .await?;
        for user in users {
            outbox
                .send(
                    &format!("bcast:{job}:{user}"),
                    message(*user, text),
                    Some(job),
                )
                .await?;
        }
        Ok(())
    }

    /// Counts one finished recipient; tells the admin at each quarter and at the end.
    pub async fn progress(
        &self,
        job: &str,
        delivered: bool,
        outbox: &Outbox,
    ) -> Result<(), StoreError> {
        let done = self
            .store
            .incr(&format!("bot:broadcast:{job}:done"), 1)
            .await?;
        let sent = self
            .store
            .incr(&format!("bot:broadcast:{job}:sent"), i64::from(delivered))
            .await?;
        let Some(raw) = self.store.get(&format!("bot:broadcast:{job}")).await? else {
            return Ok(());
        };
        let Ok(record) = serde_json::from_slice::<Job>(&raw) else {
            return Ok(());
        };
        let step = (record.total / 4).max(1);
        if done == record.total || done % step == 0 {
            let text = record.lang.text(Text::BroadcastProgress {
                done,
                total: record.total,
                sent,
            });
            outbox
                .send(
                    &format!("bcast:{job}:progress:{done}"),
                    message(record.admin_chat, text),
                    None,
                )
                .await?;
        }
        Ok(())
    }
}
