//! The in-process backend: the same semantics as the Lua scripts, under one
//! mutex. Critical sections are short and never await, so a std mutex is
//! the right tool. Every operation is a method of the locked [`State`], so a
//! transaction applies its writes under the one lock, as a Lua script does
//! in Redis. Time comes from tokio's clock, so tests can pause it.

use std::collections::HashSet;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::StoreError;
use crate::queue::{
    Claim, Claims, DeadLetter, Enqueued, LANE_PREFIX, LaneSlot, NewItem, QueueConfig, QueueStats,
    SEGMENT_IDS, lane_item, placement, sequence, split_lane_entry,
};
use crate::store::RateDecision;
use crate::tx::{Guard, Op, Settle, Tx, TxOutcome};

/// How many dead letters a queue keeps (the oldest go first).
pub(crate) const DEAD_LETTER_CAP: usize = 10_000;

/// The in-process state.
pub(crate) struct MemoryBackend {
    epoch: Instant,
    /// Two independent random keys: an id's de-duplication mark is the
    /// 128-bit pair of its keyed hashes (see [`Marks`]).
    mark_keys: (RandomState, RandomState),
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    values: HashMap<String, (Vec<u8>, Option<Instant>)>,
    versioned: HashMap<String, (i64, Vec<u8>)>,
    /// GCRA theoretical arrival time, ms since epoch.
    tat: HashMap<String, i64>,
    /// Next free slot of each paced stream, µs since epoch.
    slots: HashMap<String, i64>,
    queues: HashMap<String, Queue>,
    sets: HashMap<String, HashSet<String>>,
    lists: HashMap<String, VecDeque<Vec<u8>>>,
    schedules: HashMap<String, Schedule>,
    logs: HashMap<String, Log>,
    /// Writes since expired values and rate-limit entries were last swept.
    writes: u32,
}

/// Members ordered by time, and each member's time.
type Schedule = (BTreeSet<(i64, String)>, HashMap<String, i64>);

/// The last id handed out, and the retained entries.
type Log = (u64, VecDeque<(u64, Vec<u8>)>);

/// The clock readings one operation works with.
#[derive(Clone, Copy)]
struct Now {
    /// For expiries.
    instant: Instant,
    /// Milliseconds since the backend's epoch (queue and limiter times).
    ms: i64,
}

#[derive(Default)]
struct Queue {
    /// The ids seen within the de-duplication window.
    dedup: Marks,
    /// The sequence ids seen, as bits.
    seen_bits: SeqBits,
    /// Partition names are shared by every index below: one allocation per
    /// partition rather than several per operation.
    /// Each item with its enqueue time (ms).
    lists: HashMap<Arc<str>, VecDeque<(i64, Vec<u8>)>>,
    /// (enqueue time of the head item, partition): the oldest queued item
    /// is the first entry.
    since: BTreeSet<(i64, Arc<str>)>,
    /// (ready-at ms, partition) ordered, plus the reverse index.
    ready: BTreeSet<(i64, Arc<str>)>,
    score: HashMap<Arc<str>, i64>,
    attempts: HashMap<Arc<str>, u32>,
    /// The token of each partition's (or lane's) current lease.
    held: HashMap<Arc<str>, i64>,
    /// For each held lane, how many items of its run are settled.
    settled: HashMap<Arc<str>, u32>,
    pending: u64,
    dead: VecDeque<(u64, DeadLetter)>,
    next_dead: u64,
}

/// De-duplication marks: one per id, a 128-bit keyed hash rather than the
/// id, because a flood of updates makes this the largest structure in
/// memory (about 20 bytes an id, no allocation). With random keys, two of a
/// million ids share a mark (one would be taken for a duplicate) with odds
/// of about 1 in 10^27.
///
/// Two generations instead of an expiry per mark: a generation is dropped
/// whole once it is a full TTL old, so every mark lives at least the TTL
/// (the guarantee) and at most twice that, with no per-mark bookkeeping.
#[derive(Default)]
struct Marks {
    current: HashSet<u128, BuildHasherDefault<MarkHasher>>,
    previous: HashSet<u128, BuildHasherDefault<MarkHasher>>,
    /// When `current` began, ms since the epoch.
    since: i64,
}

