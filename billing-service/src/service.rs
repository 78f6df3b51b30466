//! `billing.v1.BillingService`.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use mesh_proto::billing::v1::billing_service_server::BillingService;
use mesh_proto::billing::v1::*;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::BillingConfig;
use crate::entitlement::{Record, State, now, timestamp};
use crate::error::BillingError;
use crate::events::EventApplier;
use crate::ledger::{Cause, Ledger, StoredChange, keys, month_of};
use crate::stripe_api::{CheckoutParams, StripeApi, SubscriptionView};

/// The gRPC service.
pub struct Billing {
    config: BillingConfig,
    ledger: Ledger,
    events: EventApplier,
    stripe: Option<StripeApi>,
    shutdown: CancellationToken,
}

/// What an RPC requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    /// Any internal caller (the API token, when one is configured).
    Call,
    /// Grant, revoke, reconcile, recover (the admin token, when configured).
    Admin,
}

/// Keeps the characters Stripe's idempotency keys and our logs like.
fn token(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

fn user_id(id: i64) -> Result<i64, BillingError> {
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
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            ledger,
            events,
            stripe,
            shutdown,
        }
    }

    /// Checks the caller's `authorization: Bearer ...` against the configured
    /// tokens (constant-time). Without tokens billing is open to whoever can
    /// reach it, which the NetworkPolicy limits.
    fn authorize<T>(&self, request: &Request<T>, right: Right) -> Result<(), Status> {
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .as_bytes();
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

    fn stripe(&self) -> Result<&StripeApi, BillingError> {
        self.stripe
            .as_ref()
            .ok_or_else(|| BillingError::FailedPrecondition("payments are not configured".into()))
    }

    fn show(&self, record: &Record) -> Entitlement {
        record.to_proto(now(), self.ledger.grace)
    }

    async fn customer_of(
        &self,
        user: i64,
        record: &Record,
    ) -> Result<Option<String>, BillingError> {
        match &record.customer_id {
            Some(c) => Ok(Some(c.clone())),
            None => self.ledger.customer_of_user(user).await,
        }
    }

    async fn checkout(
        &self,
        r: CreateCheckoutSessionRequest,
    ) -> Result<CreateCheckoutSessionResponse, BillingError> {
        let stripe = self.stripe()?;
        let user = user_id(r.telegram_user_id)?;
        let plan = self
            .config
            .plans
            .iter()
            .find(|p| p.id == r.plan_id)
            .ok_or_else(|| BillingError::NotFound(format!("no plan {:?}", r.plan_id)))?;
        let (_, record) = self.ledger.read(user).await?;
        if record.has_access(now(), self.ledger.grace) && record.state != State::Canceled {
            return Err(BillingError::FailedPrecondition(
                "already subscribed; use the customer portal".into(),
            ));
        }
        let customer = match self.customer_of(user, &record).await? {
            Some(c) => c,
            None => {
                let c = stripe.create_customer(user).await?;
                self.ledger.link_customer(&c, user).await?;
                c
            }
        };
        let request = match token(&r.request_id) {
            t if t.is_empty() => format!("w{}", now() / 600),
            t => t,
        };
        let link = stripe
            .create_checkout(
                &CheckoutParams {
                    telegram_user_id: user,
                    customer: &customer,
                    plan_id: &plan.id,
                    price_id: &plan.stripe_price_id,
                    trial_days: plan.trial_days,
                    success_url: &self.config.checkout_success_url,
                    cancel_url: &self.config.checkout_cancel_url,
                },
                &format!("checkout-tg{user}-{}-{request}", plan.id),
            )
            .await?;
        Ok(CreateCheckoutSessionResponse {
            session_id: link.id,
            url: link.url,
            expires_at: Some(timestamp(link.expires_at)),
        })
    }

    async fn portal(
        &self,
        r: CreatePortalSessionRequest,
    ) -> Result<CreatePortalSessionResponse, BillingError> {
        let stripe = self.stripe()?;
        let user = user_id(r.telegram_user_id)?;
        let (_, record) = self.ledger.read(user).await?;
        let customer = self.customer_of(user, &record).await?.ok_or_else(|| {
            BillingError::NotFound("no billing account yet; subscribe first".into())
        })?;
        let request = match token(&r.request_id) {
            t if t.is_empty() => format!("w{}", now() / 60),
            t => t,
        };
        let url = stripe
            .create_portal(
                &customer,
                &self.config.portal_return_url,
                &format!("portal-tg{user}-{request}"),
            )
            .await?;
        Ok(CreatePortalSessionResponse { url })
    }

    async fn cancel(
        &self,
        r: CancelSubscriptionRequest,
    ) -> Result<CancelSubscriptionResponse, BillingError> {
        let stripe = self.stripe()?;
        let user = user_id(r.telegram_user_id)?;
        let (_, record) = self.ledger.read(user).await?;
        let sub = match (&record.subscription_id, record.state) {
            (Some(sub), State::Active | State::Trialing | State::PastDue | State::Canceled) => {
                sub.clone()
            }
            _ => {
                return Err(BillingError::FailedPrecondition(
                    "no subscription to cancel".into(),
                ));
            }
        };
        let view = stripe.cancel_at_period_end(&sub).await?;
        let plans = &self.config.plans;
        let at = now();
        let cause = Cause {
            cause: ChangeCause::CancelRequest,
            actor: format!("telegram:{user}"),
            reason: "cancelled by the user".into(),
        };
        let record = self
            .ledger
            .write(user, at, cause, |r| {
                r.project(&view, plans, at);
            })
            .await?;
        Ok(CancelSubscriptionResponse {
            entitlement: Some(self.show(&record)),
        })
    }

    async fn grant(
        &self,
        r: GrantEntitlementRequest,
    ) -> Result<GrantEntitlementResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        if r.reason.trim().is_empty() || r.actor.trim().is_empty() {
            return Err(BillingError::InvalidArgument(
                "a grant needs a reason and an actor".into(),
            ));
        }
        if !(1..=3660).contains(&r.days) {
            return Err(BillingError::InvalidArgument(
                "days must be between 1 and 3660".into(),
            ));
        }
        if !self.config.plans.iter().any(|p| p.id == r.plan_id) {
            return Err(BillingError::NotFound(format!("no plan {:?}", r.plan_id)));
        }
        let at = now();
        let cause = Cause {
            cause: ChangeCause::AdminGrant,
            actor: r.actor.clone(),
            reason: r.reason.clone(),
        };
        let days = i64::from(r.days) * 86_400;
        let record = self
            .ledger
            .write(user, at, cause, |rec| {
                // A grant on top of a live subscription would hide it; extend
                // an existing grant, or start one.
                let base = match (&rec.granted_by, rec.current_period_end) {
                    (Some(_), Some(end)) if end > at => end,
                    _ => at,
                };
                rec.state = State::Active;
                rec.plan_id = Some(r.plan_id.clone());
                rec.current_period_end = Some(base + days);
                rec.cancel_at_period_end = true;
                rec.granted_by = Some(r.actor.clone());
                rec.past_due_since = None;
            })
            .await?;
        Ok(GrantEntitlementResponse {
            entitlement: Some(self.show(&record)),
        })
    }

    async fn revoke(
        &self,
        r: RevokeEntitlementRequest,
    ) -> Result<RevokeEntitlementResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        if r.reason.trim().is_empty() || r.actor.trim().is_empty() {
            return Err(BillingError::InvalidArgument(
                "a revocation needs a reason and an actor".into(),
            ));
        }
        let (_, record) = self.ledger.read(user).await?;
        if let (Some(stripe), Some(sub)) = (&self.stripe, &record.subscription_id)
            && matches!(
                record.state,
                State::Active | State::Trialing | State::PastDue | State::Canceled
            )
            && record.granted_by.is_none()
        {
            stripe.cancel_now(sub).await?;
        }
        let cause = Cause {
            cause: ChangeCause::AdminRevoke,
            actor: r.actor.clone(),
            reason: r.reason.clone(),
        };
        let record = self
            .ledger
            .write(user, now(), cause, |rec| {
                rec.state = State::Expired;
                rec.granted_by = None;
                rec.past_due_since = None;
            })
            .await?;
        Ok(RevokeEntitlementResponse {
            entitlement: Some(self.show(&record)),
        })
    }

    async fn audit(&self, r: ListAuditLogRequest) -> Result<ListAuditLogResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        let limit = match r.limit {
            0 => 100,
            n => n.min(1000) as usize,
        };
        let entries = self
            .ledger
            .store()
            .list_tail(&keys::audit(user), limit)
            .await?
            .iter()
            .filter_map(|e| serde_json::from_slice::<StoredChange>(e).ok())
            .map(|c| c.to_audit())
            .collect();
        Ok(ListAuditLogResponse { entries })
    }

    async fn stats(&self) -> Result<GetStatsResponse, BillingError> {
        let at = now();
        let users = self.ledger.store().set_members(keys::USERS).await?;
        let mut with_access = 0;
        let mut by_plan: HashMap<String, u64> = HashMap::new();
        for member in &users {
            let Ok(user) = member.parse::<i64>() else {
                continue;
            };
            let (_, record) = self.ledger.read(user).await?;
            if record.has_access(at, self.ledger.grace) {
                with_access += 1;
                *by_plan
                    .entry(record.plan_id.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        let churned = self
            .ledger
            .store()
            .set_members(&keys::churned(&month_of(at)))
            .await?
            .len();
        Ok(GetStatsResponse {
            known_users: users.len() as u64,
            with_access,
            with_access_by_plan: by_plan,
            churned_this_month: churned as u64,
        })
    }

    async fn reconcile(&self) -> Result<ReconcileResponse, BillingError> {
        let stripe = self.stripe()?;
        let subs = stripe.all_subscriptions().await?;
        // The subscription that speaks for each user: a live one over an
        // ended one, the newest among equals.
        let mut best: HashMap<i64, SubscriptionView> = HashMap::new();
        let mut unmatched = 0;
        for sub in &subs {
            let user = match sub.telegram_user_id {
                Some(u) => Some(u),
                None => self.ledger.user_of_customer(&sub.customer).await?,
            };
            let Some(user) = user else {
                unmatched += 1;
                continue;
            };
            let better = best
                .get(&user)
                .is_none_or(|cur| (sub.is_live(), sub.created) > (cur.is_live(), cur.created));
            if better {
                best.insert(user, sub.clone());
            }
        }
        let at = now();
        let mut updated = 0;
        for (user, sub) in &best {
            self.ledger.link_customer(&sub.customer, *user).await?;
            let plans = &self.config.plans;
            let before = self.ledger.read(*user).await?.1;
            let after = self
                .ledger
                .write(
                    *user,
                    at,
                    Cause::system(ChangeCause::Reconcile, "reconcile"),
                    |r| {
                        r.project(sub, plans, at);
                    },
                )
                .await?;
            if after != before {
                updated += 1;
            }
        }
        tracing::info!(
            subscriptions = subs.len(),
            updated,
            unmatched,
            "reconciled with Stripe"
        );
        Ok(ReconcileResponse {
            subscriptions_seen: subs.len() as u32,
            entitlements_updated: updated,
            unmatched,
        })
    }

    async fn recover(&self) -> Result<RecoverEventsResponse, BillingError> {
        let events = self.stripe()?.undelivered_events().await?;
        let (mut applied, mut duplicates) = (0, 0);
        for event in &events {
            if self.events.apply(event).await?.duplicate {
                duplicates += 1;
            } else {
                applied += 1;
            }
        }
        tracing::info!(
            seen = events.len(),
            applied,
            duplicates,
            "recovered undelivered Stripe events"
        );
        Ok(RecoverEventsResponse {
            events_seen: events.len() as u32,
            applied,
            duplicates,
        })
    }
}

type ChangeStream = Pin<Box<dyn Stream<Item = Result<EntitlementChange, Status>> + Send>>;

#[tonic::async_trait]
impl BillingService for Billing {
    async fn list_plans(
        &self,
        request: Request<ListPlansRequest>,
    ) -> Result<Response<ListPlansResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let plans = self
            .config
            .plans
            .iter()
            .map(|p| Plan {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                stripe_price_id: p.stripe_price_id.clone(),
                trial_days: p.trial_days,
            })
            .collect();
        Ok(Response::new(ListPlansResponse { plans }))
    }

    async fn get_entitlement(
        &self,
        request: Request<GetEntitlementRequest>,
    ) -> Result<Response<GetEntitlementResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let user = user_id(request.into_inner().telegram_user_id)?;
        let (_, record) = self.ledger.read(user).await?;
        Ok(Response::new(GetEntitlementResponse {
            entitlement: Some(self.show(&record)),
        }))
    }

    async fn apply_stripe_event(
        &self,
        request: Request<ApplyStripeEventRequest>,
    ) -> Result<Response<ApplyStripeEventResponse>, Status> {
        self.authorize(&request, Right::Call)?;
        let applied = self.events.apply(&request.into_inner().event_json).await?;
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
        Ok(Response::new(self.cancel(request.into_inner()).await?))
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
        let grace = self.ledger.grace;
        let mut cursor = match request.into_inner().after_cursor.as_str() {
            "" => store
                .log_last_id(keys::CHANGES)
                .await
                .map_err(BillingError::from)?,
            "0" => None,
            c => Some(c.to_owned()),
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
                        .send(Ok(change.to_change(id, now(), grace)))
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

    async fn recover_events(
        &self,
        request: Request<RecoverEventsRequest>,
    ) -> Result<Response<RecoverEventsResponse>, Status> {
        self.authorize(&request, Right::Admin)?;
        Ok(Response::new(self.recover().await?))
    }
}
