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
use crate::entitlement::{Paying, Record};
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, Outcome};
use crate::notices::{AccessReason, Notice, NoticeKind};
use crate::payload::{self, Event, id_of, int, str_at, telegram_id};
use crate::plans::Plans;
use crate::purchase::Paid;
use crate::stripe_api::{ChargeView, StripeApi, SubscriptionView};

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
    /// A refund ends what its payment bought, now.
    EndPaid {
        observed: Option<Observed>,
        paying: Paying,
    },
    /// A dispute opened: hold back what its payment bought (or only tell
    /// the admins).
    Hold {
        dispute: String,
        suspend: Option<Paying>,
        detail: String,
    },
    /// A dispute closed; lost (under the suspend policy), what its payment
    /// bought ends.
    Unhold {
        dispute: String,
        end: Option<(Paying, Option<Observed>)>,
        detail: String,
    },
    /// A second subscription completed while one was open: it was
    /// cancelled at Stripe and its payment refunded; the user and the
    /// admins are told.
    Duplicate(Box<Duplicate>),
    /// Nothing changes; the admins are told (a payment the ledger can't
    /// place, a customer claimed by another user).
    Alert { detail: String },
    /// Only the customer link.
    Link { customer: String },
    /// A one-time plan was paid.
    Purchase {
        paid: Paid,
        customer: Option<String>,
    },
}

/// A second subscription, cancelled and refunded (with the observation
/// that found it).
struct Duplicate {
    observed: Observed,
    cancelled: Observed,
    kept: String,
    refunded: Option<String>,
}

/// A subscription as read, with when and how strictly it is versioned.
struct Observed {
    view: SubscriptionView,
    seen_ms: i64,
    /// Payload-only (dry run): event times are whole seconds, so an equal
    /// time may be a newer event.
    allow_equal: bool,
    /// What a paid invoice of it charged (revenue of tiered prices).
    charged: Option<i64>,
}

