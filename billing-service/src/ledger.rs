//! The one place entitlements change.
//!
//! Every writer (Stripe events, admin grants and revocations, the sweeper,
//! reconcile, cancellation) goes through [`Ledger::transition`]: read the
//! record, apply the change (a method of [`Record`]), derive what follows
//! (audit entry, change-log entry, counters, schedules for the sweeper,
//! notices for bot-service), and commit all of it in one atomic step with a
//! guard on the record's revision (and, for a Stripe event, on the event
//! not having been applied yet). A store failure or a cancelled caller
//! leaves all of it or none of it; a concurrent writer makes the guard
//! fail and the transition is computed again from the newer record.
//!
//! Every key here lives in the `{billing}` scope (one Redis Cluster slot):
//! a transition touches the user's record and the shared indexes together.
//! Billing's write rate (Stripe events, admin actions) is far below what
//! one node serves.

use std::sync::Arc;
use std::time::Duration;

use mesh_proto::billing::v1::{AuditEntry, ChangeCause, EntitlementChange};
use mesh_state::{Store, Tx, TxOutcome};
use serde::{Deserialize, Serialize};

use crate::counters::{self, Daily};
use crate::entitlement::{Record, State, View, now, timestamp};
use crate::error::BillingError;
use crate::lifecycle;
use crate::notices::{self, AccessReason, Notice, NoticeKind, Notices};
use crate::plans::Plans;
use crate::stars::StarsApi;

/// Store keys the ledger maintains.
pub mod keys {
    /// Every user billing has a record for.
    pub const USERS: &str = "{billing}:users";
    /// When each user's access next needs a look (the sweeper's schedule).
    pub const EXPIRY: &str = "{billing}:expiry";
    /// When each user whose access ends without renewal is due a reminder.
    pub const REMINDERS: &str = "{billing}:reminders";
    /// The change log streamed by WatchEntitlements.
    pub const CHANGES: &str = "{billing}:changes";
    /// A user's entitlement record.
    pub fn record(user: i64) -> String {
        format!("{{billing}}:entitlement:{user}")
    }
    /// A user's audit trail.
    pub fn audit(user: i64) -> String {
        format!("{{billing}}:audit:{user}")
    }
    /// Users whose access ended in a month (`YYYY-MM`).
    pub fn churned(month: &str) -> String {
        format!("{{billing}}:churned:{month}")
    }
    /// An applied Stripe event.
    pub fn event(id: &str) -> String {
        format!("{{billing}}:event:{id}")
    }
    /// The Telegram user of a Stripe customer.
    pub fn customer(customer: &str) -> String {
        format!("{{billing}}:customer:{customer}")
    }
    /// The Stripe customer of a Telegram user.
    pub fn customer_of(user: i64) -> String {
        format!("{{billing}}:customer_of:{user}")
    }
    /// How many users are in a state.
    pub fn state_count(state: &str) -> String {
        format!("{{billing}}:count:state:{state}")
    }
    /// How many users have access through a plan.
    pub fn plan_count(plan: &str) -> String {
        format!("{{billing}}:count:plan:{plan}")
    }
    /// The open Checkout session of a user and plan.
    pub fn checkout(user: i64, plan: &str) -> String {
        format!("{{billing}}:checkout:{user}:{plan}")
    }
}

/// Why a transition happens.
#[derive(Debug, Clone)]
pub struct Cause {
    /// The kind of cause.
    pub cause: ChangeCause,
    /// `stripe`, `system`, or an admin (`telegram:<id>`).
    pub actor: String,
    /// The admin's reason, or the Stripe event id.
    pub reason: String,
    /// Why access ends, when the cause knows better than the states do
    /// (a revocation, a refund, a dispute).
    pub ends_because: Option<AccessReason>,
    /// A day counter the change adds one to, committed with it (a
    /// completed Checkout), even when the record does not change.
    pub bump: Option<Daily>,
}

impl Cause {
    /// A change caused by a Stripe event.
    pub fn stripe(event_id: &str) -> Self {
        Self::new(ChangeCause::StripeEvent, "stripe", event_id)
    }

    /// A change made by billing itself.
    pub fn system(cause: ChangeCause, reason: &str) -> Self {
        Self::new(cause, "system", reason)
    }

    /// A change with every field given.
    pub fn new(cause: ChangeCause, actor: &str, reason: &str) -> Self {
        Self {
            cause,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            ends_because: None,
            bump: None,
        }
    }

