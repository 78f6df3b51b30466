//! The one path for every outgoing Bot API call: durable and throttled.
//!
//! Calls are queued in the shared store (by the worker's commits) under the
//! chat they write to, so one chat's messages leave in order, de-duplicated
//! by id. Senders send them within Telegram's limits, counted in the shared
//! store so they hold across replicas and restarts (teloxide's own throttle
//! is in-process): about 29 messages/s overall (never more than 30 in any
//! second), 1/s per chat, 20/min per group. A 429 pauses that chat for
//! `retry_after` while other chats flow; a 403 marks the user blocked and
//! is never retried; network errors and 5xx retry with backoff (teloxide
//! itself waits 10 s after a 5xx before answering). Waiting for
//! a send slot, or Telegram's `retry_after`, is not counted as an attempt.
//!
//! A sent call is settled in one commit while its lease is held (renewed
//! during a slow call): the acknowledgement, a broadcast's counters and a
//! block, together. The settle is retried through a store outage, because
//! a call Telegram already took must not be sent again.

use std::sync::Arc;
use std::time::Duration;

use mesh_state::{Claim, ClaimResult, QueueConfig, Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admin::broadcast::count_recipient;
use crate::delivery::action::Action;
use crate::delivery::invites::{self, Links};
use crate::delivery::pacing::{self, Limits};
use crate::delivery::telegram::{SendError, Telegram};
use crate::keys;

/// How long an invite link works (and is kept to be revoked later).
pub const INVITE_LIFE: Duration = Duration::from_secs(24 * 3600);

/// A queued call.
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

/// The sending side.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    config: QueueConfig,
    limits: Limits,
    max_attempts: u32,
    wake: Arc<Notify>,
    poll: Duration,
}

/// How a call is settled.
enum Next {
    /// Finished: `delivered` false when skipped or refused; the invite
    /// links it made, to keep.
    Done {
        delivered: bool,
        blocked: bool,
        links: Option<(Links, Vec<(i64, String)>)>,
    },
    /// Handed out again after this long; `counts` as an attempt or not.
    Retry { delay: Duration, counts: bool },
    /// Given up on, with why.
    Dead(String),
}

impl Outbox {
    /// An outbox in `store`, woken through `wake` when calls are queued;
    /// sender 0 also looks every `poll` for calls other replicas queued.
    pub fn new(
        store: Store,
        config: QueueConfig,
        limits: Limits,
        max_attempts: u32,
        wake: Arc<Notify>,
        poll: Duration,
    ) -> Self {
        Self {
            store,
            config,
            limits,
            max_attempts,
            wake,
            poll,
        }
    }

    /// Calls queued and not yet finished.
    pub async fn pending(&self) -> Result<u64, StoreError> {
        self.store.pending(keys::OUTBOX).await
    }

