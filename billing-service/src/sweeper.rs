//! Ends lapsed access and sends reminders, without anyone asking.
//!
//! The ledger schedules each user's next "look again" time; the sweeper
//! wakes every interval and handles whatever is due. With Stripe configured
//! a subscription is re-read first (its renewal webhook may simply have
//! been lost); a grant, or a subscription whose grace is over, is ended.
//! Several replicas may sweep at once: every write is idempotent.

use std::time::Duration;

use mesh_proto::billing::v1::ChangeCause;
use tokio_util::sync::CancellationToken;

use crate::entitlement::{State, now};
use crate::error::BillingError;
use crate::events::EventApplier;
use crate::ledger::{Cause, Ledger, RENEWAL_SLACK_SECS, keys};
use crate::notices::{Notice, NoticeKind};
use crate::stripe_api::StripeApi;

/// The sweeper.
#[derive(Clone)]
pub struct Sweeper {
    /// Writes.
    pub ledger: Ledger,
    /// Re-reads subscriptions when set.
    pub stripe: Option<StripeApi>,
    /// Projects re-read subscriptions.
    pub events: EventApplier,
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
            self.expire_if_lapsed(user, at).await?;
        }
        for member in store.due(keys::REMINDERS, at, 500).await? {
            store.unschedule(keys::REMINDERS, &member).await?;
            let Ok(user) = member.parse::<i64>() else {
                continue;
            };
            let (_, record) = self.ledger.read(user).await?;
            if record.ends_without_renewal() && record.has_access(at, self.ledger.grace) {
                self.ledger
                    .notices()
                    .send(Notice {
                        id: format!(
                            "{user}:ending_soon:{}",
                            record.current_period_end.unwrap_or_default()
                        ),
                        user,
                        kind: NoticeKind::EndingSoon,
                        plan_id: record.plan_id.clone(),
                        access_until: record.current_period_end,
                        reason: String::new(),
                    })
                    .await?;
            }
        }
        Ok(looked)
    }

    async fn expire_if_lapsed(&self, user: i64, at: i64) -> Result<(), BillingError> {
        let (_, record) = self.ledger.read(user).await?;
        if let (Some(stripe), Some(sub)) = (&self.stripe, &record.subscription_id)
            && record.granted_by.is_none()
        {
            let view = stripe.subscription(sub).await?;
            self.events.project(user, &view, at, "sweep").await?;
        }
        let (_, record) = self.ledger.read(user).await?;
        let member = user.to_string();
        match record.lapses_at(self.ledger.grace, RENEWAL_SLACK_SECS) {
            None => {
                self.ledger
                    .store()
                    .unschedule(keys::EXPIRY, &member)
                    .await?
            }
            // Renewed meanwhile: the ledger rescheduled it.
            Some(t) if t > at => {}
            // Stripe (the truth) still grants access past the expected end:
            // look again in an hour rather than end a paying user's access.
            Some(_)
                if self.stripe.is_some()
                    && record.granted_by.is_none()
                    && record.has_access(at, self.ledger.grace) =>
            {
                self.ledger
                    .store()
                    .schedule(keys::EXPIRY, &member, at + 3600)
                    .await?;
            }
            Some(_) => {
                tracing::info!(user, state = ?record.state, "access lapsed; ending it");
                self.ledger
                    .write(
                        user,
                        at,
                        Cause::system(ChangeCause::Lapsed, "lapsed"),
                        |r| {
                            r.state = State::Expired;
                            r.past_due_since = None;
                        },
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