    /// The same cause, counting one `what` with the change.
    pub fn counting(mut self, what: Daily) -> Self {
        self.bump = Some(what);
        self
    }

    /// The same cause, ending access for `reason`.
    pub fn ending(mut self, reason: AccessReason) -> Self {
        self.ends_because = Some(reason);
        self
    }
}

/// A stored audit entry / change log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredChange {
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// [`ChangeCause`] as i32.
    pub cause: i32,
    /// Why.
    pub reason: String,
    /// State before.
    pub from: State,
    /// The record after (its `shown` view is the state after).
    pub record: Record,
}

impl StoredChange {
    /// As an audit entry.
    pub fn to_audit(&self) -> AuditEntry {
        AuditEntry {
            at: Some(timestamp(self.at)),
            actor: self.actor.clone(),
            cause: self.cause,
            reason: self.reason.clone(),
            from_state: self.from.to_proto().into(),
            to_state: self.record.shown.state.to_proto().into(),
        }
    }

    /// As a streamed change: the entitlement as of the change.
    pub fn to_change(&self, cursor: String, terms: &Terms) -> EntitlementChange {
        EntitlementChange {
            cursor,
            entitlement: Some(self.record.to_proto(self.at, terms.grace, &terms.plans)),
            previous_state: self.from.to_proto().into(),
            cause: self.cause,
            at: Some(timestamp(self.at)),
        }
    }
}

/// The rules every transition applies.
#[derive(Debug, Clone)]
pub struct Terms {
    /// Past-due grace, seconds.
    pub grace: i64,
    /// How long before a non-renewing end the reminder goes out, seconds.
    pub reminder_lead: i64,
    /// How long before a renewal the opt-in reminder goes out, seconds
    /// (0: none).
    pub renewal_lead: i64,
    /// How long after access ends the win-back message goes out, seconds
    /// (0: none).
    pub winback_after: i64,
    /// How long an applied event id is remembered.
    pub event_ttl: Duration,
    /// The plans and the chats they open.
    pub plans: Plans,
}

/// How long after a renewing period ends the sweeper checks it renewed.
pub const RENEWAL_SLACK_SECS: i64 = 6 * 3600;

/// What a transition did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Committed (or nothing to change); the record after.
    Applied(Box<Record>),
    /// The Stripe event had been applied before; nothing changed.
    Duplicate,
}

impl Outcome {
    /// The record as committed, when this call committed it.
    pub fn committed(&self) -> Option<&Record> {
        match self {
            Self::Applied(record) => Some(record),
            Self::Duplicate => None,
        }
    }
}

/// Entitlement reads and writes.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    notices: Notices,
    terms: Arc<Terms>,
    stars: Option<StarsApi>,
}

/// How often a transition is recomputed when concurrent writers keep
/// winning the race before giving up (UNAVAILABLE: the caller retries).
const CONTENDED_TRIES: usize = 8;

impl Ledger {
    /// A ledger over `store`, waking `notices` after commits that queue some.
    pub fn new(store: Store, notices: Notices, terms: Terms) -> Self {
        Self {
            store,
            notices,
            terms: Arc::new(terms),
            stars: None,
        }
    }

    /// The same ledger, making Telegram Stars writes through `stars`.
    pub fn with_stars(mut self, stars: Option<StarsApi>) -> Self {
        self.stars = stars;
        self
    }

