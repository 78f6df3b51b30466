//! The steps a transaction is made of: guards, writes, and how a lane
//! item is settled.

use std::time::Duration;

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
