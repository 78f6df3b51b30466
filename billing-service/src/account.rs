//! What a paying user does: check out, manage payment in the portal,
//! cancel and resume. One subscription per user: a second Checkout is
//! refused while one is not over at Stripe (live, past due, unpaid,
//! paused; a cancelled-but-running one is resumed instead), taps on the
//! same plan while a session is open all get that session, and choosing
//! another plan expires the open session of the first. A one-time plan is bought in Checkout's payment mode;
//! buying it again extends it, and access for life needs nothing more.

use mesh_proto::billing::v1::*;
use mesh_state::Tx;
use serde::{Deserialize, Serialize};

use crate::clock::{now, timestamp};
use crate::counters::{self, Daily};
use crate::entitlement::Record;
use crate::error::{BillingError, Refusal};
use crate::ledger::{Cause, keys};
use crate::plans::Mode;
use crate::service::{Billing, user_id};
use crate::stripe_api::{CheckoutParams, StripeApi};
use crate::writes::PaymentWrite;

/// An open Checkout session, kept so every tap while it is open gets it.
#[derive(Serialize, Deserialize)]
struct OpenSession {
    id: String,
    url: String,
    expires_at: i64,
    /// The subscription the user had when it was made: once a checkout
    /// completes, the user's subscription changes and the session is done.
    generation: String,
}

/// How long before its expiry a stored session is no longer handed out.
const SESSION_MARGIN_SECS: i64 = 300;

