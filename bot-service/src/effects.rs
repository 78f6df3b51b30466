//! What handling one piece of work decided, as data.
//!
//! Handlers never write to the store or call Telegram: they read what they
//! need (billing, sessions) and return [`Effects`], which the worker
//! commits in one atomic step together with the item's acknowledgement.
//! A handler that fails, a store command that fails, or a worker that dies
//! half way therefore leaves nothing behind; the item is handed out again
//! and handled anew. The commit settles the item's lease, so it lands at
//! most once (a second try is refused), and the outbox items it queues
//! carry ids derived from the item: a reply is queued once, with no
//! de-dup mark of its own (a broadcast's named items keep theirs).

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
    /// The registry entry these writes make (user, language), to remember
    /// once they are committed.
    pub registered: Option<(i64, Option<String>)>,
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
    /// `current`: this process wrote the same entry and language lately
    /// (see `handler::registry`), so only the block is undone.
    pub fn seen(&mut self, user: i64, language: Option<&str>, current: bool) {
        let id = user.to_string();
        self.writes.set_remove(keys::BLOCKED, &id);
        if current {
            return;
        }
        // Ordered by id: a broadcast walks them from where it stopped.
        self.writes.schedule(keys::USERS, &id, user);
        if let Some(lang) = language {
            self.writes.set(&keys::lang(user), lang.as_bytes(), None);
        }
        self.registered = Some((user, language.map(str::to_owned)));
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
        let unmarked = QueueConfig {
            dedup_ttl: Duration::ZERO,
            ..*outbox
        };
        for (i, (named, action, job)) in self.actions.into_iter().enumerate() {
            let id = named
                .clone()
                .unwrap_or_else(|| format!("{}:{i}", self.source));
            let partition = keys::chat_partition(action.chat());
            let item = Item {
                id: id.clone(),
                action,
                job,
                traceparent: traceparent.to_owned(),
            };
            let bytes =
                serde_json::to_vec(&item).map_err(|e| StoreError::Protocol(e.to_string()))?;
            // An id made from the item is made by no other commit, and
            // this one settles the item's lease: it needs no de-dup mark.
            // One the handler named (a broadcast's), or an item handled
            // again (`again`), keeps it.
            let config = if named.is_none() && self.again.is_none() {
                &unmarked
            } else {
                outbox
            };
            tx.enqueue(keys::OUTBOX, config, &id, &partition, bytes);
        }
        Ok(tx)
    }
}
