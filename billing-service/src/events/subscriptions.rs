//! Subscription events: Stripe's current state of the subscription,
//! observed; one Stripe no longer knows is gone; a second live one is
//! cancelled and refunded.

use serde_json::Value;

use super::change::{Change, Duplicate, Observed};
use super::{EventApplier, Step};
use crate::error::BillingError;
use crate::ledger::Cause;
use crate::payload::{self, Event};
use crate::stripe_api::SubscriptionView;

impl EventApplier {
    /// A subscription created, updated, deleted, paused, resumed or
    /// about to end its trial: Stripe's current state of it, observed.
    pub(super) async fn subscription(&self, event: &Event) -> Result<Step, BillingError> {
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::of(user, &cause, change);
        let kind = event.kind.as_str();
        Ok({
            let Some(shown) = payload::subscription(obj) else {
                return Err(BillingError::InvalidArgument(
                    "subscription event without an id".into(),
                ));
            };
            if !self.ours(&shown) {
                return Ok(Step::Ignore("other_product"));
            }
            let Some(user) = self.user_of(&shown).await? else {
                tracing::warn!(event_id = %event.id, "subscription of an unknown user; reconcile will pick it up");
                return Ok(Step::Ignore("unknown_user"));
            };
            if let Some(step) = self
                .claimed_by_another(user, Some(&shown.customer), event)
                .await?
            {
                return Ok(step);
            }
            let Some(observed) = self.truth(user, shown, event.created).await? else {
                return Ok(Step::Ignore("unknown_to_stripe"));
            };
            if kind == "customer.subscription.trial_will_end" {
                let until = obj
                    .get("trial_end")
                    .and_then(Value::as_i64)
                    .or(observed.view.current_period_end)
                    .unwrap_or_default();
                let renews =
                    observed.view.status == "trialing" && !observed.view.cancel_at_period_end;
                change(
                    user,
                    Change::TrialEnding {
                        observed: Some(observed),
                        until,
                        renews,
                    },
                )
            } else {
                change(user, self.observed(user, observed).await?)
            }
        })
    }

    /// Stripe's current view of a subscription when configured, else the
    /// payload (versioned by the event's time). `None`: Stripe doesn't know
    /// it and the user's ledger never had it (it grants nothing); one the
    /// ledger had and Stripe no longer knows is gone (ended).
    pub(super) async fn truth(
        &self,
        user: i64,
        shown: SubscriptionView,
        created: i64,
    ) -> Result<Option<Observed>, BillingError> {
        let Some(stripe) = &self.stripe else {
            return Ok(Some(Observed {
                view: shown,
                seen_ms: created * 1000,
                allow_equal: true,
                charged: None,
            }));
        };
        match self.fresh(stripe, &shown.id).await? {
            Some(o) => Ok(Some(o)),
            None => self.gone(user, &shown.id).await,
        }
    }

    /// A subscription the ledger had that Stripe no longer knows: ended.
    pub(super) async fn gone(&self, user: i64, id: &str) -> Result<Option<Observed>, BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        let Some(kept) = record.sub(id) else {
            return Ok(None);
        };
        Ok(Some(Observed {
            view: kept.ended(&record),
            seen_ms: self.ledger.clock_ms().await?,
            allow_equal: false,
            charged: None,
        }))
    }

    /// Stripe's view of one of the user's subscriptions, to observe; and
    /// when the user now has a second subscription (one created while an
    /// older one was open: paid in another tab), the second's cancellation
    /// and its first payment's refund are decided in the commit (made right
    /// after it, [`crate::writes`]); the first stands. Whichever of the two
    /// reports first, the newer is the one cancelled; once decided, it is
    /// flagged, so the user is told once.
    pub(super) async fn observed(&self, user: i64, o: Observed) -> Result<Change, BillingError> {
        let Some(stripe) = &self.stripe else {
            return Ok(Change::Observe(o));
        };
        let (_, record) = self.ledger.read(user).await?;
        let standing = |id: &str| record.sub(id).is_none_or(|s| !s.duplicate && !s.revoked);
        // The subscriptions that count: those open in the ledger, and the
        // one observed (as Stripe shows it now, or, when it is already
        // cancelled as a duplicate by an earlier try, as it was).
        let mut open: Vec<(i64, String)> = record
            .open_subs()
            .filter(|s| !s.duplicate && s.id != o.view.id)
            .map(|s| (s.created, s.id.clone()))
            .collect();
        let first = open.iter().min().cloned();
        let this = (o.view.created, o.view.id.clone());
        let duplicate = match &first {
            // The observed one is newer than one already open.
            Some(first) if *first < this && standing(&o.view.id) => Some(this.1.clone()),
            // The observed one is the older, live: a newer open one is the
            // duplicate.
            Some(_) if crate::subscription::Sub::live(&o.view.status) => {
                open.push(this.clone());
                open.sort();
                open.get(1).map(|(_, id)| id.clone())
            }
            _ => None,
        };
        let Some(second) = duplicate else {
            return Ok(Change::Observe(o));
        };
        let kept = open
            .iter()
            .chain(std::iter::once(&this))
            .filter(|(_, id)| *id != second)
            .min()
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        tracing::warn!(user, kept = %kept, second = %second, "a second subscription completed; cancelling it and refunding its payment");
        // What to refund: the second one's first invoice's payment (reads
        // only; the writes are decided in the commit and made after it).
        let invoice = if second == o.view.id {
            o.view.latest_invoice.clone()
        } else {
            stripe.subscription(&second).await?.latest_invoice
        };
        let refund = match &invoice {
            Some(invoice) => stripe.payment_of_invoice(invoice).await?,
            None => None,
        };
        metrics::counter!("billing_duplicate_subscriptions_total").increment(1);
        Ok(Change::Duplicate(Box::new(Duplicate {
            observed: o,
            second,
            kept,
            refund,
        })))
    }
}
