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

use mesh_proto::Timestamp;
use mesh_proto::billing::v1::{Entitlement, EntitlementState};
use serde::{Deserialize, Serialize};

use crate::money::PriceTerms;
use crate::plans::Plans;
use crate::purchase::{Purchase, Term};
use crate::stars::StarsSub;
use crate::stripe_api::SubscriptionView;
pub use crate::subscription::Sub;
use crate::subscription::not_ended;
use crate::writes::PaymentWrite;

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

/// One user's ledger as stored (JSON) in the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(from = "Stored")]
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

/// A record as stored by this version or an earlier one (one subscription,
/// one aggregated purchase and one hold per user): read into the ledger.
#[derive(Deserialize)]
struct Stored {
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

/// How many subscriptions a record keeps (ended ones go first).
const SUBSCRIPTIONS_KEPT: usize = 20;

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

    /// Takes Stripe's view of one of the user's subscriptions, read at
    /// `seen_ms`. Each subscription is kept apart; returns false when the
    /// read is no newer than the one kept (`allow_equal` for payload-only
    /// dry runs, whose times are whole seconds).
    pub fn observe(
        &mut self,
        view: &SubscriptionView,
        plans: &Plans,
        seen_ms: i64,
        allow_equal: bool,
        now: i64,
    ) -> bool {
        let prev = self.sub(&view.id);
        if let Some(cur) = prev {
            let newer = seen_ms > cur.seen_ms || (allow_equal && seen_ms == cur.seen_ms);
            if !newer {
                return false;
            }
        }
        let next = Sub::next(view, prev, plans, seen_ms, now);
        let was_active = prev.is_some_and(|c| c.status == "active");
        if view.had_trial || matches!(view.status.as_str(), "trialing" | "active" | "past_due") {
            self.trial_used = true;
        }
        // Active or past due means a payment went through (a trial that
        // ends unpaid goes to past_due only after a first payment).
        if view.status == "active" || (view.status == "past_due" && was_active) {
            self.ever_paid = true;
        }
        if !view.customer.is_empty() && self.customer_id.is_none() {
            self.customer_id = Some(view.customer.clone());
        }
        match self.subscriptions.iter_mut().find(|s| s.id == view.id) {
            Some(cur) => *cur = next,
            None => {
                self.subscriptions.push(next);
                self.subscriptions.sort_by_key(|s| s.created);
                while self.subscriptions.len() > SUBSCRIPTIONS_KEPT {
                    let drop = self
                        .subscriptions
                        .iter()
                        .position(|s| !s.is_open())
                        .unwrap_or(0);
                    self.subscriptions.remove(drop);
                }
            }
        }
        true
    }

    /// An admin grant of `days` for `plan`: it runs from the later of now
    /// and the end of a grant still running, so it only ever adds time; the
    /// paid period is untouched, and access lasts until the later of both.
    pub fn grant(&mut self, plan: &str, days: i64, by: &str, now: i64) {
        let start = self.grant.as_ref().map_or(now, |g| g.until.max(now));
        self.grant = Some(Grant {
            plan_id: plan.to_owned(),
            until: start + days * 86_400,
            by: by.to_owned(),
        });
    }

    /// An admin revocation: the grant ends now; unless `grant_only`, every
    /// subscription and purchase stops opening anything too (the caller
    /// cancels at Stripe).
    pub fn revoke(&mut self, grant_only: bool, now: i64) {
        // The grant is ended rather than forgotten: the record still shows
        // the user had access (EXPIRED, not NONE).
        if let Some(grant) = &mut self.grant {
            grant.until = grant.until.min(now);
        }
        if !grant_only {
            for sub in &mut self.subscriptions {
                sub.revoked = true;
            }
            for p in &mut self.purchases {
                p.ended = true;
            }
            for s in &mut self.stars {
                s.ended = true;
            }
        }
    }

