//! Workers that drain the update queue.
//!
//! Each worker leases up to [`BATCH`] items (runs of the queue's lanes, each
//! many chats' items in arrival order, and the head items of chats parked
//! after a retry), handles different chats side by side and one chat's in
//! order, and settles each item with one commit: its effects (replies,
//! dialogue state, registry changes, next job steps) together with its
//! acknowledgement, guarded by its lease and its place in the run. While it
//! works it renews its leases, so a slow handler keeps its chats and is
//! never run twice; a worker that dies stops renewing, and its lanes and
//! chats move to another worker within one lease. Idle workers sleep until the gRPC service wakes one (a
//! local accept), a peer that found work wakes the next, or, for work
//! accepted by another replica or left by a crashed one, worker 0 polls.

mod order;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use mesh_proto::bot::v1::NotifyEntitlementRequest;
use mesh_state::{Claim, Claims, Store, Tx, TxOutcome};
use prost::Message;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::order::{Run, place};
use crate::BotConfig;
use crate::effects::Effects;
use crate::handler::{HandleError, Handler};
use crate::intake::envelope::{self, Kind};
use crate::keys;
use crate::retry::{backoff, dependency_backoff, gave_up};

/// How long an idle worker other than worker 0 sleeps when nobody wakes it.
const IDLE: Duration = Duration::from_secs(5);

/// Most items one worker claims at once: lanes' runs and parked chats'
/// head items. Claiming and settling them together costs one store round
/// trip per batch instead of two per update.
const BATCH: usize = 32;

/// Starts `config.workers` workers.
pub fn spawn_pool(
    config: &Arc<BotConfig>,
    store: Store,
    handler: Handler,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    (0..config.workers)
        .map(|index| {
            let worker = Worker {
                index,
                store: store.clone(),
                handler: handler.clone(),
                wake: wake.clone(),
                outbox_wake: outbox_wake.clone(),
                config: config.clone(),
            };
            tokio::spawn(worker.run(shutdown.clone()))
        })
        .collect()
}

/// One worker.
pub struct Worker {
    index: usize,
    store: Store,
    handler: Handler,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    config: Arc<BotConfig>,
}

/// How a handled item is settled.
enum Outcome {
    /// Its effects, committed with its acknowledgement.
    Commit(Effects),
    /// Handed out again after this long.
    Retry(Duration),
    /// Given up on, with why.
    Dead(String),
    /// Not handled: an earlier item of its chat in the same lane run was
    /// handed back for later, and this one goes behind it.
    Follow,
}

impl Outcome {
    /// True when the item is handed out again later rather than finished:
    /// its chat's later items must not overtake it.
    fn hands_back(&self) -> bool {
        match self {
            Self::Retry(_) => true,
            Self::Commit(effects) => effects.again.is_some(),
            Self::Dead(_) | Self::Follow => false,
        }
    }
}

/// One handled item, waiting to be settled.
struct Handled {
    claim: Claim,
    outcome: Outcome,
    span: tracing::Span,
}

