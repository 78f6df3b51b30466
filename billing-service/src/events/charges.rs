//! Refunds and disputes: what the payment of a charge bought, found in the
//! ledger (a purchase by its payment intent, a subscription through the
//! invoice it paid), ended or held back alone.

use serde_json::Value;

use super::change::Change;
use super::{DisputePolicy, EventApplier, RefundPolicy, Step};
use crate::entitlement::{Paying, Record};
use crate::error::BillingError;
use crate::ledger::Cause;
use crate::notices::AccessReason;
use crate::payload::{Event, id_of, int, str_at};
use crate::stripe_api::ChargeView;

impl EventApplier {
    /// A charge refunded: in full, what its payment bought ends (by
    /// `BILLING_REFUND_POLICY`).
    pub(super) async fn refund(&self, event: &Event) -> Result<Step, BillingError> {
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::of(user, &cause, change);
        Ok({
            let charge = self.charge(obj).await?;
            let Some(user) = self.user_for_customer(charge.customer.clone()).await? else {
                return Ok(Step::Ignore("unknown_customer"));
            };
            if charge.amount_refunded < charge.amount || charge.amount <= 0 {
                return Ok(Step::Ignore("partial_refund"));
            }
            if self.refunds == RefundPolicy::Keep {
                return Ok(Step::Ignore("refund_kept"));
            }
            let Some(paying) = self.paying_for(user, &charge).await? else {
                let detail = format!(
                    "refund of {} ({} {}): it paid for nothing this user's access rests on; access unchanged",
                    charge.id, charge.amount, charge.currency
                );
                return Ok(change(user, Change::Alert { detail }));
            };
            Step::Change {
                user,
                cause: cause.clone().ending(AccessReason::Refunded),
                change: Box::new(Change::EndPaid {
                    paying,
                    cancel: self.stripe.is_some(),
                }),
            }
        })
    }

    /// A dispute opened or closed: what the disputed payment bought is
    /// held back, and ends when the dispute is lost (by
    /// `BILLING_DISPUTE_POLICY`).
    pub(super) async fn dispute(&self, event: &Event) -> Result<Step, BillingError> {
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::of(user, &cause, change);
        Ok({
            let dispute = id_of(obj.get("id")).unwrap_or_default();
            let Some(charge) = self.disputed_charge(obj).await? else {
                return Ok(Step::Ignore("unknown_customer"));
            };
            let Some(user) = self.user_for_customer(charge.customer.clone()).await? else {
                return Ok(Step::Ignore("unknown_customer"));
            };
            let paying = self.paying_for(user, &charge).await?;
            let status = str_at(obj, &["status"]).unwrap_or_default();
            let detail = format!(
                "dispute {dispute} ({}) of {} {}: {status}, reason {}{}",
                if event.kind.ends_with("created") {
                    "opened"
                } else {
                    "closed"
                },
                int(obj, "amount"),
                str_at(obj, &["currency"]).unwrap_or_default(),
                str_at(obj, &["reason"]).unwrap_or("unknown"),
                if paying.is_none() {
                    "; the charge paid for nothing this user's access rests on"
                } else {
                    ""
                },
            );
            let suspend = self.disputes == DisputePolicy::Suspend;
            if event.kind == "charge.dispute.created" {
                change(
                    user,
                    Change::Hold {
                        dispute,
                        suspend: paying.filter(|_| suspend),
                        detail,
                    },
                )
            } else {
                let end = match paying {
                    Some(paying) if suspend && status == "lost" => {
                        Some((paying, self.stripe.is_some()))
                    }
                    _ => None,
                };
                Step::Change {
                    user,
                    cause: cause.clone().ending(AccessReason::Disputed),
                    change: Box::new(Change::Unhold {
                        dispute,
                        end,
                        detail,
                    }),
                }
            }
        })
    }

    /// What the payment of `charge` bought in the user's ledger: a one-time
    /// purchase (by its payment intent) or a subscription (the invoice the
    /// payment paid, asked of Stripe). `None` when it bought nothing the
    /// ledger holds (another product's charge, a subscription long gone).
    pub(super) async fn paying_for(
        &self,
        user: i64,
        charge: &ChargeView,
    ) -> Result<Option<Paying>, BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        let Some(intent) = &charge.payment_intent else {
            return Ok(self.dry_paying(&record));
        };
        if record.purchase_paid_with(intent).is_some() {
            return Ok(Some(Paying::Purchase(intent.clone())));
        }
        let Some(stripe) = &self.stripe else {
            return Ok(self.dry_paying(&record));
        };
        Ok(stripe
            .subscription_of_payment(intent)
            .await?
            .filter(|sub| record.sub(sub).is_some())
            .map(Paying::Subscription))
    }

    /// A dry run can't ask which invoice a charge paid: the subscription
    /// that speaks for the user stands for it.
    pub(super) fn dry_paying(&self, record: &Record) -> Option<Paying> {
        if self.stripe.is_some() {
            return None;
        }
        record
            .current_sub()
            .map(|s| Paying::Subscription(s.id.clone()))
    }

    /// A refunded charge: as Stripe has it when configured (a payload's
    /// amounts are not proof), else as the payload shows it.
    pub(super) async fn charge(&self, obj: &Value) -> Result<ChargeView, BillingError> {
        let payload = charge_of_payload(obj);
        match (&self.stripe, payload.id.is_empty()) {
            (Some(stripe), false) => stripe.charge(&payload.id).await,
            _ => Ok(payload),
        }
    }

    /// The charge a dispute is about: read from Stripe (a dispute names
    /// only the charge), or taken from the payload when it is expanded
    /// there.
    pub(super) async fn disputed_charge(
        &self,
        dispute: &Value,
    ) -> Result<Option<ChargeView>, BillingError> {
        Ok(match (dispute.get("charge"), &self.stripe) {
            (Some(Value::String(id)), Some(stripe)) => Some(stripe.charge(id).await?),
            (Some(Value::Object(_)), Some(stripe)) => match id_of(dispute.get("charge")) {
                Some(id) => Some(stripe.charge(&id).await?),
                None => None,
            },
            (Some(charge @ Value::Object(_)), None) => Some(charge_of_payload(charge)),
            _ => None,
        })
    }
}

/// A charge as a payload shows it.
fn charge_of_payload(obj: &Value) -> ChargeView {
    ChargeView {
        id: id_of(obj.get("id")).unwrap_or_default(),
        customer: id_of(obj.get("customer")),
        amount: int(obj, "amount"),
        amount_refunded: int(obj, "amount_refunded"),
        currency: str_at(obj, &["currency"]).unwrap_or_default().to_owned(),
        payment_intent: id_of(obj.get("payment_intent")),
    }
}
