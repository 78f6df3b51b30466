//! The bot's client of billing.v1: one lazily connected channel, a
//! deadline on every call, and the caller's trace carried along.

use std::time::Duration;

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::*;
use mesh_telemetry::GrpcTracePropagation;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// billing.v1 over one lazily connected channel.
#[derive(Clone)]
pub struct BillingClient {
    inner: BillingServiceClient<InterceptedService<Channel, GrpcTracePropagation>>,
}

macro_rules! rpc {
    ($self:ident, $method:ident, $name:literal, $request:expr) => {{
        let mut request = tonic::Request::new($request);
        request.set_timeout(Duration::from_secs(10));
        let span = mesh_telemetry::grpc_client_span!("billing.v1.BillingService", $name);
        let mut client = $self.inner.clone();
        mesh_telemetry::grpc::client_call(span, client.$method(request))
            .await
            .map(tonic::Response::into_inner)
    }};
}

impl BillingClient {
    /// A client of the billing service at `url`, presenting `token` (the
    /// bot performs admin grants and revocations, so it carries the admin
    /// token when billing has one).
    pub fn new(
        url: &str,
        token: Option<&str>,
        tls: Option<&mesh_proto::GrpcTls>,
    ) -> Result<Self, mesh_runtime::ConfigError> {
        let channel = mesh_proto::channel(url, tls)
            .map_err(|e| mesh_runtime::ConfigError::new("BILLING_SERVICE_URL", e))?;
        Ok(Self {
            inner: BillingServiceClient::with_interceptor(
                channel,
                GrpcTracePropagation::with_bearer(token),
            ),
        })
    }

    /// The plans on sale.
    pub async fn plans(&self) -> Result<Vec<Plan>, tonic::Status> {
        Ok(rpc!(self, list_plans, "ListPlans", ListPlansRequest {})?.plans)
    }

    /// A user's entitlement.
    pub async fn entitlement(&self, user: i64) -> Result<Entitlement, tonic::Status> {
        rpc!(
            self,
            get_entitlement,
            "GetEntitlement",
            GetEntitlementRequest {
                telegram_user_id: user
            }
        )?
        .entitlement
        .ok_or_else(|| tonic::Status::internal("no entitlement in response"))
    }

    /// A Checkout session.
    pub async fn checkout(
        &self,
        user: i64,
        plan: &str,
        request_id: &str,
    ) -> Result<CreateCheckoutSessionResponse, tonic::Status> {
        rpc!(
            self,
            create_checkout_session,
            "CreateCheckoutSession",
            CreateCheckoutSessionRequest {
                telegram_user_id: user,
                plan_id: plan.to_owned(),
                request_id: request_id.to_owned(),
            }
        )
    }

    /// A portal session URL.
    pub async fn portal(&self, user: i64, request_id: &str) -> Result<String, tonic::Status> {
        Ok(rpc!(
            self,
            create_portal_session,
            "CreatePortalSession",
            CreatePortalSessionRequest {
                telegram_user_id: user,
                request_id: request_id.to_owned(),
            }
        )?
        .url)
    }

    /// Cancel at period end.
    pub async fn cancel(&self, user: i64) -> Result<Entitlement, tonic::Status> {
        rpc!(
            self,
            cancel_subscription,
            "CancelSubscription",
            CancelSubscriptionRequest {
                telegram_user_id: user
            }
        )?
        .entitlement
        .ok_or_else(|| tonic::Status::internal("no entitlement in response"))
    }

    /// Take back a cancellation.
    pub async fn resume(&self, user: i64) -> Result<Entitlement, tonic::Status> {
        rpc!(
            self,
            resume_subscription,
            "ResumeSubscription",
            ResumeSubscriptionRequest {
                telegram_user_id: user
            }
        )?
        .entitlement
        .ok_or_else(|| tonic::Status::internal("no entitlement in response"))
    }

