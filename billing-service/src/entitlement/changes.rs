//! What happens to a record: Stripe's view of a subscription taken,
//! grants and revocations, a payment's access ended, writes to the
//! providers decided, disputes held and released.

use super::{Grant, Hold, Paying, Record, State, View};
use crate::money::PriceTerms;
use crate::plans::Plans;
use crate::stripe_api::SubscriptionView;
use crate::subscription::{Sub, not_ended};
use crate::writes::PaymentWrite;

/// How many subscriptions a record keeps (ended ones go first).
const SUBSCRIPTIONS_KEPT: usize = 20;

impl Record {
    /// Takes Stripe's view of one of the user's subscriptions, read at
    /// `seen_ms`. Each subscription is kept apart; returns false when the
    /// read is no newer than the one kept (`allow_equal` for payload-only
    /// dry runs, whose times are whole seconds).
    pub fn observe(
        &mut self,
        view: &SubscriptionView,
        plans: &Plans,
        seen_ms: i64,
        allow_equal: bool,
        now: i64,
    ) -> bool {
        let prev = self.sub(&view.id);
        if let Some(cur) = prev {
            let newer = seen_ms > cur.seen_ms || (allow_equal && seen_ms == cur.seen_ms);
            if !newer {
                return false;
            }
        }
        let next = Sub::next(view, prev, plans, seen_ms, now);
        let was_active = prev.is_some_and(|c| c.status == "active");
        if view.had_trial || matches!(view.status.as_str(), "trialing" | "active" | "past_due") {
            self.trial_used = true;
        }
        // Active or past due means a payment went through (a trial that
        // ends unpaid goes to past_due only after a first payment).
        if view.status == "active" || (view.status == "past_due" && was_active) {
            self.ever_paid = true;
        }
        if !view.customer.is_empty() && self.customer_id.is_none() {
            self.customer_id = Some(view.customer.clone());
        }
        match self.subscriptions.iter_mut().find(|s| s.id == view.id) {
            Some(cur) => *cur = next,
            None => {
                self.subscriptions.push(next);
                self.subscriptions.sort_by_key(|s| s.created);
                while self.subscriptions.len() > SUBSCRIPTIONS_KEPT {
                    let drop = self
                        .subscriptions
                        .iter()
                        .position(|s| !s.is_open())
                        .unwrap_or(0);
                    self.subscriptions.remove(drop);
                }
            }
        }
        true
    }

    /// An admin grant of `days` for `plan`: it runs from the later of now
    /// and the end of a grant still running, so it only ever adds time; the
    /// paid period is untouched, and access lasts until the later of both.
    pub fn grant(&mut self, plan: &str, days: i64, by: &str, now: i64) {
        let start = self.grant.as_ref().map_or(now, |g| g.until.max(now));
        self.grant = Some(Grant {
            plan_id: plan.to_owned(),
            until: start + days * 86_400,
            by: by.to_owned(),
        });
    }

    /// An admin revocation: the grant ends now; unless `grant_only`, every
    /// subscription and purchase stops opening anything too (the caller
    /// cancels at Stripe).
    pub fn revoke(&mut self, grant_only: bool, now: i64) {
        // The grant is ended rather than forgotten: the record still shows
        // the user had access (EXPIRED, not NONE).
        if let Some(grant) = &mut self.grant {
            grant.until = grant.until.min(now);
        }
        if !grant_only {
            for sub in &mut self.subscriptions {
                sub.revoked = true;
            }
            for p in &mut self.purchases {
                p.ended = true;
            }
            for s in &mut self.stars {
                s.ended = true;
            }
        }
    }

