//! `billing.v1.BillingService`: authentication and the RPC surface. The
//! work is in [`crate::account`] (what users do), [`crate::admin`] (what
//! admins and operators do) and [`crate::events`] (Stripe's events).

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use mesh_proto::billing::v1::billing_service_server::BillingService;
use mesh_proto::billing::v1::*;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::BillingConfig;
use crate::error::{BillingError, Refusal};
use crate::events::EventApplier;
use crate::ledger::{Ledger, StoredChange, keys};
use crate::prices::Prices;
use crate::stripe_api::StripeApi;

/// The gRPC service.
pub struct Billing {
    pub(crate) config: BillingConfig,
    pub(crate) ledger: Ledger,
    pub(crate) events: EventApplier,
    pub(crate) stripe: Option<StripeApi>,
    pub(crate) prices: Prices,
    shutdown: CancellationToken,
}

/// What an RPC requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    /// Any internal caller (the API token, when one is configured).
    Call,
    /// Grant, revoke, reconcile, recover, sweep (the admin token, when
    /// configured).
    Admin,
}

/// A positive Telegram user id, or INVALID_ARGUMENT.
pub(crate) fn user_id(id: i64) -> Result<i64, BillingError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(BillingError::InvalidArgument(
            "telegram_user_id must be positive".into(),
        ))
    }
}

impl Billing {
    /// The service.
    pub fn new(
        config: BillingConfig,
        ledger: Ledger,
        events: EventApplier,
        stripe: Option<StripeApi>,
        prices: Prices,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            ledger,
            events,
            stripe,
            prices,
            shutdown,
        }
    }

    /// Checks the caller's `authorization: Bearer ...` against the configured
    /// tokens (constant-time). Without tokens billing is open to whoever can
    /// reach it, which the NetworkPolicy limits.
    fn authorize<T>(&self, request: &Request<T>, right: Right) -> Result<(), Status> {
        let given = mesh_proto::serving::bearer(request.metadata());
        let (api, admin) = (&self.config.api_token, &self.config.admin_token);
        let is_admin = admin.as_ref().is_some_and(|t| t.matches(given));
        let is_caller = is_admin || api.as_ref().is_some_and(|t| t.matches(given));
        let outcome = match (right, admin.is_some(), api.is_some()) {
            (Right::Admin, true, _) if is_admin => Ok(()),
            (Right::Admin, true, _) if is_caller => {
                Err(Status::permission_denied("this RPC needs the admin token"))
            }
            (Right::Admin, true, _) => Err(Status::unauthenticated("missing or invalid token")),
            (_, _, true) if !is_caller => Err(Status::unauthenticated("missing or invalid token")),
            _ => Ok(()),
        };
        if outcome.is_err() {
            metrics::counter!("billing_unauthorized_calls_total").increment(1);
        }
        outcome
    }
}

type ChangeStream = Pin<Box<dyn Stream<Item = Result<EntitlementChange, Status>> + Send>>;
/// The stream of an export.
pub(crate) type MemberStream = Pin<Box<dyn Stream<Item = Result<Member, Status>> + Send>>;

