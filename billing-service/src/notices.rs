//! Notices to bot-service, delivered durably.
//!
//! A change that bot-service must act on (welcome, payment failed, removal)
//! is queued in the shared store, de-duplicated by notice id, and
//! delivered over gRPC by a worker that retries with backoff until
//! bot-service accepts it: a bot-service that is down delays a notice, it
//! never loses it.

use std::sync::Arc;
use std::time::Duration;

pub use mesh_proto::bot::v1::NoticeKind;
use mesh_proto::bot::v1::NotifyEntitlementRequest;
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
use mesh_state::{ClaimResult, QueueConfig, Store};
use mesh_telemetry::GrpcTracePropagation;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

use crate::entitlement::timestamp;
use crate::error::BillingError;

const QUEUE: &str = "billing-notices";
const CONFIG: QueueConfig = QueueConfig {
    dedup_ttl: Duration::from_secs(7 * 24 * 3600),
    lease: Duration::from_secs(30),
};

/// One notice for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique per notice (user, kind, version).
    pub id: String,
    /// The Telegram user.
    pub user: i64,
    /// What happened.
    #[serde(with = "kind_name")]
    pub kind: NoticeKind,
    /// The plan, when known.
    pub plan_id: Option<String>,
    /// When access ends or ended (unix seconds).
    pub access_until: Option<i64>,
    /// Why access ended.
    pub reason: String,
}

mod kind_name {
    use super::NoticeKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &NoticeKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NoticeKind, D::Error> {
        let name = String::deserialize(d)?;
        NoticeKind::from_str_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown notice kind {name}")))
    }
}

/// The sending side: queues notices.
#[derive(Clone)]
pub struct Notices {
    store: Store,
    wake: Arc<Notify>,
}

impl Notices {
    /// Notices queued in `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues a notice (once per id).
    pub async fn send(&self, notice: Notice) -> Result<(), BillingError> {
        let item =
            serde_json::to_vec(&notice).map_err(|e| BillingError::Internal(e.to_string()))?;
        self.store
            .enqueue_once(QUEUE, &CONFIG, &notice.id, &notice.user.to_string(), &item)
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Delivers queued notices to bot-service at `bot_url` until `shutdown`.
    pub fn spawn_delivery(
        &self,
        bot_url: &str,
        tls: Option<&mesh_proto::GrpcTls>,
        shutdown: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, mesh_runtime::ConfigError> {
        let channel = mesh_proto::channel(bot_url, tls)
            .map_err(|e| mesh_runtime::ConfigError::new("BOT_SERVICE_URL", e))?;
        let client = BotServiceClient::with_interceptor(channel, GrpcTracePropagation::default());
        let this = self.clone();
        Ok(tokio::spawn(
            async move { this.deliver(client, shutdown).await },
        ))
    }

    async fn deliver(
        &self,
        client: BotServiceClient<InterceptedService<Channel, GrpcTracePropagation>>,
        shutdown: CancellationToken,
    ) {
        let mut idle_failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.store.claim(QUEUE, &CONFIG).await {
                Ok(ClaimResult::Claimed(claim)) => {
                    idle_failures = 0;
                    let outcome = match serde_json::from_slice::<Notice>(&claim.item) {
                        Ok(notice) => self.deliver_one(client.clone(), &notice).await,
                        Err(e) => {
                            tracing::error!(error = %e, "unreadable notice dropped");
                            Ok(())
                        }
                    };
                    let done = match outcome {
                        Ok(()) => self.store.ack(QUEUE, &claim, false).await,
                        Err(()) => {
                            let delay = Duration::from_millis(200u64 << claim.attempts.min(8))
                                .min(Duration::from_secs(30));
                            self.store.release(QUEUE, &claim, delay).await
                        }
                    };
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "notice queue unavailable");
                    }
                    continue;
                }
                Ok(ClaimResult::Idle(next)) => next
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(1)),
                Err(e) => {
                    idle_failures += 1;
                    if idle_failures == 1 {
                        tracing::warn!(error = %e, "notice queue unavailable; retrying");
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    async fn deliver_one(
        &self,
        mut client: BotServiceClient<InterceptedService<Channel, GrpcTracePropagation>>,
        notice: &Notice,
    ) -> Result<(), ()> {
        let mut request = tonic::Request::new(NotifyEntitlementRequest {
            notice_id: notice.id.clone(),
            telegram_user_id: notice.user,
            kind: notice.kind.into(),
            plan_id: notice.plan_id.clone().unwrap_or_default(),
            access_until: notice.access_until.map(timestamp),
            reason: notice.reason.clone(),
        });
        request.set_timeout(Duration::from_secs(5));
        let span = mesh_telemetry::grpc_client_span!("bot.v1.BotService", "NotifyEntitlement");
        match client.notify_entitlement(request).instrument(span).await {
            Ok(_) => {
                metrics::counter!("billing_notices_delivered_total").increment(1);
                Ok(())
            }
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                tracing::error!(notice = %notice.id, message = status.message(), "bot-service refused a notice; dropped");
                Ok(())
            }
            Err(status) => {
                tracing::info!(notice = %notice.id, code = ?status.code(), "bot-service did not take a notice; will retry");
                Err(())
            }
        }
    }
}
