//! The entitlement projection: where one Telegram user stands.
//!
//! A small state machine fed by Stripe's subscription states and by admins:
//!
//! ```text
//! none -> trialing | active          (checkout completed / subscription created / grant)
//! active <-> past_due                (renewal failed / invoice paid)
//! active -> canceled                 (cancel at period end; access until then)
//! any -> expired                     (deleted, unpaid, grace over, period over, revoked)
//! ```

use mesh_proto::Timestamp;
use mesh_proto::billing::v1::{Entitlement, EntitlementState};
use serde::{Deserialize, Serialize};

use crate::plans::PlanSpec;
use crate::stripe_api::SubscriptionView;

/// The state of a user's access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Never subscribed.
    #[default]
    None,
    /// In a free trial.
    Trialing,
    /// Paid and current (or granted).
    Active,
    /// A renewal failed; access continues through the grace period.
    PastDue,
    /// Will not renew; access lasts until the period ends.
    Canceled,
    /// Access has ended.
    Expired,
}

impl State {
    /// The state for a Stripe subscription `status`.
    pub fn from_stripe(status: &str, cancel_at_period_end: bool) -> Self {
        match status {
            "trialing" if cancel_at_period_end => Self::Canceled,
            "trialing" => Self::Trialing,
            "active" if cancel_at_period_end => Self::Canceled,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" | "unpaid" | "incomplete_expired" | "paused" => Self::Expired,
            // "incomplete": the first payment has not succeeded yet.
            _ => Self::None,
        }
    }

    /// The API's enum.
    pub fn to_proto(self) -> EntitlementState {
        match self {
            Self::None => EntitlementState::None,
            Self::Trialing => EntitlementState::Trialing,
            Self::Active => EntitlementState::Active,
            Self::PastDue => EntitlementState::PastDue,
            Self::Canceled => EntitlementState::Canceled,
            Self::Expired => EntitlementState::Expired,
        }
    }
}

/// One user's entitlement as stored (JSON) in the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Telegram user id.
    pub user_id: i64,
    /// Current state.
    pub state: State,
    /// Plan id, when known.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// End of the current period, trial or grant (unix seconds).
    #[serde(default)]
    pub current_period_end: Option<i64>,
    /// True when access will not renew (cancelled, or a grant).
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// Stripe customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Stripe subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Who granted access, for admin grants.
    #[serde(default)]
    pub granted_by: Option<String>,
    /// When the state last changed (unix seconds).
    #[serde(default)]
    pub updated_at: i64,
    /// When the state became past_due (unix seconds).
    #[serde(default)]
    pub past_due_since: Option<i64>,
}

impl Record {
    /// A user with no entitlement.
    pub fn none(user_id: i64) -> Self {
        Self {
            user_id,
            ..Self::default()
        }
    }

    /// Whether the user may be in the premium chat at `now` (unix seconds).
    pub fn has_access(&self, now: i64, past_due_grace_secs: i64) -> bool {
        match self.state {
            State::Trialing | State::Active if self.granted_by.is_some() => {
                self.current_period_end.is_none_or(|end| now < end)
            }
            State::Trialing | State::Active => true,
            State::PastDue => self
                .past_due_since
                .is_none_or(|since| now < since + past_due_grace_secs),
            State::Canceled => self.current_period_end.is_none_or(|end| now < end),
            State::None | State::Expired => false,
        }
    }

    /// When access runs out unless something renews it (unix seconds):
    /// the moment the sweeper should look again.
    pub fn lapses_at(&self, past_due_grace_secs: i64, renewal_slack_secs: i64) -> Option<i64> {
        match self.state {
            State::None | State::Expired => None,
            State::PastDue => self.past_due_since.map(|s| s + past_due_grace_secs),
            State::Canceled => self.current_period_end,
            State::Trialing | State::Active if self.granted_by.is_some() => self.current_period_end,
            // A renewing subscription: look again a little after the period
            // ends, in case the renewal's webhook never came.
            State::Trialing | State::Active => {
                self.current_period_end.map(|e| e + renewal_slack_secs)
            }
        }
    }

    /// Whether access ends at the period end without renewing (a reminder is due).
    pub fn ends_without_renewal(&self) -> bool {
        self.state == State::Canceled
            || (matches!(self.state, State::Active | State::Trialing) && self.granted_by.is_some())
    }