    /// Telegram's Stars API, when a bot token is configured.
    pub fn stars(&self) -> Option<&StarsApi> {
        self.stars.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One of the counters [`count`] keeps (0 when never written).
    pub async fn counter(&self, key: &str) -> Result<u64, BillingError> {
        Ok(self
            .store
            .get(key)
            .await?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// Wakes notice delivery (after a commit that queued some).
    pub fn wake_notices(&self) {
        self.notices.wake();
    }

    /// The rules.
    pub fn terms(&self) -> &Terms {
        &self.terms
    }

    /// The Telegram user of a Stripe customer.
    pub async fn user_of_customer(&self, customer: &str) -> Result<Option<i64>, BillingError> {
        let user = self.store.get(&keys::customer(customer)).await?;
        Ok(user
            .and_then(|u| String::from_utf8(u).ok())
            .and_then(|u| u.trim().parse::<i64>().ok())
            .filter(|u| *u > 0))
    }

    /// The Stripe customer of a Telegram user.
    pub async fn customer_of_user(&self, user: i64) -> Result<Option<String>, BillingError> {
        let customer = self.store.get(&keys::customer_of(user)).await?;
        Ok(customer.and_then(|c| String::from_utf8(c).ok()))
    }

    /// Records that Stripe customer `customer` is Telegram user `user`
    /// (both directions, in one step).
    pub async fn link_customer(&self, customer: &str, user: i64) -> Result<(), BillingError> {
        let mut tx = Tx::new();
        link(&mut tx, customer, user);
        self.store.commit(&tx).await?;
        Ok(())
    }

    /// The store's clock (unix ms), the one every replica stamps its
    /// Stripe reads with, so reads order the same way on every replica
    /// whatever each machine's clock says.
    pub async fn clock_ms(&self) -> Result<i64, BillingError> {
        Ok(self.store.clock_ms(keys::USERS).await?)
    }

    /// A user's record with its revision (0 and NONE for a user never seen).
    pub async fn read(&self, user: i64) -> Result<(i64, Record), BillingError> {
        let key = keys::record(user);
        match self.store.get_versioned(&key).await? {
            Some((rev, data)) => Ok((
                rev,
                serde_json::from_slice(&data)
                    .map_err(|e| BillingError::Corrupt(format!("{key}: {e}")))?,
            )),
            None => Ok((0, Record::none(user))),
        }
    }

    /// Whether Stripe event `id` has been applied: `None` if not, else the
    /// user it changed, when it changed one (its pending Stripe writes are
    /// the retry's to make). When it has, its notices are queued; a wake
    /// covers a first commit whose reply was lost.
    pub async fn applied(&self, id: &str) -> Result<Option<Option<i64>>, BillingError> {
        let mark = self.store.get(&keys::event(id)).await?;
        if mark.is_some() {
            self.notices.wake();
        }
        Ok(mark.map(|m| {
            std::str::from_utf8(&m)
                .ok()
                .and_then(|u| u.parse::<i64>().ok())
        }))
    }

    /// Marks Stripe event `id` applied with nothing else to do (but the
    /// counter `bump`); false when it already was.
    pub async fn mark_event(&self, id: &str, bump: Option<Daily>) -> Result<bool, BillingError> {
        let mut tx = Tx::new();
        tx.expect_absent(&keys::event(id));
        tx.set(&keys::event(id), b"done", Some(self.terms.event_ttl));
        if let Some(what) = bump {
            counters::bump(&mut tx, what, now());
        }
        Ok(self.store.commit(&tx).await?.committed())
    }

    /// Applies `change` to the user's record and commits it with
    /// everything that follows, atomically; with `event`, also marks that
    /// Stripe event applied (and does nothing if it already was). `change`
    /// gets the record and the time, and returns notices to send besides
    /// those the new view implies; it may run more than once (when a
    /// concurrent writer wins), so it must only touch the record.
    pub async fn transition<F>(
        &self,
        user: i64,
        cause: &Cause,
        event: Option<&str>,
        change: F,
    ) -> Result<Outcome, BillingError>
    where
        F: Fn(&mut Record, i64) -> Result<Vec<Notice>, BillingError>,
    {
        for _ in 0..CONTENDED_TRIES {
            let (rev, before) = self.read(user).await?;
            let at = now();
            let mut after = before.clone();
            after.user_id = user;
            let extra = change(&mut after, at)?;
            let view = after.view(at, self.terms.grace, &self.terms.plans);
            let shown_changed = view != before.shown;
            if after == before && !shown_changed && extra.is_empty() {
                // Nothing to change may mean an earlier try committed and
                // lost its reply (and its wake): its notices wait queued.
                self.notices.wake();
                return match event {
                    Some(id) if !self.mark_event(id, cause.bump).await? => Ok(Outcome::Duplicate),
                    _ => Ok(Outcome::Applied(Box::new(before))),
                };
            }
            after.shown = view;
            after.updated_at = at;
            let (tx, event_guard, notices) =
                self.build(rev, &before, &after, cause, event, extra, at)?;
            let committed = match self.store.commit(&tx).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    // The commit may have landed with only its reply lost:
                    // its notices wait queued, so wake their delivery.
                    if notices > 0 {
                        self.notices.wake();
                    }
                    return Err(e.into());
                }
            };
            match committed {
                TxOutcome::Committed => {
                    if notices > 0 {
                        self.notices.wake();
                    }
                    if shown_changed {
                        metrics::counter!("billing_entitlement_changes_total", "to" => after.shown.state.name())
                            .increment(1);
                    }
                    return Ok(Outcome::Applied(Box::new(after)));
                }
                TxOutcome::Refused(g) if Some(g) == event_guard => {
                    // Its first commit may have lost its reply (and wake).
                    self.notices.wake();
                    return Ok(Outcome::Duplicate);
                }
                TxOutcome::Refused(_) => {
                    metrics::counter!("billing_transition_conflicts_total").increment(1);
                }
            }
        }
        Err(BillingError::Unavailable(
            "entitlement changed concurrently too often; retry".into(),
        ))
    }

    /// Re-files the user's schedules from the record as it stands (the
    /// sweeper, when a look changed nothing).
    pub async fn reschedule(&self, user: i64, at: i64) -> Result<(), BillingError> {
        let (_, record) = self.read(user).await?;
        let mut tx = Tx::new();
        self.schedules(&mut tx, &record, at);
        self.store.commit(&tx).await?;
        Ok(())
    }

    /// Makes the sweeper look at `user` again at `at`.
    pub async fn look_again(&self, user: i64, at: i64) -> Result<(), BillingError> {
        let mut tx = Tx::new();
        tx.schedule(keys::EXPIRY, &user.to_string(), at);
        self.store.commit(&tx).await?;
        Ok(())
    }

    /// Sends the reminder due for `user` (access ending without renewal),
    /// and clears it, in one step; a reminder that no longer applies (the
    /// user renewed, or the end passed) is only cleared. Each end date is
    /// announced once.
    pub async fn remind(&self, user: i64) -> Result<(), BillingError> {
        let (_, record) = self.read(user).await?;
        let at = now();
        let view = record.view(at, self.terms.grace, &self.terms.plans);
        let mut tx = Tx::new();
        tx.unschedule(keys::REMINDERS, &user.to_string());
        if let Some(end) = view
            .until
            .filter(|end| view.has_access && !view.renews && *end > at)
        {
            let mut notice = Notice::new(
                format!("{user}:ending_soon:{end}"),
                user,
                NoticeKind::EndingSoon,
            );
            notice.plan_id = view.plan_id.clone();
            notice.access_until = Some(end);
            let (id, partition, item) = notice.item()?;
            tx.enqueue(notices::QUEUE, &notices::CONFIG, &id, &partition, item);
        }
        self.store.commit(&tx).await?;
        self.notices.wake();
        Ok(())
    }

    /// Files the sweeper's next look and the reminder for `record`.
    fn schedules(&self, tx: &mut Tx, record: &Record, at: i64) {
        let member = record.user_id.to_string();
        let terms = &self.terms;
        // Writes to Stripe still pending: the sweeper makes them soon if
        // nobody else does first.
        let retry = (!record.pending.is_empty()).then_some(at + crate::writes::RETRY_SECS);
        let look = [record.lapses_at(at, terms.grace, RENEWAL_SLACK_SECS), retry]
            .into_iter()
            .flatten()
            .min();
        match look {
            Some(t) => tx.schedule(keys::EXPIRY, &member, t),
            None => tx.unschedule(keys::EXPIRY, &member),
        };
        let view = &record.shown;
        match view.until {
            // A reminder only ever announces a future end.
            Some(end) if view.has_access && !view.renews && end > at => tx.schedule(
                keys::REMINDERS,
                &member,
                (end - terms.reminder_lead).max(at),
            ),
            _ => tx.unschedule(keys::REMINDERS, &member),
        };
        lifecycle::schedule_renewal(tx, terms, record, at);
    }

    /// The commit of one transition; also the index of the event guard and
    /// how many notices it queues.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        rev: i64,
        before: &Record,
        after: &Record,
        cause: &Cause,
        event: Option<&str>,
        extra: Vec<Notice>,
        at: i64,
    ) -> Result<(Tx, Option<usize>, usize), BillingError> {
        let user = after.user_id;
        let key = keys::record(user);
        let mut tx = Tx::new();
        tx.expect_rev(&key, rev);
        let event_guard = event.map(|id| tx.expect_absent(&keys::event(id)));
        let json = serde_json::to_vec(after).map_err(|e| BillingError::Internal(e.to_string()))?;
        tx.put_record(&key, rev + 1, json);
        tx.set_add(keys::USERS, &user.to_string());
        if let Some(customer) = &after.customer_id
            && before.customer_id.as_ref() != Some(customer)
        {
            link(&mut tx, customer, user);
        }
        self.schedules(&mut tx, after, at);
        let (from, to) = (&before.shown, &after.shown);
        if from != to {
            let entry = StoredChange {
                at,
                actor: cause.actor.clone(),
                cause: cause.cause as i32,
                reason: cause.reason.clone(),
                from: from.state,
                record: after.clone(),
            };
            let json =
                serde_json::to_vec(&entry).map_err(|e| BillingError::Internal(e.to_string()))?;
            tx.list_push(&keys::audit(user), json.clone(), 1000);
            tx.log_append(keys::CHANGES, json, 100_000);
            count(&mut tx, from, to);
            if from.has_access && !to.has_access {
                tx.set_add(&keys::churned(&month_of(at)), &user.to_string());
                counters::bump(&mut tx, Daily::Left, at);
            }
            if !from.has_access && to.has_access {
                counters::bump(&mut tx, Daily::Joined, at);
            }
            lifecycle::schedule_winback(&mut tx, &self.terms, from, to, cause, user, at);
        }
        counters::revenue(
            &mut tx,
            before.yearly_revenue(from).as_ref(),
            after.yearly_revenue(to).as_ref(),
        );
        // Each side as of its own commit: what was counted then.
        let grace = self.terms.grace;
        counters::stars(
            &mut tx,
            (
                before.stars_monthly(before.updated_at, grace),
                before.stars_since(0),
            ),
            (after.stars_monthly(at, grace), after.stars_since(0)),
            at,
        );
        if let Some(what) = cause.bump {
            counters::bump(&mut tx, what, at);
        }
        let mut notices = notices_for(user, rev + 1, from, to, cause, before);
        notices.extend(extra);
        for notice in &notices {
            let (id, partition, item) = notice.item()?;
            tx.enqueue(notices::QUEUE, &notices::CONFIG, &id, &partition, item);
        }
        // The mark names the user, for a retry to find their pending
        // Stripe writes.
        if let Some(id) = event {
            tx.set(
                &keys::event(id),
                user.to_string().as_bytes(),
                Some(self.terms.event_ttl),
            );
        }
        Ok((tx, event_guard, notices.len()))
    }
}