impl Observed {
    fn apply(&self, r: &mut Record, plans: &Plans, now: i64) {
        r.observe(&self.view, plans, self.seen_ms, self.allow_equal, now);
        if let Some(amount) = self.charged {
            r.charged(&self.view.id, amount);
        }
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
                let cur = match sub {
                    Some(id) => r.sub(id).cloned(),
                    None => r.current_sub().cloned(),
                };
                let Some(cur) = cur else {
                    return Vec::new();
                };
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
                    had_trial: false,
                    latest_invoice: None,
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
            Self::EndPaid { observed, paying } => {
                observe(observed, r);
                r.end_paid(paying);
                Vec::new()
            }
            Self::Hold {
                dispute,
                suspend,
                detail,
            } => {
                if let Some(paying) = suspend {
                    r.suspend(dispute, paying.clone(), now);
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
                let held = r.release(dispute);
                if let Some((paying, observed)) = end {
                    observe(observed, r);
                    r.end_paid(&held.unwrap_or_else(|| paying.clone()));
                }
                let mut n = note(NoticeKind::AdminAlert, event);
                n.detail = detail.clone();
                vec![n]
            }
            Self::Duplicate(d) => {
                let Duplicate {
                    observed,
                    cancelled,
                    kept,
                    refunded,
                } = d.as_ref();
                observed.apply(r, plans, now);
                cancelled.apply(r, plans, now);
                let sub = &cancelled.view.id;
                r.mark_duplicate(sub);
                let mut alert = note(NoticeKind::AdminAlert, &format!("duplicate-{sub}"));
                alert.detail = format!(
                    "a second subscription {sub} completed while {kept} was open: cancelled at Stripe, {}",
                    refunded
                        .as_ref()
                        .map_or("nothing was paid".to_owned(), |pi| format!(
                            "payment {pi} refunded"
                        ))
                );
                vec![note(NoticeKind::DuplicateRefunded, sub), alert]
            }
            Self::Alert { detail } => {
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
                if let (Some(c), None) = (customer, &r.customer_id) {
                    r.customer_id = Some(c.clone());
                }
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
            }
            "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
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
            }
            "charge.refunded" => {
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
                let observed = self.cancel_now(user, &paying).await?;
                Step::Change {
                    user,
                    cause: cause.clone().ending(AccessReason::Refunded),
                    change: Box::new(Change::EndPaid { observed, paying }),
                }
            }
            "charge.dispute.created" | "charge.dispute.closed" => {
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
                            let observed = self.cancel_now(user, &paying).await?;
                            Some((paying, observed))
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
            }
            _ => Step::Ignore("unknown_type"),
        })
    }

    /// Stripe's view of one of the user's subscriptions, to observe; and
    /// when the user now has a second subscription (one created while an
    /// older one was open: paid in another tab), the second is cancelled at
    /// Stripe at once and its first payment refunded; the first stands.
    /// Whichever of the two reports first, the newer is the one cancelled.
    /// Both writes are idempotent and a repeat counts as done, so a retry
    /// after a failed commit makes each once, and tells the user once.
    async fn observed(&self, user: i64, o: Observed) -> Result<Change, BillingError> {
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
        let seen_ms = self.ledger.clock_ms().await?;
        let (view, invoice) = match stripe.cancel_now(&second).await {
            Ok(view) => {
                let invoice = view.latest_invoice.clone();
                (view, invoice)
            }
            Err(BillingError::NotFound(_)) if second == o.view.id => {
                let mut view = o.view.clone();
                view.status = "canceled".to_owned();
                (view, o.view.latest_invoice.clone())
            }
            Err(e) => return Err(e),
        };
        let refunded = match &invoice {
            Some(invoice) => stripe.payment_of_invoice(invoice).await?,
            None => None,
        };
        if let Some(intent) = &refunded {
            stripe.refund_payment(intent).await?;
        }
        metrics::counter!("billing_duplicate_subscriptions_total").increment(1);
        Ok(Change::Duplicate(Box::new(Duplicate {
            observed: o,
            cancelled: Observed {
                view,
                seen_ms,
                allow_equal: false,
                charged: None,
            },
            kept,
            refunded,
        })))
    }

    /// A one-time plan's session: paid now (card), or later (a bank
    /// payment: `async_payment_succeeded`). With Stripe configured the
    /// session is read from Stripe, and only what Stripe says was paid,
    /// with the metadata billing gave it, grants anything. Access starts
    /// at the event's time (Stripe's clock), so a late or repeated
    /// delivery grants the same period.
    async fn one_time(
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
                },
                customer,
            }),
        })
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
    /// payload (versioned by the event's time). `None`: Stripe doesn't know
    /// it and the user's ledger never had it (it grants nothing); one the
    /// ledger had and Stripe no longer knows is gone (ended).
    async fn truth(
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
    async fn gone(&self, user: i64, id: &str) -> Result<Option<Observed>, BillingError> {
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

    /// Cancels at Stripe, now, the subscription `paying` names when it is
    /// not over (a refund or a lost dispute of its payment), returning
    /// Stripe's view of it after. A cancel done before (this delivery's
    /// earlier try) counts as done.
    async fn cancel_now(
        &self,
        user: i64,
        paying: &Paying,
    ) -> Result<Option<Observed>, BillingError> {
        let (Some(stripe), Paying::Subscription(id)) = (&self.stripe, paying) else {
            return Ok(None);
        };
        let (_, record) = self.ledger.read(user).await?;
        if !record.sub(id).is_some_and(|s| s.is_open()) {
            return Ok(None);
        }
        let seen_ms = self.ledger.clock_ms().await?;
        match stripe.cancel_now(id).await {
            Ok(view) => Ok(Some(Observed {
                view,
                seen_ms,
                allow_equal: false,
                charged: None,
            })),
            Err(BillingError::NotFound(_)) => self.gone(user, id).await,
            Err(e) => Err(e),
        }
    }

    /// What the payment of `charge` bought in the user's ledger: a one-time
    /// purchase (by its payment intent) or a subscription (the invoice the
    /// payment paid, asked of Stripe). `None` when it bought nothing the
    /// ledger holds (another product's charge, a subscription long gone).
    async fn paying_for(
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
    fn dry_paying(&self, record: &Record) -> Option<Paying> {
        if self.stripe.is_some() {
            return None;
        }
        record
            .current_sub()
            .map(|s| Paying::Subscription(s.id.clone()))
    }

    /// A refunded charge: as Stripe has it when configured (a payload's
    /// amounts are not proof), else as the payload shows it.
    async fn charge(&self, obj: &Value) -> Result<ChargeView, BillingError> {
        let payload = charge_of_payload(obj);
        match (&self.stripe, payload.id.is_empty()) {
            (Some(stripe), false) => stripe.charge(&payload.id).await,
            _ => Ok(payload),
        }
    }

    /// The charge a dispute is about: read from Stripe (a dispute names
    /// only the charge), or taken from the payload when it is expanded
    /// there.
    async fn disputed_charge(&self, dispute: &Value) -> Result<Option<ChargeView>, BillingError> {
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
