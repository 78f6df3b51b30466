//! The one path for every outgoing Bot API call: durable and throttled.
//!
//! Actions are queued in the shared store under the chat they write to
//! (one chat's messages leave in order) and de-duplicated by id, so a
//! handler that runs twice queues its replies once. Workers send them
//! within Telegram's limits, counted in the shared store so they hold
//! across replicas and restarts (teloxide's own throttle is in-process):
//! about 29 messages/s overall (never more than 30 in any second), 1/s per
//! chat, 20/min per group. A 429 pauses that chat for `retry_after` while
//! other chats flow; a 403 marks the user blocked and is never retried;
//! network errors and 5xx retry with backoff.

use std::sync::Arc;
use std::time::Duration;

use mesh_state::{Claim, ClaimResult, QueueConfig, RateDecision, Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::action::Action;
use crate::broadcast::Broadcasts;
use crate::telegram::{SendError, Telegram};
use crate::users::Users;

const QUEUE: &str = "outbox";

/// Sending limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Spacing of messages overall (34 ms: 29.4/s, at most 30 in any second).
    pub global: Duration,
    /// Spacing of messages to one private chat.
    pub chat: Duration,
    /// Spacing of messages to one group (20 per minute).
    pub group: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            global: Duration::from_millis(34),
            chat: Duration::from_secs(1),
            group: Duration::from_secs(3),
        }
    }
}

/// A queued action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// Unique id (source + index), for de-duplication.
    pub id: String,
    /// What to do.
    pub action: Action,
    /// The broadcast this belongs to, if any (for progress).
    #[serde(default)]
    pub job: Option<String>,
    /// The trace of the work that queued it, so the Bot API call joins it.
    #[serde(default)]
    pub traceparent: String,
}

/// The outbox.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    config: QueueConfig,
    limits: Limits,
    max_attempts: u32,
    wake: Arc<Notify>,
}