#[tonic::async_trait]
impl BillingService for Billing {
    async fn list_plans(
        &self,
        request: Request<ListPlansRequest>,
    ) -> Result<Response<ListPlansResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let plans = self.prices.plans(&self.ledger.terms().plans);
        Ok(Response::new(ListPlansResponse { plans }))
    }

    async fn get_entitlement(
        &self,
        request: Request<GetEntitlementRequest>,
    ) -> Result<Response<GetEntitlementResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let user = user_id(request.into_inner().telegram_user_id)?;
        let (_, record) = self.ledger.read(user).await.map_err(Status::from)?;
        Ok(Response::new(GetEntitlementResponse {
            entitlement: Some(self.show(&record)),
        }))
    }

    async fn apply_stripe_event(
        &self,
        request: Request<ApplyStripeEventRequest>,
    ) -> Result<Response<ApplyStripeEventResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let payload = request.into_inner().event_json;
        // Detached from the call: when the caller's deadline drops this
        // future, the event is still applied to the end (it commits
        // atomically either way; this only spares the retry the work).
        let events = self.events.clone();
        let applying = tokio::spawn(
            async move { events.apply(&payload).await }.instrument(tracing::Span::current()),
        );
        let applied = applying
            .await
            .map_err(|e| Status::internal(format!("event task failed: {e}")))??;
        Ok(Response::new(ApplyStripeEventResponse {
            event_id: applied.event_id,
            event_type: applied.event_type,
            duplicate: applied.duplicate,
            recognised: applied.recognised,
        }))
    }

    async fn create_checkout_session(
        &self,
        request: Request<CreateCheckoutSessionRequest>,
    ) -> Result<Response<CreateCheckoutSessionResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.checkout(request.into_inner()).await?))
    }

    async fn create_portal_session(
        &self,
        request: Request<CreatePortalSessionRequest>,
    ) -> Result<Response<CreatePortalSessionResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.portal(request.into_inner()).await?))
    }

    async fn cancel_subscription(
        &self,
        request: Request<CancelSubscriptionRequest>,
    ) -> Result<Response<CancelSubscriptionResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let user = request.into_inner().telegram_user_id;
        Ok(Response::new(CancelSubscriptionResponse {
            entitlement: Some(self.set_renewal(user, true).await?),
        }))
    }

    async fn resume_subscription(
        &self,
        request: Request<ResumeSubscriptionRequest>,
    ) -> Result<Response<ResumeSubscriptionResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let user = request.into_inner().telegram_user_id;
        Ok(Response::new(ResumeSubscriptionResponse {
            entitlement: Some(self.set_renewal(user, false).await?),
        }))
    }

    async fn grant_entitlement(
        &self,
        request: Request<GrantEntitlementRequest>,
    ) -> Result<Response<GrantEntitlementResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.grant(request.into_inner()).await?))
    }

    async fn revoke_entitlement(
        &self,
        request: Request<RevokeEntitlementRequest>,
    ) -> Result<Response<RevokeEntitlementResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.revoke(request.into_inner()).await?))
    }

    async fn list_audit_log(
        &self,
        request: Request<ListAuditLogRequest>,
    ) -> Result<Response<ListAuditLogResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.audit(request.into_inner()).await?))
    }

    type WatchEntitlementsStream = ChangeStream;

    async fn watch_entitlements(
        &self,
        request: Request<WatchEntitlementsRequest>,
    ) -> Result<Response<ChangeStream>, Status> {
        self.authorize(&request, Right::Call)?;
        let store = self.ledger.store().clone();
        let ledger = self.ledger.clone();
        let mut cursor = match request.into_inner().after_cursor.as_str() {
            "" => store
                .log_last_id(keys::CHANGES)
                .await
                .map_err(BillingError::from)?,
            "0" => None,
            c => {
                let gap = store
                    .log_gap_after(keys::CHANGES, c)
                    .await
                    .map_err(|e| match e {
                        mesh_state::StoreError::Protocol(_) => {
                            BillingError::InvalidArgument(format!("not a cursor: {c:?}"))
                        }
                        other => BillingError::from(other),
                    })?;
                if gap {
                    return Err(BillingError::refused(
                        Refusal::CursorTrimmed,
                        "changes after this cursor are no longer kept; watch from now and re-read",
                    )
                    .into());
                }
                Some(c.to_owned())
            }
        };
        let shutdown = self.shutdown.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let batch = match store.log_read(keys::CHANGES, cursor.as_deref(), 100).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(BillingError::from(e)))).await;
                        return;
                    }
                };
                let idle = batch.is_empty();
                for (id, entry) in batch {
                    cursor = Some(id.clone());
                    let Ok(change) = serde_json::from_slice::<StoredChange>(&entry) else {
                        continue;
                    };
                    if tx
                        .send(Ok(change.to_change(id, ledger.terms())))
                        .await
                        .is_err()
                    {
                        return; // the watcher went away
                    }
                }
                if idle {
                    // A drain must not wait for watchers: end the stream.
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        () = shutdown.cancelled() => return,
                        () = tx.closed() => return,
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_stats(
        &self,
        request: Request<GetStatsRequest>,
    ) -> Result<Response<GetStatsResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.stats().await?))
    }

    async fn reconcile(
        &self,
        request: Request<ReconcileRequest>,
    ) -> Result<Response<ReconcileResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(Billing::reconcile(self).await?))
    }

    async fn sweep(
        &self,
        request: Request<SweepRequest>,
    ) -> Result<Response<SweepResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        let sweeper = crate::sweeper::Sweeper {
            ledger: self.ledger.clone(),
            stripe: self.stripe.clone(),
        };
        let pass = sweeper.sweep_once().await?;
        Ok(Response::new(SweepResponse {
            users_looked_at: u32::try_from(pass.looked).unwrap_or(u32::MAX),
            failures: u32::try_from(pass.failed).unwrap_or(u32::MAX),
        }))
    }

    async fn recover_events(
        &self,
        request: Request<RecoverEventsRequest>,
    ) -> Result<Response<RecoverEventsResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.recover().await?))
    }

    async fn select_segment(
        &self,
        request: Request<SelectSegmentRequest>,
    ) -> Result<Response<SelectSegmentResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.segment(request.into_inner()).await?))
    }

    type ExportMembersStream = MemberStream;

    async fn export_members(
        &self,
        request: Request<ExportMembersRequest>,
    ) -> Result<Response<MemberStream>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.export().await?))
    }

    async fn create_stars_invoice(
        &self,
        request: Request<CreateStarsInvoiceRequest>,
    ) -> Result<Response<CreateStarsInvoiceResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(
            self.stars_invoice(request.into_inner()).await?,
        ))
    }

    async fn check_stars_payment(
        &self,
        request: Request<CheckStarsPaymentRequest>,
    ) -> Result<Response<CheckStarsPaymentResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        Ok(Response::new(self.stars_check(request.into_inner()).await?))
    }

    async fn apply_stars_payment(
        &self,
        request: Request<ApplyStarsPaymentRequest>,
    ) -> Result<Response<ApplyStarsPaymentResponse>, Status> {
        // A payment is Telegram's word, relayed by bot-service (which holds
        // the admin token when there is one): no other caller may make one.
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.stars_apply(request.into_inner()).await?))
    }

    async fn refund_stars_payment(
        &self,
        request: Request<RefundStarsPaymentRequest>,
    ) -> Result<Response<RefundStarsPaymentResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(
            self.stars_admin_refund(request.into_inner()).await?,
        ))
    }
}
