//! Telegram Stars in the ledger: a Stars subscription is a source of its
//! own, each of its payments a period up to the `subscription_expiration_date`
//! that payment bought; a one-time Stars payment is a purchase (chained
//! with the plan's others, like a Checkout payment). Every payment is kept
//! under its `telegram_payment_charge_id`, so each takes effect once and a
//! refund ends exactly what it bought.

use serde::{Deserialize, Serialize};

use crate::entitlement::{Rail, Record, Source, State};
use crate::purchase::Paid;
use crate::writes::PaymentWrite;

/// One Stars subscription: Telegram renews it every 30 days until the
/// user or the bot cancels it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarsSub {
    /// The invoice payload: every renewal carries its first payment's.
    pub payload: String,
    /// The first payment's charge id, which names the subscription at
    /// Telegram (`editUserStarSubscription`).
    pub charge: String,
    /// The plan it sells.
    pub plan_id: String,
    /// Each payment and the period it bought (oldest first).
    pub periods: Vec<StarsPeriod>,
    /// Set not to renew (by the user's `/cancel`, confirmed by Telegram).
    #[serde(default)]
    pub canceled: bool,
    /// Ended before its time (its current payment refunded, an admin's
    /// revocation): it opens nothing any more.
    #[serde(default)]
    pub ended: bool,
}

/// One payment of a Stars subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarsPeriod {
    /// `telegram_payment_charge_id`.
    pub charge: String,
    /// Stars paid.
    pub amount: u32,
    /// When it was paid (unix seconds, the message's date).
    pub paid_at: i64,
    /// `subscription_expiration_date`: the end of what it bought.
    pub until: i64,
    /// Refunded: it bought nothing after all.
    #[serde(default)]
    pub refunded: bool,
}

/// What a Stars payment bought, as the ledger takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarsTerm {
    /// A subscription's period, to its expiration date.
    Period {
        /// `subscription_expiration_date`.
        until: i64,
    },
    /// A one-time plan: days, or for life (`None`).
    Once(Option<u32>),
}

/// One verified Stars payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarsPaid {
    /// `telegram_payment_charge_id`.
    pub charge: String,
    /// The invoice payload (billing's own, verified).
    pub payload: String,
    /// The plan it bought.
    pub plan_id: String,
    /// Stars paid.
    pub amount: u32,
    /// When (unix seconds).
    pub paid_at: i64,
    /// What it bought.
    pub term: StarsTerm,
}

/// How many Stars subscriptions, and periods of each, a record keeps.
const SUBS_KEPT: usize = 20;
const PERIODS_KEPT: usize = 40;
const REFUNDS_KEPT: usize = 100;

impl StarsSub {
    /// The end of the newest period not refunded.
    pub fn until(&self) -> Option<i64> {
        self.periods
            .iter()
            .filter(|p| !p.refunded)
            .map(|p| p.until)
            .max()
    }

    /// Whether Telegram still renews it (or may, within grace).
    pub fn renewing(&self) -> bool {
        !self.canceled && !self.ended
    }

    /// What it opens at `now`: paid to its expiration; a renewing one that
    /// passed it stays open through the past-due grace (its renewal
    /// payment may come late), like a Stripe subscription past due.
    pub(crate) fn source(&self, now: i64, grace: i64) -> Option<Source<'_>> {
        if self.ended {
            return None;
        }
        let until = self.until()?;
        let (state, open) = match (self.canceled, now < until) {
            (true, open) => (State::Canceled, open),
            (false, true) => (State::Active, true),
            (false, false) => (State::PastDue, now < until + grace),
        };
        open.then_some(Source {
            state,
            until: Some(until),
            renews: !self.canceled,
            plan: Some(&self.plan_id),
            created: self.periods.first().map_or(0, |p| p.paid_at),
            rail: Rail::Stars,
        })
    }

    /// When its access may change without a payment: at its expiration,
    /// and at the end of the grace after it.
    pub(crate) fn lapses_at(&self, now: i64, grace: i64) -> Option<i64> {
        let s = self.source(now, grace)?;
        let until = s.until?;
        Some(match s.state {
            State::PastDue => until + grace,
            _ => until,
        })
    }

    /// The latest payment not refunded.
    pub fn latest(&self) -> Option<&StarsPeriod> {
        self.periods.iter().rev().find(|p| !p.refunded)
    }
}

