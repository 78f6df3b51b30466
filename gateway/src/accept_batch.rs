//! Coalesces concurrent Telegram accepts into `AcceptUpdates` calls.
//!
//! Every webhook waits until its own update is stored, so under load many
//! wait at once. One gRPC call each would cost an HTTP/2 stream, framing,
//! a task on each side and a store round trip apiece; instead whatever is
//! waiting when a call slot frees up goes out as one call and one atomic
//! store write. A lone webhook is sent at once (no timer, no added delay);
//! under load, calls grow instead of queueing. Written here because tower's
//! `Buffer` queues calls but never merges them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mesh_proto::bot::v1::{AcceptUpdateRequest, AcceptUpdatesRequest, BatchedUpdate};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::{Code, Status};

use crate::upstream::BotClient;

/// Most updates in one call (bot-service takes up to 512).
const MAX_UPDATES: usize = 256;
/// A call stops growing past this many bytes of updates, far below gRPC's
/// 4 MiB message limit (one more update of up to the body limit may follow).
const MAX_BYTES: usize = 512 * 1024;
/// Calls in flight at once. Few: more slots would only make smaller calls.
const CALLS_IN_FLIGHT: usize = 4;
/// Webhooks waiting for a call; beyond this the handlers wait to enqueue.
const WAITING: usize = 4096;
/// After bot-service answers UNIMPLEMENTED (an older version during a
/// rolling upgrade), updates go one call each for this long, then the
/// batched call is tried again.
const UNARY_FOR: Duration = Duration::from_secs(60);

/// Hands updates to bot-service, many per call. Cheap to share: one
/// background task owns the calls.
pub struct AcceptBatcher {
    waiting: mpsc::Sender<Pending>,
}

struct Pending {
    update: BatchedUpdate,
    reply: oneshot::Sender<Result<bool, Status>>,
}

impl AcceptBatcher {
    /// Starts the task that sends calls through `client`, each with
    /// `timeout` as its deadline. Must run inside a Tokio runtime.
    pub fn spawn(client: BotClient, timeout: Duration) -> Self {
        let (waiting, queue) = mpsc::channel(WAITING);
        tokio::spawn(run(queue, client, timeout));
        Self { waiting }
    }

    /// Durably accepts one update; whether it was a duplicate. Errors are
    /// the call's status (or the update's own INVALID_ARGUMENT).
    pub async fn accept(
        &self,
        update_id: i64,
        update_json: Bytes,
        traceparent: String,
    ) -> Result<bool, Status> {
        let (reply, answer) = oneshot::channel();
        let update = BatchedUpdate {
            update: Some(AcceptUpdateRequest {
                update_id,
                update_json,
            }),
            traceparent,
        };
        self.waiting
            .send(Pending { update, reply })
            .await
            .map_err(|_| Status::unavailable("the gateway is shutting down"))?;
        answer
            .await
            .map_err(|_| Status::unavailable("the accepting call was dropped"))?
    }
}

fn size(update: &BatchedUpdate) -> usize {
    update.update.as_ref().map_or(0, |u| u.update_json.len())
}

async fn run(mut queue: mpsc::Receiver<Pending>, client: BotClient, timeout: Duration) {
    let slots = Arc::new(Semaphore::new(CALLS_IN_FLIGHT));
    let unary_until = Arc::new(AtomicU64::new(0));
    loop {
        // Take a slot first: while none is free, webhooks pile up and the
        // next call carries them all.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        // Let the handlers that are ready to run enqueue their updates too
        // (microseconds, not a timer): under load the call carries them all.
        tokio::task::yield_now().await;
        let mut bytes = size(&first.update);
        let mut batch = vec![first];
        while batch.len() < MAX_UPDATES && bytes < MAX_BYTES {
            let Ok(next) = queue.try_recv() else { break };
            bytes += size(&next.update);
            batch.push(next);
        }
        metrics::histogram!("gateway_accept_batch_size").record(batch.len() as f64);
        let client = client.clone();
        let unary_until = unary_until.clone();
        tokio::spawn(async move {
            if now_secs() < unary_until.load(Ordering::Relaxed) {
                send_one_by_one(client, timeout, batch).await;
            } else if let Some(unimplemented) = send(client, timeout, batch).await {
                unary_until.store(now_secs() + UNARY_FOR.as_secs(), Ordering::Relaxed);
                // Not stored: Telegram redelivers these, one call each then.
                reply_all(
                    unimplemented,
                    &Status::unavailable("bot-service is being upgraded"),
                );
            }
            drop(slot);
        });
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One AcceptUpdates call; gives the batch back when the service does not
/// know the method.
async fn send(
    mut client: BotClient,
    timeout: Duration,
    batch: Vec<Pending>,
) -> Option<Vec<oneshot::Sender<Result<bool, Status>>>> {
    let (updates, replies): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|p| (p.update, p.reply)).unzip();
    let mut request = tonic::Request::new(AcceptUpdatesRequest { updates });
    request.set_timeout(timeout);
    match client.accept_updates(request).await {
        Ok(response) => {
            let outcomes = response.into_inner().outcomes;
            if outcomes.len() != replies.len() {
                let status =
                    Status::internal("bot-service answered for a different number of updates");
                reply_all(replies, &status);
                return None;
            }
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(if outcome.invalid.is_empty() {
                    Ok(outcome.duplicate)
                } else {
                    Err(Status::invalid_argument(outcome.invalid))
                });
            }
            None
        }
        Err(status) if status.code() == Code::Unimplemented => Some(replies),
        Err(status) => {
            reply_all(replies, &status);
            None
        }
    }
}

/// The fallback for a bot-service that predates AcceptUpdates: one call
/// per update, each carrying its webhook's trace context itself.
async fn send_one_by_one(client: BotClient, timeout: Duration, batch: Vec<Pending>) {
    let mut calls = tokio::task::JoinSet::new();
    for pending in batch {
        let mut client = client.clone();
        calls.spawn(async move {
            let Some(update) = pending.update.update else {
                return;
            };
            let mut request = tonic::Request::new(update);
            request.set_timeout(timeout);
            if !pending.update.traceparent.is_empty()
                && let Ok(value) = pending.update.traceparent.parse()
            {
                request.metadata_mut().insert("traceparent", value);
            }
            let outcome = client
                .accept_update(request)
                .await
                .map(|r| r.into_inner().duplicate);
            let _ = pending.reply.send(outcome);
        });
    }
    while calls.join_next().await.is_some() {}
}

fn reply_all(replies: Vec<oneshot::Sender<Result<bool, Status>>>, status: &Status) {
    for reply in replies {
        let _ = reply.send(Err(Status::new(status.code(), status.message().to_owned())));
    }
}