    /// What `paying` bought ends now (its payment was refunded in full, or
    /// a dispute of it was lost): only that source, never another
    /// subscription, a purchase of another payment or a grant. True when
    /// the ledger had it.
    pub fn end_paid(&mut self, paying: &Paying) -> bool {
        match paying {
            Paying::Subscription(id) => match self.subscriptions.iter_mut().find(|s| s.id == *id) {
                Some(sub) => {
                    sub.revoked = true;
                    true
                }
                None => false,
            },
            Paying::Purchase(intent) => self.end_purchase(intent),
            Paying::Stars(charge) => self.stars_refunded(charge, "system"),
            // A grant is nobody's payment: it stays.
            Paying::Everything => {
                self.revoke(false, i64::MAX);
                true
            }
        }
    }

    /// Decides a write to Stripe, made right after the commit
    /// ([`crate::writes`]); one already pending is not added twice.
    pub fn decide(&mut self, write: PaymentWrite) {
        if !self.pending.contains(&write) {
            self.pending.push(write);
        }
    }

    /// Decides the cancellation of every subscription of `paying` that is
    /// not over at Stripe.
    pub fn decide_cancel(&mut self, paying: &Paying) {
        let ids: Vec<String> = self
            .subscriptions
            .iter()
            // Revoked here or not, what still charges at Stripe stops.
            .filter(|s| not_ended(&s.status))
            .filter(|s| match paying {
                Paying::Subscription(id) => s.id == *id,
                Paying::Everything => true,
                Paying::Purchase(_) | Paying::Stars(_) => false,
            })
            .map(|s| s.id.clone())
            .collect();
        for subscription in ids {
            self.decide(PaymentWrite::Cancel { subscription });
        }
        // A revocation stops Telegram renewing too.
        if *paying == Paying::Everything {
            let stars: Vec<String> = self
                .stars
                .iter()
                .filter(|s| !s.canceled)
                .map(|s| s.charge.clone())
                .collect();
            for charge in stars {
                self.decide(PaymentWrite::StarsRenewal {
                    charge,
                    cancel: true,
                    actor: "system".into(),
                });
            }
        }
    }

    /// Records what subscription `id`'s latest paid invoice charged.
    pub fn charged(&mut self, id: &str, amount: i64) {
        if let Some(sub) = self.subscriptions.iter_mut().find(|s| s.id == id) {
            sub.charged = Some(amount);
        }
    }

    /// Marks subscription `id` a cancelled duplicate.
    pub fn mark_duplicate(&mut self, id: &str) {
        if let Some(sub) = self.subscriptions.iter_mut().find(|s| s.id == id) {
            sub.duplicate = true;
        }
    }

    /// What the user's subscription brings in a year, per currency (the
    /// smallest unit), given the view it produced: paying subscriptions
    /// only (active, past due, or cancelled but running), not trials.
    pub fn yearly_revenue(&self, view: &View) -> Option<(String, i64)> {
        let sub = self.current_sub().filter(|s| !s.revoked)?;
        let paying = matches!(view.state, State::Active | State::PastDue | State::Canceled)
            && matches!(sub.status.as_str(), "active" | "past_due");
        let price = sub.price.as_ref().filter(|_| paying)?;
        // A tiered or metered price has no unit amount to count: what its
        // invoices charge is the revenue.
        let price = match sub.charged {
            Some(charged) if price.starting_at || price.amount == 0 => PriceTerms {
                amount: charged,
                ..price.clone()
            },
            _ => price.clone(),
        };
        Some((price.currency.clone(), price.yearly()?))
    }

    /// A dispute of the payment for `paying` opened: that access is held
    /// back until it closes.
    pub fn suspend(&mut self, dispute_id: &str, paying: Paying, now: i64) {
        if self.holds.iter().any(|h| h.dispute_id == dispute_id) {
            return;
        }
        self.holds.push(Hold {
            dispute_id: dispute_id.to_owned(),
            since: now,
            holds: paying,
        });
    }

