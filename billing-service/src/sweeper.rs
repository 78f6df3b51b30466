//! Ends lapsed access and sends reminders and win-back messages, without
//! anyone asking.
//!
//! The ledger files each user's next "look again" time; the sweeper wakes
//! every interval and looks at whatever is due. With Stripe configured a
//! subscription is re-read first (its renewal webhook may simply have been
//! lost): nobody who still pays is removed. The look is an ordinary
//! transition, so access that ran out is committed with its notices in
//! one step. Several replicas may sweep at once: transitions are guarded
//! and notices de-duplicated.

use std::time::Duration;

use mesh_proto::billing::v1::ChangeCause;
use tokio_util::sync::CancellationToken;

use crate::entitlement::{now, now_ms};
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, RENEWAL_SLACK_SECS, keys};
use crate::lifecycle;
use crate::stripe_api::{StripeApi, SubscriptionView};

/// The sweeper.
#[derive(Clone)]
pub struct Sweeper {
    /// Writes.
    pub ledger: Ledger,
    /// Re-reads subscriptions when set.
    pub stripe: Option<StripeApi>,
}

/// How long to wait before looking again at a subscription Stripe still
/// calls paid after its period (the renewal is running late).
const LATE_RENEWAL_RECHECK_SECS: i64 = 3600;

impl Sweeper {
    /// Sweeps every `interval` until `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.sweep_once().await {
                tracing::warn!(error = %e, "sweep failed; will retry");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// One pass over what is due now; returns how many users were looked at.
    pub async fn sweep_once(&self) -> Result<usize, BillingError> {
        let store = self.ledger.store().clone();
        let at = now();
        let mut looked = 0;
        for member in store.due(keys::EXPIRY, at, 500).await? {
            let Ok(user) = member.parse::<i64>() else {
                store.unschedule(keys::EXPIRY, &member).await?;
                continue;
            };
            looked += 1;
            self.look(user, at).await?;
        }
        for member in store.due(keys::REMINDERS, at, 500).await? {
            match member.parse::<i64>() {
                Ok(user) => self.ledger.remind(user).await?,
                Err(_) => store.unschedule(keys::REMINDERS, &member).await?,
            }
        }
        for member in store.due(lifecycle::RENEWALS, at, 500).await? {
            match member.parse::<i64>() {
                Ok(user) => self.ledger.remind_renewal(user).await?,
                Err(_) => store.unschedule(lifecycle::RENEWALS, &member).await?,
            }
        }
        for member in store.due(lifecycle::WINBACK, at, 500).await? {
            self.ledger.win_back(&member).await?;
        }
        Ok(looked)
    }

    async fn look(&self, user: i64, at: i64) -> Result<(), BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        let asked = now_ms();
        let truth = match (&self.stripe, &record.subscription) {
            (Some(stripe), Some(sub)) if !sub.revoked => match stripe.subscription(&sub.id).await {
                Ok(view) => Some((view, asked)),
                // Gone at Stripe: the record's own view decides.
                Err(BillingError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        let plans = &self.ledger.terms().plans;
        let observe =
            |r: &mut crate::entitlement::Record, now: i64, t: &(SubscriptionView, i64)| {
                r.observe(&t.0, plans, t.1, false, now);
            };
        let outcome = self
            .ledger
            .transition(
                user,
                &Cause::system(ChangeCause::Lapsed, "sweep"),
                None,
                |r, now| {
                    if let Some(t) = &truth {
                        observe(r, now, t);
                    }
                    Ok(Vec::new())
                },
            )
            .await?;
        let crate::ledger::Outcome::Applied(after) = outcome else {
            return Ok(());
        };
        let grace = self.ledger.terms().grace;
        match after.lapses_at(at, grace, RENEWAL_SLACK_SECS) {
            // Stripe (the truth) still calls it paid past the expected
            // renewal: look again later rather than end a paying user's
            // access.
            Some(next) if next <= at => {
                self.ledger
                    .look_again(user, at + LATE_RENEWAL_RECHECK_SECS)
                    .await
            }
            _ => self.ledger.reschedule(user, at).await,
        }
    }
}
