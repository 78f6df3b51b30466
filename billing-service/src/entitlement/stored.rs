//! Records as earlier versions stored them (one subscription, one
//! aggregated purchase and one hold per user), read into the ledger.

use serde::Deserialize;

use super::{Grant, Hold, Record, View};
use crate::purchase::{Purchase, Term};
use crate::stars::StarsSub;
use crate::subscription::Sub;
use crate::writes::PaymentWrite;

/// A record as stored by this version or an earlier one (one subscription,
/// one aggregated purchase and one hold per user): read into the ledger.
#[derive(Deserialize)]
pub(super) struct Stored {
    user_id: i64,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    subscriptions: Vec<Sub>,
    #[serde(default)]
    subscription: Option<Sub>,
    #[serde(default)]
    grant: Option<Grant>,
    #[serde(default)]
    purchases: Vec<Purchase>,
    #[serde(default)]
    purchase: Option<serde_json::Value>,
    #[serde(default)]
    stars: Vec<StarsSub>,
    #[serde(default)]
    stars_refunds: Vec<String>,
    #[serde(default)]
    holds: Vec<Hold>,
    #[serde(default)]
    hold: Option<Hold>,
    #[serde(default)]
    ever_paid: bool,
    #[serde(default)]
    trial_used: bool,
    #[serde(default)]
    shown: View,
    #[serde(default)]
    updated_at: i64,
    #[serde(default)]
    pending: Vec<PaymentWrite>,
}

impl From<Stored> for Record {
    fn from(s: Stored) -> Self {
        let mut subscriptions = s.subscriptions;
        subscriptions.extend(s.subscription);
        let mut purchases = s.purchases;
        // The aggregated purchase of earlier versions: its end is all that
        // is known of what its payments bought.
        if let Some(old) = s.purchase {
            let str_of = |k: &str| old.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let list = |k: &str| {
                old.get(k)
                    .and_then(|v| v.as_array())
                    .and_then(|a| a.last())
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let until = old.get("until").and_then(serde_json::Value::as_i64);
            purchases.push(Purchase {
                plan_id: str_of("plan_id").unwrap_or_default(),
                session: list("sessions").unwrap_or_default(),
                payment_intent: list("payment_intents"),
                paid_at: 0,
                term: until.map_or(Term::Lifetime, Term::Until),
                ended: old.get("revoked").and_then(serde_json::Value::as_bool) == Some(true),
                stars: false,
                stars_amount: 0,
            });
        }
        let mut holds = s.holds;
        holds.extend(s.hold);
        Self {
            user_id: s.user_id,
            customer_id: s.customer_id,
            subscriptions,
            grant: s.grant,
            purchases,
            stars: s.stars,
            stars_refunds: s.stars_refunds,
            holds,
            ever_paid: s.ever_paid,
            trial_used: s.trial_used,
            shown: s.shown,
            updated_at: s.updated_at,
            pending: s.pending,
        }
    }
}
