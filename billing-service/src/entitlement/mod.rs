//! The entitlement: a ledger of what each payment bought, and where one
//! Telegram user stands because of it.
//!
//! # The ledger's model
//!
//! A [`Record`] keeps every source of access apart, each tied to what
//! bought it:
//!
//! - each Stripe subscription under its own id ([`crate::subscription`]):
//!   Stripe's state as last read (an older read never replaces a newer
//!   one); its invoices paid its periods;
//! - each one-time Checkout payment as a period of its own
//!   ([`crate::purchase`]: some days, or for life; a plan's purchases add up);
//! - an admin grant (it only ever extends access);
//! - a hold per open dispute, holding back only what the disputed payment
//!   bought ([`Paying`]).
//!
//! The entitlement a caller sees is what the open sources add up to at a
//! moment: [`Record::view`] gives the state (the newest renewing source
//! speaks), whether there is access, until when (the latest end; none for
//! life), and the chats (every open source's plan's chats).
//!
//! A refund or a lost dispute names a payment; [`Record::end_paid`] ends
//! only the source that payment bought ([`Paying`]), never another
//! subscription, a later purchase or a grant. A new payment rail is one
//! more kind of source and one more [`Paying`] variant, not a second path.
//!
//! Time alone can end access (a period or grant running out), so the view
//! is computed at a given moment; [`Record::shown`] keeps the view as of
//! the last commit, which is what bot-service and watchers were told. A
//! transition is a method below plus a commit of the new view, in one
//! atomic step with everything that follows ([`crate::ledger`]); the
//! ledger derives the notices from the difference.

mod changes;
mod stored;
#[cfg(test)]
mod tests;
mod types;

use mesh_proto::billing::v1::Entitlement;
use serde::{Deserialize, Serialize};

pub use self::types::*;
use crate::clock::timestamp;
use crate::plans::Plans;
use crate::purchase::Purchase;
use crate::stars::StarsSub;
pub use crate::subscription::Sub;
use crate::writes::PaymentWrite;

/// One user's ledger as stored (JSON) in the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(from = "stored::Stored")]
pub struct Record {
    /// Telegram user id.
    pub user_id: i64,
    /// Stripe customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Every subscription of the user's, each a source of its own (oldest
    /// first).
    #[serde(default)]
    pub subscriptions: Vec<Sub>,
    /// An admin grant.
    #[serde(default)]
    pub grant: Option<Grant>,
    /// Every one-time payment, each a period of its own (oldest first).
    #[serde(default)]
    pub purchases: Vec<Purchase>,
    /// Every Telegram Stars subscription, each a source of its own.
    #[serde(default)]
    pub stars: Vec<StarsSub>,
    /// Stars charges known to be refunded (the newest hundred).
    #[serde(default)]
    pub stars_refunds: Vec<String>,
    /// Open disputes, each holding back what its payment bought.
    #[serde(default)]
    pub holds: Vec<Hold>,
    /// The user paid something once (a subscription's payment or a
    /// purchase): not in the "never paid" segment.
    #[serde(default)]
    pub ever_paid: bool,
    /// The user had a trial or a subscription: no trial again.
    #[serde(default)]
    pub trial_used: bool,
    /// The view as of the last commit: what the mesh was told.
    #[serde(default)]
    pub shown: View,
    /// When it last changed (unix seconds).
    #[serde(default)]
    pub updated_at: i64,
    /// Writes to Stripe decided and not yet confirmed ([`crate::writes`]).
    #[serde(default)]
    pub pending: Vec<PaymentWrite>,
}

/// Access from one source.
pub(crate) struct Source<'a> {
    pub(crate) state: State,
    pub(crate) until: Option<i64>,
    pub(crate) renews: bool,
    pub(crate) plan: Option<&'a str>,
    /// When the source began (a subscription's creation), to rank sources
    /// of one kind: the newest speaks.
    pub(crate) created: i64,
    /// What pays for it.
    pub(crate) rail: Rail,
}

impl Record {
    /// A user with no entitlement.
    pub fn none(user_id: i64) -> Self {
        Self {
            user_id,
            ..Self::default()
        }
    }

    /// Whether a hold keeps back what `paying` bought.
    fn held(&self, paying: &Paying) -> bool {
        self.holds
            .iter()
            .any(|h| h.holds == Paying::Everything || h.holds == *paying)
    }

    /// The subscription that speaks for the user: a live one over any
    /// other, then an open one (unpaid, paused), then the newest.
    pub fn current_sub(&self) -> Option<&Sub> {
        self.subscriptions
            .iter()
            .max_by_key(|s| (s.is_live(), s.is_open(), s.created, s.seen_ms))
    }

    /// The subscription with `id`.
    pub fn sub(&self, id: &str) -> Option<&Sub> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    /// Subscriptions not over at Stripe (live, past due, unpaid, paused).
    pub fn open_subs(&self) -> impl Iterator<Item = &Sub> {
        self.subscriptions.iter().filter(|s| s.is_open())
    }

