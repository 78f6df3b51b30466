//! Transactions: writes that happen together or not at all.
//!
//! A [`Tx`] is a list of guards (conditions read at commit time) and writes.
//! [`crate::Store::commit`] applies it in one atomic step (one Lua script in
//! Redis, one lock in memory): when every guard holds, every write lands;
//! when one fails, nothing does, and the outcome says which guard failed.
//! [`crate::Store::commit_all`] applies several in one step, each on its own
//! (a refused one does not hold back the others): how a worker settles a
//! batch of independent items in one round trip.
//!
//! This is how a state change and everything that follows from it (the
//! record, its indexes and schedules, the audit entry, the change-log
//! entry, the notices and outbox items, the queue acknowledgement) commit
//! together: a store command that fails half way, or a caller cancelled
//! half way, leaves either all of it or none of it.
//!
//! In Redis every key of one commit must live in one cluster slot: keys name
//! their slot with a `{scope}` (for example `{billing}:entitlement:7`), and
//! queue names do the same (`{bot}:updates`). A commit whose keys span
//! slots is refused before it is sent, on a single node too, so the mistake
//! shows in every test rather than only on a cluster.

mod handle;
mod memory;
mod redis;
pub(crate) mod slots;
pub(crate) mod steps;
pub(crate) mod table;

use std::time::Duration;

pub(crate) use self::slots::{check_one_slot, check_partitions};
pub(crate) use self::steps::{Guard, Op, Settle};

/// One atomic group of guarded writes. Build it with the methods below,
/// then hand it to [`crate::Store::commit`].
#[derive(Debug, Clone, Default)]
pub struct Tx {
    pub(crate) guards: Vec<Guard>,
    pub(crate) ops: Vec<Op>,
}

/// What [`crate::Store::commit`] did with a [`Tx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    /// Every guard held; every write landed.
    Committed,
    /// The guard with this index (in the order they were added) did not
    /// hold; nothing was written.
    Refused(usize),
}

impl TxOutcome {
    /// True when the writes landed.
    pub fn committed(self) -> bool {
        self == Self::Committed
    }
}

impl Tx {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when it holds no write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Guard: the versioned record `key` is still at revision `rev` (0 for
    /// a record that does not exist). Returns the guard's index.
    pub fn expect_rev(&mut self, key: &str, rev: i64) -> usize {
        self.guard(Guard::Rev {
            key: key.to_owned(),
            rev,
        })
    }

    /// Guard: the value `key` does not exist. Returns the guard's index.
    pub fn expect_absent(&mut self, key: &str) -> usize {
        self.guard(Guard::Absent {
            key: key.to_owned(),
        })
    }

    pub(crate) fn guard(&mut self, guard: Guard) -> usize {
        self.guards.push(guard);
        self.guards.len() - 1
    }

    /// Writes the versioned record `key` at revision `rev`.
    pub fn put_record(&mut self, key: &str, rev: i64, data: Vec<u8>) -> &mut Self {
        self.op(Op::Put {
            key: key.to_owned(),
            rev,
            data,
        })
    }

    /// Writes a value, expiring after `ttl` when given.
    pub fn set(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> &mut Self {
        self.op(Op::Set {
            key: key.to_owned(),
            value: value.to_vec(),
            ttl,
        })
    }

    /// Deletes a value.
    pub fn delete(&mut self, key: &str) -> &mut Self {
        self.op(Op::Delete {
            key: key.to_owned(),
        })
    }

    /// Adds `by` to the counter `key`.
    pub fn incr(&mut self, key: &str, by: i64) -> &mut Self {
        self.op(Op::Incr {
            key: key.to_owned(),
            by,
            ttl: None,
        })
    }

    /// Adds `by` to the counter `key`, which then lives `ttl` from now (a
    /// counter of one day of a rolling window, gone when out of it).
    pub fn incr_expiring(&mut self, key: &str, by: i64, ttl: Duration) -> &mut Self {
        self.op(Op::Incr {
            key: key.to_owned(),
            by,
            ttl: Some(ttl),
        })
    }

    /// Adds `member` to the set `key`.
    pub fn set_add(&mut self, key: &str, member: &str) -> &mut Self {
        self.op(Op::SetAdd {
            key: key.to_owned(),
            member: member.to_owned(),
        })
    }

    /// Removes `member` from the set `key`.
    pub fn set_remove(&mut self, key: &str, member: &str) -> &mut Self {
        self.op(Op::SetRemove {
            key: key.to_owned(),
            member: member.to_owned(),
        })
    }

    /// Appends to the list `key`, keeping its last `cap` entries.
    pub fn list_push(&mut self, key: &str, value: Vec<u8>, cap: usize) -> &mut Self {
        self.op(Op::ListPush {
            key: key.to_owned(),
            value,
            cap: cap.max(1),
        })
    }

    /// Appends to the log `key` (about `cap` entries are kept).
    pub fn log_append(&mut self, key: &str, entry: Vec<u8>, cap: usize) -> &mut Self {
        self.op(Op::LogAppend {
            key: key.to_owned(),
            entry,
            cap: cap.max(1),
        })
    }

    /// Schedules `member` in `key` at `at` (unix seconds).
    pub fn schedule(&mut self, key: &str, member: &str, at: i64) -> &mut Self {
        self.op(Op::Schedule {
            key: key.to_owned(),
            member: member.to_owned(),
            at,
        })
    }

    /// Removes `member`'s schedule from `key`.
    pub fn unschedule(&mut self, key: &str, member: &str) -> &mut Self {
        self.op(Op::Unschedule {
            key: key.to_owned(),
            member: member.to_owned(),
        })
    }

    pub(crate) fn op(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }
}