impl Outbox {
    /// An outbox in `store`; a sender that dies loses its item's lease
    /// after `lease`.
    pub fn new(store: Store, limits: Limits, max_attempts: u32, lease: Duration) -> Self {
        Self {
            store,
            config: QueueConfig {
                dedup_ttl: Duration::from_secs(24 * 3600),
                lease,
            },
            limits,
            max_attempts,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues `action` once per `id`.
    pub async fn send(
        &self,
        id: &str,
        action: Action,
        job: Option<&str>,
    ) -> Result<(), StoreError> {
        let partition = format!("chat:{}", action.chat());
        let item = Item {
            id: id.to_owned(),
            action,
            job: job.map(str::to_owned),
            traceparent: mesh_telemetry::current_traceparent(),
        };
        let bytes = serde_json::to_vec(&item).map_err(|e| StoreError::Protocol(e.to_string()))?;
        self.store
            .enqueue_once(QUEUE, &self.config, id, &partition, &bytes)
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Actions queued and not yet finished.
    pub async fn pending(&self) -> Result<u64, StoreError> {
        self.store.pending(QUEUE).await
    }

    /// Starts `workers` senders.
    pub fn spawn(
        &self,
        workers: usize,
        telegram: Telegram,
        users: Users,
        broadcasts: Broadcasts,
        shutdown: CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        (0..workers)
            .map(|index| {
                let sender = Sender {
                    outbox: self.clone(),
                    telegram: telegram.clone(),
                    users: users.clone(),
                    broadcasts: broadcasts.clone(),
                    index,
                };
                tokio::spawn(sender.run(shutdown.clone()))
            })
            .collect()
    }
}

struct Sender {
    outbox: Outbox,
    telegram: Telegram,
    users: Users,
    broadcasts: Broadcasts,
    index: usize,
}

#[derive(Clone, Copy)]
enum Next {
    Done,
    Retry(Duration),
    DeadLetter,
}

impl Sender {
    async fn run(self, shutdown: CancellationToken) {
        let store = self.outbox.store.clone();
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match store.claim(QUEUE, &self.outbox.config).await {
                Ok(ClaimResult::Claimed(claim)) => {
                    failures = 0;
                    self.outbox.wake.notify_one();
                    self.process(claim).await;
                    continue;
                }
                Ok(ClaimResult::Idle(next)) => {
                    let cap = if self.index == 0 {
                        Duration::from_millis(200)
                    } else {
                        Duration::from_secs(5)
                    };
                    next.map_or(cap, |n| n.min(cap))
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(error = %e, "outbox unavailable; retrying");
                    }
                    Duration::from_millis(500)
                }
            };
            tokio::select! {
                () = self.outbox.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Waits for this chat's and the global budget. Returns the wait when
    /// this chat must wait (the claim is given back so others can go).
    async fn throttle(&self, action: &Action) -> Result<Option<Duration>, StoreError> {
        let store = &self.outbox.store;
        let limits = self.outbox.limits;
        if action.is_message() {
            let chat = action.chat();
            let (key, spacing) = if chat < 0 {
                (format!("tg:group:{chat}"), limits.group)
            } else {
                (format!("tg:chat:{chat}"), limits.chat)
            };
            if let RateDecision::Limited { retry_after, .. } =
                store.rate_limit(&key, spacing, 1).await?
            {
                return Ok(Some(retry_after));
            }
        }
        // The overall pace: book the next global slot and wait for it here,
        // holding the claim. Booking (rather than asking "may I now?") loses
        // no slot when no sender happens to ask at the instant it opens.
        let wait = store.reserve_slot("tg:global", limits.global).await?;
        tokio::time::sleep(wait).await;
        Ok(None)
    }

    async fn process(&self, claim: Claim) {
        let store = &self.outbox.store;
        let item: Item = match serde_json::from_slice(&claim.item) {
            Ok(item) => item,
            Err(e) => {
                tracing::error!(error = %e, "unreadable outbox item dropped");
                let _ = store.ack(QUEUE, &claim, true).await;
                return;
            }
        };
        let span = tracing::info_span!("outbox.send", item = %item.id, attempt = claim.attempts, trace_id = tracing::field::Empty);
        mesh_telemetry::continue_trace(&span, &item.traceparent);
        let next = async {
            match self.throttle(&item.action).await {
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check send limits");
                    Next::Retry(Duration::from_millis(500))
                }
                Ok(Some(wait)) => Next::Retry(wait),
                Ok(None) => self.send(&item, &claim).await,
            }
        }
        .instrument(span)
        .await;
        // Settle while the lease is ours, retrying through a store outage:
        // a call Telegram already took must not be sent again.
        let within = self.outbox.config.lease.mul_f64(0.9);
        let result = mesh_state::retry_within(within, || async {
            match next {
                Next::Done => store.ack(QUEUE, &claim, false).await,
                Next::DeadLetter => store.ack(QUEUE, &claim, true).await,
                Next::Retry(delay) => store.release(QUEUE, &claim, delay).await,
            }
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot settle outbox item; it will be retried");
        }
    }

    async fn send(&self, item: &Item, claim: &Claim) -> Next {
        let chat = item.action.chat();
        if item.action.is_message()
            && chat > 0
            && self.users.is_blocked(chat).await.unwrap_or(false)
        {
            self.finished(item, false).await;
            return Next::Done;
        }
        match self.telegram.execute(&item.action).await {
            Ok(()) => {
                self.finished(item, true).await;
                Next::Done
            }
            Err(SendError::RetryAfter(wait)) => {
                tracing::info!(
                    chat,
                    wait_s = wait.as_secs(),
                    "Telegram asked this chat to wait"
                );
                Next::Retry(wait)
            }
            Err(SendError::Blocked) => {
                tracing::info!(chat, "user blocked the bot; not writing to them again");
                if let Err(e) = self.users.blocked(chat).await {
                    tracing::warn!(error = %e, "cannot record a block");
                }
                self.finished(item, false).await;
                Next::Done
            }
            Err(SendError::Permanent(reason)) => {
                tracing::warn!(chat, method = item.action.method(), %reason, "Telegram refused a call; dropped");
                self.finished(item, false).await;
                Next::Done
            }
            Err(SendError::Transient(reason)) if claim.attempts >= self.outbox.max_attempts => {
                tracing::error!(chat, %reason, attempts = claim.attempts, "call failed too often; moved to the dead-letter list");
                self.finished(item, false).await;
                Next::DeadLetter
            }
            Err(SendError::Transient(reason)) => {
                let delay = Duration::from_millis(250u64 << claim.attempts.min(7))
                    .min(Duration::from_secs(30));
                tracing::info!(chat, %reason, attempts = claim.attempts, "call failed; retrying");
                Next::Retry(delay)
            }
        }
    }

    async fn finished(&self, item: &Item, delivered: bool) {
        if let Some(job) = &item.job
            && let Err(e) = self.broadcasts.progress(job, delivered, &self.outbox).await
        {
            tracing::warn!(error = %e, "cannot record broadcast progress");
        }
    }
}
