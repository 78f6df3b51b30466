//! Invoice events: the subscription an invoice belongs to, read again (a
//! subscription Stripe doesn't know grants nothing).

use serde_json::Value;

use super::change::Change;
use super::{EventApplier, Step};
use crate::error::BillingError;
use crate::ledger::Cause;
use crate::payload::{self, Event, id_of, str_at};

impl EventApplier {
    /// An invoice paid, failed or waiting for the customer's
    /// confirmation: the subscription it belongs to, read again.
    pub(super) async fn invoice(&self, event: &Event) -> Result<Step, BillingError> {
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::of(user, &cause, change);
        Ok({
            let Some(user) = self.user_for_customer(id_of(obj.get("customer"))).await? else {
                return Ok(Step::Ignore("unknown_customer"));
            };
            let sub = payload::invoice_subscription(obj);
            let observed = match (&self.stripe, &sub) {
                (Some(stripe), Some(sub)) => {
                    // An invoice of a subscription Stripe doesn't know
                    // grants nothing, whoever delivered it.
                    let Some(o) = self.fresh(stripe, sub).await? else {
                        return Ok(Step::Ignore("unknown_to_stripe"));
                    };
                    if !self.ours(&o.view) {
                        return Ok(Step::Ignore("other_product"));
                    }
                    Some(o)
                }
                _ => None,
            };
            if event.kind == "invoice.payment_action_required" {
                let url = str_at(obj, &["hosted_invoice_url"])
                    .unwrap_or_default()
                    .to_owned();
                let invoice = id_of(obj.get("id")).unwrap_or_else(|| event.id.clone());
                change(
                    user,
                    Change::ActionRequired {
                        observed,
                        url,
                        invoice,
                    },
                )
            } else {
                match observed {
                    Some(mut o) => {
                        if event.kind == "invoice.paid" {
                            o.charged = obj
                                .get("amount_paid")
                                .and_then(Value::as_i64)
                                .filter(|a| *a > 0);
                        }
                        change(user, self.observed(user, o).await?)
                    }
                    None => change(
                        user,
                        Change::Invoice {
                            paid: event.kind == "invoice.paid",
                            sub,
                            seen_ms: event.created * 1000,
                        },
                    ),
                }
            }
        })
    }
}