    /// Starts `workers` senders.
    pub fn spawn(
        &self,
        workers: usize,
        telegram: Telegram,
        shutdown: CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        (0..workers)
            .map(|index| {
                let sender = Sender {
                    outbox: self.clone(),
                    telegram: telegram.clone(),
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
    index: usize,
}

impl Sender {
    async fn run(self, shutdown: CancellationToken) {
        let store = self.outbox.store.clone();
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match store.claim(keys::OUTBOX, &self.outbox.config).await {
                Ok(ClaimResult::Claimed(claim)) => {
                    failures = 0;
                    self.outbox.wake.notify_one();
                    self.process(claim).await;
                    continue;
                }
                Ok(ClaimResult::Idle(next)) => {
                    let cap = if self.index == 0 {
                        self.outbox.poll
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

    async fn process(&self, claim: Claim) {
        let item: Item = match serde_json::from_slice(&claim.item) {
            Ok(item) => item,
            Err(e) => {
                let reason = format!("unreadable outbox item: {e}");
                tracing::error!(%reason, "moved to the dead-letter list");
                self.settle(&claim, None, Next::Dead(reason)).await;
                return;
            }
        };
        let span = tracing::info_span!("outbox.send", item = %item.id, attempt = claim.attempts, trace_id = tracing::field::Empty);
        mesh_telemetry::continue_trace(&span, &item.traceparent);
        let next = async {
            match pacing::throttle(&self.outbox.store, self.outbox.limits, &item.action).await {
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check send limits");
                    Next::Retry {
                        delay: Duration::from_millis(500),
                        counts: false,
                    }
                }
                Ok(Some(wait)) => Next::Retry {
                    delay: wait,
                    counts: false,
                },
                // Before Telegram sees the call, the replicas asked for
                // hold the claim and the commit that queued it: a failover
                // past this point cannot hand the call out again.
                Ok(None) => match self.outbox.store.replicated(keys::OUTBOX, "claim").await {
                    Err(e) => {
                        tracing::warn!(error = %e, "claim not replicated; retrying");
                        Next::Retry {
                            delay: Duration::from_millis(500),
                            counts: false,
                        }
                    }
                    // The lease is renewed while Telegram takes its time.
                    Ok(()) => {
                        let lease = self.outbox.config.lease;
                        let store = &self.outbox.store;
                        store
                            .hold(keys::OUTBOX, &[&claim], lease, self.send(&item, &claim))
                            .await
                    }
                },
            }
        }
        .instrument(span.clone())
        .await;
        self.settle(&claim, item.job.as_deref(), next)
            .instrument(span)
            .await;
    }

    async fn send(&self, item: &Item, claim: &Claim) -> Next {
        let chat = item.action.chat();
        let store = &self.outbox.store;
        let skipped = Next::Done {
            delivered: false,
            blocked: false,
            links: None,
        };
        if item.action.is_message()
            && chat > 0
            && store
                .set_contains(keys::BLOCKED, &chat.to_string())
                .await
                .unwrap_or(false)
        {
            return skipped;
        }
        if let Some(job) = &item.job
            && crate::admin::broadcast::canceled(store, job)
                .await
                .unwrap_or(false)
        {
            return skipped;
        }
        // The links kept from last time are read before anything is sent
        // (a store failure retries with nothing sent yet) and revoked only
        // for the chats whose new link was made.
        let earlier = match &item.action {
            Action::SendInvite { chat_id, .. } => match invites::kept(store, *chat_id).await {
                Ok(links) => Some(links),
                Err(e) => {
                    return self.failed(SendError::Transient(format!("store: {e}")), item, claim);
                }
            },
            _ => None,
        };
        match self.telegram.execute(&item.action).await {
            Ok(sent) => {
                let links = match (&item.action, earlier) {
                    (Action::SendInvite { chat_id, .. }, Some(earlier)) => {
                        invites::revoke_replaced(&self.telegram, *chat_id, &earlier, &sent.links)
                            .await;
                        Some((earlier, sent.links))
                    }
                    _ => None,
                };
                Next::Done {
                    delivered: true,
                    blocked: false,
                    links,
                }
            }
            Err(e) => self.failed(e, item, claim),
        }
    }

    /// What to do after a failed call.
    fn failed(&self, e: SendError, item: &Item, claim: &Claim) -> Next {
        let chat = item.action.chat();
        match e {
            SendError::RetryAfter(wait) => {
                tracing::info!(
                    chat,
                    wait_s = wait.as_secs(),
                    "Telegram asked this chat to wait"
                );
                Next::Retry {
                    delay: wait,
                    counts: false,
                }
            }
            SendError::Blocked => {
                tracing::info!(chat, "user blocked the bot; not writing to them again");
                Next::Done {
                    delivered: false,
                    blocked: true,
                    links: None,
                }
            }
            SendError::Permanent(reason) => {
                tracing::warn!(chat, method = item.action.method(), %reason, "Telegram refused a call; moved to the dead-letter list");
                Next::Dead(format!("{}: {reason}", item.action.method()))
            }
            SendError::Transient(reason) if claim.attempts >= self.outbox.max_attempts => {
                tracing::error!(chat, %reason, attempts = claim.attempts, "call failed too often; moved to the dead-letter list");
                Next::Dead(crate::retry::gave_up(
                    &format!("{}: {reason}", item.action.method()),
                    claim.attempts,
                ))
            }
            SendError::Transient(reason) => {
                let delay = Duration::from_millis(250u64 << claim.attempts.min(7))
                    .min(Duration::from_secs(30));
                tracing::info!(chat, %reason, attempts = claim.attempts, "call failed; retrying");
                Next::Retry {
                    delay,
                    counts: true,
                }
            }
        }
    }

    /// Settles a call in one commit while the lease is ours, retrying
    /// through a store outage: a call Telegram already took must not be
    /// sent again.
    async fn settle(&self, claim: &Claim, job: Option<&str>, next: Next) {
        let mut tx = Tx::new();
        match &next {
            Next::Done {
                delivered,
                blocked,
                links,
            } => {
                tx.ack(keys::OUTBOX, claim, None);
                if *blocked {
                    tx.set_add(keys::BLOCKED, &claim_chat(claim));
                }
                if let (Some((earlier, made)), Ok(user)) = (links, claim_chat(claim).parse()) {
                    invites::remember(&mut tx, user, earlier.clone(), made.clone(), INVITE_LIFE);
                }
                if let Some(job) = job {
                    count_recipient(&mut tx, job, *delivered);
                }
            }
            Next::Retry { delay, counts } => {
                tx.release(keys::OUTBOX, claim, *delay, *counts);
            }
            Next::Dead(reason) => {
                tx.ack(keys::OUTBOX, claim, Some(reason));
                if let Some(job) = job {
                    count_recipient(&mut tx, job, false);
                }
            }
        }
        let within = self.outbox.config.lease.mul_f64(0.9);
        let store = &self.outbox.store;
        // Settled means replicated too: a settle a failover loses hands
        // the call out again. A second try of a committed settle is
        // refused by its lease guard and only waits again.
        let settle = || async {
            store.commit(&tx).await?;
            store.replicated(keys::OUTBOX, "settle").await
        };
        if let Err(e) = mesh_state::retry_within(within, settle).await {
            tracing::warn!(error = %e, "cannot settle an outbox call; it will be retried");
        }
    }
}

/// The chat id of an outbox partition (`chat:<id>`).
fn claim_chat(claim: &Claim) -> String {
    claim
        .partition
        .strip_prefix("chat:")
        .unwrap_or(&claim.partition)
        .to_owned()
}