impl Worker {
    /// A worker that is not part of a pool (tests drive it item by item).
    pub fn standalone(config: Arc<BotConfig>, store: Store, handler: Handler) -> Self {
        Self {
            index: usize::MAX,
            store,
            handler,
            wake: Arc::default(),
            outbox_wake: Arc::default(),
            config,
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let claimed = self
                .store
                .claim_many(keys::UPDATES, &self.config.queue, BATCH)
                .await;
            let wait = match claimed {
                Ok(Claims::Claimed(claims)) => {
                    failures = 0;
                    // A full batch means there may be more: let a peer look
                    // while this one works. (Waking one for less would only
                    // split the next arrivals into smaller batches.)
                    if claims.len() == BATCH {
                        self.wake.notify_one();
                    }
                    self.process(claims).await;
                    continue;
                }
                Ok(Claims::Idle(next)) => {
                    failures = 0;
                    // Worker 0 looks for work other replicas accepted; a
                    // leased chat's expiry is waited for exactly (`next`).
                    let cap = if self.index == 0 {
                        self.config.poll_interval
                    } else {
                        IDLE
                    };
                    next.map_or(cap, |n| n.min(cap))
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        tracing::warn!(error = %e, "cannot claim updates; retrying");
                    }
                    backoff(failures)
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Handles claimed items and settles them as they finish. Items of
    /// different chats run side by side; a chat's items of one lane run
    /// one after the other, and once one of them is handed back for later
    /// the rest follow it unhandled. A run is settled in its order (the
    /// store refuses anything else), so finished items wait for those
    /// before them; one settle is in flight at a time, and whatever
    /// finishes meanwhile goes into the next. Leases are renewed until
    /// each is given back. Not cancelled by shutdown: items in hand finish
    /// so a drain loses nothing.
    pub async fn process(&self, claims: Vec<Claim>) {
        let mut held: HashMap<String, Claim> = HashMap::new();
        let mut chains: HashMap<(String, String), VecDeque<Claim>> = HashMap::new();
        let mut order: HashMap<String, Run> = HashMap::new();
        for claim in claims {
            let lease = claim.lease().to_owned();
            held.entry(lease.clone()).or_insert_with(|| claim.clone());
            chains
                .entry((lease, claim.partition.clone()))
                .or_default()
                .push_back(claim);
        }
        // Boxed: a handler's future is large, and FuturesUnordered moves
        // what it is given (a profile showed the copies).
        let mut running: FuturesUnordered<_> = chains
            .values_mut()
            .filter_map(VecDeque::pop_front)
            .map(|claim| Box::pin(self.handle(claim)))
            .collect();
        let mut ready: Vec<Handled> = Vec::new();
        let mut settling = FuturesUnordered::new();
        let lease = self.config.queue.lease;
        let mut renewal = tokio::time::interval(lease / 4);
        renewal.tick().await;
        loop {
            tokio::select! {
                Some(first) = running.next() => {
                    let mut done = vec![first];
                    while let Some(Some(more)) = running.next().now_or_never() {
                        done.push(more);
                    }
                    for handled in done {
                        let key = (handled.claim.lease().to_owned(), handled.claim.partition.clone());
                        let chain = chains.entry(key).or_default();
                        if handled.outcome.hands_back() {
                            for claim in chain.drain(..) {
                                let follower = Handled { claim, outcome: Outcome::Follow, span: tracing::Span::none() };
                                place(&mut order, &mut ready, follower);
                            }
                        } else if let Some(next) = chain.pop_front() {
                            running.push(Box::pin(self.handle(next)));
                        }
                        place(&mut order, &mut ready, handled);
                    }
                    if settling.is_empty() && !ready.is_empty() {
                        settling.push(Box::pin(self.settle(std::mem::take(&mut ready))));
                    }
                }
                Some(ended) = settling.next() => {
                    for lease in ended {
                        held.remove(&lease);
                    }
                    if !ready.is_empty() {
                        settling.push(Box::pin(self.settle(std::mem::take(&mut ready))));
                    }
                }
                _ = renewal.tick(), if !held.is_empty() => {
                    let claims: Vec<&Claim> = held.values().collect();
                    if let Err(e) = self.store.renew(keys::UPDATES, &claims, lease).await {
                        tracing::warn!(error = %e, "cannot renew leases; retrying");
                    }
                }
                else => break,
            }
        }
    }

    /// Handles one claimed item and decides how to settle it.
    async fn handle(&self, claim: Claim) -> Handled {
        let Some((kind, traceparent, payload)) = envelope::open(&claim.item) else {
            return Handled {
                claim,
                outcome: Outcome::Dead("unreadable queue item".into()),
                span: tracing::Span::none(),
            };
        };
        let span = tracing::info_span!(
            "bot.handle",
            kind = ?kind,
            partition = %claim.partition,
            attempt = claim.attempts,
            trace_id = tracing::field::Empty,
        );
        mesh_telemetry::continue_trace(&span, &traceparent);
        let started = std::time::Instant::now();
        let work = async {
            match kind {
                Kind::Update => self.handler.handle_update(&payload).await,
                // Boxed, so that their futures don't size every update's.
                Kind::Notice => match NotifyEntitlementRequest::decode(payload.as_ref()) {
                    Ok(notice) => Box::pin(self.handler.handle_notice(&notice)).await,
                    Err(e) => Err(HandleError::Permanent(format!("unreadable notice: {e}"))),
                },
                Kind::Job => Box::pin(self.handler.handle_job(&payload)).await,
            }
        };
        let result =
            match tokio::time::timeout(self.config.handler_timeout, work.instrument(span.clone()))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(HandleError::Transient("handling timed out".into())),
            };
        metrics::histogram!("bot_update_handle_seconds").record(started.elapsed().as_secs_f64());
        // (Logged with `in_scope`: an `enter()` guard must never be held
        // across an await.)
        let outcome = span.in_scope(|| self.decide(&claim, result));
        Handled {
            claim,
            outcome,
            span,
        }
    }

    fn decide(&self, claim: &Claim, result: Result<Effects, HandleError>) -> Outcome {
        let attempts = claim.attempts;
        let failed = |kind: &'static str| {
            metrics::counter!("bot_updates_failed_total", "kind" => kind).increment(1);
        };
        match result {
            Ok(effects) => Outcome::Commit(effects),
            Err(HandleError::Permanent(reason)) => {
                tracing::warn!(%reason, "item cannot be handled; moved to the dead-letter list");
                failed("dead_letter");
                Outcome::Dead(reason)
            }
            Err(HandleError::Transient(reason)) if attempts >= self.config.max_attempts => {
                tracing::error!(%reason, attempts, "item failed too often; moved to the dead-letter list");
                failed("dead_letter");
                Outcome::Dead(gave_up(&reason, attempts))
            }
            Err(HandleError::Dependency(reason)) if attempts >= self.config.dependency_attempts => {
                tracing::error!(%reason, attempts, "a dependency stayed away; moved to the dead-letter list");
                failed("dead_letter");
                Outcome::Dead(gave_up(&reason, attempts))
            }
            Err(HandleError::Transient(reason)) => {
                let delay = backoff(attempts);
                tracing::info!(%reason, attempts, delay_ms = delay.as_millis() as u64, "item will be retried");
                failed("retry");
                Outcome::Retry(delay)
            }
            Err(HandleError::Dependency(reason)) => {
                let delay = dependency_backoff(attempts);
                tracing::info!(%reason, attempts, delay_ms = delay.as_millis() as u64, "a dependency is away; item will be retried");
                failed("dependency");
                Outcome::Retry(delay)
            }
        }
    }

    /// Settles handled items while their leases are held, in one store
    /// write, retried through a store outage (a commit whose reply was lost
    /// and is tried again finds its lease settled, or its run moved past
    /// it, and changes nothing). Returns the leases given back.
    async fn settle(&self, group: Vec<Handled>) -> Vec<String> {
        let mut calls = 0;
        let mut txs = Vec::with_capacity(group.len());
        let mut settled = Vec::with_capacity(group.len());
        for h in group {
            let mut tx = Tx::new();
            let mut registered = None;
            match h.outcome {
                Outcome::Retry(delay) => {
                    tx.release(keys::UPDATES, &h.claim, delay, true);
                }
                Outcome::Dead(reason) => {
                    tx.ack(keys::UPDATES, &h.claim, Some(&reason));
                }
                Outcome::Follow => {
                    tx.follow(keys::UPDATES, &h.claim);
                }
                Outcome::Commit(mut effects) => {
                    calls += effects.sent();
                    // Remembered only if its writes go into the commit.
                    let effects_registered = effects.registered.take();
                    let traceparent = h.span.in_scope(mesh_telemetry::current_traceparent);
                    let outbox = &self.config.outbox_queue;
                    match effects.into_tx(keys::UPDATES, &h.claim, outbox, &traceparent) {
                        Ok(built) => {
                            tx = built;
                            registered = effects_registered;
                        }
                        Err(e) => {
                            let reason = format!("cannot record effects: {e}");
                            tx.ack(keys::UPDATES, &h.claim, Some(&reason));
                        }
                    }
                }
            }
            txs.push(tx);
            let ended = h.claim.ends_lease().then(|| h.claim.lease().to_owned());
            settled.push((ended, h.span, registered));
        }
        let within = self.config.queue.lease.mul_f64(0.9);
        match mesh_state::retry_within(within, || self.store.commit_all(&txs)).await {
            Ok(outcomes) => {
                for ((_, span, registered), outcome) in settled.iter().zip(outcomes) {
                    match outcome {
                        TxOutcome::Refused(_) => span.in_scope(|| {
                            tracing::info!("lease passed on before the item was settled, or an earlier try of this commit landed");
                        }),
                        TxOutcome::Committed => {
                            if let Some((user, lang)) = registered {
                                self.handler.registered().written(*user, lang.as_deref());
                            }
                        }
                    }
                }
                if calls > 0 {
                    self.outbox_wake.notify_one();
                }
            }
            // The leases run out and the items are handled again.
            Err(e) => {
                tracing::warn!(error = %e, items = settled.len(), "cannot settle items; they will be handled again")
            }
        }
        settled
            .into_iter()
            .filter_map(|(ended, ..)| ended)
            .collect()
    }
}
