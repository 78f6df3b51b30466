//! The one place entitlements change.
//!
//! Every writer (Stripe events, admin grants and revocations, the
//! sweeper, reconcile, cancellation) goes through [`Ledger::write`], which
//! keeps the rules in one place: an older version never overwrites a newer
//! one; a change of state is audited, appended to the change log that
//! `WatchEntitlements` streams, and turned into notices for bot-service;
//! and the user's next expiry and reminder are scheduled for the sweeper.

use mesh_proto::billing::v1::{AuditEntry, ChangeCause, EntitlementChange};
use mesh_state::Store;
use serde::{Deserialize, Serialize};

use crate::entitlement::{self, Record, State, timestamp};
use crate::error::BillingError;
use crate::notices::{Notice, NoticeKind, Notices};

/// Store keys the ledger maintains.
pub mod keys {
    /// Every user billing has a record for.
    pub const USERS: &str = "billing:users";
    /// When each user's access next needs a look (the sweeper's schedule).
    pub const EXPIRY: &str = "billing:expiry";
    /// When each non-renewing user is due a reminder.
    pub const REMINDERS: &str = "billing:reminders";
    /// The change log streamed by WatchEntitlements.
    pub const CHANGES: &str = "billing:changes";
    /// A user's audit trail.
    pub fn audit(user: i64) -> String {
        format!("billing:audit:{user}")
    }
    /// Users whose access ended in a month (`YYYY-MM`).
    pub fn churned(month: &str) -> String {
        format!("billing:churned:{month}")
    }
}

/// Why a write happens.
#[derive(Debug, Clone)]
pub struct Cause {
    /// The kind of cause.
    pub cause: ChangeCause,
    /// `stripe`, `system`, or an admin (`telegram:<id>`).
    pub actor: String,
    /// The admin's reason, or the Stripe event id.
    pub reason: String,
}

impl Cause {
    /// A change caused by a Stripe event.
    pub fn stripe(event_id: &str) -> Self {
        Self {
            cause: ChangeCause::StripeEvent,
            actor: "stripe".into(),
            reason: event_id.into(),
        }
    }

    /// A change made by billing itself.
    pub fn system(cause: ChangeCause, reason: &str) -> Self {
        Self {
            cause,
            actor: "system".into(),
            reason: reason.into(),
        }
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
    /// The record after.
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
            to_state: self.record.state.to_proto().into(),
        }
    }

    /// As a streamed change.
    pub fn to_change(&self, cursor: String, now: i64, grace: i64) -> EntitlementChange {
        EntitlementChange {
            cursor,
            entitlement: Some(self.record.to_proto(now, grace)),
            previous_state: self.from.to_proto().into(),
            cause: self.cause,
            at: Some(timestamp(self.at)),
        }
    }
}

/// Entitlement reads and writes.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    notices: Notices,
    /// Past-due grace, seconds.
    pub grace: i64,
    /// How long before a non-renewing end the reminder goes out, seconds.
    pub reminder_lead: i64,
}

/// How long after a renewing period ends the sweeper checks it renewed.
pub const RENEWAL_SLACK_SECS: i64 = 6 * 3600;

