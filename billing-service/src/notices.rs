//! Notices to bot-service: queued in the same commit as the change they
//! follow from, delivered durably.
//!
//! A change that bot-service must act on (welcome and invites, payment
//! failed, removal) is queued in the shared store by the ledger's commit,
//! de-duplicated by notice id, and delivered over gRPC by a worker that
//! retries with backoff until bot-service accepts it. bot-service takes each
//! notice id once, so a delivery repeated after a lost acknowledgement has
//! no further effect: a bot-service that is down delays a notice, it never
//! loses or doubles it.

use std::sync::Arc;
use std::time::Duration;

use mesh_proto::bot::v1::NotifyEntitlementRequest;
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
pub use mesh_proto::bot::v1::{AccessReason, NoticeKind};
use mesh_state::{ClaimResult, QueueConfig, Store};
use mesh_telemetry::GrpcTracePropagation;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::clock::timestamp;
use crate::error::BillingError;

/// The notice queue; in billing's scope, so a commit can queue notices.
pub const QUEUE: &str = "{billing}:notices";
/// Notice ids are remembered a week: far longer than any redelivery. (The
/// lease here only matters for enqueueing; delivery uses its own.)
pub const CONFIG: QueueConfig = QueueConfig {
    dedup_ttl: Duration::from_secs(7 * 24 * 3600),
    lease: Duration::from_secs(4),
    sequence_ids: false,
    lanes: 0,
};

/// One notice for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique per notice (user, kind, record revision or event).
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
    #[serde(default, with = "reason_name")]
    pub reason: AccessReason,
    /// The chats opened or closed.
    #[serde(default)]
    pub chats: Vec<i64>,
    /// A page for the user (the hosted invoice).
    #[serde(default)]
    pub url: String,
    /// For a trial ending: whether it converts to a paid subscription.
    #[serde(default)]
    pub renews: bool,
    /// For admins: what happened.
    #[serde(default)]
    pub detail: String,
    /// For a renewal reminder: the amount charged (smallest unit).
    #[serde(default)]
    pub amount: i64,
    /// For a renewal reminder: the currency.
    #[serde(default)]
    pub currency: String,
}

impl Notice {
    /// A notice of `kind` for `user` with id `id`; the rest empty.
    pub fn new(id: String, user: i64, kind: NoticeKind) -> Self {
        Self {
            id,
            user,
            kind,
            plan_id: None,
            access_until: None,
            reason: AccessReason::Unspecified,
            chats: Vec::new(),
            url: String::new(),
            renews: false,
            detail: String::new(),
            amount: 0,
            currency: String::new(),
        }
    }

    /// The queue item: (id, partition, bytes).
    pub fn item(&self) -> Result<(String, String, Vec<u8>), BillingError> {
        let bytes = serde_json::to_vec(self).map_err(|e| BillingError::Internal(e.to_string()))?;
        Ok((self.id.clone(), self.user.to_string(), bytes))
    }

    fn request(&self) -> NotifyEntitlementRequest {
        NotifyEntitlementRequest {
            notice_id: self.id.clone(),
            telegram_user_id: self.user,
            kind: self.kind.into(),
            plan_id: self.plan_id.clone().unwrap_or_default(),
            access_until: self.access_until.map(timestamp),
            reason: reason_word(self.reason).to_owned(),
            chats: self.chats.clone(),
            url: self.url.clone(),
            reason_code: self.reason.into(),
            renews: self.renews,
            detail: self.detail.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
        }
    }
}

/// The word older bot-services read in `reason`.
fn reason_word(reason: AccessReason) -> &'static str {
    match reason {
        AccessReason::Unspecified => "",
        AccessReason::Expired => "expired",
        AccessReason::PaymentFailed => "payment_failed",
        AccessReason::Canceled => "canceled",
        AccessReason::Revoked => "revoked",
        AccessReason::Refunded => "refunded",
        AccessReason::Disputed => "disputed",
        AccessReason::PlanChanged => "plan_changed",
    }
}

mod kind_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::NoticeKind;

    pub fn serialize<S: Serializer>(kind: &NoticeKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NoticeKind, D::Error> {
        let name = String::deserialize(d)?;
        NoticeKind::from_str_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown notice kind {name}")))
    }
}

