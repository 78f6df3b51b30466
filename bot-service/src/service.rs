//! `bot.v1.BotService`: durable acceptance of updates.

use std::sync::Arc;

use mesh_proto::bot::v1::bot_service_server::BotService;
use mesh_proto::bot::v1::{AcceptUpdateRequest, AcceptUpdateResponse};
use mesh_state::{Enqueued, QueueConfig, Store};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::error::BotError;
use crate::{envelope, partition};

/// The queue holding accepted updates.
pub const UPDATES_QUEUE: &str = "updates";

/// The gRPC service.
pub struct Bot {
    store: Store,
    queue: QueueConfig,
    wake: Arc<Notify>,
}

impl Bot {
    /// A service storing updates in `store` and waking local workers.
    pub fn new(store: Store, queue: QueueConfig, wake: Arc<Notify>) -> Self {
        Self { store, queue, wake }
    }
}

#[tonic::async_trait]
impl BotService for Bot {
    async fn accept_update(
        &self,
        request: Request<AcceptUpdateRequest>,
    ) -> Result<Response<AcceptUpdateResponse>, Status> {
        let request = request.into_inner();
        let (update_id, partition) = partition::locate(&request.update_json).map_err(|_| {
            BotError::InvalidArgument("update_json is not a Telegram update".into())
        })?;
        if update_id != request.update_id {
            return Err(
                BotError::InvalidArgument("update_id does not match update_json".into()).into(),
            );
        }
        let item = envelope::seal(&mesh_telemetry::current_traceparent(), &request.update_json);
        let outcome = self
            .store
            .enqueue_once(
                UPDATES_QUEUE,
                &self.queue,
                &update_id.to_string(),
                &partition,
                &item,
            )
            .await
            .map_err(BotError::from)?;
        let duplicate = outcome == Enqueued::Duplicate;
        if !duplicate {
            self.wake.notify_one();
        }
        metrics::counter!("bot_updates_accepted_total", "duplicate" => if duplicate { "true" } else { "false" }).increment(1);
        Ok(Response::new(AcceptUpdateResponse { duplicate }))
    }
}
