//! Rebuilding Stars payments from Telegram's own ledger,
//! `getStarTransactions` (oldest first, paged by `offset`). An incoming
//! transaction from a user is a payment (its id is the payment's
//! `telegram_payment_charge_id`); an outgoing one to a user with the same
//! id is that payment's refund, so transactions are keyed by id and
//! direction. Only payments whose invoice payload billing made count.

use std::collections::{HashMap, HashSet};

use mesh_proto::billing::v1::ChangeCause;
use teloxide_core::types::{StarTransaction, TransactionPartner, TransactionPartnerUserKind};

use super::api::PAGE;
use super::ledger::{StarsPeriod, StarsSub};
use crate::entitlement::Record;
use crate::error::BillingError;
use crate::ledger::{Cause, Outcome};
use crate::plans::Mode;
use crate::purchase::{Purchase, Term};
use crate::service::Billing;

/// Most pages one reconcile reads (a million transactions).
const MAX_PAGES: u32 = 10_000;

/// What reconcile found of one user's.
#[derive(Default)]
struct Found {
    subs: Vec<StarsSub>,
    once: Vec<Purchase>,
}

/// An incoming payment to an invoice billing made.
struct Payment {
    user: i64,
    charge: String,
    payload: String,
    plan: String,
    amount: u32,
    at: i64,
    period: Option<i64>,
}

impl Billing {
    /// Reads every Stars transaction and rebuilds each paying user's Stars
    /// subscriptions and purchases; returns the transactions read and the
    /// users whose record changed.
    pub(crate) async fn reconcile_stars(&self) -> Result<(u32, u32), BillingError> {
        let api = self.stars()?;
        let mut all: Vec<StarTransaction> = Vec::new();
        for page in 0..MAX_PAGES {
            let batch = api.transactions(page * u32::from(PAGE)).await?;
            let last = batch.len() < usize::from(PAGE);
            all.extend(batch);
            if last {
                break;
            }
        }
        let refunded: HashSet<&str> = all
            .iter()
            .filter(|t| matches!(t.receiver, Some(TransactionPartner::User(_))))
            .map(|t| t.id.0.as_str())
            .collect();
        let plans = &self.ledger.terms().plans;
        let mut found: HashMap<i64, Found> = HashMap::new();
        for t in &all {
            let Some(p) = self.payment(t) else { continue };
            let gone = refunded.contains(p.charge.as_str());
            let entry = found.entry(p.user).or_default();
            match p.period {
                Some(period) => {
                    let at = StarsPeriod {
                        charge: p.charge.clone(),
                        amount: p.amount,
                        paid_at: p.at,
                        until: p.at + period,
                        refunded: gone,
                    };
                    match entry.subs.iter_mut().find(|s| s.payload == p.payload) {
                        Some(sub) => sub.periods.push(at),
                        None => entry.subs.push(StarsSub {
                            payload: p.payload,
                            charge: p.charge,
                            plan_id: p.plan,
                            periods: vec![at],
                            canceled: false,
                            ended: false,
                        }),
                    }
                }
                None => {
                    let days = plans
                        .get(&p.plan)
                        .filter(|s| s.mode == Mode::Payment)
                        .and_then(|s| s.duration_days);
                    let mut purchase = stars_purchase(&p.charge, &p.plan, days, p.amount, p.at);
                    purchase.ended = gone;
                    entry.once.push(purchase);
                }
            }
        }
        let mut updated = 0;
        let cause = Cause::system(ChangeCause::Reconcile, "reconcile: Telegram Stars");
        for (user, found) in found {
            let refunds: Vec<String> = found
                .subs
                .iter()
                .flat_map(|s| s.periods.iter())
                .filter(|p| p.refunded)
                .map(|p| p.charge.clone())
                .chain(
                    found
                        .once
                        .iter()
                        .filter(|p| p.ended)
                        .map(|p| p.session.clone()),
                )
                .collect();
            let before = self.ledger.read(user).await?.1;
            let outcome = self
                .ledger
                .transition(user, &cause, None, |r, _| {
                    // The refund of a subscription's newest payment ended it.
                    let mut subs = found.subs.clone();
                    for sub in &mut subs {
                        sub.ended = sub.periods.last().is_some_and(|p| p.refunded);
                    }
                    r.replace_stars(subs, found.once.clone());
                    for charge in &refunds {
                        r.note_stars_refund(charge);
                    }
                    Ok(Vec::new())
                })
                .await?;
            if matches!(outcome, Outcome::Applied(after) if after.stars != before.stars || after.purchases != before.purchases)
            {
                updated += 1;
            }
        }
        tracing::info!(
            transactions = all.len(),
            updated,
            "reconciled with Telegram Stars"
        );
        Ok((u32::try_from(all.len()).unwrap_or(u32::MAX), updated))
    }

    /// The payment `t` is, when it is an incoming invoice payment whose
    /// payload billing made.
    fn payment(&self, t: &StarTransaction) -> Option<Payment> {
        let Some(TransactionPartner::User(partner)) = &t.source else {
            return None;
        };
        let TransactionPartnerUserKind::InvoicePayment(invoice) = &partner.kind else {
            return None;
        };
        let payload = invoice.invoice_payload.as_deref()?;
        let offer = self.ledger.stars()?.key().open(payload)?;
        let user = i64::try_from(partner.user.id.0).ok()?;
        if offer.user != user {
            return None;
        }
        Some(Payment {
            user,
            charge: t.id.0.clone(),
            payload: payload.to_owned(),
            plan: offer.plan,
            amount: t.amount,
            at: t.date.timestamp(),
            period: invoice.subscription_period.map(|s| i64::from(s.seconds())),
        })
    }
}

impl Record {
    /// The purchases and subscriptions reconcile rebuilds from Telegram's
    /// transactions replace what the record had of Stars; everything else
    /// (Stripe, grants, holds) stays.
    pub fn replace_stars(&mut self, subs: Vec<StarsSub>, once: Vec<Purchase>) {
        // A cancellation Telegram confirmed is not in its transactions:
        // keep it for the subscriptions the ledger already had.
        let canceled: Vec<String> = self
            .stars
            .iter()
            .filter(|s| s.canceled)
            .map(|s| s.charge.clone())
            .collect();
        self.stars = subs;
        for sub in &mut self.stars {
            sub.canceled |= canceled.contains(&sub.charge);
        }
        self.purchases.retain(|p| !p.stars);
        for p in once {
            self.purchases.push(p);
        }
        self.purchases.sort_by_key(|p| p.paid_at);
        if !self.stars.is_empty() || self.purchases.iter().any(|p| p.stars) {
            self.ever_paid = true;
        }
    }
}

/// A one-time Stars purchase as reconcile rebuilds it.
pub fn stars_purchase(
    charge: &str,
    plan: &str,
    days: Option<u32>,
    amount: u32,
    at: i64,
) -> Purchase {
    Purchase {
        plan_id: plan.to_owned(),
        session: charge.to_owned(),
        payment_intent: None,
        paid_at: at,
        term: days.map_or(Term::Lifetime, Term::Days),
        ended: false,
        stars: true,
        stars_amount: amount,
    }
}