impl Marks {
    /// Records `mark`; false when it was already there.
    fn insert(&mut self, mark: u128, now_ms: i64, ttl_ms: i64) -> bool {
        let age = now_ms.saturating_sub(self.since);
        if age >= ttl_ms.saturating_mul(2) {
            self.previous.clear();
            self.current.clear();
            self.since = now_ms;
        } else if age >= ttl_ms {
            self.previous = std::mem::take(&mut self.current);
            self.since = now_ms;
        }
        !self.previous.contains(&mark) && self.current.insert(mark)
    }
}

/// Sequence ids remembered as bits (see
/// [`QueueConfig::sequence_ids`](crate::QueueConfig)): segments of
/// [`SEGMENT_IDS`] bits, each dropped once a full TTL passed since its last
/// write, the way the Redis backend's segment keys expire.
#[derive(Default)]
struct SeqBits {
    segments: HashMap<u64, (Vec<u64>, i64)>,
}

impl SeqBits {
    /// Records `id`; false when it was already there.
    fn insert(&mut self, id: u64, now_ms: i64, ttl_ms: i64) -> bool {
        // A handful of segments live at a time: a scan is cheap.
        self.segments
            .retain(|_, (_, last)| now_ms.saturating_sub(*last) < ttl_ms);
        let words = usize::try_from(SEGMENT_IDS / 64).unwrap_or(1024);
        let (bits, last) = self
            .segments
            .entry(id / SEGMENT_IDS)
            .or_insert_with(|| (vec![0; words], now_ms));
        *last = now_ms;
        let offset = id % SEGMENT_IDS;
        let (word, bit) = (usize::try_from(offset / 64).unwrap_or(0), offset % 64);
        let seen = bits[word] >> bit & 1 == 1;
        bits[word] |= 1 << bit;
        !seen
    }
}

/// Marks are already uniformly random: their low bits are the hash, where
/// SipHash would only spend time.
#[derive(Default)]
struct MarkHasher(u64);

