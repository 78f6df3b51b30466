//! `bot.v1.BotService`: durable acceptance of updates and notices.

use std::sync::Arc;

use mesh_proto::bot::v1::bot_service_server::BotService;
use mesh_proto::bot::v1::{
    AcceptUpdateRequest, AcceptUpdateResponse, AcceptUpdatesRequest, AcceptUpdatesResponse,
    BatchedOutcome, NotifyEntitlementRequest, NotifyEntitlementResponse,
};
use mesh_state::{Enqueued, NewItem, QueueConfig, Store};
use prost::Message;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::envelope::{self, Kind};
use crate::error::BotError;
use crate::partition;

/// The queue holding accepted updates and notices, partitioned by chat.
pub const UPDATES_QUEUE: &str = "updates";

/// The gRPC service.
pub struct Bot {
    store: Store,
    queue: QueueConfig,
    wake: Arc<Notify>,
}

impl Bot {
    /// A service storing work in `store` and waking local workers.
    pub fn new(store: Store, queue: QueueConfig, wake: Arc<Notify>) -> Self {
        Self { store, queue, wake }
    }

    async fn enqueue(
        &self,
        kind: Kind,
        id: &str,
        partition: &str,
        payload: &[u8],
    ) -> Result<bool, BotError> {
        enqueue(
            &self.store,
            &self.queue,
            &self.wake,
            kind,
            id,
            partition,
            payload,
        )
        .await
    }
}

/// Durably queues one piece of work (de-duplicated by `id`) and wakes a
/// local worker; returns whether it was a duplicate.
async fn enqueue(
    store: &Store,
    queue: &QueueConfig,
    wake: &Notify,
    kind: Kind,
    id: &str,
    partition: &str,
    payload: &[u8],
) -> Result<bool, BotError> {
    let item = envelope::seal(kind, &mesh_telemetry::current_traceparent(), payload);
    let outcome = store
        .enqueue_once(UPDATES_QUEUE, queue, id, partition, &item)
        .await?;
    let duplicate = outcome == Enqueued::Duplicate;
    if !duplicate {
        wake.notify_one();
    }
    Ok(duplicate)
}

/// One raw Telegram update to accept, as webhooks and polling deliver it.
pub struct Incoming<'a> {
    /// The update's JSON, stored untouched.
    pub json: &'a [u8],
    /// The `update_id` the caller read from it, checked when given.
    pub claimed_id: Option<i64>,
    /// The span of the call that delivered it: the worker continues its trace.
    pub span: tracing::Span,
}

/// What became of one [`Incoming`] update: its id and whether it was a
/// duplicate, or why it was refused.
pub type Outcome = Result<(i64, bool), String>;

/// Most updates one [`accept_updates`] call takes (a getUpdates page holds
/// 100; the gateway sends at most this many per call).
pub const MAX_BATCH: usize = 512;

