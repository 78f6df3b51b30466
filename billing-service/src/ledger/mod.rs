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
//!
//! One file per concern: [`keys`], [`change`] (causes, entries, terms),
//! the transition here, [`schedules`] (the sweeper's and reminders'),
//! [`commit`] (what one commit writes), [`derive`] (the notices a change
//! implies).

mod change;
mod commit;
mod derive;
pub mod keys;
mod schedules;

use std::sync::Arc;

use mesh_state::{Store, Tx, TxOutcome};

pub use self::change::*;
pub use self::derive::month_of;
use crate::clock::now;
use crate::counters::{self, Daily};
use crate::entitlement::Record;
use crate::error::BillingError;
use crate::notices::{Notice, Notices};
use crate::stars::StarsApi;

/// Entitlement reads and writes.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    notices: Notices,
    terms: Arc<Terms>,
    stars: Option<StarsApi>,
}

/// A transition's change of a record (see [`Ledger::transition`]).
type Change<'a> = dyn Fn(&mut Record, i64) -> Result<Vec<Notice>, BillingError> + Sync + 'a;

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
        commit::link(&mut tx, customer, user);
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
    /// counter `bump`); false when it already was. Answered once the
    /// primary has it: callers wait for replicas ([`Self::replicated`]).
    pub async fn mark_event(&self, id: &str, bump: Option<Daily>) -> Result<bool, BillingError> {
        let mut tx = Tx::new();
        tx.expect_absent(&keys::event(id));
        tx.set(&keys::event(id), b"done", Some(self.terms.event_ttl));
        if let Some(what) = bump {
            counters::bump(&mut tx, what, now());
        }
        Ok(self.store.commit(&tx).await?.committed())
    }

    /// Waits until the replicas `STORE_ACK_REPLICAS` asks for hold every
    /// ledger write made so far (nothing to wait for by default): a change
    /// is answered for only once a failover cannot lose it, and a retry
    /// that finds it already made waits again, as its first try may have
    /// fallen short.
    pub async fn replicated(&self) -> Result<(), BillingError> {
        Ok(self.store.replicated(keys::USERS, "ledger").await?)
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
        F: Fn(&mut Record, i64) -> Result<Vec<Notice>, BillingError> + Sync,
    {
        // Answered only once the replicas asked for hold it.
        let outcome = self.on_primary(user, cause, event, &change).await?;
        self.replicated().await?;
        Ok(outcome)
    }

    /// [`Self::transition`] as far as the primary (its change not generic:
    /// one copy of the loop).
    async fn on_primary(
        &self,
        user: i64,
        cause: &Cause,
        event: Option<&str>,
        change: &Change<'_>,
    ) -> Result<Outcome, BillingError> {
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
            let (tx, event_guard, notices) = self.build(
                &commit::Step {
                    rev,
                    before: &before,
                    after: &after,
                    at,
                },
                cause,
                event,
                extra,
            )?;
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
}
