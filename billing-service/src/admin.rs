//! What operators and admins do: grant and revoke access, read the audit
//! trail and the numbers, rebuild from Stripe, recover lost events.

use std::collections::HashMap;

use mesh_proto::billing::v1::*;

use crate::entitlement::{Paying, Record};
use crate::error::{BillingError, Refusal};
use crate::ledger::{Cause, Outcome, StoredChange, keys};
use crate::notices::AccessReason;
use crate::purchase::Paid;
use crate::service::{Billing, user_id};
use crate::stripe_api::SubscriptionView;

/// Whether a record changed in what it says (a newer read of the same
/// subscription only moves its read time).
fn changed(before: &Record, after: &Record) -> bool {
    let unstamped = |r: &Record| {
        let mut r = r.clone();
        for sub in &mut r.subscriptions {
            sub.seen_ms = 0;
        }
        r.updated_at = 0;
        r
    };
    unstamped(before) != unstamped(after)
}

fn admin_cause(kind: ChangeCause, actor: &str, reason: &str) -> Result<Cause, BillingError> {
    if reason.trim().is_empty() || actor.trim().is_empty() {
        return Err(BillingError::InvalidArgument(
            "an admin action needs a reason and an actor".into(),
        ));
    }
    Ok(Cause::new(kind, actor, reason))
}