impl Record {
    /// Whether charge `charge` is in the ledger already.
    pub fn knows_stars_charge(&self, charge: &str) -> bool {
        self.stars
            .iter()
            .any(|s| s.periods.iter().any(|p| p.charge == charge))
            || self
                .purchases
                .iter()
                .any(|p| p.stars && p.session == charge)
    }

    /// Adds a Stars payment to the ledger; a charge already recorded
    /// changes nothing (false).
    pub fn stars_paid(&mut self, paid: &StarsPaid) -> bool {
        if self.knows_stars_charge(&paid.charge) {
            return false;
        }
        self.ever_paid = true;
        match paid.term {
            StarsTerm::Once(days) => self.purchase(&Paid {
                plan_id: paid.plan_id.clone(),
                days,
                session: paid.charge.clone(),
                payment_intent: None,
                paid_at: paid.paid_at,
                stars: Some(paid.amount),
            }),
            StarsTerm::Period { until } => {
                let period = StarsPeriod {
                    charge: paid.charge.clone(),
                    amount: paid.amount,
                    paid_at: paid.paid_at,
                    until,
                    refunded: false,
                };
                match self.stars.iter_mut().find(|s| s.payload == paid.payload) {
                    Some(sub) => {
                        sub.periods.push(period);
                        sub.periods.sort_by_key(|p| p.paid_at);
                        if sub.periods.len() > PERIODS_KEPT {
                            sub.periods.remove(0);
                        }
                        // Telegram charged again: whatever ended it here,
                        // this payment bought its period.
                        sub.ended = false;
                    }
                    None => {
                        self.stars.push(StarsSub {
                            payload: paid.payload.clone(),
                            charge: paid.charge.clone(),
                            plan_id: paid.plan_id.clone(),
                            periods: vec![period],
                            canceled: false,
                            ended: false,
                        });
                        while self.stars.len() > SUBS_KEPT {
                            let drop = self.stars.iter().position(|s| !s.renewing()).unwrap_or(0);
                            self.stars.remove(drop);
                        }
                    }
                }
                true
            }
        }
    }

    /// Charge `charge` was refunded: what it bought ends now, and a Stars
    /// subscription whose current payment it was stops renewing (decided
    /// here, made at Telegram after the commit). True when the ledger had
    /// the charge and had not seen its refund.
    pub fn stars_refunded(&mut self, charge: &str, actor: &str) -> bool {
        self.note_stars_refund(charge);
        if let Some(p) = self
            .purchases
            .iter_mut()
            .find(|p| p.stars && p.session == charge)
        {
            let first = !p.ended;
            p.ended = true;
            return first;
        }
        let mut cancel = None;
        let mut found = false;
        for sub in &mut self.stars {
            let current = sub.latest().map(|p| p.charge.clone());
            if let Some(p) = sub.periods.iter_mut().find(|p| p.charge == charge) {
                found = !p.refunded;
                p.refunded = true;
                if current.as_deref() == Some(charge) {
                    sub.ended = true;
                    if !sub.canceled {
                        cancel = Some(sub.charge.clone());
                    }
                }
            }
        }
        if let Some(charge) = cancel {
            self.decide(PaymentWrite::StarsRenewal {
                charge,
                cancel: true,
                actor: actor.to_owned(),
            });
        }
        found
    }

    /// The Stars subscription that renews (or may, within grace) and is
    /// open at `now`.
    pub fn live_stars(&self, now: i64, grace: i64) -> Option<&StarsSub> {
        self.stars
            .iter()
            .filter(|s| s.source(now, grace).is_some())
            .max_by_key(|s| (s.renewing(), s.until()))
    }

    /// Remembers that charge `charge` was refunded (at Telegram, or by an
    /// admin here); true the first time.
    pub fn note_stars_refund(&mut self, charge: &str) -> bool {
        if self.stars_refunds.iter().any(|c| c == charge) {
            return false;
        }
        self.stars_refunds.push(charge.to_owned());
        if self.stars_refunds.len() > REFUNDS_KEPT {
            self.stars_refunds.remove(0);
        }
        true
    }