impl Hasher for MarkHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, mark: u128) {
        // Truncation intended: the low half of a random mark.
        self.0 = mark as u64;
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Queue {
    /// The shared name of `partition`, made once.
    fn name(&self, partition: &str) -> Arc<str> {
        self.lists
            .get_key_value(partition)
            .map(|(k, _)| k.clone())
            .or_else(|| self.score.get_key_value(partition).map(|(k, _)| k.clone()))
            .unwrap_or_else(|| Arc::from(partition))
    }

    fn set_score(&mut self, partition: &Arc<str>, score: i64) {
        if let Some(old) = self.score.insert(partition.clone(), score) {
            self.ready.remove(&(old, partition.clone()));
        }
        self.ready.insert((score, partition.clone()));
    }

    fn remove_partition(&mut self, partition: &str) {
        if let Some((name, old)) = self.score.remove_entry(partition) {
            self.ready.remove(&(old, name));
        }
    }

    fn holds(&self, partition: &str, token: i64) -> bool {
        self.held.get(partition) == Some(&token)
    }

    /// Appends an item to its partition, or in a queue of `lanes` lanes to
    /// its partition's lane (no de-duplication).
    fn push_item(&mut self, lanes: u16, partition: &str, item: &[u8], now_ms: i64) {
        let (list, entry) = placement(lanes, partition, item);
        self.push(&list, entry, now_ms);
    }

    /// Appends an item to its partition (no de-duplication).
    fn push(&mut self, partition: &str, item: Vec<u8>, now_ms: i64) {
        self.append(partition, now_ms, item);
        if !self.score.contains_key(partition) {
            let name = self.name(partition);
            self.set_score(&name, now_ms);
        }
        self.pending += 1;
    }

    fn ack(&mut self, partition: &str, dead: Option<&str>, now_ms: i64) {
        let (item, next) = match self.lists.get_mut(partition) {
            Some(list) => (list.pop_front(), list.front().map(|(at, _)| *at)),
            None => (None, None),
        };
        let more = next.is_some();
        if let Some((at, item)) = item {
            let name = self.name(partition);
            self.since.remove(&(at, name.clone()));
            if let Some(next) = next {
                self.since.insert((next, name));
            }
            self.pending = self.pending.saturating_sub(1);
            if let Some(reason) = dead {
                let attempts = self.attempts.get(partition).copied().unwrap_or(0);
                self.bury(partition, item, reason, attempts);
            }
        }
        self.attempts.remove(partition);
        self.held.remove(partition);
        if more {
            let name = self.name(partition);
            self.set_score(&name, now_ms);
        } else {
            self.lists.remove(partition);
            self.remove_partition(partition);
        }
    }

    /// Appends `item`, queued since `at`, to the list `partition`, keeping
    /// the head-time index (nothing else: no count, no ready entry). A
    /// lane's item parked with its partition keeps its first enqueue time.
    fn append(&mut self, partition: &str, at: i64, item: Vec<u8>) {
        match self.lists.get_mut(partition) {
            Some(list) => list.push_back((at, item)),
            None => {
                let name = self.name(partition);
                self.since.insert((at, name.clone()));
                self.lists.insert(name, VecDeque::from([(at, item)]));
            }
        }
    }

    /// The since entry of `name` after its head changed from `old`.
    fn head_changed(&mut self, name: &Arc<str>, old: Option<i64>) {
        if let Some(old) = old {
            self.since.remove(&(old, name.clone()));
        }
        match self.lists.get(name).and_then(|l| l.front()) {
            Some((at, _)) => {
                self.since.insert((*at, name.clone()));
            }
            None => {
                self.lists.remove(name);
            }
        }
    }

    /// Up to `cap` items of `lane` with their partitions, after moving
    /// those of parked partitions behind their partitions' items (as
    /// claim.lua does). `None`: the lane is empty.
    fn take_run(&mut self, lane: &Arc<str>, cap: usize) -> Option<Vec<(String, Vec<u8>)>> {
        let list = self.lists.get(lane).filter(|l| !l.is_empty())?;
        let n = cap.min(list.len());
        let parked: HashSet<String> = list
            .iter()
            .take(n)
            .filter_map(|(_, e)| split_lane_entry(e))
            .filter(|(p, _)| self.score.contains_key(*p))
            .map(|(p, _)| p.to_owned())
            .collect();
        let entry = |e: &[u8]| {
            let partition = split_lane_entry(e).map_or_else(String::new, |(p, _)| p.to_owned());
            (partition, lane_item(e.to_vec()))
        };
        if parked.is_empty() {
            return Some(list.iter().take(n).map(|(_, e)| entry(e)).collect());
        }
        let old = list.front().map(|(at, _)| *at);
        let list = self.lists.get_mut(lane)?;
        let taken: Vec<(i64, Vec<u8>)> = list.drain(..n).collect();
        let (moved, keep): (Vec<_>, Vec<_>) = taken
            .into_iter()
            .partition(|(_, e)| split_lane_entry(e).is_some_and(|(p, _)| parked.contains(p)));
        for kept in keep.iter().rev() {
            list.push_front(kept.clone());
        }
        for (at, e) in moved {
            if let Some((p, item)) = split_lane_entry(&e) {
                self.append(p, at, item.to_vec());
            }
        }
        self.head_changed(lane, old);
        if !self.lists.contains_key(lane) {
            self.remove_partition(lane);
            return None;
        }
        Some(keep.iter().map(|(_, e)| entry(e)).collect())
    }

    fn holds_lane(&self, lane: &str, token: i64, pos: u32) -> bool {
        self.holds(lane, token) && self.settled.get(lane).copied().unwrap_or(0) == pos
    }

    /// Settles the next item of `lane`'s run (see [`Settle`]); `last` gives
    /// the lane back.
    fn settle_lane(
        &mut self,
        lane: &str,
        partition: &str,
        last: bool,
        settle: &Settle,
        now_ms: i64,
    ) {
        let name = self.name(lane);
        let list = self.lists.get_mut(lane);
        let old = list.as_ref().and_then(|l| l.front()).map(|(at, _)| *at);
        if let Some((at, entry)) = list.and_then(VecDeque::pop_front) {
            match settle {
                Settle::Ack => self.pending = self.pending.saturating_sub(1),
                Settle::Dead { reason, attempts } => {
                    self.pending = self.pending.saturating_sub(1);
                    self.bury(partition, lane_item(entry), reason, *attempts);
                }
                Settle::Park { delay, attempts } => {
                    self.append(partition, at, lane_item(entry));
                    let p = self.name(partition);
                    self.set_score(&p, now_ms.saturating_add(millis(*delay)));
                    self.attempts.insert(p, *attempts);
                }
                Settle::Follow => {
                    self.append(partition, at, lane_item(entry));
                    if !self.score.contains_key(partition) {
                        let p = self.name(partition);
                        self.set_score(&p, now_ms);
                    }
                }
            }
            self.head_changed(&name, old);
        }
        *self.settled.entry(name.clone()).or_default() += 1;
        if last {
            self.held.remove(lane);
            self.attempts.remove(lane);
            self.settled.remove(lane);
            if self.lists.contains_key(lane) {
                self.set_score(&name, now_ms);
            } else {
                self.remove_partition(lane);
            }
        }
    }

    fn bury(&mut self, partition: &str, item: Vec<u8>, reason: &str, attempts: u32) {
        self.next_dead += 1;
        let letter = DeadLetter {
            id: self.next_dead.to_string(),
            partition: partition.to_owned(),
            item,
            reason: reason.to_owned(),
            attempts,
            at_ms: unix_ms(),
        };
        self.dead.push_back((self.next_dead, letter));
        if self.dead.len() > DEAD_LETTER_CAP {
            self.dead.pop_front();
        }
    }

    fn release(&mut self, partition: &str, delay: Duration, counts: bool, now_ms: i64) {
        let name = self.name(partition);
        self.set_score(&name, now_ms.saturating_add(millis(delay)));
        self.held.remove(partition);
        if !counts && let Some(n) = self.attempts.get_mut(partition) {
            *n = n.saturating_sub(1);
        }
    }
}

impl State {
    /// Drops expired values and idle rate-limit entries every few thousand
    /// writes, so a long-running process does not grow without bound.
    fn sweep_now_and_then(&mut self, now: Now) {
        self.writes += 1;
        if self.writes < 4096 {
            return;
        }
        self.writes = 0;
        self.values
            .retain(|_, (_, exp)| exp.is_none_or(|e| e > now.instant));
        self.tat.retain(|_, tat| *tat > now.ms);
    }