/// Links a customer and a user (both directions).
fn link(tx: &mut Tx, customer: &str, user: i64) {
    tx.set(&keys::customer(customer), user.to_string().as_bytes(), None)
        .set(&keys::customer_of(user), customer.as_bytes(), None);
}

/// Keeps the per-state and per-plan counters (`GetStats` reads them
/// instead of every record).
fn count(tx: &mut Tx, from: &View, to: &View) {
    if from.state != to.state {
        if from.state != State::None {
            tx.incr(&keys::state_count(from.state.name()), -1);
        }
        tx.incr(&keys::state_count(to.state.name()), 1);
    }
    let plan = |v: &View| v.has_access.then(|| v.plan_id.clone().unwrap_or_default());
    let (was, is) = (plan(from), plan(to));
    if was != is {
        if let Some(p) = was {
            tx.incr(&keys::plan_count(&p), -1);
        }
        if let Some(p) = is {
            tx.incr(&keys::plan_count(&p), 1);
        }
    }
}

/// What bot-service must be told about a change from view `from` to `to`.
/// Ids carry the record's new revision: one commit, one set of notices.
fn notices_for(
    user: i64,
    rev: i64,
    from: &View,
    to: &View,
    cause: &Cause,
    before: &Record,
) -> Vec<Notice> {
    let notice = |kind: NoticeKind| {
        let name = kind.as_str_name().trim_start_matches("NOTICE_KIND_");
        let mut n = Notice::new(
            format!("{user}:{}:{rev}", name.to_ascii_lowercase()),
            user,
            kind,
        );
        n.plan_id = to.plan_id.clone();
        n.access_until = to.until;
        n
    };
    let mut out = Vec::new();
    let gained: Vec<i64> = to
        .chats
        .iter()
        .copied()
        .filter(|c| !from.chats.contains(c))
        .collect();
    let lost: Vec<i64> = from
        .chats
        .iter()
        .copied()
        .filter(|c| !to.chats.contains(c))
        .collect();
    if !gained.is_empty() {
        let mut n = notice(NoticeKind::AccessGranted);
        n.chats = gained;
        out.push(n);
    }
    if !lost.is_empty() {
        let mut n = notice(NoticeKind::AccessEnded);
        n.access_until = from.until;
        n.chats = lost;
        n.reason = if to.has_access {
            AccessReason::PlanChanged
        } else if let Some(reason) = cause.ends_because {
            reason
        } else if to.state == State::Suspended {
            AccessReason::Disputed
        } else {
            match from.state {
                State::PastDue => AccessReason::PaymentFailed,
                State::Canceled if before.grant.is_none() => AccessReason::Canceled,
                _ => AccessReason::Expired,
            }
        };
        out.push(n);
    }
    if from.has_access && to.has_access {
        let kind = match (from.state, to.state) {
            (State::PastDue, State::Active | State::Trialing) => Some(NoticeKind::PaymentRecovered),
            (f, State::PastDue) if f != State::PastDue => Some(NoticeKind::PaymentFailed),
            // The user who cancelled or resumed in the bot is answered there.
            (f, State::Canceled)
                if f != State::Canceled && cause.cause != ChangeCause::CancelRequest =>
            {
                Some(NoticeKind::Canceled)
            }
            (State::Canceled, State::Active | State::Trialing)
                if cause.cause != ChangeCause::ResumeRequest =>
            {
                Some(NoticeKind::Resumed)
            }
            _ => None,
        };
        out.extend(kind.map(notice));
    }
    out
}

