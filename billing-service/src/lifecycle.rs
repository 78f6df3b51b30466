//! Messages an operator expects around the edges of a subscription, each
//! scheduled in the commit of the change it follows from and sent by the
//! sweeper when due:
//!
//! - a reminder before an automatic renewal, with the amount
//!   (`BILLING_RENEWAL_REMINDER_DAYS`, off by default);
//! - a win-back message some days after access ended
//!   (`BILLING_WINBACK_DAYS`, off by default): not after a revocation, a
//!   refund or a dispute, and not when the user came back meanwhile.
//!
//! Each is sent once per date: its notice id carries the renewal date or
//! the end it follows.

use mesh_state::Tx;

use crate::clock::now;
use crate::entitlement::{Record, State, View};
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, Terms};
use crate::notices::{self, AccessReason, Notice, NoticeKind};

/// When each renewing user is due their renewal reminder.
pub const RENEWALS: &str = "{billing}:renewals";
/// When each user whose access ended is due the win-back message; the
/// member is `<user>:<end>`.
pub const WINBACK: &str = "{billing}:winback";

/// Files (or clears) `record`'s renewal reminder.
pub fn schedule_renewal(tx: &mut Tx, terms: &Terms, record: &Record, at: i64) {
    let member = record.user_id.to_string();
    let view = &record.shown;
    match view.until {
        Some(renews_at)
            if terms.renewal_lead > 0
                && view.has_access
                && view.renews
                && view.state == State::Active
                && renews_at > at =>
        {
            tx.schedule(RENEWALS, &member, (renews_at - terms.renewal_lead).max(at))
        }
        _ => tx.unschedule(RENEWALS, &member),
    };
}

/// Files the win-back message when access ends for a reason worth
/// winning back from.
pub fn schedule_winback(
    tx: &mut Tx,
    terms: &Terms,
    from: &View,
    to: &View,
    cause: &Cause,
    user: i64,
    at: i64,
) {
    if terms.winback_after <= 0 || !from.has_access || to.has_access {
        return;
    }
    let deliberate = matches!(
        cause.ends_because,
        Some(AccessReason::Revoked | AccessReason::Refunded | AccessReason::Disputed)
    ) || to.state == State::Suspended;
    if !deliberate {
        tx.schedule(WINBACK, &format!("{user}:{at}"), at + terms.winback_after);
    }
}

impl Ledger {
    /// Sends `user` their renewal reminder if they still renew then, and
    /// clears it, in one step. `next` is what Stripe's preview of the next
    /// invoice charges (coupons, tax, quantity), when it could be asked;
    /// else the price's list amount is quoted.
    pub async fn remind_renewal(
        &self,
        user: i64,
        next: Option<(i64, String)>,
    ) -> Result<(), BillingError> {
        let (_, record) = self.read(user).await?;
        let at = now();
        let terms = self.terms();
        let view = record.view(at, terms.grace, &terms.plans);
        let mut tx = Tx::new();
        tx.unschedule(RENEWALS, &user.to_string());
        let price = record.current_sub().and_then(|s| s.price.as_ref());
        if let (Some(renews_at), Some(price)) = (view.until, price)
            && view.renews
            && view.state == State::Active
            && renews_at > at
        {
            let mut notice = Notice::new(
                format!("{user}:renewal_soon:{renews_at}"),
                user,
                NoticeKind::RenewalSoon,
            );
            notice.plan_id = view.plan_id.clone();
            notice.access_until = Some(renews_at);
            (notice.amount, notice.currency) =
                next.unwrap_or_else(|| (price.amount, price.currency.clone()));
            let (id, partition, item) = notice.item()?;
            tx.enqueue(notices::QUEUE, &notices::CONFIG, &id, &partition, item);
        }
        self.store().commit(&tx).await?;
        self.wake_notices();
        Ok(())
    }

    /// Sends the win-back message filed as `member` (`<user>:<end>`) if
    /// the user is still without access, and clears it, in one step.
    pub async fn win_back(&self, member: &str) -> Result<(), BillingError> {
        let mut tx = Tx::new();
        tx.unschedule(WINBACK, member);
        let parsed = member
            .split_once(':')
            .and_then(|(u, e)| Some((u.parse::<i64>().ok()?, e.parse::<i64>().ok()?)));
        if let Some((user, ended)) = parsed {
            let (_, record) = self.read(user).await?;
            let terms = self.terms();
            let view = record.view(now(), terms.grace, &terms.plans);
            if !view.has_access {
                let mut notice = Notice::new(
                    format!("{user}:win_back:{ended}"),
                    user,
                    NoticeKind::WinBack,
                );
                notice.plan_id = view.plan_id.clone();
                notice.access_until = Some(ended);
                let (id, partition, item) = notice.item()?;
                tx.enqueue(notices::QUEUE, &notices::CONFIG, &id, &partition, item);
            }
        }
        self.store().commit(&tx).await?;
        self.wake_notices();
        Ok(())
    }
}
