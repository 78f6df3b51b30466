//! Types of the durable, partitioned work queue.
//!
//! Items are appended to a partition (a Telegram chat) and handed out one
//! partition at a time: while a worker holds a partition's lease nobody else
//! gets that partition, so items of one partition are handled strictly in
//! order and different partitions in parallel. A worker that dies loses its
//! lease when it expires and the head item is handed out again: delivery is
//! at least once, and `attempts` tells a handler it is seeing a retry.

mod dedup;
mod handle;
pub(crate) mod lanes;
mod memory;
mod redis;
mod tx;

use std::time::Duration;

/// Timing of one queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// How long a de-duplication mark lives (Telegram keeps updates 24 h).
    /// Zero in a transaction's [`crate::Tx::enqueue`]: no mark at all, for
    /// a transaction that settles a lease (so it commits at most once) and
    /// an id no other transaction makes. The mark would refuse nothing
    /// there, yet cost a command and a key kept for its lifetime per item
    /// (a reply per handled update, kept a day).
    pub dedup_ttl: Duration,
    /// How long a claim is exclusive before another worker may take over.
    pub lease: Duration,
    /// Ids made only of digits are sequence numbers (Telegram's
    /// `update_id`s count up): each is remembered as one bit of a bitmap
    /// segment (about 8 KiB per 65,536 ids) instead of a key of its own.
    /// Other ids are remembered as keys whatever this says.
    pub sequence_ids: bool,
    /// 0: every partition is a list of its own and each hand-out leases one
    /// partition's head item. N: items are appended to N lanes, a partition
    /// always to the same one ([`lane_of`]), and a hand-out leases a run of
    /// a lane's items (several chats', several of one chat's, in order), so
    /// accepting, claiming and acknowledging cost a few store commands per
    /// batch rather than several per item. A partition that has to wait
    /// (a retry after a delay) moves, with its later items, to a list of
    /// its own until it is drained, so it never holds up its lane.
    pub lanes: u16,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            dedup_ttl: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(5),
            sequence_ids: false,
            lanes: 0,
        }
    }
}

/// Lane names start with a byte no partition name may hold, so lanes and
/// parked partitions share the queue's ready, held and attempts indexes
/// without colliding.
pub(crate) const LANE_PREFIX: &str = "\u{1}lane:";

/// The lane `partition` goes to in a queue of `lanes` lanes. A polynomial
/// hash small enough for Lua's doubles (every step stays below 2^53), so
/// the replay script computes the same lane as Rust does; std's hashers
/// are seeded per process and would not.
pub fn lane_of(partition: &str, lanes: u16) -> u16 {
    let h = partition
        .bytes()
        .fold(0u64, |h, b| (h * 31 + u64::from(b)) % 1_000_003);
    u16::try_from(h % u64::from(lanes.max(1))).unwrap_or(0)
}

/// The name of lane `lane` (its list and its index entries).
pub(crate) fn lane_name(lane: u16) -> String {
    format!("{LANE_PREFIX}{lane}")
}

/// A lane entry: the partition travels with the item (`\2` on both sides;
/// partitions hold no control bytes, see [`check_partition`]).
pub(crate) fn lane_entry(partition: &str, item: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(partition.len() + item.len() + 2);
    entry.push(2);
    entry.extend_from_slice(partition.as_bytes());
    entry.push(2);
    entry.extend_from_slice(item);
    entry
}

/// Where an item of `partition` is stored in a queue of `lanes` lanes: the
/// list's name (its lane's, or the partition's own without lanes) and what
/// is stored (with lanes, the partition travels with the item).
pub(crate) fn placement(lanes: u16, partition: &str, item: &[u8]) -> (String, Vec<u8>) {
    if lanes > 0 {
        (
            lane_name(lane_of(partition, lanes)),
            lane_entry(partition, item),
        )
    } else {
        (partition.to_owned(), item.to_vec())
    }
}

/// The partition and item of a lane entry.
pub(crate) fn split_lane_entry(entry: &[u8]) -> Option<(&str, &[u8])> {
    let rest = entry.strip_prefix(&[2])?;
    let end = rest.iter().position(|&b| b == 2)?;
    let partition = std::str::from_utf8(&rest[..end]).ok()?;
    Some((partition, &rest[end + 1..]))
}

/// The item of a lane entry, its partition prefix cut off in place (an
/// entry that is not a lane entry comes back whole).
pub(crate) fn lane_item(mut entry: Vec<u8>) -> Vec<u8> {
    if let Some((partition, _)) = split_lane_entry(&entry) {
        let prefix = partition.len() + 2;
        entry.drain(..prefix);
    }
    entry
}

/// Partition names are chat ids and the like: control bytes are refused,
/// so a name can neither pass for a lane nor break a lane entry apart.
pub(crate) fn check_partition(partition: &str) -> Result<(), crate::StoreError> {
    if partition.bytes().any(|b| b < 0x20) {
        return Err(crate::StoreError::Protocol(format!(
            "partition names hold no control bytes: {partition:?}"
        )));
    }
    Ok(())
}

