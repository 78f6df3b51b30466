//! Checkout sessions: a subscription started, or a one-time plan paid
//! (read back from Stripe before it grants anything).

use serde_json::Value;

use super::change::{Change, Observed};
use super::{EventApplier, Step};
use crate::counters::Daily;
use crate::error::BillingError;
use crate::ledger::Cause;
use crate::payload::{Event, id_of, str_at, telegram_id};
use crate::purchase::Paid;
use crate::stripe_api::SubscriptionView;

impl EventApplier {
    /// A Checkout session completed (or its delayed payment settled):
    /// only sessions billing made (its metadata) count.
    pub(super) async fn checkout(&self, event: &Event) -> Result<Step, BillingError> {
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::of(user, &cause, change);
        Ok({
            // Only sessions billing made: they carry our metadata (a
            // client_reference_id alone may be another product's).
            let Some(user) = telegram_id(str_at(obj, &["metadata", "telegram_user_id"])) else {
                return Ok(Step::Ignore("other_product"));
            };
            let customer = id_of(obj.get("customer"));
            if let Some(step) = self
                .claimed_by_another(user, customer.as_deref(), event)
                .await?
            {
                return Ok(step);
            }
            match str_at(obj, &["mode"]) {
                Some("payment") => return self.one_time(event, user, customer).await,
                Some("subscription") | None => {}
                Some(_) => return Ok(Step::Ignore("not_a_subscription")),
            }
            if event.kind != "checkout.session.completed" {
                return Ok(Step::Ignore("subscription_session"));
            }
            let subscription = id_of(obj.get("subscription"));
            let completed = |change: Change| Step::Change {
                user,
                cause: cause.clone().counting(Daily::CheckoutCompleted),
                change: Box::new(change),
            };
            match (&self.stripe, &subscription) {
                (Some(stripe), Some(sub)) => match self.fresh(stripe, sub).await? {
                    Some(o) => completed(self.observed(user, o).await?),
                    None => return Ok(Step::Ignore("unknown_to_stripe")),
                },
                _ => match dry_checkout(obj, event, user, subscription) {
                    Some(o) => completed(Change::Observe(o)),
                    None => match customer {
                        Some(customer) => change(user, Change::Link { customer }),
                        None => Step::Ignore("unpaid"),
                    },
                },
            }
        })
    }

    /// A one-time plan's session: paid now (card), or later (a bank
    /// payment: `async_payment_succeeded`). With Stripe configured the
    /// session is read from Stripe, and only what Stripe says was paid,
    /// with the metadata billing gave it, grants anything. Access starts
    /// at the event's time (Stripe's clock), so a late or repeated
    /// delivery grants the same period.
    pub(super) async fn one_time(
        &self,
        event: &Event,
        user: i64,
        customer: Option<String>,
    ) -> Result<Step, BillingError> {
        if event.kind == "checkout.session.async_payment_failed" {
            return Ok(Step::Ignore("payment_failed"));
        }
        let obj = &event.data.object;
        let Some(session) = id_of(obj.get("id")) else {
            return Ok(Step::Ignore("unpaid"));
        };
        let (paid, plan_id, days_meta, intent) = match &self.stripe {
            Some(stripe) => {
                let s = match stripe.checkout_session(&session).await {
                    Ok(s) => s,
                    Err(BillingError::NotFound(_)) => return Ok(Step::Ignore("unknown_to_stripe")),
                    Err(e) => return Err(e),
                };
                let owner = telegram_id(s.metadata.get("telegram_user_id").map(String::as_str));
                if s.mode != "payment" || owner != Some(user) {
                    return Ok(Step::Ignore("unknown_to_stripe"));
                }
                (
                    s.payment_status == "paid",
                    s.metadata.get("plan_id").cloned().unwrap_or_default(),
                    s.metadata.get("duration_days").cloned(),
                    s.payment_intent,
                )
            }
            None => (
                event.kind == "checkout.session.async_payment_succeeded"
                    || str_at(obj, &["payment_status"]) == Some("paid"),
                str_at(obj, &["metadata", "plan_id"])
                    .unwrap_or_default()
                    .to_owned(),
                str_at(obj, &["metadata", "duration_days"]).map(str::to_owned),
                id_of(obj.get("payment_intent")),
            ),
        };
        let cause = Cause::stripe(&event.id);
        if !paid {
            // Paid later, if at all: only the customer is known so far.
            return Ok(match customer {
                Some(customer) => Step::Change {
                    user,
                    cause,
                    change: Box::new(Change::Link { customer }),
                },
                None => Step::Ignore("unpaid"),
            });
        }
        let plans = &self.ledger.terms().plans;
        let Some(plan) = plans.get(&plan_id) else {
            return Ok(Step::Ignore("unknown_plan"));
        };
        // The days bought are the session's (billing wrote them into its
        // metadata), not what the plans file says today; "0" is for life.
        let days = match days_meta {
            Some(d) => match d.parse::<u32>() {
                Ok(0) => None,
                Ok(d) => Some(d),
                Err(_) => return Ok(Step::Ignore("unreadable_metadata")),
            },
            None => plan.duration_days,
        };
        Ok(Step::Change {
            user,
            cause: cause.counting(Daily::CheckoutCompleted),
            change: Box::new(Change::Purchase {
                paid: Paid {
                    plan_id,
                    days,
                    session,
                    payment_intent: intent,
                    paid_at: event.created,
                    stars: None,
                },
                customer,
            }),
        })
    }
}

/// A dry run's completed Checkout session as a subscription: active once
/// paid (trialing when nothing was due).
fn dry_checkout(obj: &Value, event: &Event, user: i64, sub: Option<String>) -> Option<Observed> {
    let status = match str_at(obj, &["payment_status"]) {
        Some("paid") => "active",
        Some("no_payment_required") => "trialing",
        _ => return None,
    };
    let view = SubscriptionView {
        id: sub.or_else(|| id_of(obj.get("id")))?,
        customer: id_of(obj.get("customer")).unwrap_or_default(),
        status: status.to_owned(),
        cancel_at_period_end: false,
        current_period_end: None,
        price_id: None,
        telegram_user_id: Some(user),
        plan_id: str_at(obj, &["metadata", "plan_id"]).map(str::to_owned),
        created: event.created,
        price: None,
        had_trial: status == "trialing",
        latest_invoice: None,
    };
    Some(Observed {
        view,
        seen_ms: event.created * 1000,
        allow_equal: true,
        charged: None,
    })
}
