//! One-time purchases: a plan bought once (Checkout in payment mode) opens
//! its chats for `duration_days`, or for life. Buying again extends it.

use serde::{Deserialize, Serialize};

use crate::entitlement::Record;

/// Access bought with one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The plan bought.
    pub plan_id: String,
    /// When it ends (unix seconds); `None`: never (bought for life).
    pub until: Option<i64>,
    /// The Checkout sessions paid for it (`cs_...`): each counts once.
    #[serde(default)]
    pub sessions: Vec<String>,
    /// The payments (`pi_...`), to recognise a refund of one.
    #[serde(default)]
    pub payment_intents: Vec<String>,
    /// Ended early (a full refund, a lost dispute, an admin).
    #[serde(default)]
    pub revoked: bool,
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
}

/// At most this many sessions and payments are remembered per user.
const REMEMBERED: usize = 50;

impl Record {
    /// Applies a paid session: access runs from the later of its payment
    /// and the end of a purchase still running, so buying again only adds
    /// time. A session already applied changes nothing (false).
    pub fn purchase(&mut self, paid: &Paid) -> bool {
        if let Some(p) = &self.purchase
            && p.sessions.contains(&paid.session)
        {
            return false;
        }
        let running = self
            .purchase
            .as_ref()
            .filter(|p| !p.revoked && p.until.is_none_or(|u| u > paid.paid_at));
        let until = match (paid.days, running) {
            (None, _) | (_, Some(Purchase { until: None, .. })) => None,
            (Some(days), running) => {
                let start = running
                    .and_then(|p| p.until)
                    .map_or(paid.paid_at, |u| u.max(paid.paid_at));
                Some(start + i64::from(days) * 86_400)
            }
        };
        let mut sessions = running.map(|p| p.sessions.clone()).unwrap_or_default();
        let mut intents = running
            .map(|p| p.payment_intents.clone())
            .unwrap_or_default();
        sessions.push(paid.session.clone());
        intents.extend(paid.payment_intent.clone());
        let keep = |v: &mut Vec<String>| {
            let extra = v.len().saturating_sub(REMEMBERED);
            v.drain(..extra);
        };
        keep(&mut sessions);
        keep(&mut intents);
        self.purchase = Some(Purchase {
            plan_id: paid.plan_id.clone(),
            until,
            sessions,
            payment_intents: intents,
            revoked: false,
        });
        self.ever_paid = true;
        true
    }

    /// Whether payment `intent` paid for the user's purchase.
    pub fn paid_purchase_with(&self, intent: &str) -> bool {
        self.purchase
            .as_ref()
            .is_some_and(|p| p.payment_intents.iter().any(|i| i == intent))
    }

    /// The purchase ends now (a refund of it).
    pub fn end_purchase(&mut self) {
        if let Some(p) = &mut self.purchase {
            p.revoked = true;
        }
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
        }
    }

    /// A session counts once; buying again extends from the later end; a
    /// lifetime purchase stays lifetime; a refunded one starts afresh.
    #[test]
    fn purchases() {
        let mut r = Record::none(1);
        assert!(r.purchase(&paid("cs_1", Some(30), 1000)));
        assert_eq!(r.purchase.as_ref().unwrap().until, Some(1000 + 30 * 86_400));
        assert!(!r.purchase(&paid("cs_1", Some(30), 1000)), "same session");
        assert!(r.purchase(&paid("cs_2", Some(30), 2000)));
        assert_eq!(
            r.purchase.as_ref().unwrap().until,
            Some(1000 + 60 * 86_400),
            "extends from the running end"
        );
        assert!(r.paid_purchase_with("pi_cs_2") && r.ever_paid);
        r.end_purchase();
        assert!(r.purchase(&paid("cs_3", Some(10), 5000)));
        assert_eq!(r.purchase.as_ref().unwrap().until, Some(5000 + 10 * 86_400));
        assert!(r.purchase(&paid("cs_4", None, 6000)));
        assert_eq!(r.purchase.as_ref().unwrap().until, None);
        assert!(r.purchase(&paid("cs_5", Some(10), 7000)));
        assert_eq!(r.purchase.as_ref().unwrap().until, None, "life is longer");
    }
}