impl Billing {
    pub(crate) async fn grant(
        &self,
        r: GrantEntitlementRequest,
    ) -> Result<GrantEntitlementResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        let cause = admin_cause(ChangeCause::AdminGrant, &r.actor, &r.reason)?;
        if !(1..=3660).contains(&r.days) {
            return Err(BillingError::InvalidArgument(
                "days must be between 1 and 3660".into(),
            ));
        }
        if self.ledger.terms().plans.get(&r.plan_id).is_none() {
            return Err(BillingError::refused(
                Refusal::UnknownPlan,
                format!("no plan {:?}", r.plan_id),
            ));
        }
        // A request id already applied grants nothing more: the mark is
        // committed with the grant, like a Stripe event's.
        let request = crate::account::token(&r.request_id);
        let mark = (!request.is_empty()).then(|| format!("grant:{user}:{request}"));
        let outcome = self
            .ledger
            .transition(user, &cause, mark.as_deref(), |rec, now| {
                rec.grant(&r.plan_id, i64::from(r.days), &r.actor, now);
                Ok(Vec::new())
            })
            .await?;
        Ok(GrantEntitlementResponse {
            entitlement: Some(self.shown(user, outcome).await?),
        })
    }

    pub(crate) async fn revoke(
        &self,
        r: RevokeEntitlementRequest,
    ) -> Result<RevokeEntitlementResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        let cause = admin_cause(ChangeCause::AdminRevoke, &r.actor, &r.reason)?
            .ending(AccessReason::Revoked);
        // Billing stops too: the cancellation of every subscription not
        // over at Stripe is decided with the revocation and made after it.
        let cancel = self.stripe.is_some() && !r.grant_only;
        let outcome = self
            .ledger
            .transition(user, &cause, None, |rec, now| {
                if cancel {
                    rec.decide_cancel(&Paying::Everything);
                }
                rec.revoke(r.grant_only, now);
                Ok(Vec::new())
            })
            .await?;
        // Also a repeated revocation's: it makes what an earlier one left.
        self.ledger
            .flush(user, outcome.committed(), self.stripe.as_ref())
            .await?;
        let outcome = match outcome {
            Outcome::Applied(record) if !record.pending.is_empty() => {
                Outcome::Applied(Box::new(self.ledger.read(user).await?.1))
            }
            other => other,
        };
        Ok(RevokeEntitlementResponse {
            entitlement: Some(self.shown(user, outcome).await?),
        })
    }

    /// The entitlement after a transition.
    async fn shown(&self, user: i64, outcome: Outcome) -> Result<Entitlement, BillingError> {
        Ok(match outcome {
            Outcome::Applied(record) => self.show(&record),
            Outcome::Duplicate => self.show(&self.ledger.read(user).await?.1),
        })
    }

    pub(crate) async fn audit(
        &self,
        r: ListAuditLogRequest,
    ) -> Result<ListAuditLogResponse, BillingError> {
        let user = user_id(r.telegram_user_id)?;
        let limit = match r.limit {
            0 => 100,
            n => n.min(1000) as usize,
        };
        let entries = self
            .ledger
            .store()
            .list_tail(&keys::audit(user), limit)
            .await?
            .iter()
            .filter_map(|e| serde_json::from_slice::<StoredChange>(e).ok())
            .map(|c| c.to_audit())
            .collect();
        Ok(ListAuditLogResponse { entries })
    }

    /// Rebuilds from Stripe everything that grants access: every
    /// subscription of each user (trial use included: any that had a
    /// trial), and every paid one-time Checkout session. Grants live only
    /// in the ledger and are kept (back the store up: see the operating
    /// docs). Reads are stamped with the store's clock before the listing
    /// began, so a newer read an event made meanwhile is never overwritten.
    pub(crate) async fn reconcile(&self) -> Result<ReconcileResponse, BillingError> {
        // Both rails, each when configured: Telegram's transactions first.
        let (stars_seen, stars_updated) = match self.ledger.stars() {
            Some(_) => self.reconcile_stars().await?,
            None => (0, 0),
        };
        let stripe = match (self.stripe(), self.ledger.stars()) {
            (Ok(stripe), _) => stripe,
            (Err(_), Some(_)) => {
                return Ok(ReconcileResponse {
                    stars_transactions_seen: stars_seen,
                    stars_users_updated: stars_updated,
                    ..ReconcileResponse::default()
                });
            }
            (Err(e), None) => return Err(e),
        };
        let seen = self.ledger.clock_ms().await?;
        let subs = stripe.all_subscriptions().await?;
        let sessions = stripe.paid_one_time_sessions().await?;
        let mut by_user: HashMap<i64, (Vec<&SubscriptionView>, Vec<Paid>)> = HashMap::new();
        let mut unmatched = 0;
        for sub in &subs {
            let user = match sub.telegram_user_id {
                Some(u) => Some(u),
                None => self.ledger.user_of_customer(&sub.customer).await?,
            };
            match user {
                Some(user) => by_user.entry(user).or_default().0.push(sub),
                None => unmatched += 1,
            }
        }
        let plans = &self.ledger.terms().plans;
        for (session, created) in &sessions {
            let user = crate::payload::telegram_id(
                session.metadata.get("telegram_user_id").map(String::as_str),
            );
            let plan_id = session.metadata.get("plan_id").cloned().unwrap_or_default();
            let (Some(user), Some(plan)) = (user, plans.get(&plan_id)) else {
                unmatched += 1;
                continue;
            };
            let days = match session
                .metadata
                .get("duration_days")
                .map(|d| d.parse::<u32>())
            {
                Some(Ok(0)) => None,
                Some(Ok(d)) => Some(d),
                Some(Err(_)) => {
                    unmatched += 1;
                    continue;
                }
                None => plan.duration_days,
            };
            by_user.entry(user).or_default().1.push(Paid {
                plan_id,
                days,
                session: session.id.clone(),
                payment_intent: session.payment_intent.clone(),
                paid_at: *created,
                stars: None,
            });
        }
        let mut updated = 0;
        for (user, (subs, paid)) in by_user {
            let cause = Cause::system(ChangeCause::Reconcile, "reconcile");
            let before = self.ledger.read(user).await?.1;
            let outcome = self
                .ledger
                .transition(user, &cause, None, |r, now| {
                    for sub in &subs {
                        r.observe(sub, plans, seen, false, now);
                    }
                    for p in &paid {
                        r.purchase(p);
                    }
                    Ok(Vec::new())
                })
                .await?;
            if matches!(outcome, Outcome::Applied(after) if changed(&before, &after)) {
                updated += 1;
            }
        }
        tracing::info!(
            subscriptions = subs.len(),
            one_time_sessions = sessions.len(),
            updated,
            unmatched,
            "reconciled with Stripe"
        );
        Ok(ReconcileResponse {
            subscriptions_seen: subs.len() as u32,
            entitlements_updated: updated,
            unmatched,
            stars_transactions_seen: stars_seen,
            stars_users_updated: stars_updated,
        })
    }

    pub(crate) async fn recover(&self) -> Result<RecoverEventsResponse, BillingError> {
        let events = self.stripe()?.undelivered_events().await?;
        let (mut applied, mut duplicates) = (0, 0);
        for event in &events {
            if self.events.apply(event).await?.duplicate {
                duplicates += 1;
            } else {
                applied += 1;
            }
        }
        tracing::info!(
            seen = events.len(),
            applied,
            duplicates,
            "recovered undelivered Stripe events"
        );
        Ok(RecoverEventsResponse {
            events_seen: events.len() as u32,
            applied,
            duplicates,
        })
    }
}