/// Keeps the characters Stripe's idempotency keys and our logs like.
pub(crate) fn token(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

/// The subscription a user's renewal request is about: the live one that
/// speaks for them.
fn live_sub(record: &Record) -> Option<&crate::entitlement::Sub> {
    record.current_sub().filter(|s| s.is_live())
}

impl Billing {
    pub(crate) fn stripe(&self) -> Result<&StripeApi, BillingError> {
        self.stripe.as_ref().ok_or_else(|| {
            BillingError::refused(
                Refusal::PaymentsNotConfigured,
                "payments are not configured",
            )
        })
    }

    /// The record as the API shows it now.
    pub(crate) fn show(&self, record: &Record) -> Entitlement {
        let terms = self.ledger.terms();
        record.to_proto(now(), terms.grace, &terms.plans)
    }

    pub(crate) async fn checkout(
        &self,
        r: CreateCheckoutSessionRequest,
    ) -> Result<CreateCheckoutSessionResponse, BillingError> {
        let stripe = self.stripe()?;
        let user = user_id(r.telegram_user_id)?;
        let terms = self.ledger.terms();
        let plan = terms.plans.get(&r.plan_id).ok_or_else(|| {
            BillingError::refused(Refusal::UnknownPlan, format!("no plan {:?}", r.plan_id))
        })?;
        if !plan.on_stripe() {
            return Err(BillingError::refused(
                Refusal::NoStarsPrice,
                format!("plan {:?} is sold only for Telegram Stars", plan.id),
            ));
        }
        let (_, record) = self.ledger.read(user).await?;
        let at = now();
        let view = record.view(at, terms.grace, &terms.plans);
        // A Stars subscription is the user's one live subscription too.
        if record.live_stars(at, terms.grace).is_some() {
            return Err(BillingError::refused(
                Refusal::AlreadySubscribed,
                "subscribed in Telegram Stars",
            ));
        }
        // Access for life needs nothing more; a running one-time plan may be
        // bought again (it extends), a subscription on top of it may not.
        if view.lifetime || (plan.mode == Mode::Subscription && record.purchase_running(at)) {
            return Err(BillingError::refused(
                Refusal::AlreadySubscribed,
                "the user already has access",
            ));
        }
        // One subscription per user: while any is not over at Stripe
        // (active, trialing, past due, unpaid, paused), with access or
        // not, the user fixes it in the portal; a second would charge twice
        // once Stripe's retry of the first succeeds.
        if let Some(sub) = record.open_subs().max_by_key(|s| s.created) {
            return Err(if sub.cancel_at_period_end && view.has_access {
                BillingError::refused(
                    Refusal::Resumable,
                    "the subscription is set to cancel; resume it",
                )
            } else {
                BillingError::refused(
                    Refusal::AlreadySubscribed,
                    "already subscribed; use the customer portal",
                )
            });
        }
        let generation = record
            .current_sub()
            .map_or_else(|| "none".to_owned(), |s| s.id.clone());
        let stored_key = keys::checkout(user, &plan.id);
        if let Some(raw) = self.ledger.store().get(&stored_key).await?
            && let Ok(open) = serde_json::from_slice::<OpenSession>(&raw)
            && open.generation == generation
            && open.expires_at > at + SESSION_MARGIN_SECS
        {
            return Ok(CreateCheckoutSessionResponse {
                session_id: open.id,
                url: open.url,
                expires_at: Some(timestamp(open.expires_at)),
            });
        }
        self.expire_other_sessions(stripe, user, &plan.id).await?;
        let customer = self.customer(stripe, user, &record).await?;
        // Derived from what the session is (not from the tap), so taps that
        // race past the stored session still make one session at Stripe.
        let key = format!(
            "checkout-tg{user}-{}-{}-{}",
            plan.id,
            token(&generation),
            at / 3600
        );
        let link = stripe
            .create_checkout(
                &CheckoutParams {
                    telegram_user_id: user,
                    customer: &customer,
                    plan_id: &plan.id,
                    price_id: &plan.stripe_price_id,
                    trial_days: if record.trial_used {
                        0
                    } else {
                        plan.trial_days
                    },
                    one_time: (plan.mode == Mode::Payment).then_some(plan.duration_days),
                    success_url: &self.config.checkout_success_url,
                    cancel_url: &self.config.checkout_cancel_url,
                },
                &key,
            )
            .await?;
        let open = OpenSession {
            id: link.id.clone(),
            url: link.url.clone(),
            expires_at: link.expires_at,
            generation,
        };
        let ttl = u64::try_from(link.expires_at - at)
            .unwrap_or(0)
            .clamp(60, 86_400);
        let json = serde_json::to_vec(&open).map_err(|e| BillingError::Internal(e.to_string()))?;
        // Kept and counted together: a session is counted once however
        // many taps reach it (they find it stored).
        let mut tx = Tx::new();
        tx.set(
            &stored_key,
            &json,
            Some(std::time::Duration::from_secs(ttl)),
        );
        counters::bump(&mut tx, Daily::CheckoutStarted, at);
        self.ledger.store().commit(&tx).await?;
        metrics::counter!("billing_checkouts_started_total").increment(1);
        Ok(CreateCheckoutSessionResponse {
            session_id: link.id,
            url: link.url,
            expires_at: Some(timestamp(link.expires_at)),
        })
    }

    /// Choosing a plan closes the user's open Checkout sessions of the
    /// other plans at Stripe, so a second tab can't complete a second
    /// subscription (one that still completes, paid just before, is
    /// cancelled and refunded when its events come).
    async fn expire_other_sessions(
        &self,
        stripe: &StripeApi,
        user: i64,
        chosen: &str,
    ) -> Result<(), BillingError> {
        let store = self.ledger.store();
        for other in self.ledger.terms().plans.all() {
            if other.id == chosen {
                continue;
            }
            let key = keys::checkout(user, &other.id);
            let Some(raw) = store.get(&key).await? else {
                continue;
            };
            if let Ok(open) = serde_json::from_slice::<OpenSession>(&raw) {
                stripe.expire_checkout(&open.id).await?;
            }
            store.delete(&key).await?;
        }
        Ok(())
    }

    /// The user's Stripe customer, made once (its idempotency key is the
    /// user) and linked.
    async fn customer(
        &self,
        stripe: &StripeApi,
        user: i64,
        record: &Record,
    ) -> Result<String, BillingError> {
        if let Some(c) = &record.customer_id {
            return Ok(c.clone());
        }
        if let Some(c) = self.ledger.customer_of_user(user).await? {
            return Ok(c);
        }
        let c = stripe.create_customer(user).await?;
        self.ledger.link_customer(&c, user).await?;
        Ok(c)
    }

    pub(crate) async fn portal(
        &self,
        r: CreatePortalSessionRequest,
    ) -> Result<CreatePortalSessionResponse, BillingError> {
        let stripe = self.stripe()?;
        let user = user_id(r.telegram_user_id)?;
        let (_, record) = self.ledger.read(user).await?;
        let customer = match &record.customer_id {
            Some(c) => Some(c.clone()),
            None => self.ledger.customer_of_user(user).await?,
        }
        .ok_or_else(|| {
            BillingError::refused(
                Refusal::NoCustomer,
                "no billing account yet; subscribe first",
            )
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

    /// Sets the user's subscription to cancel at period end (`cancel`) or
    /// to renew again, at Stripe and then in the record, as the user's own
    /// request (bot-service answers them; no notice repeats it).
    pub(crate) async fn set_renewal(
        &self,
        user: i64,
        cancel: bool,
    ) -> Result<Entitlement, BillingError> {
        let user = user_id(user)?;
        let (rev, record) = self.ledger.read(user).await?;
        if live_sub(&record).is_none()
            && let Some(sub) = record.live_stars(now(), self.ledger.terms().grace)
        {
            let charge = sub.charge.clone();
            let canceled = sub.canceled;
            return self
                .set_stars_renewal(user, &record, charge, canceled, cancel)
                .await;
        }
        let stripe = self.stripe()?;
        let sub = live_sub(&record)
            .filter(|s| cancel || s.cancel_at_period_end)
            .ok_or_else(|| {
                let what = if cancel { "cancel" } else { "resume" };
                BillingError::refused(
                    Refusal::NoSubscription,
                    format!("no subscription to {what}"),
                )
            })?;
        if sub.cancel_at_period_end == cancel {
            return Ok(self.show(&record));
        }
        // Decided in a commit, made right after it ([`crate::writes`]); a
        // request repeated while one is pending makes that one (its key),
        // not a second. One key per request: the record's revision changes
        // with every transition, so a later cancel after a resume is a new
        // request.
        let what = if cancel { "cancel" } else { "resume" };
        let pending = record.pending.iter().any(
            |w| matches!(w, PaymentWrite::Renewal { subscription, .. } if *subscription == sub.id),
        );
        if !pending {
            let write = PaymentWrite::Renewal {
                subscription: sub.id.clone(),
                cancel,
                key: format!("{what}-{}-r{rev}", sub.id),
                actor: format!("telegram:{user}"),
            };
            let kind = if cancel {
                ChangeCause::CancelRequest
            } else {
                ChangeCause::ResumeRequest
            };
            let cause = Cause::new(
                kind,
                &format!("telegram:{user}"),
                &format!("{what} requested by the user"),
            );
            self.ledger
                .transition(user, &cause, None, |r, _| {
                    r.decide(write.clone());
                    Ok(Vec::new())
                })
                .await?;
        }
        self.ledger.flush(user, None, Some(stripe)).await?;
        Ok(self.show(&self.ledger.read(user).await?.1))
    }

    /// [`Self::set_renewal`] for a Stars subscription:
    /// `editUserStarSubscription`, decided in a commit and made after it;
    /// the record follows once Telegram confirms.
    async fn set_stars_renewal(
        &self,
        user: i64,
        record: &Record,
        charge: String,
        canceled: bool,
        cancel: bool,
    ) -> Result<Entitlement, BillingError> {
        if !cancel && !canceled {
            return Err(BillingError::refused(
                Refusal::NoSubscription,
                "the Stars subscription renews already",
            ));
        }
        let pending = record
            .pending
            .iter()
            .any(|w| matches!(w, PaymentWrite::StarsRenewal { charge: c, .. } if *c == charge));
        if canceled != cancel && !pending {
            let (kind, what) = if cancel {
                (ChangeCause::CancelRequest, "cancel")
            } else {
                (ChangeCause::ResumeRequest, "resume")
            };
            let actor = format!("telegram:{user}");
            let cause = Cause::new(kind, &actor, &format!("{what} requested by the user"));
            let write = PaymentWrite::StarsRenewal {
                charge,
                cancel,
                actor: actor.clone(),
            };
            self.ledger
                .transition(user, &cause, None, |r, _| {
                    r.decide(write.clone());
                    Ok(Vec::new())
                })
                .await?;
        }
        self.ledger.flush(user, None, self.stripe.as_ref()).await?;
        Ok(self.show(&self.ledger.read(user).await?.1))
    }
}