impl Ledger {
    /// A ledger over `store`, sending notices through `notices`.
    pub fn new(store: Store, notices: Notices, grace: i64, reminder_lead: i64) -> Self {
        Self {
            store,
            notices,
            grace,
            reminder_lead,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The notice queue.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// Records that Stripe customer `customer` is Telegram user `user`
    /// (both directions).
    pub async fn link_customer(&self, customer: &str, user: i64) -> Result<(), BillingError> {
        self.store
            .set(
                &format!("billing:customer:{customer}"),
                user.to_string().as_bytes(),
                None,
            )
            .await?;
        self.store
            .set(
                &format!("billing:customer_of:{user}"),
                customer.as_bytes(),
                None,
            )
            .await?;
        Ok(())
    }

    /// The Telegram user of a Stripe customer.
    pub async fn user_of_customer(&self, customer: &str) -> Result<Option<i64>, BillingError> {
        let user = self
            .store
            .get(&format!("billing:customer:{customer}"))
            .await?;
        Ok(user
            .and_then(|u| String::from_utf8(u).ok())
            .and_then(|u| u.trim().parse::<i64>().ok())
            .filter(|u| *u > 0))
    }

    /// The Stripe customer of a Telegram user.
    pub async fn customer_of_user(&self, user: i64) -> Result<Option<String>, BillingError> {
        let customer = self
            .store
            .get(&format!("billing:customer_of:{user}"))
            .await?;
        Ok(customer.and_then(|c| String::from_utf8(c).ok()))
    }

    /// A user's record with its version (a user never seen gets NONE).
    pub async fn read(&self, user: i64) -> Result<(i64, Record), BillingError> {
        let key = entitlement::key(user);
        match self.store.get_versioned(&key).await? {
            Some((version, data)) => Ok((
                version,
                serde_json::from_slice(&data)
                    .map_err(|e| BillingError::Corrupt(format!("{key}: {e}")))?,
            )),
            None => Ok((i64::MIN, Record::none(user))),
        }
    }

    /// Applies `change` to a user's record as of `version` (unix seconds of
    /// the information's age). A stored record newer than `version` wins and
    /// is returned unchanged.
    pub async fn write(
        &self,
        user: i64,
        version: i64,
        cause: Cause,
        change: impl FnOnce(&mut Record),
    ) -> Result<Record, BillingError> {
        let (stored, before) = self.read(user).await?;
        if stored > version {
            metrics::counter!("billing_stale_writes_total").increment(1);
            return Ok(before);
        }
        let mut after = before.clone();
        change(&mut after);
        if after == before {
            return Ok(before);
        }
        after.updated_at = version;
        let data = serde_json::to_vec(&after).map_err(|e| BillingError::Internal(e.to_string()))?;
        if !self
            .store
            .put_if_newer(&entitlement::key(user), version, &data)
            .await?
        {
            // A newer write landed between our read and write: it wins.
            return Ok(self.read(user).await?.1);
        }
        self.store.set_add(keys::USERS, &user.to_string()).await?;
        self.reschedule(&after).await?;
        if after.state != before.state || after.current_period_end != before.current_period_end {
            self.record_change(&before, &after, version, &cause).await?;
        }
        Ok(after)
    }

    async fn reschedule(&self, record: &Record) -> Result<(), BillingError> {
        let member = record.user_id.to_string();
        match record.lapses_at(self.grace, RENEWAL_SLACK_SECS) {
            Some(at) => self.store.schedule(keys::EXPIRY, &member, at).await?,
            None => self.store.unschedule(keys::EXPIRY, &member).await?,
        }
        match record.current_period_end {
            Some(end) if record.ends_without_renewal() => {
                self.store
                    .schedule(keys::REMINDERS, &member, end - self.reminder_lead)
                    .await?;
            }
            _ => self.store.unschedule(keys::REMINDERS, &member).await?,
        }
        Ok(())
    }

    async fn record_change(
        &self,
        before: &Record,
        after: &Record,
        version: i64,
        cause: &Cause,
    ) -> Result<(), BillingError> {
        let at = entitlement::now();
        let entry = StoredChange {
            at,
            actor: cause.actor.clone(),
            cause: cause.cause as i32,
            reason: cause.reason.clone(),
            from: before.state,
            record: after.clone(),
        };
        let json = serde_json::to_vec(&entry).map_err(|e| BillingError::Internal(e.to_string()))?;
        self.store
            .list_push(&keys::audit(after.user_id), &json, 1000)
            .await?;
        self.store.log_append(keys::CHANGES, &json, 100_000).await?;
        metrics::counter!("billing_entitlement_changes_total", "to" => format!("{:?}", after.state).to_lowercase())
            .increment(1);
        // "Had" is the state that let the user in (they are still in the
        // chat even when the grace or period already ran out); "has" is now.
        let had = matches!(
            before.state,
            State::Active | State::Trialing | State::PastDue | State::Canceled
        );
        let has = after.has_access(at, self.grace);
        if had && !has {
            let month = month_of(at);
            self.store
                .set_add(&keys::churned(&month), &after.user_id.to_string())
                .await?;
        }
        for notice in notices_for(before, after, version, cause, had, has) {
            self.notices.send(notice).await?;
        }
        Ok(())
    }
}

/// What bot-service should be told about a change.
fn notices_for(
    before: &Record,
    after: &Record,
    version: i64,
    cause: &Cause,
    had: bool,
    has: bool,
) -> Vec<Notice> {
    let notice = |kind: NoticeKind, reason: &str| Notice {
        id: format!(
            "{}:{}:{version}",
            after.user_id,
            kind.as_str_name().to_ascii_lowercase()
        ),
        user: after.user_id,
        kind,
        plan_id: after.plan_id.clone(),
        access_until: after.current_period_end,
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    if !had && has {
        out.push(notice(NoticeKind::AccessGranted, ""));
    } else if had && !has {
        let reason = match (cause.cause, before.state) {
            (ChangeCause::AdminRevoke, _) => "revoked",
            (_, State::PastDue) => "payment_failed",
            (_, State::Canceled) => "canceled",
            _ => "expired",
        };
        out.push(notice(NoticeKind::AccessEnded, reason));
    } else if has {
        match (before.state, after.state) {
            (State::PastDue, State::Active | State::Trialing) => {
                out.push(notice(NoticeKind::PaymentRecovered, ""))
            }
            (b, State::PastDue) if b != State::PastDue => {
                out.push(notice(NoticeKind::PaymentFailed, ""))
            }
            (b, State::Canceled) if b != State::Canceled => {
                out.push(notice(NoticeKind::Canceled, ""))
            }
            _ => {}
        }
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
        assert_eq!(
            month_of(951_782_400),
            "2000-02-29".get(..7).unwrap_or_default()
        );
        assert_eq!(month_of(1_795_953_000), "2026-11");
        assert_eq!(month_of(1_709_251_199), "2024-02");
        assert_eq!(month_of(1_709_251_200), "2024-03");
    }

    /// Transitions produce the notices bot-service acts on.
    #[test]
    fn notices() {
        let cause = Cause::stripe("evt_1");
        let mut before = Record::none(7);
        let mut after = before.clone();
        after.state = State::Active;
        let n = notices_for(&before, &after, 5, &cause, false, true);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].id.as_str()),
            (NoticeKind::AccessGranted, "7:notice_kind_access_granted:5")
        );
        before = after.clone();
        after.state = State::PastDue;
        assert_eq!(
            notices_for(&before, &after, 6, &cause, true, true)[0].kind,
            NoticeKind::PaymentFailed
        );
        before = after.clone();
        after.state = State::Expired;
        let ended = &notices_for(&before, &after, 7, &cause, true, false)[0];
        assert_eq!(
            (ended.kind, ended.reason.as_str()),
            (NoticeKind::AccessEnded, "payment_failed")
        );
    }
}
