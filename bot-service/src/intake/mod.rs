//! What comes in: updates accepted over `bot.v1` ([`service`]) or from
//! `getUpdates` ([`polling`]), read where they go without parsing them
//! whole ([`partition`], [`chatter`], [`command`]), sealed for the queue
//! ([`envelope`]); pre-checkout queries answered as they are accepted
//! ([`precheckout`]); Telegram's webhook managed ([`webhook`]).

pub mod chatter;
pub mod command;
pub mod envelope;
pub mod partition;
pub mod polling;
pub mod precheckout;
pub mod service;
pub mod webhook;
