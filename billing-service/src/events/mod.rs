//! Applying verified Stripe events to entitlements, each `event.id` once.
//!
//! An event is first turned into a [`Step`]: what it means for which user,
//! with anything Stripe must be asked read first; what Stripe must be told
//! (a cancel, a refund) is decided in the commit and made right after it
//! ([`crate::writes`]). Order can't be
//! trusted, so with Stripe configured every subscription, invoice and
//! charge event re-reads the subscription and observes Stripe's current
//! state, versioned by when it was read: an older read never overwrites a
//! newer one, so the final entitlement is Stripe's latest state whatever
//! order the events came in. Without Stripe (a dry run) the payload itself
//! is used, versioned by the event's time.
//!
//! The step then commits through the ledger together with the event's
//! "applied" mark, in one atomic step: there is no claim that a crash or a
//! lost reply could leave behind, and two concurrent deliveries of one
//! event compute the same step while only one commit lands.
//!
//! Events of other products on the same Stripe account (a price not in the
//! plans file and none of the metadata billing sets) are acknowledged,
//! counted and ignored.
//!
//! One file per family of events ([`Kind`]): [`checkout`] (sessions, and
//! one-time purchases read back from Stripe), [`subscriptions`] (and a
//! second subscription cancelled and refunded), [`invoices`], [`charges`]
//! (refunds and disputes: what a payment bought); [`change`] is what each
//! does to the ledger inside the commit.

use change::{Change, Observed};

use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, Outcome};
use crate::payload::Event;
use crate::stripe_api::{StripeApi, SubscriptionView};

mod change;
mod charges;
mod checkout;
mod invoices;
mod subscriptions;

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// Seen before; nothing done.
    pub duplicate: bool,
    /// Billing acts on this type.
    pub recognised: bool,
}

/// The families of Stripe events billing acts on, each event type named
/// once: parsed here, matched once in [`EventApplier::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Checkout,
    Subscription,
    Invoice,
    Refund,
    Dispute,
}

impl Kind {
    /// The family of event type `kind`, or `None` for a type billing
    /// doesn't act on (acknowledged and remembered all the same).
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            "checkout.session.completed"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed" => Self::Checkout,
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "customer.subscription.paused"
            | "customer.subscription.resumed"
            | "customer.subscription.trial_will_end" => Self::Subscription,
            "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
                Self::Invoice
            }
            "charge.refunded" => Self::Refund,
            "charge.dispute.created" | "charge.dispute.closed" => Self::Dispute,
            _ => return None,
        })
    }
}

/// What to do about disputes (`BILLING_DISPUTE_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputePolicy {
    /// Suspend access while a dispute is open; restore it when won; end
    /// it (and the subscription) when lost. Admins are told either way.
    Suspend,
    /// Leave access alone; only tell the admins.
    Notify,
}

/// What to do about full refunds (`BILLING_REFUND_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPolicy {
    /// A charge refunded in full ends the access it paid for: the
    /// subscription is cancelled at once.
    End,
    /// Refunds change nothing.
    Keep,
}

/// What an event means.
enum Step {
    /// Not ours or nothing to do: acknowledged and remembered.
    Ignore(&'static str),
    /// A change of one user's entitlement.
    Change {
        user: i64,
        cause: Cause,
        change: Box<Change>,
    },
}

impl Step {
    /// A change of `user`'s entitlement for `cause`.
    fn of(user: i64, cause: &Cause, change: Change) -> Self {
        Self::Change {
            user,
            cause: cause.clone(),
            change: Box::new(change),
        }
    }
}

/// Applies events; cheap to clone.
#[derive(Clone)]
pub struct EventApplier {
    ledger: Ledger,
    stripe: Option<StripeApi>,
    disputes: DisputePolicy,
    refunds: RefundPolicy,
}

impl EventApplier {
    /// An applier writing through `ledger`, re-reading from `stripe` when set.
    pub fn new(
        ledger: Ledger,
        stripe: Option<StripeApi>,
        disputes: DisputePolicy,
        refunds: RefundPolicy,
    ) -> Self {
        Self {
            ledger,
            stripe,
            disputes,
            refunds,
        }
    }

