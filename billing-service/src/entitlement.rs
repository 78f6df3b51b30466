//! The entitlement: where one Telegram user stands, and every way it changes.
//!
//! A [`Record`] keeps each source of access apart, each with its own rules:
//!
//! - the Stripe subscription that speaks for the user (Stripe's own state,
//!   with the time it was read: an older read never replaces a newer one);
//! - an admin grant (it only ever extends access);
//! - a one-time purchase ([`crate::purchase`]: for some days, or for life);
//! - a hold while a payment dispute is open (it suspends everything).
//!
//! What the user may do right now is derived from them: [`Record::view`]
//! gives the state, whether there is access, until when, and which chats.
//! Time alone can end access (a period or grant running out), so the view
//! is computed at a given moment; [`Record::shown`] keeps the view as of
//! the last commit, which is what bot-service and watchers were told. A
//! transition is a method below plus a commit of the new view; the ledger
//! derives the notices from the difference.

use mesh_proto::Timestamp;
use mesh_proto::billing::v1::{Entitlement, EntitlementState};
use serde::{Deserialize, Serialize};

use crate::money::PriceTerms;
use crate::plans::Plans;
use crate::purchase::Purchase;
use crate::stripe_api::SubscriptionView;

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

/// The Stripe subscription that speaks for a user, as last read.
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
    /// When this view was read (unix milliseconds): Stripe's answer time,
    /// or the event's time for a dry run. Older reads never replace it.
    #[serde(default)]
    pub seen_ms: i64,
    /// When Stripe created it (unix seconds).
    #[serde(default)]
    pub created: i64,
    /// An admin revoked access: this subscription opens nothing any more.
    #[serde(default)]
    pub revoked: bool,
    /// What it charges each period, when known.
    #[serde(default)]
    pub price: Option<PriceTerms>,
}

impl Sub {
    fn live(status: &str) -> bool {
        matches!(status, "active" | "trialing" | "past_due")
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

/// Access held back while a dispute is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The dispute (`dp_...`).
    pub dispute_id: String,
    /// Since when (unix seconds).
    pub since: i64,
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

/// One user's entitlement as stored (JSON) in the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Telegram user id.
    pub user_id: i64,
    /// Stripe customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The subscription that speaks for the user.
    #[serde(default)]
    pub subscription: Option<Sub>,
    /// An admin grant.
    #[serde(default)]
    pub grant: Option<Grant>,
    /// A one-time purchase.
    #[serde(default)]
    pub purchase: Option<Purchase>,
    /// A dispute hold.
    #[serde(default)]
    pub hold: Option<Hold>,
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
}

/// Access from one source.
struct Source<'a> {
    state: State,
    until: Option<i64>,
    renews: bool,
    plan: Option<&'a str>,
}

impl Record {
    /// A user with no entitlement.
    pub fn none(user_id: i64) -> Self {
        Self {
            user_id,
            ..Self::default()
        }
    }

