//! The shared state store: one API, two backends.
//!
//! - [`Store::redis`]: every replica of every service shares state through
//!   Redis. Anything that must happen together (de-duplicate and enqueue,
//!   check and consume a rate-limit token) is one Lua script, and the keys a
//!   script touches share a hash tag so the same scripts run on a cluster.
//! - [`Store::memory`]: an in-process store with the same semantics, the
//!   embedded default for one process and for laptops. It is not shared
//!   between processes and does not survive a restart.
//!
//! [`Tx`] groups writes that must happen together (a state change and
//! everything that follows from it) into one atomic step.
//!
//! The crate is laid out by concern, each folder holding the
//! [`Store`] methods (`handle.rs`), the in-process side (`memory.rs`), the
//! Redis side (`redis.rs`) and its Lua scripts next to each other, so one
//! change shows both sides: `kv`, `collections`, `log`, `limiter`, `durability` (what Redis
//! keeps, and replicas' acknowledgement), `tx`
//! (transactions, with the one table of what each step sends to
//! `commit.lua`), `queue` (with its de-duplication and its transaction
//! steps). `memory` and `redis_backend` are the backends themselves (state,
//! clock, connection, key layout, the scripts' shared prelude); `store` is
//! the handle and its one dispatch (`on_backend!`).
//!
//! What the mesh keeps here: de-duplication marks (Telegram `update_id`s,
//! Stripe `event.id`s), the per-chat update queue ([`queue`]), rate limits
//! ([`RateDecision`]), sessions (plain values with a TTL) and versioned
//! records whose older versions never overwrite newer ones.

mod collections;
mod durability;
mod error;
pub mod gauges;
mod kv;
mod limiter;
mod log;
mod memory;
mod queue;
mod redis_backend;
pub mod reports;
mod store;
mod tx;

pub use durability::{Ack, Durability, Kept};
pub use error::{ConfigField, StoreError};
pub use limiter::RateDecision;
pub use queue::{
    Claim, ClaimResult, Claims, DeadLetter, Enqueued, LaneSlot, NewItem, QueueConfig, QueueStats,
    lane_of,
};
pub use store::{Backend, Store, retry_within};
pub use tx::{Tx, TxOutcome};
