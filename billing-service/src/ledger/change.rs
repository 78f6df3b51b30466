//! What a transition is about: its cause, the audit and change-log entry
//! it leaves, the rules every transition applies, and its outcome.

use std::time::Duration;

use mesh_proto::billing::v1::{AuditEntry, ChangeCause, EntitlementChange};
use serde::{Deserialize, Serialize};

use crate::clock::timestamp;
use crate::counters::Daily;
use crate::entitlement::{Record, State};
use crate::notices::AccessReason;
use crate::plans::Plans;

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
