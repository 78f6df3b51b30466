//! Applying verified Stripe events to entitlements, each `event.id` once.
//!
//! An event is first turned into a [`Step`]: what it means for which user,
//! with anything Stripe must be asked (or told) done first. Order can't be
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

use serde_json::Value;

use crate::counters::Daily;
use crate::entitlement::{Record, now_ms};
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, Outcome};
use crate::notices::{AccessReason, Notice, NoticeKind};
use crate::payload::{self, Event, id_of, int, str_at, telegram_id};
use crate::plans::Plans;
use crate::purchase::Paid;
use crate::stripe_api::{StripeApi, SubscriptionView};

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

/// Event types billing acts on.
pub const RECOGNISED: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

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

/// The change an event makes, applied to the record inside the commit.
enum Change {
    /// Stripe's view of the user's subscription.
    Observe(Observed),
    /// A dry-run invoice: the user's subscription paid or failed.
    Invoice {
        paid: bool,
        sub: Option<String>,
        seen_ms: i64,
    },
    /// A trial ends soon.
    TrialEnding {
        observed: Option<Observed>,
        until: i64,
        renews: bool,
    },
    /// A payment needs the customer's confirmation.
    ActionRequired {
        observed: Option<Observed>,
        url: String,
        invoice: String,
    },
    /// A refund or a lost dispute ends paid access now.
    EndPaid { observed: Option<Observed> },
    /// A dispute opened: suspend (or only tell the admins).
    Hold {
        dispute: String,
        suspend: bool,
        detail: String,
    },
    /// A dispute closed.
    Unhold {
        dispute: String,
        end: Option<Option<Observed>>,
        detail: String,
    },
    /// Only the customer link.
    Link { customer: String },
    /// A one-time plan was paid.
    Purchase {
        paid: Paid,
        customer: Option<String>,
    },
    /// A one-time payment was refunded in full: its access ends.
    EndPurchase,
}

/// A subscription as read, with when and how strictly it is versioned.
struct Observed {
    view: SubscriptionView,
    seen_ms: i64,
    /// Payload-only (dry run): event times are whole seconds, so an equal
    /// time may be a newer event.
    allow_equal: bool,
}

impl Observed {
    fn apply(&self, r: &mut Record, plans: &Plans, now: i64) {
        r.observe(&self.view, plans, self.seen_ms, self.allow_equal, now);
    }
}

