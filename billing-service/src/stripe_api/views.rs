//! What billing reads of Stripe's objects.

use std::collections::HashMap;

use stripe_shared::Subscription;

use crate::money::PriceTerms;

/// What billing needs to know of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// `sub_...`.
    pub id: String,
    /// `cus_...`.
    pub customer: String,
    /// Stripe's status (`active`, `past_due`, ...).
    pub status: String,
    /// Will not renew.
    pub cancel_at_period_end: bool,
    /// End of the current period (unix seconds).
    pub current_period_end: Option<i64>,
    /// The first item's price.
    pub price_id: Option<String>,
    /// `metadata.telegram_user_id`.
    pub telegram_user_id: Option<i64>,
    /// `metadata.plan_id`.
    pub plan_id: Option<String>,
    /// Creation time (unix seconds).
    pub created: i64,
    /// What the first item charges each period.
    pub price: Option<PriceTerms>,
    /// It had a free trial (whatever its status now): no trial again.
    pub had_trial: bool,
    /// Its latest invoice (`in_...`): what its first payment paid.
    pub latest_invoice: Option<String>,
}

impl From<&stripe_shared::Price> for PriceTerms {
    /// A per-unit price's `unit_amount`; a decimal one's
    /// `unit_amount_decimal` rounded to the nearest minor unit; a tiered
    /// one's lowest tier (when its tiers were expanded), marked as a
    /// starting price.
    fn from(p: &stripe_shared::Price) -> Self {
        let decimal = p
            .unit_amount_decimal
            .as_ref()
            .and_then(|d| d.to_string().parse::<f64>().ok())
            .map(|d| d.round() as i64);
        let lowest_tier = p.tiers.as_ref().and_then(|tiers| {
            tiers
                .iter()
                .filter_map(|t| {
                    t.unit_amount.or_else(|| {
                        t.unit_amount_decimal
                            .as_ref()
                            .and_then(|d| d.to_string().parse::<f64>().ok())
                            .map(|d| d.round() as i64)
                    })
                })
                .min()
        });
        Self {
            amount: p
                .unit_amount
                .or(decimal)
                .or(lowest_tier)
                .unwrap_or_default(),
            starting_at: p.unit_amount.is_none() && decimal.is_none() && lowest_tier.is_some(),
            currency: p.currency.to_string(),
            interval: p.recurring.as_ref().map(|r| r.interval.as_str().to_owned()),
            interval_count: p
                .recurring
                .as_ref()
                .map_or(1, |r| u32::try_from(r.interval_count).unwrap_or(1)),
        }
    }
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        let item = s.items.data.first();
        Self {
            id: s.id.as_str().to_owned(),
            customer: s.customer.id().as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            cancel_at_period_end: s.cancel_at_period_end,
            current_period_end: item.map(|i| i.current_period_end),
            price_id: item.map(|i| i.price.id.as_str().to_owned()),
            telegram_user_id: s
                .metadata
                .get("telegram_user_id")
                .and_then(|v| v.parse().ok()),
            plan_id: s.metadata.get("plan_id").cloned(),
            created: s.created,
            price: item.map(|i| PriceTerms::from(&i.price)),
            had_trial: s.trial_start.is_some(),
            latest_invoice: s
                .latest_invoice
                .as_ref()
                .and_then(|i| i.id().as_ref().map(|id| id.as_str().to_owned())),
        }
    }
}

impl From<&stripe_shared::CheckoutSession> for SessionView {
    fn from(s: &stripe_shared::CheckoutSession) -> Self {
        Self {
            id: s.id.as_str().to_owned(),
            mode: s.mode.as_str().to_owned(),
            payment_status: s.payment_status.as_str().to_owned(),
            customer: s.customer.as_ref().map(|c| c.id().as_str().to_owned()),
            payment_intent: s
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned()),
            subscription: s.subscription.as_ref().map(|p| p.id().as_str().to_owned()),
            metadata: s.metadata.clone().unwrap_or_default(),
        }
    }
}

impl SubscriptionView {
    /// Whether the status still means a live subscription.
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "active" | "trialing" | "past_due")
    }
}

/// What billing needs to know of a charge (refunds and disputes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeView {
    /// `ch_...`.
    pub id: String,
    /// `cus_...`, when the charge has a customer.
    pub customer: Option<String>,
    /// Amount charged, in the currency's smallest unit.
    pub amount: i64,
    /// Amount refunded so far.
    pub amount_refunded: i64,
    /// The currency (lowercase ISO code).
    pub currency: String,
    /// The payment it belongs to (`pi_...`), when it has one.
    pub payment_intent: Option<String>,
}

/// What billing needs to know of a Checkout session, as Stripe has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// `cs_...`.
    pub id: String,
    /// `payment` or `subscription`.
    pub mode: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// `cus_...`.
    pub customer: Option<String>,
    /// The payment (`pi_...`), payment mode.
    pub payment_intent: Option<String>,
    /// The subscription it started, subscription mode.
    pub subscription: Option<String>,
    /// The metadata billing set when it made the session.
    pub metadata: HashMap<String, String>,
}

/// A Checkout session to send the user to.
#[derive(Debug, Clone)]
pub struct CheckoutLink {
    /// `cs_...`.
    pub id: String,
    /// The hosted page.
    pub url: String,
    /// When it stops working (unix seconds).
    pub expires_at: i64,
}

/// What a Checkout session needs.
#[derive(Debug, Clone)]
pub struct CheckoutParams<'a> {
    /// The paying user.
    pub telegram_user_id: i64,
    /// Their Stripe customer.
    pub customer: &'a str,
    /// The plan id (kept in metadata).
    pub plan_id: &'a str,
    /// The Stripe price.
    pub price_id: &'a str,
    /// Trial days (0 = none).
    pub trial_days: u32,
    /// For a one-time plan, its days of access (`Some(None)`: for life):
    /// Checkout in payment mode. `None`: a subscription.
    pub one_time: Option<Option<u32>>,
    /// Where Stripe sends the user after paying.
    pub success_url: &'a str,
    /// Where Stripe sends the user when they give up.
    pub cancel_url: &'a str,
}