    /// What `paying` bought ends now (its payment was refunded in full, or
    /// a dispute of it was lost): only that source, never another
    /// subscription, a purchase of another payment or a grant. True when
    /// the ledger had it.
    pub fn end_paid(&mut self, paying: &Paying) -> bool {
        match paying {
            Paying::Subscription(id) => match self.subscriptions.iter_mut().find(|s| s.id == *id) {
                Some(sub) => {
                    sub.revoked = true;
                    true
                }
                None => false,
            },
            Paying::Purchase(intent) => self.end_purchase(intent),
            Paying::Stars(charge) => self.stars_refunded(charge, "system"),
            // A grant is nobody's payment: it stays.
            Paying::Everything => {
                self.revoke(false, i64::MAX);
                true
            }
        }
    }

    /// Decides a write to Stripe, made right after the commit
    /// ([`crate::writes`]); one already pending is not added twice.
    pub fn decide(&mut self, write: PaymentWrite) {
        if !self.pending.contains(&write) {
            self.pending.push(write);
        }
    }

    /// Decides the cancellation of every subscription of `paying` that is
    /// not over at Stripe.
    pub fn decide_cancel(&mut self, paying: &Paying) {
        let ids: Vec<String> = self
            .subscriptions
            .iter()
            // Revoked here or not, what still charges at Stripe stops.
            .filter(|s| not_ended(&s.status))
            .filter(|s| match paying {
                Paying::Subscription(id) => s.id == *id,
                Paying::Everything => true,
                Paying::Purchase(_) | Paying::Stars(_) => false,
            })
            .map(|s| s.id.clone())
            .collect();
        for subscription in ids {
            self.decide(PaymentWrite::Cancel { subscription });
        }
        // A revocation stops Telegram renewing too.
        if *paying == Paying::Everything {
            let stars: Vec<String> = self
                .stars
                .iter()
                .filter(|s| !s.canceled)
                .map(|s| s.charge.clone())
                .collect();
            for charge in stars {
                self.decide(PaymentWrite::StarsRenewal {
                    charge,
                    cancel: true,
                    actor: "system".into(),
                });
            }
        }
    }

    /// Records what subscription `id`'s latest paid invoice charged.
    pub fn charged(&mut self, id: &str, amount: i64) {
        if let Some(sub) = self.subscriptions.iter_mut().find(|s| s.id == id) {
            sub.charged = Some(amount);
        }
    }

    /// Marks subscription `id` a cancelled duplicate.
    pub fn mark_duplicate(&mut self, id: &str) {
        if let Some(sub) = self.subscriptions.iter_mut().find(|s| s.id == id) {
            sub.duplicate = true;
        }
    }

    /// What the user's subscription brings in a year, per currency (the
    /// smallest unit), given the view it produced: paying subscriptions
    /// only (active, past due, or cancelled but running), not trials.
    pub fn yearly_revenue(&self, view: &View) -> Option<(String, i64)> {
        let sub = self.current_sub().filter(|s| !s.revoked)?;
        let paying = matches!(view.state, State::Active | State::PastDue | State::Canceled)
            && matches!(sub.status.as_str(), "active" | "past_due");
        let price = sub.price.as_ref().filter(|_| paying)?;
        // A tiered or metered price has no unit amount to count: what its
        // invoices charge is the revenue.
        let price = match sub.charged {
            Some(charged) if price.starting_at || price.amount == 0 => PriceTerms {
                amount: charged,
                ..price.clone()
            },
            _ => price.clone(),
        };
        Some((price.currency.clone(), price.yearly()?))
    }

    /// A dispute of the payment for `paying` opened: that access is held
    /// back until it closes.
    pub fn suspend(&mut self, dispute_id: &str, paying: Paying, now: i64) {
        if self.holds.iter().any(|h| h.dispute_id == dispute_id) {
            return;
        }
        self.holds.push(Hold {
            dispute_id: dispute_id.to_owned(),
            since: now,
            holds: paying,
        });
    }

    /// A dispute closed: its hold is lifted (whatever the outcome; a lost
    /// dispute also ends what it paid for, which the caller does); returns
    /// what the hold kept back, when there was one.
    pub fn release(&mut self, dispute_id: &str) -> Option<Paying> {
        let i = self.holds.iter().position(|h| h.dispute_id == dispute_id)?;
        Some(self.holds.remove(i).holds)
    }
}
