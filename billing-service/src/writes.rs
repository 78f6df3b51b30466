//! Writes to the payment providers that a transition decides (cancel a
//! Stripe subscription, refund a payment, stop or resume a Telegram Stars
//! subscription's renewals, refund a Stars payment): kept in the ledger record by the very commit that
//! decides them, made right after it under one idempotency key each, and
//! removed by a commit once Stripe confirms them. A failure anywhere after
//! the decision (Stripe away, a store fault, a caller gone) leaves the write
//! pending, and whoever looks at the user next makes it: the sender's
//! retry (an event's "applied" mark names its user), the next admin call,
//! or the sweeper, which the commit schedules a minute ahead. An answer
//! saying the write is done already (the subscription is gone, the charge
//! refunded) counts as done once a re-read confirms it, so a retry never
//! turns a completed write into a failure.

use mesh_proto::billing::v1::ChangeCause;
use serde::{Deserialize, Serialize};

use crate::entitlement::Record;
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger};
use crate::stripe_api::{StripeApi, SubscriptionView};

/// One write to Stripe or Telegram the ledger decided and the provider has
/// not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum PaymentWrite {
    /// Cancel a subscription now (a refund or lost dispute of its payment,
    /// a second subscription, an admin's revocation).
    Cancel {
        /// `sub_...`.
        subscription: String,
    },
    /// Refund a payment in full (a second subscription's first payment).
    Refund {
        /// `pi_...`.
        payment_intent: String,
    },
    /// The user's own request: a subscription set to end at its period's
    /// end (`cancel`), or to renew again.
    Renewal {
        /// `sub_...`.
        subscription: String,
        /// Cancel at period end (true) or resume (false).
        cancel: bool,
        /// The request's idempotency key.
        key: String,
        /// Who asked (`telegram:<id>`).
        actor: String,
    },
    /// `editUserStarSubscription`: a Stars subscription set not to renew
    /// (`cancel`), or to renew again.
    StarsRenewal {
        /// The subscription's first `telegram_payment_charge_id`.
        charge: String,
        /// Stop (true) or resume (false) renewals.
        cancel: bool,
        /// Who asked (`telegram:<id>`, or `system`).
        actor: String,
    },
    /// `refundStarPayment`.
    StarsRefund {
        /// `telegram_payment_charge_id`.
        charge: String,
    },
}

/// How soon the sweeper looks at a user whose writes are pending.
pub const RETRY_SECS: i64 = 60;

impl Ledger {
    /// Makes `user`'s pending writes, each then removed (with what the
    /// provider answered observed) in a commit of its own. `known` is the
    /// record as just committed, when the caller has it (nothing pending:
    /// nothing to read). A write whose provider is not configured stays
    /// pending (nothing decides one without it).
    pub async fn flush(
        &self,
        user: i64,
        known: Option<&Record>,
        stripe: Option<&StripeApi>,
    ) -> Result<(), BillingError> {
        if known.is_some_and(|r| r.pending.is_empty()) {
            return Ok(());
        }
        let (_, record) = self.read(user).await?;
        for write in &record.pending {
            let seen = self.clock_ms().await?;
            let Some(answer) = self.make(user, write, &record, stripe).await? else {
                continue;
            };
            let plans = &self.terms().plans;
            // The user who cancelled or resumed is answered in the bot: the
            // change keeps their cause, so no notice repeats it.
            let cause = match write {
                PaymentWrite::Renewal { cancel, actor, .. }
                | PaymentWrite::StarsRenewal { cancel, actor, .. }
                    if actor != "system" =>
                {
                    let (kind, reason) = if *cancel {
                        (ChangeCause::CancelRequest, "cancelled by the user")
                    } else {
                        (ChangeCause::ResumeRequest, "resumed by the user")
                    };
                    Cause::new(kind, actor, reason)
                }
                _ => Cause::system(ChangeCause::StripeEvent, "stripe write confirmed"),
            };
            self.transition(user, &cause, None, |r, now| {
                if let Some(view) = &answer {
                    r.observe(view, plans, seen, false, now);
                }
                // Telegram confirmed: the subscription renews, or not.
                if let PaymentWrite::StarsRenewal { charge, cancel, .. } = write
                    && let Some(sub) = r.stars.iter_mut().find(|s| s.charge == *charge)
                {
                    sub.canceled = *cancel;
                }
                r.pending.retain(|p| p != write);
                Ok(Vec::new())
            })
            .await?;
        }
        Ok(())
    }
}

impl Ledger {
    /// Makes one write at its provider: `None` when that provider is not
    /// configured (the write stays pending), else Stripe's view of the
    /// subscription when the write returns one.
    async fn make(
        &self,
        user: i64,
        write: &PaymentWrite,
        record: &Record,
        stripe: Option<&StripeApi>,
    ) -> Result<Option<Option<SubscriptionView>>, BillingError> {
        if let PaymentWrite::StarsRenewal { charge, cancel, .. } = write {
            let Some(api) = self.stars() else {
                return Ok(None);
            };
            api.set_renewal(user, charge, *cancel).await?;
            return Ok(Some(None));
        }
        if let PaymentWrite::StarsRefund { charge } = write {
            let Some(api) = self.stars() else {
                return Ok(None);
            };
            api.refund(user, charge).await?;
            return Ok(Some(None));
        }
        let Some(stripe) = stripe else {
            return Ok(None);
        };
        Ok(Some(match write {
            PaymentWrite::Cancel { subscription } => match stripe.cancel_now(subscription).await {
                Ok(view) => Some(view),
                // Gone at Stripe: ended, as far as the ledger goes.
                Err(BillingError::NotFound(_)) => record.sub(subscription).map(|s| s.ended(record)),
                Err(e) => return Err(e),
            },
            PaymentWrite::Refund { payment_intent } => {
                stripe.refund_payment(payment_intent).await?;
                None
            }
            PaymentWrite::Renewal {
                subscription,
                cancel,
                key,
                ..
            } => Some(
                stripe
                    .set_cancel_at_period_end(subscription, *cancel, key)
                    .await?,
            ),
            PaymentWrite::StarsRenewal { .. } | PaymentWrite::StarsRefund { .. } => None,
        }))
    }
}