impl Change {
    /// Applies the change; returns the notices it sends besides those the
    /// new view implies (ids derived from the event: a retry makes the same).
    fn apply(&self, r: &mut Record, plans: &Plans, now: i64, event: &str) -> Vec<Notice> {
        let user = r.user_id;
        let note = |kind: NoticeKind, tag: &str| {
            let name = kind
                .as_str_name()
                .trim_start_matches("NOTICE_KIND_")
                .to_ascii_lowercase();
            Notice::new(format!("{user}:{name}:{tag}"), user, kind)
        };
        let observe = |o: &Option<Observed>, r: &mut Record| {
            if let Some(o) = o {
                o.apply(r, plans, now);
            }
        };
        match self {
            Self::Observe(o) => {
                o.apply(r, plans, now);
                Vec::new()
            }
            Self::Invoice { paid, sub, seen_ms } => {
                let Some(cur) = r.subscription.clone() else {
                    return Vec::new();
                };
                if sub.as_ref().is_some_and(|s| *s != cur.id) {
                    return Vec::new();
                }
                let status = match (paid, cur.status.as_str()) {
                    (true, "past_due" | "incomplete" | "trialing") => "active",
                    (false, "active" | "trialing") => "past_due",
                    _ => return Vec::new(),
                };
                let view = SubscriptionView {
                    id: cur.id.clone(),
                    customer: r.customer_id.clone().unwrap_or_default(),
                    status: status.to_owned(),
                    cancel_at_period_end: cur.cancel_at_period_end,
                    current_period_end: cur.period_end,
                    price_id: None,
                    telegram_user_id: Some(user),
                    plan_id: cur.plan_id.clone(),
                    created: cur.created,
                    price: cur.price.clone(),
                };
                r.observe(&view, plans, *seen_ms, true, now);
                Vec::new()
            }
            Self::TrialEnding {
                observed,
                until,
                renews,
            } => {
                observe(observed, r);
                let mut n = note(NoticeKind::TrialEnding, &until.to_string());
                n.access_until = Some(*until);
                n.renews = *renews;
                // A trial that already ended needs no warning.
                if *until > now { vec![n] } else { Vec::new() }
            }
            Self::ActionRequired {
                observed,
                url,
                invoice,
            } => {
                observe(observed, r);
                let mut n = note(NoticeKind::PaymentActionRequired, invoice);
                n.url = url.clone();
                vec![n]
            }
            Self::EndPaid { observed } => {
                observe(observed, r);
                r.end_paid();
                Vec::new()
            }
            Self::Hold {
                dispute,
                suspend,
                detail,
            } => {
                if *suspend {
                    r.suspend(dispute, now);
                }
                let mut n = note(NoticeKind::AdminAlert, event);
                n.detail = detail.clone();
                vec![n]
            }
            Self::Unhold {
                dispute,
                end,
                detail,
            } => {
                r.release(dispute);
                if let Some(observed) = end {
                    observe(observed, r);
                    r.end_paid();
                }
                let mut n = note(NoticeKind::AdminAlert, event);
                n.detail = detail.clone();
                vec![n]
            }
            Self::Link { customer } => {
                r.customer_id = Some(customer.clone());
                Vec::new()
            }
            Self::Purchase { paid, customer } => {
                r.purchase(paid);
                if let Some(c) = customer {
                    r.customer_id = Some(c.clone());
                }
                Vec::new()
            }
            Self::EndPurchase => {
                r.end_purchase();
                Vec::new()
            }
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
        let recognised = RECOGNISED.contains(&event.kind.as_str());
        let applied = |duplicate| Applied {
            event_id: event.id.clone(),
            event_type: event.kind.clone(),
            duplicate,
            recognised,
        };
        if self.ledger.applied(&event.id).await? {
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
                self.ledger.mark_event(&event.id, None).await?
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
        let obj = &event.data.object;
        let cause = Cause::stripe(&event.id);
        let change = |user: i64, change: Change| Step::Change {
            user,
            cause: cause.clone(),
            change: Box::new(change),
        };
        Ok(match event.kind.as_str() {
            "checkout.session.completed"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed" => {
                // Only sessions billing made: they carry our metadata (a
                // client_reference_id alone may be another product's).
                let Some(user) = telegram_id(str_at(obj, &["metadata", "telegram_user_id"])) else {
                    return Ok(Step::Ignore("other_product"));
                };
                let customer = id_of(obj.get("customer"));
                match str_at(obj, &["mode"]) {
                    Some("payment") => return Ok(self.one_time(event, user, customer)),
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
                    (Some(stripe), Some(sub)) => {
                        completed(Change::Observe(fresh(stripe, sub).await?))
                    }
                    _ => match dry_checkout(obj, event, user, subscription) {
                        Some(o) => completed(Change::Observe(o)),
                        None => match customer {
                            Some(customer) => change(user, Change::Link { customer }),
                            None => Step::Ignore("unpaid"),
                        },
                    },
                }
            }
            kind if kind.starts_with("customer.subscription.") => {
                let Some(shown) = payload::subscription(obj) else {
                    return Err(BillingError::InvalidArgument(
                        "subscription event without an id".into(),
                    ));
                };
                if !self.ours(&shown) {
                    return Ok(Step::Ignore("other_product"));
                }
                let observed = self.truth(shown, event.created).await?;
                let Some(user) = self.user_of(&observed.view).await? else {
                    tracing::warn!(event_id = %event.id, "subscription of an unknown user; reconcile will pick it up");
                    return Ok(Step::Ignore("unknown_user"));
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
                    change(user, Change::Observe(observed))
                }
            }
            "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
                let Some(user) = self.user_for_customer(id_of(obj.get("customer"))).await? else {
                    return Ok(Step::Ignore("unknown_customer"));
                };
                let sub = payload::invoice_subscription(obj);
                let observed = match (&self.stripe, &sub) {
                    (Some(stripe), Some(sub)) => {
                        let o = fresh(stripe, sub).await?;
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
                        Some(o) => change(user, Change::Observe(o)),
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
            }
            "charge.refunded" => {
                let Some(user) = self.user_for_customer(id_of(obj.get("customer"))).await? else {
                    return Ok(Step::Ignore("unknown_customer"));
                };
                let (amount, refunded) = (int(obj, "amount"), int(obj, "amount_refunded"));
                if refunded < amount || amount <= 0 {
                    return Ok(Step::Ignore("partial_refund"));
                }
                if self.refunds == RefundPolicy::Keep {
                    return Ok(Step::Ignore("refund_kept"));
                }
                // A refunded one-time payment ends that purchase only.
                if let Some(intent) = id_of(obj.get("payment_intent"))
                    && self.ledger.read(user).await?.1.paid_purchase_with(&intent)
                {
                    return Ok(Step::Change {
                        user,
                        cause: cause.clone().ending(AccessReason::Refunded),
                        change: Box::new(Change::EndPurchase),
                    });
                }
                let observed = self.cancel_now(user).await?;
                Step::Change {
                    user,
                    cause: cause.clone().ending(AccessReason::Refunded),
                    change: Box::new(Change::EndPaid { observed }),
                }
            }
            "charge.dispute.created" | "charge.dispute.closed" => {
                let dispute = id_of(obj.get("id")).unwrap_or_default();
                let Some(user) = self.user_of_dispute(obj).await? else {
                    return Ok(Step::Ignore("unknown_customer"));
                };
                let status = str_at(obj, &["status"]).unwrap_or_default();
                let detail = format!(
                    "dispute {dispute} ({}) of {} {}: {status}, reason {}",
                    if event.kind.ends_with("created") {
                        "opened"
                    } else {
                        "closed"
                    },
                    int(obj, "amount"),
                    str_at(obj, &["currency"]).unwrap_or_default(),
                    str_at(obj, &["reason"]).unwrap_or("unknown"),
                );
                let suspend = self.disputes == DisputePolicy::Suspend;
                if event.kind == "charge.dispute.created" {
                    change(
                        user,
                        Change::Hold {
                            dispute,
                            suspend,
                            detail,
                        },
                    )
                } else {
                    let end = if suspend && status == "lost" {
                        Some(self.cancel_now(user).await?)
                    } else {
                        None
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
            }
            _ => Step::Ignore("unknown_type"),
        })
    }

    /// A one-time plan's session: paid now (card), or later (a bank
    /// payment: `async_payment_succeeded`). Access starts at the event's
    /// time (Stripe's clock), so a late or repeated delivery grants the
    /// same period.
    fn one_time(&self, event: &Event, user: i64, customer: Option<String>) -> Step {
        let obj = &event.data.object;
        let paid = match event.kind.as_str() {
            "checkout.session.async_payment_failed" => return Step::Ignore("payment_failed"),
            "checkout.session.async_payment_succeeded" => true,
            _ => str_at(obj, &["payment_status"]) == Some("paid"),
        };
        let cause = Cause::stripe(&event.id);
        let (Some(session), true) = (id_of(obj.get("id")), paid) else {
            // Paid later, if at all: only the customer is known so far.
            return match customer {
                Some(customer) => Step::Change {
                    user,
                    cause,
                    change: Box::new(Change::Link { customer }),
                },
                None => Step::Ignore("unpaid"),
            };
        };
        let plans = &self.ledger.terms().plans;
        let plan_id = str_at(obj, &["metadata", "plan_id"])
            .unwrap_or_default()
            .to_owned();
        // The days bought are the session's (in its metadata), not what
        // the plans file says today.
        let days = match str_at(obj, &["metadata", "duration_days"]) {
            Some(d) => d.parse::<u32>().ok().filter(|d| *d > 0),
            None => plans.get(&plan_id).and_then(|p| p.duration_days),
        };
        Step::Change {
            user,
            cause: cause.counting(Daily::CheckoutCompleted),
            change: Box::new(Change::Purchase {
                paid: Paid {
                    plan_id,
                    days,
                    session,
                    payment_intent: id_of(obj.get("payment_intent")),
                    paid_at: event.created,
                },
                customer,
            }),
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

    /// Stripe's current view of a subscription when configured, else the
    /// payload (versioned by the event's time).
    async fn truth(&self, shown: SubscriptionView, created: i64) -> Result<Observed, BillingError> {
        let Some(stripe) = &self.stripe else {
            return Ok(Observed {
                view: shown,
                seen_ms: created * 1000,
                allow_equal: true,
            });
        };
        match fresh(stripe, &shown.id).await {
            Ok(o) => Ok(o),
            // Deleted for good: the payload is the last word.
            Err(BillingError::NotFound(_)) => Ok(Observed {
                view: shown,
                seen_ms: now_ms(),
                allow_equal: false,
            }),
            Err(e) => Err(e),
        }
    }

    /// Cancels the user's live subscription at Stripe now (a refund or a
    /// lost dispute), returning Stripe's view of it after.
    async fn cancel_now(&self, user: i64) -> Result<Option<Observed>, BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        let (Some(stripe), Some(sub)) = (&self.stripe, record.subscription.as_ref()) else {
            return Ok(None);
        };
        if !matches!(sub.status.as_str(), "active" | "trialing" | "past_due") {
            return Ok(None);
        }
        let seen_ms = now_ms();
        let view = stripe.cancel_now(&sub.id).await?;
        Ok(Some(Observed {
            view,
            seen_ms,
            allow_equal: false,
        }))
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

    /// The user a dispute's charge belongs to: the charge is read from
    /// Stripe (a dispute names only the charge), or taken from the payload
    /// when it is expanded there.
    async fn user_of_dispute(&self, dispute: &Value) -> Result<Option<i64>, BillingError> {
        let customer = match (dispute.get("charge"), &self.stripe) {
            (Some(Value::Object(charge)), _) => charge.get("customer").and_then(|c| id_of(Some(c))),
            (Some(Value::String(id)), Some(stripe)) => stripe.charge(id).await?.customer,
            _ => None,
        };
        self.user_for_customer(customer).await
    }
}

/// Reads a subscription from Stripe, stamped with when the read was sent:
/// what comes back is at least that fresh, so a read sent later (an
/// event's, during a long reconcile) is never overwritten by one sent
/// earlier that happened to answer later.
async fn fresh(stripe: &StripeApi, id: &str) -> Result<Observed, BillingError> {
    let seen_ms = now_ms();
    let view = stripe.subscription(id).await?;
    Ok(Observed {
        view,
        seen_ms,
        allow_equal: false,
    })
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
    };
    Some(Observed {
        view,
        seen_ms: event.created * 1000,
        allow_equal: true,
    })
}