    fn live_value(&self, key: &str, now: Now) -> Option<&Vec<u8>> {
        match self.values.get(key) {
            Some((_, Some(exp))) if *exp <= now.instant => None,
            Some((v, _)) => Some(v),
            None => None,
        }
    }

    fn set_value(&mut self, key: &str, value: &[u8], ttl: Option<Duration>, now: Now) {
        self.sweep_now_and_then(now);
        self.values.insert(
            key.to_owned(),
            (value.to_vec(), ttl.map(|t| now.instant + t)),
        );
    }

    fn delete_value(&mut self, key: &str, now: Now) -> bool {
        let removed = self.values.remove(key);
        matches!(removed, Some((_, exp)) if exp.is_none_or(|e| e > now.instant))
    }

    fn incr(&mut self, key: &str, by: i64, now: Now) -> i64 {
        let current: i64 = self
            .live_value(key, now)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let next = current.saturating_add(by);
        let ttl = match self.values.get(key) {
            Some((_, Some(exp))) if *exp > now.instant => Some(*exp - now.instant),
            _ => None,
        };
        self.set_value(key, next.to_string().as_bytes(), ttl, now);
        next
    }

    fn set_add(&mut self, key: &str, member: &str) -> bool {
        self.sets
            .entry(key.to_owned())
            .or_default()
            .insert(member.to_owned())
    }

    fn set_remove(&mut self, key: &str, member: &str) -> bool {
        self.sets.get_mut(key).is_some_and(|s| s.remove(member))
    }

    fn list_push(&mut self, key: &str, value: &[u8], cap: usize) {
        let list = self.lists.entry(key.to_owned()).or_default();
        list.push_back(value.to_vec());
        while list.len() > cap.max(1) {
            list.pop_front();
        }
    }

    fn schedule(&mut self, key: &str, member: &str, at: i64) {
        let (order, index) = self.schedules.entry(key.to_owned()).or_default();
        if let Some(old) = index.insert(member.to_owned(), at) {
            order.remove(&(old, member.to_owned()));
        }
        order.insert((at, member.to_owned()));
    }

    fn unschedule(&mut self, key: &str, member: &str) {
        if let Some((order, index)) = self.schedules.get_mut(key)
            && let Some(old) = index.remove(member)
        {
            order.remove(&(old, member.to_owned()));
        }
    }

    fn log_append(&mut self, key: &str, entry: &[u8], cap: usize) -> String {
        let (next, log) = self.logs.entry(key.to_owned()).or_default();
        *next += 1;
        log.push_back((*next, entry.to_vec()));
        while log.len() > cap.max(1) {
            log.pop_front();
        }
        next.to_string()
    }