    /// Applies one event's JSON, at most once per `event.id`.
    pub async fn apply(&self, payload: &[u8]) -> Result<Applied, BillingError> {
        let event: Event = serde_json::from_slice(payload)
            .map_err(|e| BillingError::InvalidArgument(format!("not a Stripe event: {e}")))?;
        if !event.id.starts_with("evt_") {
            return Err(BillingError::InvalidArgument(
                "event id must start with evt_".into(),
            ));
        }
        let recognised = Kind::of(&event.kind).is_some();
        let applied = |duplicate| Applied {
            event_id: event.id.clone(),
            event_type: event.kind.clone(),
            duplicate,
            recognised,
        };
        if let Some(user) = self.ledger.applied(&event.id).await? {
            // A first try whose Stripe writes were not all made: this
            // retry makes them.
            if let Some(user) = user {
                self.ledger.flush(user, None, self.stripe.as_ref()).await?;
            }
            self.ledger.replicated().await?;
            metrics::counter!("billing_stripe_events_total", "outcome" => "duplicate").increment(1);
            return Ok(applied(true));
        }
        let step = if recognised {
            self.step(&event).await?
        } else {
            Step::Ignore("unknown_type")
        };
        let first = match step {
            Step::Ignore(why) => {
                if why == "unknown_type" {
                    tracing::info!(event_type = %event.kind, "Stripe event type not handled; acknowledged");
                } else {
                    metrics::counter!("billing_stripe_events_ignored_total", "reason" => why)
                        .increment(1);
                    tracing::info!(event_id = %event.id, event_type = %event.kind, reason = why, "Stripe event ignored");
                }
                let first = self.ledger.mark_event(&event.id, None).await?;
                self.ledger.replicated().await?;
                first
            }
            Step::Change {
                user,
                cause,
                change,
            } => {
                let plans = &self.ledger.terms().plans;
                let outcome = self
                    .ledger
                    .transition(user, &cause, Some(&event.id), |r, now| {
                        Ok(change.apply(r, plans, now, &event.id))
                    })
                    .await?;
                // The Stripe writes it decided, made now (a failure answers
                // 503: Stripe's retry makes them).
                self.ledger
                    .flush(user, outcome.committed(), self.stripe.as_ref())
                    .await?;
                matches!(outcome, Outcome::Applied(_))
            }
        };
        let outcome = match (first, recognised) {
            (false, _) => "duplicate",
            (true, true) => "applied",
            (true, false) => "unknown_type",
        };
        metrics::counter!("billing_stripe_events_total", "outcome" => outcome).increment(1);
        Ok(applied(!first))
    }

    async fn step(&self, event: &Event) -> Result<Step, BillingError> {
        match Kind::of(&event.kind) {
            Some(Kind::Checkout) => self.checkout(event).await,
            Some(Kind::Subscription) => self.subscription(event).await,
            Some(Kind::Invoice) => self.invoice(event).await,
            Some(Kind::Refund) => self.refund(event).await,
            Some(Kind::Dispute) => self.dispute(event).await,
            None => Ok(Step::Ignore("unknown_type")),
        }
    }

    /// A subscription is ours when it sells a plan's price or carries the
    /// metadata billing sets.
    fn ours(&self, view: &SubscriptionView) -> bool {
        let plans = &self.ledger.terms().plans;
        view.price_id
            .as_deref()
            .is_some_and(|p| plans.by_price(p).is_some())
            || view.telegram_user_id.is_some()
            || view.plan_id.is_some()
    }

    async fn user_of(&self, view: &SubscriptionView) -> Result<Option<i64>, BillingError> {
        match view.telegram_user_id {
            Some(u) => Ok(Some(u)),
            None => self.user_for_customer(Some(view.customer.clone())).await,
        }
    }

    async fn user_for_customer(
        &self,
        customer: Option<String>,
    ) -> Result<Option<i64>, BillingError> {
        match customer {
            Some(c) if !c.is_empty() => self.ledger.user_of_customer(&c).await,
            _ => Ok(None),
        }
    }

    /// A customer belongs to the first Telegram user linked to it: an
    /// event that would give it to another (a subscription made in the
    /// dashboard on A's customer with B in its metadata) changes nothing;
    /// it is counted, logged and reported to the admins on the owner's
    /// record.
    async fn claimed_by_another(
        &self,
        user: i64,
        customer: Option<&str>,
        event: &Event,
    ) -> Result<Option<Step>, BillingError> {
        let Some(customer) = customer.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let owner = self.ledger.user_of_customer(customer).await?;
        let Some(owner) = owner.filter(|o| *o != user) else {
            return Ok(None);
        };
        metrics::counter!("billing_customer_conflicts_total").increment(1);
        tracing::warn!(event_id = %event.id, customer, owner, claimed_by = user, "Stripe customer claimed by another Telegram user; refused");
        let detail = format!(
            "{} names Telegram user {user} for customer {customer}, which belongs to user {owner}: refused, nothing changed",
            event.kind
        );
        Ok(Some(Step::Change {
            user: owner,
            cause: Cause::stripe(&event.id),
            change: Box::new(Change::Alert { detail }),
        }))
    }

    /// Reads a subscription from Stripe, stamped with the store's clock
    /// when the read was sent: what comes back is at least that fresh, so
    /// a read sent later (an event's, during a long reconcile, on another
    /// replica) is never overwritten by one sent earlier that happened to
    /// answer later. `None`: Stripe doesn't know it.
    async fn fresh(&self, stripe: &StripeApi, id: &str) -> Result<Option<Observed>, BillingError> {
        let seen_ms = self.ledger.clock_ms().await?;
        match stripe.subscription(id).await {
            Ok(view) => Ok(Some(Observed {
                view,
                seen_ms,
                allow_equal: false,
                charged: None,
            })),
            Err(BillingError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