/// `YYYY-MM` of a unix time (UTC), by the civil-from-days algorithm:
/// one small function rather than a date crate for one format.
pub fn month_of(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known dates.
    #[test]
    fn months() {
        assert_eq!(month_of(0), "1970-01");
        assert_eq!(month_of(951_782_400), "2000-02");
        assert_eq!(month_of(1_795_953_000), "2026-11");
        assert_eq!(month_of(1_709_251_199), "2024-02");
        assert_eq!(month_of(1_709_251_200), "2024-03");
    }

    fn view(state: State, chats: &[i64]) -> View {
        View {
            state,
            has_access: !chats.is_empty(),
            chats: chats.to_vec(),
            ..View::default()
        }
    }

    /// Views' differences become the notices bot-service acts on; a user's
    /// own cancellation is not announced again.
    #[test]
    fn notices() {
        let cause = Cause::stripe("evt_1");
        let none = Record::none(7);
        let granted = notices_for(
            7,
            5,
            &View::default(),
            &view(State::Active, &[-1, -2]),
            &cause,
            &none,
        );
        assert_eq!(granted.len(), 1);
        assert_eq!(
            (
                granted[0].kind,
                granted[0].id.as_str(),
                granted[0].chats.as_slice()
            ),
            (
                NoticeKind::AccessGranted,
                "7:access_granted:5",
                &[-1, -2][..]
            )
        );
        let failed = notices_for(
            7,
            6,
            &view(State::Active, &[-1]),
            &view(State::PastDue, &[-1]),
            &cause,
            &none,
        );
        assert_eq!(failed[0].kind, NoticeKind::PaymentFailed);
        let ended = notices_for(
            7,
            7,
            &view(State::PastDue, &[-1]),
            &view(State::Expired, &[]),
            &cause,
            &none,
        );
        assert_eq!(
            (ended[0].kind, ended[0].reason),
            (NoticeKind::AccessEnded, AccessReason::PaymentFailed)
        );
        let own = Cause::new(ChangeCause::CancelRequest, "telegram:7", "cancelled");
        assert!(
            notices_for(
                7,
                8,
                &view(State::Active, &[-1]),
                &view(State::Canceled, &[-1]),
                &own,
                &none
            )
            .is_empty()
        );
        let changed = notices_for(
            7,
            9,
            &view(State::Active, &[-1, -2]),
            &view(State::Active, &[-1, -3]),
            &cause,
            &none,
        );
        assert_eq!(changed.len(), 2);
        assert_eq!(
            (
                changed[1].kind,
                changed[1].reason,
                changed[1].chats.as_slice()
            ),
            (
                NoticeKind::AccessEnded,
                AccessReason::PlanChanged,
                &[-2][..]
            )
        );
    }
}