    fn guard_holds(&self, guard: &Guard, now: Now) -> bool {
        match guard {
            Guard::Rev { key, rev } => self.versioned.get(key).map_or(0, |(r, _)| *r) == *rev,
            Guard::Absent { key } => self.live_value(key, now).is_none(),
            Guard::Lease {
                queue,
                partition,
                token,
            } => self
                .queues
                .get(queue)
                .is_some_and(|q| q.holds(partition, *token)),
            Guard::Lane {
                queue,
                lane,
                token,
                pos,
            } => self
                .queues
                .get(queue)
                .is_some_and(|q| q.holds_lane(lane, *token, *pos)),
        }
    }

    /// Applies `tx` if every guard holds; all of it or nothing.
    fn apply(&mut self, backend: &MemoryBackend, tx: &Tx, now: Now) -> TxOutcome {
        if let Some(failed) = tx.guards.iter().position(|g| !self.guard_holds(g, now)) {
            return TxOutcome::Refused(failed);
        }
        for op in &tx.ops {
            match op {
                Op::Put { key, rev, data } => {
                    self.versioned.insert(key.clone(), (*rev, data.clone()));
                }
                Op::Set { key, value, ttl } => self.set_value(key, value, *ttl, now),
                Op::Delete { key } => {
                    self.delete_value(key, now);
                }
                Op::Incr { key, by, ttl } => {
                    let next = self.incr(key, *by, now);
                    if let Some(ttl) = ttl {
                        self.set_value(key, next.to_string().as_bytes(), Some(*ttl), now);
                    }
                }
                Op::SetAdd { key, member } => {
                    self.set_add(key, member);
                }
                Op::SetRemove { key, member } => {
                    self.set_remove(key, member);
                }
                Op::ListPush { key, value, cap } => self.list_push(key, value, *cap),
                Op::LogAppend { key, entry, cap } => {
                    self.log_append(key, entry, *cap);
                }
                Op::Schedule { key, member, at } => self.schedule(key, member, *at),
                Op::Unschedule { key, member } => self.unschedule(key, member),
                Op::Enqueue {
                    queue,
                    dedup_ttl,
                    lanes,
                    id,
                    partition,
                    item,
                } => {
                    let mark = backend.mark(id);
                    let q = self.queues.entry(queue.clone()).or_default();
                    if q.dedup.insert(mark, now.ms, millis(*dedup_ttl)) {
                        q.push_item(*lanes, partition, item, now.ms);
                    }
                }
                Op::Lane {
                    queue,
                    lane,
                    partition,
                    last,
                    settle,
                } => {
                    if let Some(q) = self.queues.get_mut(queue) {
                        q.settle_lane(lane, partition, *last, settle, now.ms);
                    }
                }
                Op::Ack {
                    queue,
                    partition,
                    dead,
                } => {
                    if let Some(q) = self.queues.get_mut(queue) {
                        q.ack(partition, dead.as_deref(), now.ms);
                    }
                }
                Op::Release {
                    queue,
                    partition,
                    delay,
                    counts,
                } => {
                    if let Some(q) = self.queues.get_mut(queue) {
                        q.release(partition, *delay, *counts, now.ms);
                    }
                }
            }
        }
        TxOutcome::Committed
    }
}

impl MemoryBackend {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            mark_keys: (RandomState::new(), RandomState::new()),
            inner: Mutex::new(State::default()),
        }
    }

    fn now(&self) -> Now {
        let instant = Instant::now();
        Now {
            instant,
            ms: i64::try_from(instant.duration_since(self.epoch).as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn mark(&self, id: &str) -> u128 {
        u128::from(self.mark_keys.0.hash_one(id)) << 64 | u128::from(self.mark_keys.1.hash_one(id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still
        // consistent (every mutation is a single step), so keep going.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies each transaction on its own, all under one lock.
    pub(crate) fn commit_all(&self, txs: &[Tx]) -> Vec<TxOutcome> {
        let now = self.now();
        let mut state = self.lock();
        txs.iter().map(|tx| state.apply(self, tx, now)).collect()
    }

    /// Every item under one lock, as the Redis script does in one step.
    pub(crate) fn enqueue_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        items: &[NewItem<'_>],
    ) -> Vec<Enqueued> {
        let now = self.now();
        let ttl_ms = millis(config.dedup_ttl);
        let mut state = self.lock();
        let q = state.queues.entry(queue.to_owned()).or_default();
        items
            .iter()
            .map(|new| {
                let fresh = match sequence(config, new.id) {
                    Some(seq) => q.seen_bits.insert(seq, now.ms, ttl_ms),
                    None => q.dedup.insert(self.mark(new.id), now.ms, ttl_ms),
                };
                if !fresh {
                    return Enqueued::Duplicate;
                }
                if new.remember_only {
                    return Enqueued::New;
                }
                q.push_item(config.lanes, new.partition, new.item, now.ms);
                Enqueued::New
            })
            .collect()
    }

    pub(crate) fn claim_many(&self, queue: &str, config: &QueueConfig, most: usize) -> Claims {
        let now = self.now().ms;
        let deadline = now.saturating_add(millis(config.lease));
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Claims::Idle(None);
        };
        let mut claims = Vec::new();
        while claims.len() < most.max(1) {
            let Some((score, partition)) = q.ready.first().cloned() else {
                break;
            };
            if score > now {
                break;
            }
            if partition.starts_with(LANE_PREFIX) {
                let Some(run) = q.take_run(&partition, most.max(1) - claims.len()) else {
                    q.remove_partition(&partition);
                    q.held.remove(&partition);
                    continue;
                };
                if run.is_empty() {
                    // Every item went behind a parked partition; the lane
                    // still has more: look again.
                    continue;
                }
                q.set_score(&partition, deadline);
                q.held.insert(partition.clone(), deadline);
                q.settled.insert(partition.clone(), 0);
                let attempts = q.attempts.entry(partition.clone()).or_default();
                *attempts += 1;
                let attempts = *attempts;
                let len = u32::try_from(run.len()).unwrap_or(u32::MAX);
                for (pos, (p, item)) in (0..).zip(run) {
                    claims.push(Claim {
                        partition: p,
                        item,
                        token: deadline,
                        attempts,
                        lane: Some(LaneSlot {
                            name: partition.to_string(),
                            pos,
                            run: len,
                        }),
                    });
                }
                continue;
            }
            let Some(item) = q
                .lists
                .get(&partition)
                .and_then(|l| l.front())
                .map(|(_, item)| item.clone())
            else {
                // A ready partition without items: drop it.
                q.remove_partition(&partition);
                q.held.remove(&partition);
                continue;
            };
            q.set_score(&partition, deadline);
            q.held.insert(partition.clone(), deadline);
            let attempts = q.attempts.entry(partition.clone()).or_default();
            *attempts += 1;
            claims.push(Claim {
                partition: partition.to_string(),
                item,
                token: deadline,
                attempts: *attempts,
                lane: None,
            });
        }
        if !claims.is_empty() {
            return Claims::Claimed(claims);
        }
        Claims::Idle(
            q.ready
                .first()
                .map(|(score, _)| Duration::from_millis((score - now).unsigned_abs())),
        )
    }

    pub(crate) fn renew(&self, queue: &str, claims: &[&Claim], lease: Duration) -> Vec<bool> {
        let now = self.now().ms;
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return vec![false; claims.len()];
        };
        claims
            .iter()
            .map(|c| {
                if !q.holds(c.lease(), c.token) {
                    return false;
                }
                let name = q.name(c.lease());
                q.set_score(&name, now.saturating_add(millis(lease)));
                true
            })
            .collect()
    }

    pub(crate) fn pending(&self, queue: &str) -> u64 {
        self.lock().queues.get(queue).map_or(0, |q| q.pending)
    }

    pub(crate) fn queue_stats(&self, queue: &str) -> QueueStats {
        let now = self.now().ms;
        let state = self.lock();
        let Some(q) = state.queues.get(queue) else {
            return QueueStats::default();
        };
        let mut stats = QueueStats {
            items: q.pending,
            partitions: q.since.len() as u64,
            oldest_age: q
                .since
                .first()
                .map(|(at, _)| Duration::from_millis((now - at).max(0).unsigned_abs())),
            dead_letters: q.dead.len() as u64,
            ..QueueStats::default()
        };
        let later = q
            .ready
            .range((now.saturating_add(1), Arc::from(""))..)
            .take(QueueStats::WALK_CAP);
        for (at, partition) in later {
            if q.held.contains_key(partition) {
                stats.held += 1;
            } else {
                stats.paused += 1;
                stats.longest_pause = stats
                    .longest_pause
                    .max(Duration::from_millis((at - now).unsigned_abs()));
            }
        }
        stats
    }

    pub(crate) fn dead_letters(&self, queue: &str, limit: usize) -> Vec<DeadLetter> {
        self.lock()
            .queues
            .get(queue)
            .map(|q| q.dead.iter().take(limit).map(|(_, d)| d.clone()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn dead_letter_count(&self, queue: &str) -> u64 {
        self.lock()
            .queues
            .get(queue)
            .map_or(0, |q| q.dead.len() as u64)
    }

    pub(crate) fn replay_dead_letter(&self, queue: &str, config: &QueueConfig, id: &str) -> bool {
        let now = self.now().ms;
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return false;
        };
        let Some(at) = q.dead.iter().position(|(_, d)| d.id == id) else {
            return false;
        };
        let Some((_, letter)) = q.dead.remove(at) else {
            return false;
        };
        q.push_item(config.lanes, &letter.partition, &letter.item, now);
        true
    }

    pub(crate) fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        memo: Option<(&str, Duration)>,
    ) -> RateDecision {
        let now = self.now();
        let mut state = self.lock();
        let memo_key = memo.map(|(id, _)| format!("\u{0}memo:{key}:{id}"));
        if let Some(k) = &memo_key
            && let Some(stored) = state.live_value(k, now)
            && let Some(decision) = RateDecision::decode(stored)
        {
            return decision;
        }
        let decision = Self::gcra(&mut state, key, millis(interval), burst, now);
        if let (Some(k), Some((_, ttl))) = (memo_key, memo) {
            state.set_value(&k, &decision.encode(), Some(ttl), now);
        }
        decision
    }

    fn gcra(state: &mut State, key: &str, interval: i64, burst: u32, now: Now) -> RateDecision {
        let tat = state.tat.get(key).copied().unwrap_or(now.ms).max(now.ms);
        let new_tat = tat + interval;
        let allow_at = new_tat - interval * i64::from(burst);
        if allow_at > now.ms {
            let wait = Duration::from_millis((allow_at - now.ms).unsigned_abs());
            let notice = format!("\u{0}notice:{key}");
            let first = state.live_value(&notice, now).is_none();
            if first {
                state.set_value(&notice, b"", Some(wait), now);
            }
            return RateDecision::Limited {
                retry_after: wait,
                first,
            };
        }
        state.sweep_now_and_then(now);
        state.tat.insert(key.to_owned(), new_tat);
        RateDecision::Allowed
    }

    pub(crate) fn reserve_slot(&self, key: &str, interval: Duration) -> Duration {
        let now = i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX / 2);
        let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX / 4);
        let mut state = self.lock();
        let slot = state.slots.get(key).copied().unwrap_or(now).max(now);
        state.slots.insert(key.to_owned(), slot + interval);
        Duration::from_micros((slot - now).unsigned_abs())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = self.now();
        self.lock().live_value(key, now).cloned()
    }

    pub(crate) fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        let now = self.now();
        self.lock().set_value(key, value, ttl, now);
    }

    pub(crate) fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let now = self.now();
        let mut state = self.lock();
        if state.live_value(key, now).is_some() {
            return false;
        }
        state.set_value(key, value, Some(ttl), now);
        true
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        let now = self.now();
        self.lock().delete_value(key, now)
    }

    pub(crate) fn put_if_newer(&self, key: &str, version: i64, data: &[u8]) -> bool {
        let mut state = self.lock();
        if let Some((cur, _)) = state.versioned.get(key)
            && *cur > version
        {
            return false;
        }
        state
            .versioned
            .insert(key.to_owned(), (version, data.to_vec()));
        true
    }

    pub(crate) fn get_versioned(&self, key: &str) -> Option<(i64, Vec<u8>)> {
        self.lock().versioned.get(key).cloned()
    }

    pub(crate) fn incr(&self, key: &str, by: i64) -> i64 {
        let now = self.now();
        self.lock().incr(key, by, now)
    }

    pub(crate) fn set_add(&self, key: &str, member: &str) -> bool {
        self.lock().set_add(key, member)
    }

    pub(crate) fn set_remove(&self, key: &str, member: &str) -> bool {
        self.lock().set_remove(key, member)
    }

    pub(crate) fn set_contains(&self, key: &str, member: &str) -> bool {
        self.lock()
            .sets
            .get(key)
            .is_some_and(|s| s.contains(member))
    }

    pub(crate) fn set_len(&self, key: &str) -> u64 {
        self.lock().sets.get(key).map_or(0, |s| s.len() as u64)
    }

    pub(crate) fn set_members(&self, key: &str) -> Vec<String> {
        self.lock()
            .sets
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn list_push(&self, key: &str, value: &[u8], cap: usize) {
        self.lock().list_push(key, value, cap);
    }

    pub(crate) fn list_tail(&self, key: &str, n: usize) -> Vec<Vec<u8>> {
        let state = self.lock();
        let Some(list) = state.lists.get(key) else {
            return Vec::new();
        };
        list.iter()
            .skip(list.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    pub(crate) fn schedule(&self, key: &str, member: &str, at: i64) {
        self.lock().schedule(key, member, at);
    }

    pub(crate) fn unschedule(&self, key: &str, member: &str) {
        self.lock().unschedule(key, member);
    }

    pub(crate) fn due(&self, key: &str, now: i64, limit: usize) -> Vec<String> {
        let state = self.lock();
        state
            .schedules
            .get(key)
            .map(|(order, _)| {
                order
                    .iter()
                    .take_while(|(at, _)| *at <= now)
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn sorted_after(&self, key: &str, after: i64, limit: usize) -> Vec<(String, i64)> {
        let state = self.lock();
        state
            .schedules
            .get(key)
            .map(|(order, _)| {
                order
                    .range((after.saturating_add(1), String::new())..)
                    .take(limit)
                    .map(|(at, m)| (m.clone(), *at))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn sorted_len(&self, key: &str) -> u64 {
        self.lock()
            .schedules
            .get(key)
            .map_or(0, |(_, index)| index.len() as u64)
    }

    pub(crate) fn log_append(&self, key: &str, entry: &[u8], cap: usize) -> String {
        self.lock().log_append(key, entry, cap)
    }

    pub(crate) fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<(String, Vec<u8>)> {
        let after = after.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
        let state = self.lock();
        state
            .logs
            .get(key)
            .map(|(_, log)| {
                log.iter()
                    .filter(|(id, _)| *id > after)
                    .take(limit)
                    .map(|(id, e)| (id.to_string(), e.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn log_gap_after(&self, key: &str, cursor: &str) -> Result<bool, StoreError> {
        let cursor: u64 = cursor
            .parse()
            .map_err(|_| StoreError::Protocol(format!("not a log cursor: {cursor:?}")))?;
        let state = self.lock();
        // Ids count up from 1 without gaps: anything before the first kept
        // entry was trimmed.
        Ok(state
            .logs
            .get(key)
            .and_then(|(_, log)| log.front())
            .is_some_and(|(first, _)| cursor + 1 < *first))
    }

    pub(crate) fn log_first_id(&self, key: &str) -> Option<String> {
        let state = self.lock();
        state
            .logs
            .get(key)
            .and_then(|(_, log)| log.front())
            .map(|(id, _)| id.to_string())
    }

    pub(crate) fn log_last_id(&self, key: &str) -> Option<String> {
        let state = self.lock();
        state
            .logs
            .get(key)
            .and_then(|(_, log)| log.back())
            .map(|(id, _)| id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Marks;

    /// A mark is kept at least one TTL after it was made, and forgotten
    /// within two; a repeat inside the window is refused.
    #[test]
    fn marks_live_at_least_one_ttl() {
        let mut marks = Marks::default();
        let ttl = 1_000;
        assert!(marks.insert(7, 10, ttl));
        assert!(!marks.insert(7, 500, ttl), "a repeat within the TTL");
        assert!(
            marks.insert(8, 1_005, ttl),
            "rotates: 7 now in the previous generation"
        );
        assert!(!marks.insert(7, 1_009, ttl), "7 is still within its TTL");
        assert!(!marks.insert(8, 1_900, ttl));
        assert!(
            marks.insert(9, 2_010, ttl),
            "rotates again: 7's generation is dropped"
        );
        assert!(marks.insert(7, 2_011, ttl), "7 is older than the TTL");
        assert!(
            !marks.insert(8, 2_012, ttl),
            "8 is just past its TTL and may still be remembered (up to two TTLs)"
        );
        assert!(
            marks.insert(1, 9_000, ttl),
            "long idle: both generations dropped"
        );
        assert!(marks.insert(9, 9_001, ttl));
    }
}
