//! `bot.v1.BotService`: durable acceptance of updates and notices.

use std::sync::Arc;

use mesh_proto::bot::v1::bot_service_server::BotService;
use mesh_proto::bot::v1::{
    AcceptUpdateRequest, AcceptUpdateResponse, NotifyEntitlementRequest, NotifyEntitlementResponse,
};
use mesh_state::{Enqueued, QueueConfig, Store};
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

/// Accepts one raw Telegram update, exactly as webhooks and polling both
/// deliver it; returns its id and whether it was a duplicate.
pub async fn accept_update(
    store: &Store,
    queue: &QueueConfig,
    wake: &Notify,
    update: &[u8],
) -> Result<(i64, bool), BotError> {
    let (update_id, partition) = partition::locate(update)
        .map_err(|_| BotError::InvalidArgument("update_json is not a Telegram update".into()))?;
    let duplicate = enqueue(
        store,
        queue,
        wake,
        Kind::Update,
        &update_id.to_string(),
        &partition,
        update,
    )
    .await?;
    metrics::counter!("bot_updates_accepted_total", "duplicate" => if duplicate { "true" } else { "false" }).increment(1);
    Ok((update_id, duplicate))
}

#[tonic::async_trait]
impl BotService for Bot {
    async fn accept_update(
        &self,
        request: Request<AcceptUpdateRequest>,
    ) -> Result<Response<AcceptUpdateResponse>, Status> {
        let request = request.into_inner();
        let (update_id, _) = partition::locate(&request.update_json).map_err(|_| {
            BotError::InvalidArgument("update_json is not a Telegram update".into())
        })?;
        if update_id != request.update_id {
            return Err(
                BotError::InvalidArgument("update_id does not match update_json".into()).into(),
            );
        }
        let (_, duplicate) =
            accept_update(&self.store, &self.queue, &self.wake, &request.update_json).await?;
        Ok(Response::new(AcceptUpdateResponse { duplicate }))
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