    /// Every source open at `now`, not held back: renewing subscriptions
    /// first (newest first), then other subscriptions, purchases, the grant.
    fn sources(&self, now: i64, grace: i64) -> Vec<Source<'_>> {
        let mut subs: Vec<Source<'_>> = self
            .subscriptions
            .iter()
            .filter(|s| !self.held(&Paying::Subscription(s.id.clone())))
            .filter_map(|s| s.source(now, grace))
            .collect();
        if !self.held(&Paying::Everything) {
            subs.extend(self.stars.iter().filter_map(|s| s.source(now, grace)));
        }
        subs.sort_by_key(|s| std::cmp::Reverse((s.renews, s.created)));
        let purchases = self.purchase_sources(now).into_iter().filter(|p| {
            // A purchase is held back when a dispute names any payment of
            // its plan (its days chain with the others').
            !self.purchases.iter().any(|q| {
                Some(q.plan_id.as_str()) == p.plan
                    && q.payment_intent
                        .as_ref()
                        .is_some_and(|pi| self.held(&Paying::Purchase(pi.clone())))
            }) && !self.held(&Paying::Everything)
        });
        let grant = self
            .grant
            .as_ref()
            .filter(|g| now < g.until)
            .map(|g| Source {
                state: State::Active,
                until: Some(g.until),
                renews: false,
                plan: Some(&g.plan_id),
                created: 0,
                rail: Rail::Grant,
            });
        subs.into_iter().chain(purchases).chain(grant).collect()
    }

    /// Where the user stands at `now` (unix seconds).
    pub fn view(&self, now: i64, grace: i64, plans: &Plans) -> View {
        let sources = self.sources(now, grace);
        let current = self.current_sub();
        let purchase_end = self.purchase_ends().into_iter().map(|(_, e)| e).max();
        let stars_until = self
            .stars
            .iter()
            .filter(|s| !s.ended)
            .filter_map(StarsSub::until)
            .max();
        let paid_until = current
            .and_then(|s| s.period_end)
            .or(stars_until)
            .or_else(|| purchase_end.flatten());
        let granted_until = self.grant.as_ref().map(|g| g.until);
        let known_plan = current
            .and_then(|s| s.plan_id.clone())
            .or_else(|| self.stars.last().map(|s| s.plan_id.clone()))
            .or_else(|| self.purchases.last().map(|p| p.plan_id.clone()))
            .or_else(|| self.grant.as_ref().map(|g| g.plan_id.clone()));
        let ever = !self.subscriptions.is_empty()
            || self.grant.is_some()
            || !self.purchases.is_empty()
            || !self.stars.is_empty();
        if sources.is_empty() {
            let state = match () {
                () if !self.holds.is_empty() => State::Suspended,
                () if ever => State::Expired,
                () => State::None,
            };
            return View {
                state,
                plan_id: known_plan,
                paid_until,
                granted_until,
                ..View::default()
            };
        }
        let first = &sources[0];
        let renews = sources.iter().any(|s| s.renews);
        // A source without an end (a lifetime purchase) outlasts them all.
        let lifetime = !renews && sources.iter().any(|s| s.until.is_none() && !s.renews);
        let until = if renews {
            sources.iter().find(|s| s.renews).and_then(|s| s.until)
        } else if lifetime {
            None
        } else {
            sources.iter().filter_map(|s| s.until).max()
        };
        let mut chats: Vec<i64> = sources
            .iter()
            .flat_map(|s| plans.chats_of(s.plan))
            .collect();
        chats.sort_unstable();
        chats.dedup();
        View {
            state: first.state,
            has_access: true,
            until,
            renews,
            plan_id: first.plan.map(str::to_owned).or(known_plan),
            chats,
            paid_until,
            granted_until,
            lifetime,
        }
    }

    /// When access may change without any event (unix seconds): the
    /// moment the sweeper should look again.
    pub fn lapses_at(&self, now: i64, grace: i64, renewal_slack: i64) -> Option<i64> {
        let subs = self
            .subscriptions
            .iter()
            .filter_map(|s| s.lapses_at(now, grace, renewal_slack));
        let grant = self.grant.as_ref().map(|g| g.until).filter(|u| now < *u);
        let stars = self.stars.iter().filter_map(|s| s.lapses_at(now, grace));
        let purchases = self
            .purchase_sources(now)
            .into_iter()
            .filter_map(|p| p.until);
        subs.chain(grant).chain(stars).chain(purchases).min()
    }

    /// The record as the API shows it at `now`.
    pub fn to_proto(&self, now: i64, grace: i64, plans: &Plans) -> Entitlement {
        let view = self.view(now, grace, plans);
        let sub = self.current_sub();
        Entitlement {
            telegram_user_id: self.user_id,
            state: view.state.to_proto().into(),
            has_access: view.has_access,
            plan_id: view.plan_id.clone().unwrap_or_default(),
            current_period_end: view.until.map(timestamp),
            cancel_at_period_end: !view.renews,
            stripe_customer_id: self.customer_id.clone().unwrap_or_default(),
            stripe_subscription_id: sub.map(|s| s.id.clone()).unwrap_or_default(),
            updated_at: (self.updated_at > 0).then(|| timestamp(self.updated_at)),
            chats: view.chats,
            paid_until: view.paid_until.map(timestamp),
            granted_until: view.granted_until.map(timestamp),
            granted_by: self
                .grant
                .as_ref()
                .map(|g| g.by.clone())
                .unwrap_or_default(),
            trial_used: self.trial_used,
            lifetime: view.lifetime,
            rail: self
                .rail(now, grace)
                .map_or(mesh_proto::billing::v1::Rail::None, Rail::to_proto)
                .into(),
            stars_subscription_charge_id: self
                .live_stars(now, grace)
                .map(|s| s.charge.clone())
                .unwrap_or_default(),
        }
    }

    /// What pays for the access the user has at `now` (the source that
    /// speaks for them).
    pub fn rail(&self, now: i64, grace: i64) -> Option<Rail> {
        self.sources(now, grace).first().map(|s| s.rail)
    }
}
