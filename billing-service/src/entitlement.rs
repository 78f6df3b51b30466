//! The entitlement projection: where one Telegram user stands.
//!
//! A small state machine fed by Stripe's subscription states:
//!
//! ```text
//! none -> trialing | active          (checkout completed / subscription created)
//! active <-> past_due                (renewal failed / invoice paid)
//! active -> canceled                 (cancel at period end; access until then)
//! any -> expired                     (subscription deleted, unpaid, period over)
//! ```

use mesh_proto::Timestamp;
use mesh_proto::billing::v1::{Entitlement, EntitlementState};
use serde::{Deserialize, Serialize};

/// The state of a user's access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Never subscribed.
    #[default]
    None,
    /// In a free trial.
    Trialing,
    /// Paid and current.
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
            "trialing" => Self::Trialing,
            "active" if cancel_at_period_end => Self::Canceled,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" | "unpaid" | "incomplete_expired" | "paused" => Self::Expired,
            // "incomplete": the first payment has not succeeded yet.
            _ => Self::None,
        }
    }

    fn to_proto(self) -> EntitlementState {
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
    /// End of the current period (unix seconds).
    #[serde(default)]
    pub current_period_end: Option<i64>,
    /// True when the subscription will not renew.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// Stripe customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Stripe subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// When the state last changed (Stripe event time, unix seconds).
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
            State::Trialing | State::Active => true,
            State::PastDue => self
                .past_due_since
                .is_none_or(|since| now < since + past_due_grace_secs),
            State::Canceled => self.current_period_end.is_none_or(|end| now < end),
            State::None | State::Expired => false,
        }
    }

    /// The record as the API shows it.
    pub fn to_proto(&self, now: i64, past_due_grace_secs: i64) -> Entitlement {
        let ts = |seconds: i64| Timestamp { seconds, nanos: 0 };
        Entitlement {
            telegram_user_id: self.user_id,
            state: self.state.to_proto().into(),
            has_access: self.has_access(now, past_due_grace_secs),
            plan_id: self.plan_id.clone().unwrap_or_default(),
            current_period_end: self.current_period_end.map(ts),
            cancel_at_period_end: self.cancel_at_period_end,
            stripe_customer_id: self.customer_id.clone().unwrap_or_default(),
            stripe_subscription_id: self.subscription_id.clone().unwrap_or_default(),
            updated_at: (self.updated_at > 0).then(|| ts(self.updated_at)),
        }
    }
}

/// The store key of a user's entitlement.
pub fn key(user_id: i64) -> String {
    format!("billing:entitlement:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        r.state = State::Canceled;
        r.current_period_end = Some(200);
        assert!(r.has_access(199, 10) && !r.has_access(200, 10));
        assert_eq!(r.to_proto(0, 0).state, EntitlementState::Canceled as i32);
    }
}
