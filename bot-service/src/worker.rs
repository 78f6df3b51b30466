//! Workers that drain the update queue.
//!
//! Each worker leases one chat's next update, handles it, and acknowledges
//! it. Idle workers sleep until the gRPC service wakes one (a local
//! accept), a peer that found work wakes the next, or, for work accepted by
//! another replica or left by a crashed one, worker 0 polls.

use std::sync::Arc;
use std::time::Duration;

use mesh_state::{Claim, ClaimResult, Store};
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

impl Worker {
    async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.store.claim(UPDATES_QUEUE, &self.config.queue).await {
                Ok(ClaimResult::Claimed(claim)) => {
                    failures = 0;
                    // There may be more: let a peer look while this one works.
                    self.wake.notify_one();
                    self.process(claim).await;
                    continue;
                }
                Ok(ClaimResult::Idle(next)) => {
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

    /// Handles one claimed item. Not cancelled by shutdown: the item in
    /// hand finishes (within the lease) so a drain loses nothing.
    async fn process(&self, claim: Claim) {
        let Some((kind, traceparent, payload)) = envelope::open(&claim.item) else {
            tracing::error!("unreadable queue item; moved to the dead-letter list");
            let _ = self.store.ack(UPDATES_QUEUE, &claim, true).await;
            return;
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
        // The settling runs inside the span as an instrumented future: an
        // `enter()` guard must never be held across an await (the task may
        // move threads, and the thread's span stack is corrupted).
        // What to do with the claim, decided once; then settled while the
        // lease is ours, retrying through a store outage (a redelivery would
        // handle the update again).
        let decision = match outcome {
            Ok(()) => Settle::Ack,
            Err(HandleError::Permanent(reason)) => {
                let _g = span.enter();
                tracing::warn!(%reason, "item cannot be handled; dropped");
                metrics::counter!("bot_updates_failed_total", "kind" => "permanent").increment(1);
                Settle::Ack
            }
            Err(HandleError::Transient(reason)) if claim.attempts >= self.config.max_attempts => {
                let _g = span.enter();
                tracing::error!(%reason, attempts = claim.attempts, "item failed too often; moved to the dead-letter list");
                metrics::counter!("bot_updates_failed_total", "kind" => "dead_letter").increment(1);
                Settle::DeadLetter
            }
            Err(HandleError::Transient(reason)) => {
                let delay = backoff(claim.attempts);
                let _g = span.enter();
                tracing::info!(%reason, attempts = claim.attempts, delay_ms = delay.as_millis() as u64, "item will be retried");
                metrics::counter!("bot_updates_failed_total", "kind" => "retry").increment(1);
                Settle::Release(delay)
            }
        };
        let within = self.config.queue.lease.mul_f64(0.9);
        let settle = mesh_state::retry_within(within, || async {
            match decision {
                Settle::Ack => self.store.ack(UPDATES_QUEUE, &claim, false).await,
                Settle::DeadLetter => self.store.ack(UPDATES_QUEUE, &claim, true).await,
                Settle::Release(delay) => self.store.release(UPDATES_QUEUE, &claim, delay).await,
            }
        });
        let result = settle.instrument(span.clone()).await;
        match result {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "lease expired before the item was finished; another worker retries it"
            ),
            // The lease runs out and the item is delivered again.
            Err(e) => tracing::warn!(error = %e, "cannot acknowledge item; it will be redelivered"),
        }
    }
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
