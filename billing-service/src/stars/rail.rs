//! The Stars RPCs: the offer (an invoice link), the pre-checkout answer,
//! a payment or refund taking effect, and an admin's refund. Each
//! payment takes effect once: its charge id and direction are marked
//! applied in the commit that records it (`stars:<charge>:in|out`), and
//! the ledger keeps every charge besides.

use mesh_proto::billing::v1::*;

use super::StarsApi;
use super::api::Invoice;
use super::ledger::{StarsPaid, StarsTerm};
use super::payload::Offer;
use crate::clock::now;
use crate::entitlement::Record;
use crate::error::{BillingError, Refusal};
use crate::events::RefundPolicy;
use crate::ledger::{Cause, Outcome};
use crate::notices::{AccessReason, Notice, NoticeKind};
use crate::plans::{Mode, PlanSpec};
use crate::service::{Billing, user_id};
use crate::writes::PaymentWrite;

/// Why a user may not buy `plan` now, on either rail: access for life
/// needs nothing more; a subscription (Stripe's or Stars', live or within
/// grace) is the one live subscription a user has; a running one-time
/// plan may be bought again (it extends), a subscription on top of it may
/// not.
pub(crate) fn may_buy(
    record: &Record,
    plan: &PlanSpec,
    at: i64,
    grace: i64,
    plans: &crate::plans::Plans,
) -> Result<(), Refusal> {
    let view = record.view(at, grace, plans);
    let subscribed = record.open_subs().next().is_some() || record.live_stars(at, grace).is_some();
    if view.lifetime
        || subscribed
        || (plan.mode == Mode::Subscription && record.purchase_running(at))
    {
        return Err(Refusal::AlreadySubscribed);
    }
    Ok(())
}

/// The mark of charge `charge` applied in one direction.
fn mark(charge: &str, refund: bool) -> String {
    format!("stars:{charge}:{}", if refund { "out" } else { "in" })
}

impl Billing {
    /// Telegram's Stars API, or PAYMENTS_NOT_CONFIGURED (no bot token).
    pub(crate) fn stars(&self) -> Result<&StarsApi, BillingError> {
        self.ledger.stars().ok_or_else(|| {
            BillingError::refused(
                Refusal::PaymentsNotConfigured,
                "Telegram Stars needs TELEGRAM_BOT_TOKEN",
            )
        })
    }

    /// What `payload` offered, when billing made it for `user`.
    fn offer_of(&self, user: i64, payload: &str) -> Option<Offer> {
        self.ledger
            .stars()
            .and_then(|api| api.key().open(payload))
            .filter(|o| o.user == user)
    }

    fn stars_plan(&self, id: &str) -> Result<(&PlanSpec, u32), BillingError> {
        let plan = self.ledger.terms().plans.get(id).ok_or_else(|| {
            BillingError::refused(Refusal::UnknownPlan, format!("no plan {id:?}"))
        })?;
        let price = plan.stars_price.ok_or_else(|| {
            BillingError::refused(
                Refusal::NoStarsPrice,
                format!("plan {id:?} is not sold for Stars"),
            )
        })?;
        Ok((plan, price))
    }

    pub(crate) async fn stars_invoice(
        &self,
        r: CreateStarsInvoiceRequest,
    ) -> Result<CreateStarsInvoiceResponse, BillingError> {
        let api = self.stars()?;
        let user = user_id(r.telegram_user_id)?;
        let (plan, price) = self.stars_plan(&r.plan_id)?;
        let terms = self.ledger.terms();
        let (_, record) = self.ledger.read(user).await?;
        let at = now();
        may_buy(&record, plan, at, terms.grace, &terms.plans)
            .map_err(|refusal| BillingError::refused(refusal, "the user already has access"))?;
        let subscription = plan.mode == Mode::Subscription;
        let payload = api.key().make(&Offer {
            user,
            plan: plan.id.clone(),
            stars: price,
            issued: at,
        });
        let url = api
            .invoice_link(&Invoice {
                title: &plan.name,
                description: &plan.description,
                payload: &payload,
                price,
                subscription,
            })
            .await?;
        Ok(CreateStarsInvoiceResponse {
            url,
            stars_price: price,
            subscription,
        })
    }

