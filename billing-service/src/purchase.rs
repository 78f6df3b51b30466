//! One-time purchases in the ledger: each paid Checkout session (payment
//! mode) is a period of its own, tied to its payment. A plan's purchases
//! add up: each runs from the later of its payment and the end of the
//! ones before it, so buying again only adds time, and refunding one takes
//! away exactly the days it bought (the others close up, none is lost).

use serde::{Deserialize, Serialize};

use crate::entitlement::{Rail, Record, Source, State};

/// Access bought with one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The plan bought.
    pub plan_id: String,
    /// The Checkout session (`cs_...`): each counts once.
    pub session: String,
    /// Its payment (`pi_...`), to recognise a refund or dispute of it.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// When it was paid (unix seconds, Stripe's clock).
    pub paid_at: i64,
    /// What it bought.
    pub term: Term,
    /// Refunded, lost in a dispute, or revoked: it adds nothing any more.
    #[serde(default)]
    pub ended: bool,
    /// Paid in Telegram Stars: `session` is its `telegram_payment_charge_id`.
    #[serde(default)]
    pub stars: bool,
    /// What it cost in Stars.
    #[serde(default)]
    pub stars_amount: u32,
}

/// How much access one purchase bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// This many days.
    Days(u32),
    /// For life.
    Lifetime,
    /// Up to a fixed end (a purchase recorded before periods were kept
    /// apart: only its end is known).
    Until(i64),
}

/// One paid Checkout session of a one-time plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    /// The plan.
    pub plan_id: String,
    /// Days bought; `None` for life.
    pub days: Option<u32>,
    /// The session (`cs_...`).
    pub session: String,
    /// Its payment (`pi_...`), when known.
    pub payment_intent: Option<String>,
    /// When it was paid (unix seconds; Stripe's clock, so a late or
    /// repeated delivery of the event grants the same period).
    pub paid_at: i64,
    /// Paid in Telegram Stars, this many (`session` is the charge id).
    pub stars: Option<u32>,
}

/// At most this many purchases are remembered per user (the oldest ended
/// ones go first).
const REMEMBERED: usize = 50;

/// Where a plan's purchases take access: `None` for life, else the end.
fn chained<'a>(purchases: impl Iterator<Item = &'a Purchase>) -> Option<Option<i64>> {
    let mut end: Option<Option<i64>> = None;
    for p in purchases.filter(|p| !p.ended) {
        let from = end.flatten().map_or(p.paid_at, |e| e.max(p.paid_at));
        end = Some(match (end, p.term) {
            (Some(None), _) | (_, Term::Lifetime) => None,
            (_, Term::Days(days)) => Some(from + i64::from(days) * 86_400),
            (prev, Term::Until(until)) => Some(prev.flatten().map_or(until, |e| e.max(until))),
        });
    }
    end
}

impl Record {
    /// Adds a paid session to the ledger. A session already recorded
    /// changes nothing (false).
    pub fn purchase(&mut self, paid: &Paid) -> bool {
        if self.purchases.iter().any(|p| p.session == paid.session) {
            return false;
        }
        self.purchases.push(Purchase {
            plan_id: paid.plan_id.clone(),
            session: paid.session.clone(),
            payment_intent: paid.payment_intent.clone(),
            paid_at: paid.paid_at,
            term: paid.days.map_or(Term::Lifetime, Term::Days),
            ended: false,
            stars: paid.stars.is_some(),
            stars_amount: paid.stars.unwrap_or(0),
        });
        self.purchases.sort_by_key(|p| p.paid_at);
        while self.purchases.len() > REMEMBERED {
            let drop = self.purchases.iter().position(|p| p.ended).unwrap_or(0);
            self.purchases.remove(drop);
        }
        self.ever_paid = true;
        true
    }

    /// The plans bought once, each with where its purchases take access
    /// (`None`: for life), whether running at `now` or not.
    pub(crate) fn purchase_ends(&self) -> Vec<(&str, Option<i64>)> {
        let mut plans: Vec<&str> = self.purchases.iter().map(|p| p.plan_id.as_str()).collect();
        plans.sort_unstable();
        plans.dedup();
        plans
            .into_iter()
            .filter_map(|plan| {
                chained(self.purchases.iter().filter(|p| p.plan_id == plan)).map(|end| (plan, end))
            })
            .collect()
    }

    /// What the one-time purchases open at `now`, one source per plan.
    pub(crate) fn purchase_sources(&self, now: i64) -> Vec<Source<'_>> {
        self.purchase_ends()
            .into_iter()
            .filter(|(_, end)| end.is_none_or(|e| now < e))
            .map(|(plan, until)| Source {
                state: State::Active,
                until,
                renews: false,
                plan: Some(plan),
                created: 0,
                rail: if self
                    .purchases
                    .iter()
                    .any(|p| p.plan_id == plan && p.stars && !p.ended)
                {
                    Rail::Stars
                } else {
                    Rail::Stripe
                },
            })
            .collect()
    }

    /// Whether a one-time purchase gives access at `at`.
    pub fn purchase_running(&self, at: i64) -> bool {
        !self.purchase_sources(at).is_empty()
    }

    /// The purchase paid with payment `intent`, if any.
    pub fn purchase_paid_with(&self, intent: &str) -> Option<&Purchase> {
        self.purchases
            .iter()
            .find(|p| p.payment_intent.as_deref() == Some(intent))
    }

    /// The purchase paid with `intent` ends now (a refund or a lost
    /// dispute of that payment); true when there was one.
    pub fn end_purchase(&mut self, intent: &str) -> bool {
        let mut found = false;
        for p in &mut self.purchases {
            if p.payment_intent.as_deref() == Some(intent) {
                p.ended = true;
                found = true;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(session: &str, days: Option<u32>, at: i64) -> Paid {
        Paid {
            plan_id: "pass".into(),
            days,
            session: session.into(),
            payment_intent: Some(format!("pi_{session}")),
            paid_at: at,
            stars: None,
        }
    }

    fn end(r: &Record) -> Option<Option<i64>> {
        r.purchase_ends().first().map(|(_, e)| *e)
    }

    /// A session counts once; buying again extends from the later end; a
    /// lifetime purchase stays lifetime; refunding one takes away exactly
    /// its own days.
    #[test]
    fn purchases() {
        let mut r = Record::none(1);
        assert!(r.purchase(&paid("cs_1", Some(30), 1000)));
        assert_eq!(end(&r), Some(Some(1000 + 30 * 86_400)));
        assert!(!r.purchase(&paid("cs_1", Some(30), 1000)), "same session");
        assert!(r.purchase(&paid("cs_2", Some(30), 2000)));
        assert_eq!(
            end(&r),
            Some(Some(1000 + 60 * 86_400)),
            "extends from the running end"
        );
        assert!(r.purchase_paid_with("pi_cs_2").is_some() && r.ever_paid);
        assert!(r.end_purchase("pi_cs_1"));
        assert_eq!(
            end(&r),
            Some(Some(2000 + 30 * 86_400)),
            "the refunded one's days go, the other's stay"
        );
        assert!(r.purchase(&paid("cs_4", None, 6000)));
        assert_eq!(end(&r), Some(None));
        assert!(r.purchase(&paid("cs_5", Some(10), 7000)));
        assert_eq!(end(&r), Some(None), "life is longer");
        assert!(r.end_purchase("pi_cs_4"));
        assert_eq!(
            end(&r),
            Some(Some(2000 + 40 * 86_400)),
            "the lifetime pass refunded, the days bought after it stay"
        );
    }
}