    /// A dispute closed: its hold is lifted (whatever the outcome; a lost
    /// dispute also ends what it paid for, which the caller does); returns
    /// what the hold kept back, when there was one.
    pub fn release(&mut self, dispute_id: &str) -> Option<Paying> {
        let i = self.holds.iter().position(|h| h.dispute_id == dispute_id)?;
        Some(self.holds.remove(i).holds)
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

/// A protobuf timestamp of unix seconds.
pub fn timestamp(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::{PlanSpec, Plans};

    fn plans() -> Plans {
        Plans::new(
            crate::plans::PlansFile {
                plans: vec![PlanSpec {
                    id: "monthly".into(),
                    name: "M".into(),
                    description: "D".into(),
                    stripe_price_id: "price_m".into(),
                    trial_days: 0,
                    chats: vec![-100],
                    mode: crate::plans::Mode::Subscription,
                    duration_days: None,
                    price_display: None,
                    stars_price: None,
                }],
                chats: Vec::new(),
            },
            vec![-100],
        )
    }

    fn sub(id: &str, status: &str, created: i64) -> SubscriptionView {
        SubscriptionView {
            id: id.into(),
            customer: "cus_1".into(),
            status: status.into(),
            cancel_at_period_end: false,
            current_period_end: Some(1000),
            price_id: Some("price_m".into()),
            telegram_user_id: Some(1),
            plan_id: None,
            created,
            price: None,
            had_trial: false,
            latest_invoice: None,
        }
    }

    /// Stripe statuses map to states; access follows state, grace and period end.
    #[test]
    fn states_and_access() {
        let p = plans();
        let mut r = Record::none(1);
        assert_eq!(r.view(100, 10, &p).state, State::None);
        assert!(r.observe(&sub("sub_1", "active", 1), &p, 1_000, false, 100));
        let v = r.view(100, 10, &p);
        assert_eq!(
            (v.state, v.has_access, v.renews, v.chats.as_slice()),
            (State::Active, true, true, &[-100][..])
        );
        assert!(r.trial_used);
        assert!(r.observe(&sub("sub_1", "past_due", 1), &p, 2_000, false, 100));
        assert!(r.view(105, 10, &p).has_access);
        assert!(!r.view(110, 10, &p).has_access, "grace over");
        assert_eq!(r.lapses_at(100, 10, 5), Some(110));
        let mut canceled = sub("sub_1", "active", 1);
        canceled.cancel_at_period_end = true;
        assert!(r.observe(&canceled, &p, 3_000, false, 120));
        assert_eq!(r.view(999, 10, &p).state, State::Canceled);
        assert!(!r.view(999, 10, &p).renews);
        assert_eq!(r.view(1000, 10, &p).state, State::Expired);
    }

    /// Reads no newer than the kept one change nothing; an old, ended
    /// subscription can't end a newer one.
    #[test]
    fn older_reads_never_win() {
        let p = plans();
        let mut r = Record::none(1);
        assert!(r.observe(&sub("sub_new", "active", 10), &p, 5_000, false, 1));
        assert!(!r.observe(&sub("sub_new", "canceled", 10), &p, 4_000, false, 1));
        assert!(
            !r.observe(&sub("sub_new", "canceled", 10), &p, 5_000, false, 1),
            "equal versions don't overwrite"
        );
        assert!(r.observe(&sub("sub_old", "canceled", 5), &p, 9_000, false, 1));
        assert_eq!(r.view(1, 0, &p).state, State::Active, "kept apart");
        assert_eq!(r.current_sub().map(|s| s.id.as_str()), Some("sub_new"));
    }

    /// A grant extends access past the paid end and never shortens it;
    /// revoking the grant alone restores the paid state.
    #[test]
    fn grants_extend_and_revoke_restores() {
        let p = plans();
        let mut r = Record::none(1);
        let mut paid = sub("sub_1", "active", 1);
        paid.cancel_at_period_end = true;
        paid.current_period_end = Some(50 * 86_400);
        assert!(r.observe(&paid, &p, 1, false, 0));
        r.grant("monthly", 10, "telegram:9", 0);
        let v = r.view(0, 0, &p);
        assert_eq!(v.until, Some(50 * 86_400), "the paid end is later: kept");
        r.grant("monthly", 60, "telegram:9", 0);
        assert_eq!(r.view(0, 0, &p).until, Some(70 * 86_400), "grants add up");
        assert!(r.view(60 * 86_400, 0, &p).has_access, "past the paid end");
        r.revoke(true, 0);
        let v = r.view(0, 0, &p);
        assert_eq!((v.state, v.until), (State::Canceled, Some(50 * 86_400)));
        r.grant("monthly", 1, "telegram:9", 0);
        r.revoke(false, 0);
        assert_eq!(r.view(0, 0, &p).state, State::Expired);
    }

    /// A dispute hold suspends access; lifting it restores it.
    #[test]
    fn holds_suspend() {
        let p = plans();
        let mut r = Record::none(1);
        assert!(r.observe(&sub("sub_1", "active", 1), &p, 1, false, 0));
        r.suspend("dp_1", Paying::Subscription("sub_1".into()), 5);
        let v = r.view(6, 0, &p);
        assert_eq!(
            (v.state, v.has_access, v.chats.len()),
            (State::Suspended, false, 0)
        );
        assert_eq!(r.release("dp_other"), None);
        assert_eq!(
            r.release("dp_1"),
            Some(Paying::Subscription("sub_1".into()))
        );
        assert!(r.view(6, 0, &p).has_access);
    }

    /// A refund or a lost dispute ends what its own payment bought: an old
    /// subscription's refund leaves a later lifetime pass and a newer
    /// subscription alone; a hold on one payment leaves the others open.
    #[test]
    fn refunds_end_only_what_they_paid_for() {
        let p = plans();
        let mut r = Record::none(1);
        assert!(r.observe(&sub("sub_old", "canceled", 1), &p, 1, false, 0));
        r.purchase(&crate::purchase::Paid {
            plan_id: "monthly".into(),
            days: None,
            session: "cs_1".into(),
            payment_intent: Some("pi_1".into()),
            paid_at: 10,
            stars: None,
        });
        assert!(r.observe(&sub("sub_new", "active", 20), &p, 2, false, 0));
        assert!(r.end_paid(&Paying::Subscription("sub_old".into())));
        let v = r.view(30, 0, &p);
        assert_eq!((v.state, v.has_access), (State::Active, true));
        assert!(r.end_paid(&Paying::Subscription("sub_new".into())));
        let v = r.view(30, 0, &p);
        assert!(v.has_access && v.lifetime, "the pass stays: {v:?}");
        assert!(!r.end_paid(&Paying::Subscription("sub_unknown".into())));
        r.suspend("dp_9", Paying::Purchase("pi_1".into()), 40);
        assert_eq!(r.view(41, 0, &p).state, State::Suspended);
        r.release("dp_9");
        assert!(r.end_paid(&Paying::Purchase("pi_1".into())));
        assert_eq!(r.view(41, 0, &p).state, State::Expired);
    }

    /// A record stored by the previous version (one subscription, one
    /// aggregated purchase, one hold) reads into the ledger.
    #[test]
    fn earlier_records_read_into_the_ledger() {
        let old = serde_json::json!({
            "user_id": 7,
            "subscription": {"id": "sub_1", "status": "active", "created": 1},
            "purchase": {"plan_id": "monthly", "until": 5000, "sessions": ["cs_1"], "payment_intents": ["pi_1"]},
            "hold": {"dispute_id": "dp_1", "since": 3},
        });
        let r: Record = serde_json::from_value(old).unwrap();
        assert_eq!(r.subscriptions.len(), 1);
        assert_eq!(r.purchases[0].term, Term::Until(5000));
        assert_eq!(r.holds[0].holds, Paying::Everything);
        let again: Record = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(again, r, "the new shape round-trips");
    }
}