mod reason_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::AccessReason;

    pub fn serialize<S: Serializer>(reason: &AccessReason, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(reason.as_str_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AccessReason, D::Error> {
        let name = String::deserialize(d)?;
        Ok(AccessReason::from_str_name(&name).unwrap_or(AccessReason::Unspecified))
    }
}

type BotClient = BotServiceClient<InterceptedService<Channel, GrpcTracePropagation>>;

/// The delivery side of the notice queue.
#[derive(Clone)]
pub struct Notices {
    store: Store,
    wake: Arc<Notify>,
    queue: QueueConfig,
    poll: Duration,
}

impl Notices {
    /// Notices queued in `store`, delivered under leases of `lease` (renewed
    /// while a delivery takes long, so a crashed replica's notices move on
    /// within one lease), looking every `poll` for notices another replica
    /// queued.
    pub fn new(store: Store, lease: Duration, poll: Duration) -> Self {
        Self {
            store,
            wake: Arc::new(Notify::new()),
            queue: QueueConfig { lease, ..CONFIG },
            poll,
        }
    }

    /// Tells the delivery loop that a commit queued notices.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers queued notices to bot-service at `bot_url`, presenting
    /// `token` (BOT_API_TOKEN), until `shutdown`.
    pub fn spawn_delivery(
        &self,
        bot_url: &str,
        token: Option<&str>,
        tls: Option<&mesh_proto::GrpcTls>,
        shutdown: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, mesh_runtime::ConfigError> {
        let channel = mesh_proto::channel(bot_url, tls)
            .map_err(|e| mesh_runtime::ConfigError::new("BOT_SERVICE_URL", e))?;
        let client =
            BotServiceClient::with_interceptor(channel, GrpcTracePropagation::with_bearer(token));
        let this = self.clone();
        Ok(tokio::spawn(
            async move { this.deliver(client, shutdown).await },
        ))
    }

    async fn deliver(&self, client: BotClient, shutdown: CancellationToken) {
        let mut idle_failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.store.claim(QUEUE, &self.queue).await {
                Ok(ClaimResult::Claimed(claim)) => {
                    idle_failures = 0;
                    let delivered = match serde_json::from_slice::<Notice>(&claim.item) {
                        // The lease is renewed while bot-service takes its time.
                        Ok(notice) => {
                            let delivery = self.deliver_one(client.clone(), &notice);
                            let lease = self.queue.lease;
                            self.store.hold(QUEUE, &[&claim], lease, delivery).await
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "unreadable notice dropped");
                            true
                        }
                    };
                    // Settled while the lease is ours: an acknowledgement
                    // that fails is retried (bot-service would only see the
                    // same notice id again, which it ignores).
                    let within = self.queue.lease.mul_f64(0.9);
                    let settled = mesh_state::retry_within(within, || async {
                        if delivered {
                            self.store.ack(QUEUE, &claim, None).await
                        } else {
                            let delay = Duration::from_millis(200u64 << claim.attempts.min(8))
                                .min(Duration::from_secs(30));
                            self.store.release(QUEUE, &claim, delay, true).await
                        }
                    })
                    .await;
                    if let Err(e) = settled {
                        tracing::warn!(error = %e, "notice queue unavailable");
                    }
                    continue;
                }
                Ok(ClaimResult::Idle(next)) => next.unwrap_or(self.poll).min(self.poll),
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

    /// True when bot-service took the notice (or refused it for good).
    async fn deliver_one(&self, mut client: BotClient, notice: &Notice) -> bool {
        let mut request = tonic::Request::new(notice.request());
        request.set_timeout(Duration::from_secs(5));
        let span = mesh_telemetry::grpc_client_span!("bot.v1.BotService", "NotifyEntitlement");
        match mesh_telemetry::grpc::client_call(span, client.notify_entitlement(request)).await {
            Ok(_) => {
                metrics::counter!("billing_notices_delivered_total").increment(1);
                true
            }
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                tracing::error!(notice = %notice.id, message = status.message(), "bot-service refused a notice; dropped");
                true
            }
            Err(status) => {
                tracing::info!(notice = %notice.id, code = ?status.code(), "bot-service did not take a notice; will retry");
                false
            }
        }
    }
}
