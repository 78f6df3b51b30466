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

use crate::clock::now;
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger, RENEWAL_SLACK_SECS, keys};
use crate::lifecycle;
use crate::stripe_api::StripeApi;

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

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Users whose access was due a look.
    pub looked: usize,
    /// Looks, reminders and win-backs that failed (tried again next pass).
    pub failed: usize,
}

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

    /// One pass over what is due now. One user's error does not stop the
    /// pass: it is counted, logged and stays due (the next pass tries it
    /// again), and the others go on. Only an error of the store's own
    /// listing ends the pass (the next one retries).
    pub async fn sweep_once(&self) -> Result<Pass, BillingError> {
        let store = self.ledger.store().clone();
        let at = now();
        let mut pass = Pass::default();
        for member in store.due(keys::EXPIRY, at, 500).await? {
            let Ok(user) = member.parse::<i64>() else {
                store.unschedule(keys::EXPIRY, &member).await?;
                continue;
            };
            pass.looked += 1;
            if let Err(e) = self.look(user, at).await {
                pass.failed += self.failed("expiry", &member, &e);
            }
        }
        for member in store.due(keys::REMINDERS, at, 500).await? {
            let done = match member.parse::<i64>() {
                Ok(user) => self.ledger.remind(user).await,
                Err(_) => store
                    .unschedule(keys::REMINDERS, &member)
                    .await
                    .map_err(Into::into),
            };
            if let Err(e) = done {
                pass.failed += self.failed("reminder", &member, &e);
            }
        }
        for member in store.due(lifecycle::RENEWALS, at, 500).await? {
            let done = match member.parse::<i64>() {
                Ok(user) => self.remind_renewal(user).await,
                Err(_) => store
                    .unschedule(lifecycle::RENEWALS, &member)
                    .await
                    .map_err(Into::into),
            };
            if let Err(e) = done {
                pass.failed += self.failed("renewal_reminder", &member, &e);
            }
        }
        for member in store.due(lifecycle::WINBACK, at, 500).await? {
            if let Err(e) = self.ledger.win_back(&member).await {
                pass.failed += self.failed("winback", &member, &e);
            }
        }
        Ok(pass)
    }

    /// The renewal reminder, quoting Stripe's preview of the next invoice
    /// when it answers (the list price otherwise).
    async fn remind_renewal(&self, user: i64) -> Result<(), BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        let next = match (&self.stripe, record.current_sub()) {
            (Some(stripe), Some(sub)) if sub.is_live() => {
                match stripe.next_invoice(&sub.id).await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::info!(user, error = %e, "no invoice preview; the reminder quotes the list price");
                        None
                    }
                }
            }
            _ => None,
        };
        self.ledger.remind_renewal(user, next).await
    }

    /// Counts and logs one failure; returns 1 (for the pass's count).
    fn failed(&self, what: &'static str, member: &str, e: &BillingError) -> usize {
        metrics::counter!("billing_sweep_errors_total", "step" => what).increment(1);
        tracing::warn!(step = what, member, error = %e, "sweep of one user failed; the pass goes on and the next one tries it again");
        1
    }

    async fn look(&self, user: i64, at: i64) -> Result<(), BillingError> {
        // Stripe writes a transition decided and nobody made yet.
        self.ledger.flush(user, None, self.stripe.as_ref()).await?;
        let (_, record) = self.ledger.read(user).await?;
        // Every subscription not over is re-read: any of them may have
        // renewed or ended without its webhook.
        let mut truth = Vec::new();
        if let Some(stripe) = &self.stripe {
            for sub in record.open_subs() {
                let asked = self.ledger.clock_ms().await?;
                match stripe.subscription(&sub.id).await {
                    Ok(view) => truth.push((view, asked)),
                    // It existed, and Stripe no longer knows it: gone.
                    Err(BillingError::NotFound(_)) => {
                        truth.push((sub.ended(&record), asked));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let plans = &self.ledger.terms().plans;
        let outcome = self
            .ledger
            .transition(
                user,
                &Cause::system(ChangeCause::Lapsed, "sweep"),
                None,
                |r, now| {
                    for (view, asked) in &truth {
                        r.observe(view, plans, *asked, false, now);
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