    /// Whether charge `charge` is known to be refunded.
    pub fn stars_refund_known(&self, charge: &str) -> bool {
        self.stars_refunds.iter().any(|c| c == charge)
    }

    /// The newest Stars payment, refunded or not.
    pub fn latest_stars_charge(&self) -> Option<String> {
        let periods = self
            .stars
            .iter()
            .flat_map(|s| s.periods.iter())
            .map(|p| (p.paid_at, p.charge.clone()));
        let once = self
            .purchases
            .iter()
            .filter(|p| p.stars)
            .map(|p| (p.paid_at, p.session.clone()));
        periods.chain(once).max().map(|(_, charge)| charge)
    }

    /// The amount of Stars charge `charge`, when the ledger has it.
    pub fn stars_amount(&self, charge: &str) -> Option<u32> {
        let period = self
            .stars
            .iter()
            .flat_map(|s| s.periods.iter())
            .find(|p| p.charge == charge)
            .map(|p| p.amount);
        period.or_else(|| {
            self.purchases
                .iter()
                .find(|p| p.stars && p.session == charge)
                .map(|p| p.stars_amount)
        })
    }

    /// Stars paid since `since`, less what was refunded.
    pub fn stars_since(&self, since: i64) -> i64 {
        let periods = self
            .stars
            .iter()
            .flat_map(|s| s.periods.iter())
            .filter(|p| p.paid_at >= since && !p.refunded)
            .map(|p| i64::from(p.amount));
        let once = self
            .purchases
            .iter()
            .filter(|p| p.stars && p.paid_at >= since && !self.stars_refund_known(&p.session))
            .map(|p| i64::from(p.stars_amount));
        periods.chain(once).sum()
    }

    /// Stars a month from the renewing Stars subscription that speaks for
    /// the user (Telegram renews every 30 days).
    pub fn stars_monthly(&self, now: i64, grace: i64) -> u64 {
        self.live_stars(now, grace)
            .filter(|s| s.renewing())
            .and_then(StarsSub::latest)
            .map_or(0, |p| u64::from(p.amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(charge: &str, payload: &str, at: i64, until: i64) -> StarsPaid {
        StarsPaid {
            charge: charge.into(),
            payload: payload.into(),
            plan_id: "monthly".into(),
            amount: 250,
            paid_at: at,
            term: StarsTerm::Period { until },
        }
    }

    /// A payment counts once; a renewal extends its subscription; a refund
    /// of the renewal takes back its period only and stops the renewals.
    #[test]
    fn periods_and_refunds() {
        let day = 86_400;
        let mut r = Record::none(1);
        assert!(r.stars_paid(&paid("c1", "p", 0, 30 * day)));
        assert!(!r.stars_paid(&paid("c1", "p", 0, 30 * day)), "once");
        assert!(r.stars_paid(&paid("c2", "p", 30 * day, 60 * day)));
        assert_eq!(r.stars.len(), 1, "a renewal joins its subscription");
        let s = &r.stars[0];
        assert_eq!((s.until(), s.charge.as_str()), (Some(60 * day), "c1"));
        assert_eq!(
            s.source(45 * day, day).map(|s| s.state),
            Some(State::Active)
        );
        assert_eq!(
            s.source(60 * day, day).map(|s| s.state),
            Some(State::PastDue)
        );
        assert!(s.source(61 * day, day).is_none(), "grace over");
        assert!(r.stars_refunded("c2", "telegram:9"));
        assert!(!r.stars_refunded("c2", "telegram:9"), "once");
        assert!(r.stars[0].ended);
        assert!(matches!(
            r.pending.as_slice(),
            [PaymentWrite::StarsRenewal { charge, cancel: true, .. }] if charge == "c1"
        ));
        assert_eq!(r.stars_since(0), 250, "the refunded one is not revenue");
        assert!(!r.stars_refunded("c9", "x"), "unknown charge");
    }
}
