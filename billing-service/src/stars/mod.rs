//! Telegram Stars, the second payment rail, on the same ledger as Stripe.
//!
//! Telegram requires digital goods sold inside Telegram to be sold in
//! Stars. A plan with `stars_price` is offered on both rails: billing
//! makes the invoice link ([`api`]) with a payload only it can make
//! ([`payload`]); bot-service asks billing before it answers the
//! pre-checkout query, and hands it the `successful_payment` and
//! `refunded_payment` it receives ([`rail`]). In the ledger ([`ledger`]) a
//! Stars subscription is a source of its own whose payments each bought a
//! period up to its expiration date, and a one-time Stars payment is a
//! purchase: a refund ends exactly what its charge bought, and one live
//! subscription per user holds across both rails. What billing tells
//! Telegram (a refund, a subscription's renewals stopped or resumed) is
//! decided in the commit and made after it, like Stripe's writes
//! ([`crate::writes`]). Reconcile rebuilds Stars payments from
//! `getStarTransactions` ([`reconcile`]).

pub mod api;
pub mod ledger;
pub mod payload;
mod rail;
mod reconcile;

pub use api::StarsApi;
pub use ledger::{StarsPaid, StarsPeriod, StarsSub, StarsTerm};
