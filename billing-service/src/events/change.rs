//! What an event changes in a user's ledger: computed before the commit
//! (with anything Stripe had to be asked), applied to the record inside it,
//! with the notices it sends besides those the new view implies.

use crate::entitlement::{Paying, Record};
use crate::notices::{Notice, NoticeKind};
use crate::plans::Plans;
use crate::purchase::Paid;
use crate::stripe_api::SubscriptionView;
use crate::writes::PaymentWrite;

/// The change an event makes, applied to the record inside the commit.
pub(super) enum Change {
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
    /// A refund ends what its payment bought, now; with `cancel`, its
    /// subscription's cancellation at Stripe is decided too.
    EndPaid { paying: Paying, cancel: bool },
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
        end: Option<(Paying, bool)>,
        detail: String,
    },
    /// A second subscription completed while one was open: its
    /// cancellation and its first payment's refund are decided; the user
    /// and the admins are told.
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

/// A second subscription to cancel and refund (with the observation that
/// found it).
pub(super) struct Duplicate {
    pub(super) observed: Observed,
    /// The second subscription.
    pub(super) second: String,
    /// The one that stands.
    pub(super) kept: String,
    /// Its first payment, when it was paid.
    pub(super) refund: Option<String>,
}

/// A subscription as read, with when and how strictly it is versioned.
pub(super) struct Observed {
    pub(super) view: SubscriptionView,
    pub(super) seen_ms: i64,
    /// Payload-only (dry run): event times are whole seconds, so an equal
    /// time may be a newer event.
    pub(super) allow_equal: bool,
    /// What a paid invoice of it charged (revenue of tiered prices).
    pub(super) charged: Option<i64>,
}

impl Observed {
    pub(super) fn apply(&self, r: &mut Record, plans: &Plans, now: i64) {
        r.observe(&self.view, plans, self.seen_ms, self.allow_equal, now);
        if let Some(amount) = self.charged {
            r.charged(&self.view.id, amount);
        }
    }
}

impl Change {
    /// Applies the change; returns the notices it sends besides those the
    /// new view implies (ids derived from the event: a retry makes the same).
    pub(super) fn apply(
        &self,
        r: &mut Record,
        plans: &Plans,
        now: i64,
        event: &str,
    ) -> Vec<Notice> {
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
            Self::EndPaid { paying, cancel } => {
                if *cancel {
                    r.decide_cancel(paying);
                }
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
                if let Some((paying, cancel)) = end {
                    let paying = held.unwrap_or_else(|| paying.clone());
                    if *cancel {
                        r.decide_cancel(&paying);
                    }
                    r.end_paid(&paying);
                }
                let mut n = note(NoticeKind::AdminAlert, event);
                n.detail = detail.clone();
                vec![n]
            }
            Self::Duplicate(d) => {
                let Duplicate {
                    observed,
                    second,
                    kept,
                    refund,
                } = d.as_ref();
                observed.apply(r, plans, now);
                let sub = second;
                r.mark_duplicate(sub);
                r.decide(PaymentWrite::Cancel {
                    subscription: sub.clone(),
                });
                if let Some(pi) = refund {
                    r.decide(PaymentWrite::Refund {
                        payment_intent: pi.clone(),
                    });
                }
                let refunded = refund;
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
