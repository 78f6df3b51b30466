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

use std::time::Duration;

use crate::queue::{Claim, QueueConfig};

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

#[derive(Debug, Clone)]
pub(crate) enum Guard {
    /// The versioned record is at this revision (0: absent).
    Rev { key: String, rev: i64 },
    /// The value does not exist.
    Absent { key: String },
    /// The lease on a queue partition is still held under this token.
    Lease {
        queue: String,
        partition: String,
        token: i64,
    },
    /// The lease on a lane is still held under this token, and the run's
    /// items before `pos` are settled and no more (so a retried commit
    /// whose first try landed is refused, as a settled lease refuses it).
    Lane {
        queue: String,
        lane: String,
        token: i64,
        pos: u32,
    },
}

/// How a lane item is settled.
#[derive(Debug, Clone)]
pub(crate) enum Settle {
    /// Done: dropped from the lane.
    Ack,
    /// Kept aside as a dead letter with this reason, handed out this often.
    Dead { reason: String, attempts: u32 },
    /// Handed out again after `delay`: the item moves to its partition's
    /// own list (the partition is parked there) with this attempt count.
    Park { delay: Duration, attempts: u32 },
    /// Not handled because an earlier item of its partition was parked:
    /// moves behind it, unhandled.
    Follow,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put {
        key: String,
        rev: i64,
        data: Vec<u8>,
    },
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    },
    Delete {
        key: String,
    },
    Incr {
        key: String,
        by: i64,
        ttl: Option<Duration>,
    },
    SetAdd {
        key: String,
        member: String,
    },
    SetRemove {
        key: String,
        member: String,
    },
    ListPush {
        key: String,
        value: Vec<u8>,
        cap: usize,
    },
    LogAppend {
        key: String,
        entry: Vec<u8>,
        cap: usize,
    },
    Schedule {
        key: String,
        member: String,
        at: i64,
    },
    Unschedule {
        key: String,
        member: String,
    },
    Enqueue {
        queue: String,
        dedup_ttl: Duration,
        /// The queue's [`QueueConfig::lanes`].
        lanes: u16,
        id: String,
        partition: String,
        item: Vec<u8>,
    },
    /// Settles a lane item (see [`Settle`]); `last` gives the lane back.
    Lane {
        queue: String,
        lane: String,
        partition: String,
        last: bool,
        settle: Settle,
    },
    Ack {
        queue: String,
        partition: String,
        /// Set: move the item to the dead-letter list with this reason.
        dead: Option<String>,
    },
    Release {
        queue: String,
        partition: String,
        delay: Duration,
        /// False: the hand-out that is given back does not count as an
        /// attempt (it only waited, for example for a send slot).
        counts: bool,
    },
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

    /// Guard: `claim`'s lease on its partition (or lane) of `queue` is
    /// still held (nobody took it over), and for a lane's item, the items
    /// before it in the run are settled and it is not. Returns the guard's
    /// index.
    pub fn expect_lease(&mut self, queue: &str, claim: &Claim) -> usize {
        self.guard(match &claim.lane {
            Some(slot) => Guard::Lane {
                queue: queue.to_owned(),
                lane: slot.name.clone(),
                token: claim.token,
                pos: slot.pos,
            },
            None => Guard::Lease {
                queue: queue.to_owned(),
                partition: claim.partition.clone(),
                token: claim.token,
            },
        })
    }

    fn guard(&mut self, guard: Guard) -> usize {
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

    /// Appends `item` to `partition` of `queue` unless `id` was enqueued
    /// within `config.dedup_ttl` (then this write does nothing).
    pub fn enqueue(
        &mut self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
        partition: &str,
        item: Vec<u8>,
    ) -> &mut Self {
        self.op(Op::Enqueue {
            queue: queue.to_owned(),
            dedup_ttl: config.dedup_ttl,
            lanes: config.lanes,
            id: id.to_owned(),
            partition: partition.to_owned(),
            item,
        })
    }

    /// Finishes `claim` (its partition's head item) while its lease is held:
    /// adds the lease guard and the acknowledgement. With `dead_letter`, the
    /// item is kept aside with that reason instead of dropped.
    pub fn ack(&mut self, queue: &str, claim: &Claim, dead_letter: Option<&str>) -> usize {
        let guard = self.expect_lease(queue, claim);
        let dead = dead_letter.map(str::to_owned);
        if claim.lane.is_some() {
            let settle = dead.map_or(Settle::Ack, |reason| Settle::Dead {
                reason,
                attempts: claim.attempts,
            });
            return self.lane_op(queue, claim, guard, settle);
        }
        self.op(Op::Ack {
            queue: queue.to_owned(),
            partition: claim.partition.clone(),
            dead,
        });
        guard
    }

    /// Gives `claim`'s lease back: the same item is handed out again after
    /// `delay`. `counts` false means this hand-out does not count as an
    /// attempt. Adds the lease guard. A lane's item is parked: it moves to
    /// a list of its partition's own, which later items of the partition
    /// join, so the lane goes on meanwhile.
    pub fn release(&mut self, queue: &str, claim: &Claim, delay: Duration, counts: bool) -> usize {
        let guard = self.expect_lease(queue, claim);
        if claim.lane.is_some() {
            let attempts = if counts {
                claim.attempts
            } else {
                claim.attempts.saturating_sub(1)
            };
            return self.lane_op(queue, claim, guard, Settle::Park { delay, attempts });
        }
        self.op(Op::Release {
            queue: queue.to_owned(),
            partition: claim.partition.clone(),
            delay,
            counts,
        });
        guard
    }

    /// Moves a lane's item, unhandled, behind its partition's item that was
    /// parked earlier in the run ([`Tx::release`]). For a partition's own
    /// claim it is a release without delay that does not count.
    pub fn follow(&mut self, queue: &str, claim: &Claim) -> usize {
        if claim.lane.is_none() {
            return self.release(queue, claim, Duration::ZERO, false);
        }
        let guard = self.expect_lease(queue, claim);
        self.lane_op(queue, claim, guard, Settle::Follow)
    }

    fn lane_op(&mut self, queue: &str, claim: &Claim, guard: usize, settle: Settle) -> usize {
        self.op(Op::Lane {
            queue: queue.to_owned(),
            lane: claim.lease().to_owned(),
            partition: claim.partition.clone(),
            last: claim.ends_lease(),
            settle,
        });
        guard
    }

    fn op(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }
}