    /// Admin grant; `request_id` makes a repeat grant nothing more.
    pub async fn grant(
        &self,
        user: i64,
        plan: &str,
        days: u32,
        reason: &str,
        actor: &str,
        request_id: &str,
    ) -> Result<Entitlement, tonic::Status> {
        rpc!(
            self,
            grant_entitlement,
            "GrantEntitlement",
            GrantEntitlementRequest {
                telegram_user_id: user,
                plan_id: plan.to_owned(),
                days,
                reason: reason.to_owned(),
                actor: actor.to_owned(),
                request_id: request_id.to_owned(),
            }
        )?
        .entitlement
        .ok_or_else(|| tonic::Status::internal("no entitlement in response"))
    }

    /// Admin revoke (`grant_only`: only an admin grant).
    pub async fn revoke(
        &self,
        user: i64,
        reason: &str,
        actor: &str,
        grant_only: bool,
    ) -> Result<Entitlement, tonic::Status> {
        rpc!(
            self,
            revoke_entitlement,
            "RevokeEntitlement",
            RevokeEntitlementRequest {
                telegram_user_id: user,
                reason: reason.to_owned(),
                actor: actor.to_owned(),
                grant_only,
            }
        )?
        .entitlement
        .ok_or_else(|| tonic::Status::internal("no entitlement in response"))
    }

    /// Subscriber counts.
    pub async fn stats(&self) -> Result<GetStatsResponse, tonic::Status> {
        rpc!(self, get_stats, "GetStats", GetStatsRequest {})
    }

    /// The last `limit` audit entries of a user (oldest first).
    pub async fn audit(&self, user: i64, limit: u32) -> Result<Vec<AuditEntry>, tonic::Status> {
        Ok(rpc!(
            self,
            list_audit_log,
            "ListAuditLog",
            ListAuditLogRequest {
                telegram_user_id: user,
                limit,
            }
        )?
        .entries)
    }

    /// Of `users`, those in `segment` now.
    pub async fn segment(
        &self,
        segment: Segment,
        users: Vec<i64>,
    ) -> Result<Vec<i64>, tonic::Status> {
        Ok(rpc!(
            self,
            select_segment,
            "SelectSegment",
            SelectSegmentRequest {
                segment: segment.into(),
                telegram_user_ids: users,
            }
        )?
        .telegram_user_ids)
    }

    /// A Telegram Stars invoice link for `plan`.
    pub async fn stars_invoice(
        &self,
        user: i64,
        plan: &str,
    ) -> Result<CreateStarsInvoiceResponse, tonic::Status> {
        rpc!(
            self,
            create_stars_invoice,
            "CreateStarsInvoice",
            CreateStarsInvoiceRequest {
                telegram_user_id: user,
                plan_id: plan.to_owned(),
            }
        )
    }

    /// Whether a pre-checkout query may go ahead. Its own deadline:
    /// Telegram waits 10 s for the answer in all.
    pub async fn check_stars(
        &self,
        request: CheckStarsPaymentRequest,
        deadline: Duration,
    ) -> Result<CheckStarsPaymentResponse, tonic::Status> {
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline);
        let span =
            mesh_telemetry::grpc_client_span!("billing.v1.BillingService", "CheckStarsPayment");
        let mut client = self.inner.clone();
        mesh_telemetry::grpc::client_call(span, client.check_stars_payment(request))
            .await
            .map(tonic::Response::into_inner)
    }

    /// A `successful_payment` or `refunded_payment` in Stars.
    pub async fn apply_stars(
        &self,
        request: ApplyStarsPaymentRequest,
    ) -> Result<ApplyStarsPaymentResponse, tonic::Status> {
        rpc!(self, apply_stars_payment, "ApplyStarsPayment", request)
    }

    /// An admin's refund of a Stars payment (`charge` empty: the latest).
    pub async fn refund_stars(
        &self,
        user: i64,
        charge: &str,
        reason: &str,
        actor: &str,
    ) -> Result<RefundStarsPaymentResponse, tonic::Status> {
        rpc!(
            self,
            refund_stars_payment,
            "RefundStarsPayment",
            RefundStarsPaymentRequest {
                telegram_user_id: user,
                telegram_payment_charge_id: charge.to_owned(),
                reason: reason.to_owned(),
                actor: actor.to_owned(),
            }
        )
    }
}