    fn sub_source(&self, now: i64, grace: i64) -> Option<Source<'_>> {
        let sub = self.subscription.as_ref().filter(|s| !s.revoked)?;
        let plan = sub.plan_id.as_deref();
        let (state, renews) = match sub.status.as_str() {
            "trialing" | "active" if sub.cancel_at_period_end => (State::Canceled, false),
            "trialing" => (State::Trialing, true),
            "active" => (State::Active, true),
            "past_due" => (State::PastDue, true),
            _ => return None,
        };
        let open = match state {
            State::Canceled => sub.period_end.is_none_or(|end| now < end),
            State::PastDue => sub.past_due_since.is_none_or(|s| now < s + grace),
            // A renewing subscription past its period end is still paid
            // for until Stripe says otherwise (the sweeper asks).
            _ => true,
        };
        open.then_some(Source {
            state,
            until: sub.period_end,
            renews,
            plan,
        })
    }

    fn grant_source(&self, now: i64) -> Option<Source<'_>> {
        let grant = self.grant.as_ref().filter(|g| now < g.until)?;
        Some(Source {
            state: State::Active,
            until: Some(grant.until),
            renews: false,
            plan: Some(&grant.plan_id),
        })
    }

    fn purchase_source(&self, now: i64) -> Option<Source<'_>> {
        let p = self
            .purchase
            .as_ref()
            .filter(|p| !p.revoked && p.until.is_none_or(|u| now < u))?;
        Some(Source {
            state: State::Active,
            until: p.until,
            renews: false,
            plan: Some(&p.plan_id),
        })
    }

    /// Where the user stands at `now` (unix seconds).
    pub fn view(&self, now: i64, grace: i64, plans: &Plans) -> View {
        let sources: Vec<Source<'_>> = [
            self.sub_source(now, grace),
            self.purchase_source(now),
            self.grant_source(now),
        ]
        .into_iter()
        .flatten()
        .collect();
        let paid_until = self
            .subscription
            .as_ref()
            .and_then(|s| s.period_end)
            .or_else(|| self.purchase.as_ref().and_then(|p| p.until));
        let granted_until = self.grant.as_ref().map(|g| g.until);
        let known_plan = self
            .subscription
            .as_ref()
            .and_then(|s| s.plan_id.clone())
            .or_else(|| self.purchase.as_ref().map(|p| p.plan_id.clone()))
            .or_else(|| self.grant.as_ref().map(|g| g.plan_id.clone()));
        let ever = self.subscription.is_some() || self.grant.is_some() || self.purchase.is_some();
        if self.hold.is_some() || sources.is_empty() {
            let state = match () {
                () if self.hold.is_some() => State::Suspended,
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
        let sub = self.sub_source(now, grace).and_then(|s| match s.state {
            State::PastDue => self
                .subscription
                .as_ref()
                .and_then(|sub| sub.past_due_since)
                .map(|since| since + grace),
            // Look again a little after a renewal, in case its webhook
            // never came.
            _ if s.renews => s.until.map(|end| end + renewal_slack),
            _ => s.until,
        });
        let grant = self.grant_source(now).and_then(|g| g.until);
        let purchase = self.purchase_source(now).and_then(|p| p.until);
        [sub, grant, purchase].into_iter().flatten().min()
    }

    /// Takes Stripe's view of a subscription, read at `seen_ms`. Returns
    /// false when it changes nothing: a read no newer than the one kept
    /// (`allow_equal` for payload-only dry runs, whose times are whole
    /// seconds), or another subscription that does not speak for the user
    /// (an ended one while a live one exists, an older one).
    pub fn observe(
        &mut self,
        view: &SubscriptionView,
        plans: &Plans,
        seen_ms: i64,
        allow_equal: bool,
        now: i64,
    ) -> bool {
        let plan = plans.plan_of_price(view.price_id.as_deref(), view.plan_id.as_deref());
        if let Some(cur) = &self.subscription {
            if cur.id == view.id {
                let newer = seen_ms > cur.seen_ms || (allow_equal && seen_ms == cur.seen_ms);
                if !newer {
                    return false;
                }
            } else {
                let (live, cur_live) = (Sub::live(&view.status), Sub::live(&cur.status));
                let speaks = match (live, cur_live) {
                    (true, false) => true,
                    (false, true) => false,
                    _ => view.created > cur.created,
                };
                if !speaks {
                    return false;
                }
            }
        }
        let same = self.subscription.as_ref().filter(|cur| cur.id == view.id);
        let past_due_since = match (view.status.as_str(), same) {
            ("past_due", Some(cur)) if cur.status == "past_due" => cur.past_due_since.or(Some(now)),
            ("past_due", _) => Some(now),
            _ => None,
        };
        let next = Sub {
            id: view.id.clone(),
            status: view.status.clone(),
            cancel_at_period_end: view.cancel_at_period_end,
            period_end: view
                .current_period_end
                .or(same.and_then(|cur| cur.period_end)),
            plan_id: plan.or(same.and_then(|cur| cur.plan_id.clone())),
            past_due_since,
            seen_ms,
            created: view.created,
            revoked: same.is_some_and(|cur| cur.revoked),
            price: view
                .price
                .clone()
                .or_else(|| same.and_then(|cur| cur.price.clone())),
        };
        if matches!(view.status.as_str(), "trialing" | "active" | "past_due") {
            self.trial_used = true;
        }
        // Active or past due means a payment went through (a trial that
        // ends unpaid goes to past_due only after a first payment).
        if view.status == "active"
            || (view.status == "past_due" && same.is_some_and(|c| c.status == "active"))
        {
            self.ever_paid = true;
        }
        if !view.customer.is_empty() {
            self.customer_id = Some(view.customer.clone());
        }
        self.subscription = Some(next);
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

    /// An admin revocation: the grant ends now; unless `grant_only`, whatever
    /// the user pays for stops opening anything too (the caller cancels it
    /// at Stripe).
    pub fn revoke(&mut self, grant_only: bool, now: i64) {
        // The grant is ended rather than forgotten: the record still shows
        // the user had access (EXPIRED, not NONE).
        if let Some(grant) = &mut self.grant {
            grant.until = grant.until.min(now);
        }
        if !grant_only {
            self.end_paid();
        }
    }

    /// Paid access ends now (a full refund, a lost dispute, a revocation):
    /// the subscription and any purchase open nothing any more, whatever
    /// Stripe says of them later; a new one would. A grant stays.
    pub fn end_paid(&mut self) {
        if let Some(sub) = &mut self.subscription {
            sub.revoked = true;
        }
        self.end_purchase();
    }

    /// What the user's subscription brings in a year, per currency (the
    /// smallest unit), given the view it produced: paying subscriptions
    /// only (active, past due, or cancelled but running), not trials.
    pub fn yearly_revenue(&self, view: &View) -> Option<(String, i64)> {
        let sub = self.subscription.as_ref().filter(|s| !s.revoked)?;
        let paying = matches!(view.state, State::Active | State::PastDue | State::Canceled)
            && matches!(sub.status.as_str(), "active" | "past_due");
        let price = sub.price.as_ref().filter(|_| paying)?;
        Some((price.currency.clone(), price.yearly()?))
    }

    /// A payment dispute opened: access is held back until it closes.
    pub fn suspend(&mut self, dispute_id: &str, now: i64) {
        self.hold = Some(Hold {
            dispute_id: dispute_id.to_owned(),
            since: now,
        });
    }

    /// A dispute closed: its hold is lifted (whatever the outcome; a lost
    /// dispute also ends the subscription, which the caller does at Stripe).
    pub fn release(&mut self, dispute_id: &str) -> bool {
        if self
            .hold
            .as_ref()
            .is_some_and(|h| h.dispute_id == dispute_id)
        {
            self.hold = None;
            return true;
        }
        false
    }

    /// The record as the API shows it at `now`.
    pub fn to_proto(&self, now: i64, grace: i64, plans: &Plans) -> Entitlement {
        let view = self.view(now, grace, plans);
        let sub = self.subscription.as_ref();
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
        }
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
        assert!(!r.observe(&sub("sub_old", "canceled", 5), &p, 9_000, false, 1));
        assert_eq!(r.view(1, 0, &p).state, State::Active);
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
        r.suspend("dp_1", 5);
        let v = r.view(6, 0, &p);
        assert_eq!(
            (v.state, v.has_access, v.chats.len()),
            (State::Suspended, false, 0)
        );
        assert!(!r.release("dp_other"));
        assert!(r.release("dp_1"));
        assert!(r.view(6, 0, &p).has_access);
    }
}