/// Accepts raw Telegram updates in one atomic store write (one Redis round
/// trip however many there are); outcomes in the order of `updates`. An
/// update that is not a Telegram update is refused alone; a store failure
/// fails them all (none was accepted).
pub async fn accept_updates(
    store: &Store,
    queue: &QueueConfig,
    wake: &Notify,
    updates: &[Incoming<'_>],
) -> Result<Vec<Outcome>, BotError> {
    struct Located {
        index: usize,
        update_id: i64,
        id: String,
        partition: String,
        item: Vec<u8>,
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(updates.len());
    let mut located = Vec::with_capacity(updates.len());
    for (index, update) in updates.iter().enumerate() {
        match partition::locate(update.json) {
            Err(_) => outcomes.push(Err("update_json is not a Telegram update".into())),
            Ok((id, _)) if update.claimed_id.is_some_and(|claimed| claimed != id) => {
                outcomes.push(Err("update_id does not match update_json".into()));
            }
            Ok((update_id, partition)) => {
                let traceparent = update.span.in_scope(mesh_telemetry::current_traceparent);
                located.push(Located {
                    index,
                    update_id,
                    id: update_id.to_string(),
                    partition,
                    item: envelope::seal(Kind::Update, &traceparent, update.json),
                });
                outcomes.push(Ok((update_id, false)));
            }
        }
    }
    let items: Vec<NewItem<'_>> = located
        .iter()
        .map(|l| NewItem {
            id: &l.id,
            partition: &l.partition,
            item: &l.item,
            parent: &updates[l.index].span,
        })
        .collect();
    let enqueued = store.enqueue_many(UPDATES_QUEUE, queue, &items).await?;
    let mut fresh = 0;
    for (l, e) in located.iter().zip(enqueued) {
        let duplicate = e == Enqueued::Duplicate;
        fresh += u64::from(!duplicate);
        outcomes[l.index] = Ok((l.update_id, duplicate));
    }
    if fresh > 0 {
        wake.notify_one();
    }
    let duplicates = located.len() as u64 - fresh;
    metrics::counter!("bot_updates_accepted_total", "duplicate" => "false").increment(fresh);
    metrics::counter!("bot_updates_accepted_total", "duplicate" => "true").increment(duplicates);
    Ok(outcomes)
}

/// Accepts one raw Telegram update (see [`accept_updates`]), in the
/// current span's trace.
pub async fn accept_update(
    store: &Store,
    queue: &QueueConfig,
    wake: &Notify,
    update: &[u8],
    claimed_id: Option<i64>,
) -> Result<(i64, bool), BotError> {
    let incoming = Incoming {
        json: update,
        claimed_id,
        span: tracing::Span::current(),
    };
    let outcome = accept_updates(store, queue, wake, &[incoming]).await?;
    match outcome.into_iter().next() {
        Some(Ok(accepted)) => Ok(accepted),
        Some(Err(reason)) => Err(BotError::InvalidArgument(reason)),
        None => Err(BotError::InvalidArgument("no update".into())),
    }
}

#[tonic::async_trait]
impl BotService for Bot {
    async fn accept_update(
        &self,
        request: Request<AcceptUpdateRequest>,
    ) -> Result<Response<AcceptUpdateResponse>, Status> {
        let request = request.into_inner();
        let (_, duplicate) = accept_update(
            &self.store,
            &self.queue,
            &self.wake,
            &request.update_json,
            Some(request.update_id),
        )
        .await?;
        Ok(Response::new(AcceptUpdateResponse { duplicate }))
    }

    async fn accept_updates(
        &self,
        request: Request<AcceptUpdatesRequest>,
    ) -> Result<Response<AcceptUpdatesResponse>, Status> {
        let batch = request.into_inner().updates;
        if batch.is_empty() || batch.len() > MAX_BATCH {
            return Err(BotError::InvalidArgument(format!(
                "a call carries 1 to {MAX_BATCH} updates, not {}",
                batch.len()
            ))
            .into());
        }
        let incoming: Vec<Incoming<'_>> = batch
            .iter()
            .map(|b| Incoming {
                json: b.update.as_ref().map_or(&b""[..], |u| &u.update_json[..]),
                claimed_id: Some(b.update.as_ref().map_or(0, |u| u.update_id)),
                span: mesh_telemetry::grpc_item_span(
                    "bot.v1.BotService",
                    "AcceptUpdates",
                    &b.traceparent,
                ),
            })
            .collect();
        let outcomes = match accept_updates(&self.store, &self.queue, &self.wake, &incoming).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                for update in &incoming {
                    update.span.record("otel.status_code", "ERROR");
                }
                return Err(e.into());
            }
        };
        let outcomes = outcomes
            .into_iter()
            .zip(&incoming)
            .map(|(outcome, update)| match outcome {
                Ok((_, duplicate)) => BatchedOutcome {
                    duplicate,
                    invalid: String::new(),
                },
                Err(invalid) => {
                    update.span.record("otel.status_code", "ERROR");
                    BatchedOutcome {
                        duplicate: false,
                        invalid,
                    }
                }
            })
            .collect();
        Ok(Response::new(AcceptUpdatesResponse { outcomes }))
    }

    async fn notify_entitlement(
        &self,
        request: Request<NotifyEntitlementRequest>,
    ) -> Result<Response<NotifyEntitlementResponse>, Status> {
        let notice = request.into_inner();
        if notice.notice_id.is_empty() || notice.telegram_user_id <= 0 {
            return Err(BotError::InvalidArgument(
                "a notice needs an id and a positive user id".into(),
            )
            .into());
        }
        // Queued in the user's own chat partition: it is handled in order
        // with what the user sends.
        let duplicate = self
            .enqueue(
                Kind::Notice,
                &format!("notice:{}", notice.notice_id),
                &format!("chat:{}", notice.telegram_user_id),
                &notice.encode_to_vec(),
            )
            .await?;
        metrics::counter!("bot_notices_accepted_total", "kind" => notice.kind().as_str_name())
            .increment(1);
        Ok(Response::new(NotifyEntitlementResponse { duplicate }))
    }
}
