//! Plain values with an optional expiry, counters, and versioned records
//! an older version never overwrites.
//!
//! [`crate::Store`]'s methods for it are in `handle.rs`; the in-process
//! side in `memory.rs`, the Redis side (and its scripts) in `redis.rs`.

mod handle;
mod memory;
mod redis;