/// The slot a logical key falls in: its `{scope}` when it has one, else
/// the key itself under its kind (Redis hashes `P:v:KEY` and `P:s:KEY`
/// apart). Queues without a scope have a tag of their own.
fn slot<'k>(kind: &'static str, key: &'k str) -> (Option<&'static str>, &'k str) {
    match scope_of(key) {
        Some(scope) => (None, scope),
        None => (Some(kind), key),
    }
}

fn scope_of(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let rest = &key[open + 1..];
    rest.find('}')
        .filter(|&close| close > 0)
        .map(|close| &rest[..close])
}

impl Tx {
    fn slots(&self) -> impl Iterator<Item = (Option<&'static str>, &str)> {
        let guards = self.guards.iter().map(|g| match g {
            Guard::Rev { key, .. } => slot("r", key),
            Guard::Absent { key } => slot("v", key),
            Guard::Lease { queue, .. } | Guard::Lane { queue, .. } => slot("q", queue),
        });
        let ops = self.ops.iter().map(|op| match op {
            Op::Put { key, .. } => slot("r", key),
            Op::Set { key, .. } | Op::Delete { key } | Op::Incr { key, .. } => slot("v", key),
            Op::SetAdd { key, .. } | Op::SetRemove { key, .. } => slot("s", key),
            Op::ListPush { key, .. } => slot("l", key),
            Op::LogAppend { key, .. } => slot("x", key),
            Op::Schedule { key, .. } | Op::Unschedule { key, .. } => slot("z", key),
            Op::Enqueue { queue, .. }
            | Op::Ack { queue, .. }
            | Op::Release { queue, .. }
            | Op::Lane { queue, .. } => slot("q", queue),
        });
        guards.chain(ops)
    }
}

/// Refuses transactions whose keys would span Redis Cluster slots: one
/// script can only touch one slot. Checked by both backends, so the
/// in-process store catches the mistake too.
pub(crate) fn check_one_slot(txs: &[Tx]) -> Result<(), crate::StoreError> {
    let mut slots = txs.iter().flat_map(Tx::slots);
    let Some(first) = slots.next() else {
        return Ok(());
    };
    match slots.find(|s| *s != first) {
        None => Ok(()),
        Some(other) => Err(crate::StoreError::Protocol(format!(
            "keys of one commit must share a {{scope}}: {first:?} and {other:?} do not"
        ))),
    }
}

/// Refuses an enqueue to a partition whose name could pass for a lane or
/// break a lane entry apart (see [`crate::queue::check_partition`]).
pub(crate) fn check_partitions(txs: &[Tx]) -> Result<(), crate::StoreError> {
    txs.iter()
        .flat_map(|tx| &tx.ops)
        .try_for_each(|op| match op {
            Op::Enqueue { partition, .. } => crate::queue::check_partition(partition),
            _ => Ok(()),
        })
}
