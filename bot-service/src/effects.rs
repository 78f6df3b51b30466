//! What handling one piece of work decided, as data.
//!
//! Handlers never write to the store or call Telegram: they read what they
//! need (billing, sessions) and return [`Effects`], which the worker
//! commits in one atomic step together with the item's acknowledgement.
//! A handler that fails, a store command that fails, or a worker that dies
//! half way therefore leaves nothing behind; the item is handed out again
//! and handled anew. Outbox items carry ids derived from the item, so even
//! a second commit (there is none: the lease guard refuses it) could not
//! queue a reply twice.

use std::time::Duration;

use mesh_state::{Claim, QueueConfig, StoreError, Tx};

use crate::delivery::action::Action;
use crate::delivery::outbox::Item;
use crate::keys;

/// The outcome of handling one item.
#[derive(Debug, Default)]
pub struct Effects {
    source: String,
    actions: Vec<(Option<String>, Action, Option<String>)>,
    /// Writes committed with the acknowledgement (sessions, the registry).
    pub writes: Tx,
    /// Handle the item again after this long instead of finishing it (a
    /// broadcast waiting for its deliveries); not counted as an attempt.
    pub again: Option<Duration>,
}

impl Effects {
    /// Effects of the item `source` (`u<update id>`, `n<notice id>`, ...),
    /// which names its outbox items.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }

    /// Queues a Bot API call.
    pub fn send(&mut self, action: Action) {
        self.actions.push((None, action, None));
    }

    /// Queues a Bot API call under its own id (for broadcast `job`, whose
    /// progress it counts).
    pub fn send_as(&mut self, id: String, action: Action, job: Option<&str>) {
        self.actions
            .push((Some(id), action, job.map(str::to_owned)));
    }

    /// How many calls are queued.
    pub fn sent(&self) -> usize {
        self.actions.len()
    }

    /// The calls queued, for tests and logs.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().map(|(_, a, _)| a)
    }

    /// Records that `user` wrote to the bot (which also undoes a block: a
    /// user who writes again has unblocked the bot), with their language.
    pub fn seen(&mut self, user: i64, language: Option<&str>) {
        let id = user.to_string();
        // Ordered by id: a broadcast walks them from where it stopped.
        self.writes
            .schedule(keys::USERS, &id, user)
            .set_remove(keys::BLOCKED, &id);
        if let Some(lang) = language {
            self.writes.set(&keys::lang(user), lang.as_bytes(), None);
        }
    }

    /// The commit: `claim` finished (or handed back after `again`), and
    /// every write and call of these effects. `traceparent` joins the calls
    /// to the trace of the work that queued them.
    pub fn into_tx(
        self,
        queue: &str,
        claim: &Claim,
        outbox: &QueueConfig,
        traceparent: &str,
    ) -> Result<Tx, StoreError> {
        let mut tx = self.writes;
        match self.again {
            Some(delay) => tx.release(queue, claim, delay, false),
            None => tx.ack(queue, claim, None),
        };
        for (i, (id, action, job)) in self.actions.into_iter().enumerate() {
            let id = id.unwrap_or_else(|| format!("{}:{i}", self.source));
            let partition = keys::chat_partition(action.chat());
            let item = Item {
                id: id.clone(),
                action,
                job,
                traceparent: traceparent.to_owned(),
            };
            let bytes =
                serde_json::to_vec(&item).map_err(|e| StoreError::Protocol(e.to_string()))?;
            tx.enqueue(keys::OUTBOX, outbox, &id, &partition, bytes);
        }
        Ok(tx)
    }
}
