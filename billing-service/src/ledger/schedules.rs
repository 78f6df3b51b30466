//! When the sweeper looks at a user again, and the reminders it sends.

use mesh_state::Tx;

use super::*;
use crate::clock::now;
use crate::entitlement::Record;
use crate::error::BillingError;
use crate::lifecycle;
use crate::notices::{self, Notice, NoticeKind};

impl Ledger {
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
    pub(super) fn schedules(&self, tx: &mut Tx, record: &Record, at: i64) {
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
}