/// Ids per bitmap segment of a sequence-id queue (8 KiB of bits).
pub const SEGMENT_IDS: u64 = 1 << 16;

/// The sequence number `id` stands for, when it is one (digits only) and
/// `config` remembers sequence ids as bits.
pub(crate) fn sequence(config: &QueueConfig, id: &str) -> Option<u64> {
    if !config.sequence_ids
        || id.is_empty()
        || id.len() > 19
        || !id.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    id.parse().ok()
}

/// One item for [`crate::Store::enqueue_many`].
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    /// De-duplication id: an id seen within the window is not stored again.
    pub id: &'a str,
    /// The partition (chat) the item is appended to.
    pub partition: &'a str,
    /// The item, stored as given.
    pub item: &'a [u8],
    /// Only remember the id, queue nothing: for an item the caller knows
    /// needs no work (group chatter a bot ignores), so that a retry of it is
    /// still a duplicate while it costs no queue writes, claim or
    /// acknowledgement (for a sequence id, one bit). `partition` and `item`
    /// are not stored.
    pub remember_only: bool,
    /// The span of the call that delivered this item; its `state.enqueue`
    /// span is a child of it, so each item's trace shows the store write
    /// even when many items share one.
    pub parent: &'a tracing::Span,
}

/// An item that failed too often (or could not be read), kept aside with
/// why, until an operator replays or forgets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Identifies it for [`crate::Store::replay_dead_letter`].
    pub id: String,
    /// The partition it was queued in.
    pub partition: String,
    /// The item as enqueued.
    pub item: Vec<u8>,
    /// Why it was given up on.
    pub reason: String,
    /// How many times it had been handed out.
    pub attempts: u32,
    /// When it was given up on (unix milliseconds).
    pub at_ms: i64,
}

/// Outcome of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored; it will be handed out.
    New,
    /// The id was seen within the de-duplication window; nothing was stored.
    Duplicate,
}

/// A partition's head item, leased to one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The partition (chat) the item belongs to.
    pub partition: String,
    /// The item as enqueued.
    pub item: Vec<u8>,
    /// Identifies this lease for as long as it lasts (renewals keep it):
    /// settling with a token another worker's claim replaced does nothing.
    pub token: i64,
    /// How many times this head item has been handed out (1 on first delivery).
    /// For a lane's run, how many times the run's first item has been.
    pub attempts: u32,
    /// Set when the item came in a lane's run (see [`QueueConfig::lanes`]).
    pub lane: Option<LaneSlot>,
}

/// Where a claimed item sits in its lane's run. The run's items are
/// settled in order (a settle out of order is refused), items of one
/// partition one after the other; the last settle gives the lane back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSlot {
    /// The lane's name: the lease the run shares.
    pub name: String,
    /// The item's place in the run, from 0.
    pub pos: u32,
    /// How many items the run holds.
    pub run: u32,
}

impl Claim {
    /// What the lease is on: the lane for a lane's item, else the partition.
    pub fn lease(&self) -> &str {
        self.lane.as_ref().map_or(&self.partition, |l| &l.name)
    }

    /// True for the last item of a lane's run, or any partition's item:
    /// settling it gives the lease back.
    pub fn ends_lease(&self) -> bool {
        self.lane.as_ref().is_none_or(|l| l.pos + 1 >= l.run)
    }
}

/// What [`crate::Store::claim_many`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claims {
    /// Leased items (never empty): partitions' head items, and lanes' runs
    /// in run order.
    Claimed(Vec<Claim>),
    /// Nothing ready; the earliest partition becomes ready in this long
    /// (`None`: the queue is empty).
    Idle(Option<Duration>),
}

/// What [`crate::Store::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    /// A leased item.
    Claimed(Claim),
    /// Nothing ready; the earliest partition becomes ready in this long
    /// (`None`: the queue is empty).
    Idle(Option<Duration>),
}

/// A queue's numbers at one instant, for gauges and `/stats`: one atomic
/// read whose cost does not grow with the number of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items waiting or being worked on.
    pub items: u64,
    /// Partitions (chats) with items.
    pub partitions: u64,
    /// How long the oldest item has been queued (none when empty).
    pub oldest_age: Option<Duration>,
    /// Partitions a worker holds right now.
    pub held: u64,
    /// Partitions waiting out a delay (Telegram's `retry_after`, a send
    /// slot, a back-off), nobody holding them. Counted up to
    /// [`QueueStats::WALK_CAP`] together with `held`.
    pub paused: u64,
    /// The longest remaining delay among the paused partitions.
    pub longest_pause: Duration,
    /// Dead letters kept.
    pub dead_letters: u64,
}

impl QueueStats {
    /// At most this many held or paused partitions are looked at, so a
    /// sample stays a few milliseconds of store time whatever happens.
    pub const WALK_CAP: usize = 10_000;
}
