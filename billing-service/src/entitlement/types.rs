//! The entitlement's vocabulary: a state, what pays, what one payment
//! bought, a dispute's hold, an admin grant, and the view a caller sees.

use mesh_proto::billing::v1::EntitlementState;
use serde::{Deserialize, Serialize};

/// The state of a user's access, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Never subscribed or granted.
    #[default]
    None,
    /// In a free trial.
    Trialing,
    /// Paid and current, or granted.
    Active,
    /// A renewal failed; access continues through the grace period.
    PastDue,
    /// Will not renew; access lasts until the period ends.
    Canceled,
    /// Access has ended.
    Expired,
    /// Held back while a payment dispute is open.
    Suspended,
}

impl State {
    /// Every state a user can be counted in (all but "never subscribed").
    pub const COUNTED: [State; 6] = [
        State::Trialing,
        State::Active,
        State::PastDue,
        State::Canceled,
        State::Expired,
        State::Suspended,
    ];

    /// The API's enum.
    pub fn to_proto(self) -> EntitlementState {
        match self {
            Self::None => EntitlementState::None,
            Self::Trialing => EntitlementState::Trialing,
            Self::Active => EntitlementState::Active,
            Self::PastDue => EntitlementState::PastDue,
            Self::Canceled => EntitlementState::Canceled,
            Self::Expired => EntitlementState::Expired,
            Self::Suspended => EntitlementState::Suspended,
        }
    }

    /// A short lowercase name, for metrics and counters.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Suspended => "suspended",
        }
    }
}

/// Access an admin granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The plan granted.
    pub plan_id: String,
    /// When it ends (unix seconds).
    pub until: i64,
    /// Who granted it.
    pub by: String,
}

/// What pays for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rail {
    /// Stripe: a subscription or a Checkout payment.
    Stripe,
    /// Telegram Stars: a Stars subscription or payment.
    Stars,
    /// An admin grant.
    Grant,
}

impl Rail {
    /// The API's enum.
    pub fn to_proto(self) -> mesh_proto::billing::v1::Rail {
        match self {
            Self::Stripe => mesh_proto::billing::v1::Rail::Stripe,
            Self::Stars => mesh_proto::billing::v1::Rail::Stars,
            Self::Grant => mesh_proto::billing::v1::Rail::Grant,
        }
    }

    /// A short lowercase name, for exports and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Stars => "stars",
            Self::Grant => "grant",
        }
    }
}

/// What one payment (or grant) paid for: the key a refund, a dispute or a
/// revocation ends access by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Paying {
    /// A Stripe subscription (`sub_...`): its invoices paid its periods.
    Subscription(String),
    /// A one-time Checkout payment (`pi_...`).
    Purchase(String),
    /// A Telegram Stars payment (its `telegram_payment_charge_id`): a Stars
    /// subscription's period or a one-time Stars purchase.
    Stars(String),
    /// Whatever the user pays for (a hold recorded before holds named
    /// their payment).
    Everything,
}

/// Access held back while a dispute of one payment is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The dispute (`dp_...`).
    pub dispute_id: String,
    /// Since when (unix seconds).
    pub since: i64,
    /// What the disputed payment bought: only that is held back.
    #[serde(default = "everything")]
    pub holds: Paying,
}

fn everything() -> Paying {
    Paying::Everything
}

/// What a user may do right now: derived from a [`Record`] at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct View {
    /// The state.
    pub state: State,
    /// Whether the user may be in the plan's chats.
    pub has_access: bool,
    /// When access ends, or (when it renews) the next renewal.
    pub until: Option<i64>,
    /// Whether access renews on its own.
    pub renews: bool,
    /// The plan that speaks for the user.
    pub plan_id: Option<String>,
    /// The chats the user may be in (sorted).
    pub chats: Vec<i64>,
    /// End of the paid period.
    pub paid_until: Option<i64>,
    /// End of a grant.
    pub granted_until: Option<i64>,
    /// Access bought for life: it has no end.
    #[serde(default)]
    pub lifetime: bool,
}
