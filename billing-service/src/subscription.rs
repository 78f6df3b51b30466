//! Stripe subscriptions in the ledger: each subscription of a user is a
//! source of its own, kept under its id with Stripe's state as last read.
//! An older read never replaces a newer one; what a subscription opens is
//! derived from its status, its period and the grace rules.

use serde::{Deserialize, Serialize};

use crate::entitlement::{Rail, Record, Source, State};
use crate::money::PriceTerms;
use crate::plans::Plans;
use crate::stripe_api::SubscriptionView;

/// One Stripe subscription of the user, as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Sub {
    /// `sub_...`.
    pub id: String,
    /// Stripe's status (`active`, `trialing`, `past_due`, `canceled`, ...).
    pub status: String,
    /// Set to end at the period's end.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// End of the current period (unix seconds).
    #[serde(default)]
    pub period_end: Option<i64>,
    /// The plan it sells.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// When it became past due (the grace period runs from here).
    #[serde(default)]
    pub past_due_since: Option<i64>,
    /// When this view was read (unix milliseconds, the store's clock), or
    /// the event's time for a dry run. Older reads never replace it.
    #[serde(default)]
    pub seen_ms: i64,
    /// When Stripe created it (unix seconds).
    #[serde(default)]
    pub created: i64,
    /// Its payment was refunded, lost in a dispute, or an admin revoked
    /// it: this subscription opens nothing any more, whatever Stripe says
    /// of it later. Other sources stay.
    #[serde(default)]
    pub revoked: bool,
    /// What it charges each period, when known.
    #[serde(default)]
    pub price: Option<PriceTerms>,
    /// What its latest paid invoice charged (smallest unit), for revenue
    /// when the price has no unit amount (tiered, metered).
    #[serde(default)]
    pub charged: Option<i64>,
    /// A second subscription, cancelled and refunded at once: it never
    /// opens anything.
    #[serde(default)]
    pub duplicate: bool,
}

/// Stripe statuses of a subscription that is not over: it may still
/// charge, or be fixed in the portal (a second one is never sold then).
pub fn not_ended(status: &str) -> bool {
    matches!(
        status,
        "active" | "trialing" | "past_due" | "unpaid" | "paused" | "incomplete"
    )
}

impl Sub {
    /// Whether Stripe's status gives access (subject to grace and period).
    pub fn live(status: &str) -> bool {
        matches!(status, "active" | "trialing" | "past_due")
    }

    /// Not revoked and in a live status.
    pub fn is_live(&self) -> bool {
        !self.revoked && !self.duplicate && Self::live(&self.status)
    }

    /// Not revoked and not over at Stripe (live, unpaid, paused, ...).
    pub fn is_open(&self) -> bool {
        !self.revoked && !self.duplicate && not_ended(&self.status)
    }

    /// What this subscription opens at `now`, if anything.
    pub(crate) fn source(&self, now: i64, grace: i64) -> Option<Source<'_>> {
        if self.revoked || self.duplicate {
            return None;
        }
        let (state, renews) = match self.status.as_str() {
            "trialing" | "active" if self.cancel_at_period_end => (State::Canceled, false),
            "trialing" => (State::Trialing, true),
            "active" => (State::Active, true),
            "past_due" => (State::PastDue, true),
            _ => return None,
        };
        let open = match state {
            State::Canceled => self.period_end.is_none_or(|end| now < end),
            State::PastDue => self.past_due_since.is_none_or(|s| now < s + grace),
            // A renewing subscription past its period end is still paid
            // for until Stripe says otherwise (the sweeper asks).
            _ => true,
        };
        open.then_some(Source {
            state,
            until: self.period_end,
            renews,
            plan: self.plan_id.as_deref(),
            created: self.created,
            rail: Rail::Stripe,
        })
    }

    /// When this subscription's access may change without an event.
    pub(crate) fn lapses_at(&self, now: i64, grace: i64, renewal_slack: i64) -> Option<i64> {
        let s = self.source(now, grace)?;
        match s.state {
            State::PastDue => self.past_due_since.map(|since| since + grace),
            // Look again a little after a renewal, in case its webhook
            // never came.
            _ if s.renews => s.until.map(|end| end + renewal_slack),
            _ => s.until,
        }
    }

    /// The subscription as Stripe shows it in `view`, read at `seen_ms`,
    /// following `prev` (the same subscription as kept, if any).
    pub(crate) fn next(
        view: &SubscriptionView,
        prev: Option<&Sub>,
        plans: &Plans,
        seen_ms: i64,
        now: i64,
    ) -> Sub {
        let plan = plans.plan_of_price(view.price_id.as_deref(), view.plan_id.as_deref());
        let past_due_since = match (view.status.as_str(), prev) {
            ("past_due", Some(cur)) if cur.status == "past_due" => cur.past_due_since.or(Some(now)),
            ("past_due", _) => Some(now),
            _ => None,
        };
        Sub {
            id: view.id.clone(),
            status: view.status.clone(),
            cancel_at_period_end: view.cancel_at_period_end,
            period_end: view
                .current_period_end
                .or(prev.and_then(|cur| cur.period_end)),
            plan_id: plan.or(prev.and_then(|cur| cur.plan_id.clone())),
            past_due_since,
            seen_ms,
            created: view.created,
            revoked: prev.is_some_and(|cur| cur.revoked),
            duplicate: prev.is_some_and(|cur| cur.duplicate),
            charged: prev.and_then(|cur| cur.charged),
            price: view
                .price
                .clone()
                .or_else(|| prev.and_then(|cur| cur.price.clone())),
        }
    }

    /// This subscription as ended: what a subscription that existed and
    /// that Stripe no longer knows (deleted for good) amounts to.
    pub fn ended(&self, record: &Record) -> SubscriptionView {
        SubscriptionView {
            id: self.id.clone(),
            customer: record.customer_id.clone().unwrap_or_default(),
            status: "canceled".to_owned(),
            cancel_at_period_end: self.cancel_at_period_end,
            current_period_end: self.period_end,
            price_id: None,
            telegram_user_id: Some(record.user_id),
            plan_id: self.plan_id.clone(),
            created: self.created,
            price: self.price.clone(),
            had_trial: false,
            latest_invoice: None,
        }
    }
}