    /// Takes Stripe's view of a subscription. A subscription that is not
    /// live only counts when it is the user's current one: an old, ended
    /// subscription must not end a newer subscription or a grant.
    pub fn project(&mut self, sub: &SubscriptionView, plans: &[PlanSpec], at: i64) -> bool {
        let current = self.subscription_id.as_deref() == Some(sub.id.as_str());
        let unclaimed = self.subscription_id.is_none() && self.granted_by.is_none();
        if !sub.is_live() && !current && !unclaimed {
            return false;
        }
        let state = State::from_stripe(&sub.status, sub.cancel_at_period_end);
        // Access ended when the grace ran out; Stripe still retrying the
        // same invoice doesn't start a new grace period.
        if current && self.state == State::Expired && state == State::PastDue {
            return false;
        }
        if state == State::PastDue && self.state != State::PastDue {
            self.past_due_since = Some(at);
        } else if state != State::PastDue {
            self.past_due_since = None;
        }
        self.state = state;
        self.cancel_at_period_end = sub.cancel_at_period_end;
        self.current_period_end = sub.current_period_end.or(self.current_period_end);
        self.customer_id = Some(sub.customer.clone());
        self.subscription_id = Some(sub.id.clone());
        self.granted_by = None;
        let plan = sub
            .price_id
            .as_deref()
            .and_then(|price| plans.iter().find(|p| p.stripe_price_id == price))
            .map(|p| p.id.clone())
            .or_else(|| sub.plan_id.clone());
        self.plan_id = plan.or(self.plan_id.take());
        true
    }

    /// The record as the API shows it.
    pub fn to_proto(&self, now: i64, past_due_grace_secs: i64) -> Entitlement {
        Entitlement {
            telegram_user_id: self.user_id,
            state: self.state.to_proto().into(),
            has_access: self.has_access(now, past_due_grace_secs),
            plan_id: self.plan_id.clone().unwrap_or_default(),
            current_period_end: self.current_period_end.map(timestamp),
            cancel_at_period_end: self.cancel_at_period_end,
            stripe_customer_id: self.customer_id.clone().unwrap_or_default(),
            stripe_subscription_id: self.subscription_id.clone().unwrap_or_default(),
            updated_at: (self.updated_at > 0).then(|| timestamp(self.updated_at)),
        }
    }
}

/// A protobuf timestamp of unix seconds.
pub fn timestamp(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The store key of a user's entitlement.
pub fn key(user_id: i64) -> String {
    format!("billing:entitlement:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, status: &str) -> SubscriptionView {
        SubscriptionView {
            id: id.into(),
            customer: "cus_1".into(),
            status: status.into(),
            cancel_at_period_end: false,
            current_period_end: Some(1000),
            price_id: Some("price_m".into()),
            telegram_user_id: Some(1),
            plan_id: None,
            created: 1,
        }
    }

    /// Stripe statuses map to states; access follows state, grace and period end.
    #[test]
    fn states_and_access() {
        assert_eq!(State::from_stripe("active", false), State::Active);
        assert_eq!(State::from_stripe("active", true), State::Canceled);
        assert_eq!(State::from_stripe("past_due", false), State::PastDue);
        assert_eq!(State::from_stripe("canceled", false), State::Expired);
        assert_eq!(State::from_stripe("incomplete", false), State::None);
        let mut r = Record::none(1);
        assert!(!r.has_access(100, 10));
        r.state = State::PastDue;
        r.past_due_since = Some(100);
        assert!(r.has_access(105, 10) && !r.has_access(110, 10));
        assert_eq!(r.lapses_at(10, 5), Some(110));
        r.state = State::Canceled;
        r.current_period_end = Some(200);
        assert!(r.has_access(199, 10) && !r.has_access(200, 10));
        assert!(r.ends_without_renewal());
        assert_eq!(r.to_proto(0, 0).state, EntitlementState::Canceled as i32);
    }

    /// An old, ended subscription can't end a newer one or a grant.
    #[test]
    fn projection_keeps_newer_subscription() {
        let plans = vec![PlanSpec {
            id: "monthly".into(),
            name: "M".into(),
            description: "D".into(),
            stripe_price_id: "price_m".into(),
            trial_days: 0,
        }];
        let mut r = Record::none(1);
        assert!(r.project(&sub("sub_new", "active"), &plans, 10));
        assert_eq!(
            (r.state, r.plan_id.as_deref()),
            (State::Active, Some("monthly"))
        );
        assert!(!r.project(&sub("sub_old", "canceled"), &plans, 11));
        assert_eq!(r.state, State::Active);
        assert!(r.project(&sub("sub_new", "past_due"), &plans, 12));
        assert_eq!((r.state, r.past_due_since), (State::PastDue, Some(12)));
        let mut granted = Record::none(2);
        granted.state = State::Active;
        granted.granted_by = Some("telegram:9".into());
        assert!(!granted.project(&sub("sub_x", "canceled"), &plans, 13));
    }
}