    pub(crate) async fn stars_check(
        &self,
        r: CheckStarsPaymentRequest,
    ) -> Result<CheckStarsPaymentResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        let refused = |refusal: StarsRefusal| CheckStarsPaymentResponse {
            ok: false,
            refusal: refusal.into(),
        };
        let offer = self.offer_of(user, &r.invoice_payload);
        let Some(offer) = offer else {
            return Ok(refused(StarsRefusal::NotOurs));
        };
        let terms = self.ledger.terms();
        let Some((plan, price)) = terms
            .plans
            .get(&offer.plan)
            .and_then(|p| p.stars_price.map(|s| (p, s)))
        else {
            return Ok(refused(StarsRefusal::PlanGone));
        };
        if r.currency != "XTR" || r.total_amount != price || offer.stars != price {
            return Ok(refused(StarsRefusal::PriceChanged));
        }
        let (_, record) = self.ledger.read(user).await?;
        // A renewal of the user's own Stars subscription (should Telegram
        // ask before one) goes ahead; anything else bought on top of live
        // access does not.
        let renewal = record
            .stars
            .iter()
            .any(|s| s.payload == r.invoice_payload && !s.ended);
        if !renewal && may_buy(&record, plan, now(), terms.grace, &terms.plans).is_err() {
            return Ok(refused(StarsRefusal::AlreadyEntitled));
        }
        Ok(CheckStarsPaymentResponse {
            ok: true,
            refusal: StarsRefusal::Unspecified.into(),
        })
    }

    pub(crate) async fn stars_apply(
        &self,
        r: ApplyStarsPaymentRequest,
    ) -> Result<ApplyStarsPaymentResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        if r.currency != "XTR" {
            return Err(BillingError::InvalidArgument(format!(
                "not a Stars payment: currency {:?}",
                r.currency
            )));
        }
        let charge = r.telegram_payment_charge_id.trim();
        if charge.is_empty() || charge.len() > 256 {
            return Err(BillingError::InvalidArgument(
                "telegram_payment_charge_id is required".into(),
            ));
        }
        let id = mark(charge, r.refund);
        let answer =
            |duplicate: bool, recognised: bool, record: &Record| ApplyStarsPaymentResponse {
                duplicate,
                recognised,
                entitlement: Some(self.show(record)),
            };
        if self.ledger.applied(&id).await?.is_some() {
            self.ledger.flush(user, None, self.stripe.as_ref()).await?;
            self.ledger.replicated().await?;
            count(r.refund, "duplicate");
            return Ok(answer(true, true, &self.ledger.read(user).await?.1));
        }
        let offer = self.offer_of(user, &r.invoice_payload);
        let Some(offer) = offer else {
            // Not an invoice billing made for this user: nothing is granted
            // (or ended); the admins hear of a payment nobody can place.
            tracing::warn!(
                user,
                charge,
                refund = r.refund,
                "Stars payment with a payload billing did not make; ignored"
            );
            count(r.refund, "not_ours");
            let detail = format!(
                "a Stars {} of {} Stars (charge {charge}) names no invoice billing made for user {user}: nothing changed",
                if r.refund { "refund" } else { "payment" },
                r.total_amount
            );
            let cause = Cause::new(ChangeCause::StarsPayment, "telegram", &id);
            let outcome = self
                .ledger
                .transition(user, &cause, Some(&id), |_, _| {
                    let mut n = Notice::new(
                        format!("{user}:stars_unplaced:{charge}"),
                        user,
                        NoticeKind::AdminAlert,
                    );
                    n.detail = detail.clone();
                    Ok(vec![n])
                })
                .await?;
            let duplicate = matches!(outcome, Outcome::Duplicate);
            return Ok(answer(duplicate, false, &self.ledger.read(user).await?.1));
        };
        let outcome = if r.refund {
            self.stars_refund_applied(user, charge, &id).await?
        } else {
            self.stars_paid(user, charge, &id, &offer, &r).await?
        };
        let duplicate = matches!(outcome, Outcome::Duplicate);
        self.ledger
            .flush(user, outcome.committed(), self.stripe.as_ref())
            .await?;
        count(r.refund, if duplicate { "duplicate" } else { "applied" });
        Ok(answer(duplicate, true, &self.ledger.read(user).await?.1))
    }

    async fn stars_paid(
        &self,
        user: i64,
        charge: &str,
        id: &str,
        offer: &Offer,
        r: &ApplyStarsPaymentRequest,
    ) -> Result<Outcome, BillingError> {
        let terms = self.ledger.terms();
        let plan = terms.plans.get(&offer.plan);
        let paid_at = r.paid_at.map_or_else(now, |t| t.seconds);
        let term = match (&r.subscription_expiration_date, plan) {
            (Some(until), _) => StarsTerm::Period {
                until: until.seconds,
            },
            (None, Some(p)) if p.mode == Mode::Subscription => StarsTerm::Period {
                until: paid_at + i64::from(super::api::PERIOD_SECS),
            },
            (None, p) => StarsTerm::Once(p.and_then(|p| p.duration_days)),
        };
        let paid = StarsPaid {
            charge: charge.to_owned(),
            payload: r.invoice_payload.clone(),
            plan_id: offer.plan.clone(),
            amount: r.total_amount,
            paid_at,
            term,
        };
        let first = !r.is_recurring || r.is_first_recurring;
        let mut cause = Cause::new(ChangeCause::StarsPayment, "telegram", id);
        if first {
            cause = cause.counting(crate::counters::Daily::CheckoutCompleted);
        }
        let grace = terms.grace;
        self.ledger
            .transition(user, &cause, Some(id), |rec, now| {
                // A first subscription payment while another subscription
                // is live (paid in a second tab, on the other rail): it is
                // refunded and its renewals stopped; the first stands.
                let other = rec.open_subs().map(|s| s.id.clone()).next().or_else(|| {
                    rec.live_stars(now, grace)
                        .filter(|s| s.payload != paid.payload)
                        .map(|s| s.charge.clone())
                });
                let duplicate = first && matches!(paid.term, StarsTerm::Period { .. }) && other.is_some();
                if !rec.stars_paid(&paid) {
                    return Ok(Vec::new());
                }
                if !duplicate {
                    return Ok(Vec::new());
                }
                rec.stars_refunded(&paid.charge, "system");
                rec.decide(PaymentWrite::StarsRefund {
                    charge: paid.charge.clone(),
                });
                let kept = other.unwrap_or_default();
                let mut alert = Notice::new(format!("{user}:admin_alert:duplicate-{charge}"), user, NoticeKind::AdminAlert);
                alert.detail = format!(
                    "a second subscription (Stars charge {charge}) was paid while {kept} was live: refunded, its renewals stopped"
                );
                Ok(vec![
                    Notice::new(format!("{user}:duplicate_refunded:{charge}"), user, NoticeKind::DuplicateRefunded),
                    alert,
                ])
            })
            .await
    }

    async fn stars_refund_applied(
        &self,
        user: i64,
        charge: &str,
        id: &str,
    ) -> Result<Outcome, BillingError> {
        let end = self.config.refunds == RefundPolicy::End;
        let cause =
            Cause::new(ChangeCause::StarsPayment, "telegram", id).ending(AccessReason::Refunded);
        self.ledger
            .transition(user, &cause, Some(id), |rec, _| {
                if end {
                    rec.stars_refunded(charge, "system");
                } else {
                    rec.note_stars_refund(charge);
                }
                Ok(Vec::new())
            })
            .await
    }

    pub(crate) async fn stars_admin_refund(
        &self,
        r: RefundStarsPaymentRequest,
    ) -> Result<RefundStarsPaymentResponse, BillingError> {
        self.stars()?;
        let user = user_id(r.telegram_user_id)?;
        if r.reason.trim().is_empty() || r.actor.trim().is_empty() {
            return Err(BillingError::InvalidArgument(
                "a refund needs a reason and an actor".into(),
            ));
        }
        let (_, record) = self.ledger.read(user).await?;
        // The latest payment, refunded or not: an admin's command handled
        // again picks the same one rather than refunding the one before.
        let charge = match r.telegram_payment_charge_id.trim() {
            "" => record.latest_stars_charge(),
            given => record.stars_amount(given).map(|_| given.to_owned()),
        }
        .ok_or_else(|| {
            BillingError::refused(
                Refusal::NoStarsPayment,
                "no such Stars payment of the user's",
            )
        })?;
        let amount = record.stars_amount(&charge).unwrap_or(0);
        let end = self.config.refunds == RefundPolicy::End;
        let cause = Cause::new(ChangeCause::AdminRefund, &r.actor, &r.reason)
            .ending(AccessReason::Refunded);
        let outcome = self
            .ledger
            .transition(user, &cause, None, |rec, _| {
                // Refunded already (here, or by Telegram): nothing to make.
                if rec.stars_refund_known(&charge) {
                    return Ok(Vec::new());
                }
                if end {
                    rec.stars_refunded(&charge, &r.actor);
                } else {
                    rec.note_stars_refund(&charge);
                }
                rec.decide(PaymentWrite::StarsRefund {
                    charge: charge.clone(),
                });
                Ok(Vec::new())
            })
            .await?;
        self.ledger
            .flush(user, outcome.committed(), self.stripe.as_ref())
            .await?;
        metrics::counter!("billing_stars_refunds_total", "by" => "admin").increment(1);
        Ok(RefundStarsPaymentResponse {
            telegram_payment_charge_id: charge,
            amount,
            entitlement: Some(self.show(&self.ledger.read(user).await?.1)),
        })
    }
}

fn count(refund: bool, outcome: &'static str) {
    let kind = if refund { "refund" } else { "payment" };
    metrics::counter!("billing_stars_payments_total", "kind" => kind, "outcome" => outcome)
        .increment(1);
}
