//! What one transition's commit writes besides the record.

use mesh_state::Tx;

use super::derive::notices_for;
use super::*;
use crate::counters::{self, Daily};
use crate::entitlement::{Record, State, View};
use crate::error::BillingError;
use crate::lifecycle;
use crate::notices::{self, Notice};

/// One transition's record before and after, at its revision and time.
#[derive(Clone, Copy)]
pub(super) struct Step<'a> {
    /// The revision `before` was read at.
    pub(super) rev: i64,
    /// The record as read.
    pub(super) before: &'a Record,
    /// The record as the change left it.
    pub(super) after: &'a Record,
    /// When (unix seconds).
    pub(super) at: i64,
}

impl Ledger {
    /// The commit of one transition; also the index of the event guard and
    /// how many notices it queues.
    pub(super) fn build(
        &self,
        step: &Step<'_>,
        cause: &Cause,
        event: Option<&str>,
        extra: Vec<Notice>,
    ) -> Result<(Tx, Option<usize>, usize), BillingError> {
        let Step {
            rev,
            before,
            after,
            at,
        } = *step;
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
pub(super) fn link(tx: &mut Tx, customer: &str, user: i64) {
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
