//! Workers that drain the update queue.
//!
//! Each worker leases one chat's next update, handles it, and acknowledges
//! it. Idle workers sleep until the gRPC service wakes one (a local
//! accept), a peer that found work wakes the next, or, for work accepted by
//! another replica or left by a crashed one, worker 0 polls.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use mesh_state::{Claim, Claims, Finished, Store};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::BotConfig;
use crate::envelope::{self, Kind};
use crate::handler::{HandleError, Handler};
use crate::service::UPDATES_QUEUE;
use mesh_proto::bot::v1::NotifyEntitlementRequest;
use prost::Message;
use tracing::Instrument;

const POLL: Duration = Duration::from_millis(200);
const IDLE: Duration = Duration::from_secs(5);

/// Starts `config.workers` workers.
pub fn spawn_pool(
    config: &BotConfig,
    store: Store,
    handler: Handler,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    (0..config.workers)
        .map(|index| {
            let worker = Worker {
                index,
                store: store.clone(),
                handler: handler.clone(),
                wake: wake.clone(),
                config: config.clone(),
            };
            tokio::spawn(worker.run(shutdown.clone()))
        })
        .collect()
}

struct Worker {
    index: usize,
    store: Store,
    handler: Handler,
    wake: Arc<Notify>,
    config: BotConfig,
}

/// Most items one worker claims at once. Each is a different chat, handled
/// side by side; claiming and acknowledging them together costs one store
/// round trip per batch instead of two per update.
const BATCH: usize = 16;

/// One handled claim, waiting to be settled.
struct Handled {
    claim: Claim,
    settle: Settle,
    span: tracing::Span,
}

impl Worker {
    async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let claimed = self
                .store
                .claim_many(UPDATES_QUEUE, &self.config.queue, BATCH)
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
                    let cap = if self.index == 0 { POLL } else { IDLE };
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

    /// Handles claimed items side by side and settles them in groups as
    /// they finish: a quick item is acknowledged with whatever else is done
    /// by then, never held back by a slow one. Not cancelled by shutdown:
    /// items in hand finish (within the lease) so a drain loses nothing.
    async fn process(&self, claims: Vec<Claim>) {
        let mut running: FuturesUnordered<_> =
            claims.into_iter().map(|claim| self.handle(claim)).collect();
        let mut settling = FuturesUnordered::new();
        loop {
            tokio::select! {
                Some(first) = running.next() => {
                    let mut group = vec![first];
                    while let Some(Some(more)) = running.next().now_or_never() {
                        group.push(more);
                    }
                    settling.push(self.settle(group));
                }
                Some(()) = settling.next() => {}
                else => break,
            }
        }
    }

    /// Handles one claimed item and decides how to settle it.
    async fn handle(&self, claim: Claim) -> Handled {
        let Some((kind, traceparent, payload)) = envelope::open(&claim.item) else {
            tracing::error!("unreadable queue item; moved to the dead-letter list");
            return Handled {
                claim,
                settle: Settle::DeadLetter,
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
        // Finish well inside the lease so no other worker takes the chat over
        // while this one still works on it.
        let budget = self.config.queue.lease.mul_f64(0.8);
        let started = std::time::Instant::now();
        let work = async {
            match kind {
                Kind::Update => self.handler.handle_update(&payload).await,
                Kind::Notice => match NotifyEntitlementRequest::decode(payload.as_ref()) {
                    Ok(notice) => self.handler.handle_notice(&notice).await,
                    Err(e) => Err(HandleError::Permanent(format!("unreadable notice: {e}"))),
                },
            }
        };
        let outcome = match tokio::time::timeout(budget, work.instrument(span.clone())).await {
            Ok(result) => result,
            Err(_) => Err(HandleError::Transient("handling timed out".into())),
        };
        metrics::histogram!("bot_update_handle_seconds").record(started.elapsed().as_secs_f64());
        // What to do with the claim, decided once. (Logged with `in_scope`:
        // an `enter()` guard must never be held across an await.)
        let settle = span.in_scope(|| match outcome {
            Ok(()) => Settle::Ack,
            Err(HandleError::Permanent(reason)) => {
                tracing::warn!(%reason, "item cannot be handled; dropped");
                metrics::counter!("bot_updates_failed_total", "kind" => "permanent").increment(1);
                Settle::Ack
            }
            Err(HandleError::Transient(reason)) if claim.attempts >= self.config.max_attempts => {
                tracing::error!(%reason, attempts = claim.attempts, "item failed too often; moved to the dead-letter list");
                metrics::counter!("bot_updates_failed_total", "kind" => "dead_letter").increment(1);
                Settle::DeadLetter
            }
            Err(HandleError::Transient(reason)) => {
                let delay = backoff(claim.attempts);
                tracing::info!(%reason, attempts = claim.attempts, delay_ms = delay.as_millis() as u64, "item will be retried");
                metrics::counter!("bot_updates_failed_total", "kind" => "retry").increment(1);
                Settle::Release(delay)
            }
        });
        Handled {
            claim,
            settle,
            span,
        }
    }

    /// Settles handled items while their leases are ours: the finished ones
    /// in one store write, retried through a store outage (a redelivery
    /// would handle an update again); the ones to retry one by one.
    async fn settle(&self, group: Vec<Handled>) {
        let within = self.config.queue.lease.mul_f64(0.9);
        let finished: Vec<(Finished<'_>, &tracing::Span)> = group
            .iter()
            .filter(|h| !matches!(h.settle, Settle::Release(_)))
            .map(|h| {
                let done = Finished {
                    claim: &h.claim,
                    dead_letter: matches!(h.settle, Settle::DeadLetter),
                    parent: &h.span,
                };
                (done, &h.span)
            })
            .collect();
        if !finished.is_empty() {
            let done: Vec<Finished<'_>> = finished.iter().map(|(d, _)| *d).collect();
            let acked =
                mesh_state::retry_within(within, || self.store.ack_many(UPDATES_QUEUE, &done))
                    .await;
            match acked {
                Ok(held) => {
                    for ((_, span), held) in finished.iter().zip(held) {
                        if !held {
                            span.in_scope(lease_lost);
                        }
                    }
                }
                // The leases run out and the items are delivered again.
                Err(e) => {
                    tracing::warn!(error = %e, items = done.len(), "cannot acknowledge items; they will be redelivered")
                }
            }
        }
        for h in &group {
            let Settle::Release(delay) = h.settle else {
                continue;
            };
            let released = mesh_state::retry_within(within, || {
                self.store.release(UPDATES_QUEUE, &h.claim, delay)
            })
            .instrument(h.span.clone())
            .await;
            match released {
                Ok(true) => {}
                Ok(false) => h.span.in_scope(lease_lost),
                Err(e) => h.span.in_scope(|| {
                    tracing::warn!(error = %e, "cannot release item; it will be redelivered when its lease ends");
                }),
            }
        }
    }
}

fn lease_lost() {
    tracing::warn!("lease expired before the item was finished; another worker retries it");
}

/// How a claim is settled.
#[derive(Clone, Copy)]
enum Settle {
    Ack,
    DeadLetter,
    Release(Duration),
}

/// Exponential back-off: 100 ms, 200 ms, ... capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(7)))
        .min(Duration::from_secs(10))
}
