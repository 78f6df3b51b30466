//! The in-process backend: the same semantics as the Lua scripts, under one
//! mutex. Critical sections are short and never await, so a std mutex is
//! the right tool. Time comes from tokio's clock, so tests can pause it.

use std::collections::HashSet;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::queue::{Claim, Claims, Enqueued, NewItem, QueueConfig};
use crate::store::RateDecision;

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
    sets: HashMap<String, std::collections::HashSet<String>>,
    lists: HashMap<String, VecDeque<Vec<u8>>>,
    schedules: HashMap<String, Schedule>,
    logs: HashMap<String, Log>,
    /// Writes since expired values and rate-limit entries were last swept.
    writes: u32,
}

impl State {
    /// Drops expired values and idle rate-limit entries every few thousand
    /// writes, so a long-running process does not grow without bound.
    fn sweep_now_and_then(&mut self, now: Instant, now_ms: i64) {
        self.writes += 1;
        if self.writes < 4096 {
            return;
        }
        self.writes = 0;
        self.values
            .retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        self.tat.retain(|_, tat| *tat > now_ms);
    }
}

/// Members ordered by time, and each member's time.
type Schedule = (BTreeSet<(i64, String)>, HashMap<String, i64>);

/// The last id handed out, and the retained entries.
type Log = (u64, VecDeque<(u64, Vec<u8>)>);

#[derive(Default)]
struct Queue {
    /// The ids seen within the de-duplication window.
    dedup: Marks,
    /// Partition names are shared by every index below: one allocation per
    /// partition rather than several per operation.
    lists: HashMap<Arc<str>, VecDeque<Vec<u8>>>,
    /// (ready-at ms, partition) ordered, plus the reverse index.
    ready: BTreeSet<(i64, Arc<str>)>,
    score: HashMap<Arc<str>, i64>,
    attempts: HashMap<Arc<str>, u32>,
    pending: u64,
    dead: VecDeque<Vec<u8>>,
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

    fn holds(&self, claim: &Claim) -> bool {
        self.score.get(claim.partition.as_str()) == Some(&claim.token)
    }

    fn ack(&mut self, claim: &Claim, dead_letter: bool, now_ms: i64) -> bool {
        if !self.holds(claim) {
            return false;
        }
        let partition = claim.partition.as_str();
        let (item, more) = match self.lists.get_mut(partition) {
            Some(list) => (list.pop_front(), !list.is_empty()),
            None => (None, false),
        };
        if let Some(item) = item {
            self.pending = self.pending.saturating_sub(1);
            if dead_letter {
                self.dead.push_back(item);
                if self.dead.len() > 1000 {
                    self.dead.pop_front();
                }
            }
        }
        self.attempts.remove(partition);
        if more {
            let name = self.name(partition);
            self.set_score(&name, now_ms);
        } else {
            self.lists.remove(partition);
            self.remove_partition(partition);
        }
        true
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

    fn now_ms(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still
        // consistent (every mutation is a single step), so keep going.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every item under one lock, as the Redis script does in one step.
    pub(crate) fn enqueue_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        items: &[NewItem<'_>],
    ) -> Vec<Enqueued> {
        let now_ms = self.now_ms();
        let ttl_ms = i64::try_from(config.dedup_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut state = self.lock();
        let q = state.queues.entry(queue.to_owned()).or_default();
        items
            .iter()
            .map(|new| {
                let mark = u128::from(self.mark_keys.0.hash_one(new.id)) << 64
                    | u128::from(self.mark_keys.1.hash_one(new.id));
                if !q.dedup.insert(mark, now_ms, ttl_ms) {
                    return Enqueued::Duplicate;
                }
                match q.lists.get_mut(new.partition) {
                    Some(list) => list.push_back(new.item.to_vec()),
                    None => {
                        let name = q.name(new.partition);
                        q.lists.insert(name, VecDeque::from([new.item.to_vec()]));
                    }
                }
                if !q.score.contains_key(new.partition) {
                    let name = q.name(new.partition);
                    q.set_score(&name, now_ms);
                }
                q.pending += 1;
                Enqueued::New
            })
            .collect()
    }

    pub(crate) fn claim_many(&self, queue: &str, config: &QueueConfig, most: usize) -> Claims {
        let now = self.now_ms();
        let deadline =
            now.saturating_add(i64::try_from(config.lease.as_millis()).unwrap_or(i64::MAX / 2));
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
            let Some(item) = q.lists.get(&partition).and_then(|l| l.front()).cloned() else {
                // A ready partition without items: drop it.
                q.remove_partition(&partition);
                continue;
            };
            q.set_score(&partition, deadline);
            let attempts = q.attempts.entry(partition.clone()).or_default();
            *attempts += 1;
            claims.push(Claim {
                partition: partition.to_string(),
                item,
                token: deadline,
                attempts: *attempts,
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

    pub(crate) fn ack_many(&self, queue: &str, done: &[(&Claim, bool)]) -> Vec<bool> {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return vec![false; done.len()];
        };
        done.iter()
            .map(|(claim, dead_letter)| q.ack(claim, *dead_letter, now))
            .collect()
    }

    pub(crate) fn release(&self, queue: &str, claim: &Claim, delay: Duration) -> bool {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return false;
        };
        if !q.holds(claim) {
            return false;
        }
        let name = q.name(&claim.partition);
        q.set_score(
            &name,
            now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
        );
        true
    }

    pub(crate) fn pending(&self, queue: &str) -> u64 {
        self.lock().queues.get(queue).map_or(0, |q| q.pending)
    }

    pub(crate) fn dead_letters(&self, queue: &str) -> Vec<Vec<u8>> {
        self.lock()
            .queues
            .get(queue)
            .map(|q| q.dead.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn rate_limit(&self, key: &str, interval: Duration, burst: u32) -> RateDecision {
        let now = self.now_ms();
        let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX / 4);
        let mut state = self.lock();
        let tat = state.tat.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval;
        let allow_at = new_tat - interval * i64::from(burst);
        if allow_at > now {
            let wait = Duration::from_millis((allow_at - now).unsigned_abs());
            let notice = format!("\u{0}notice:{key}");
            let first = match state.values.get(&notice) {
                Some((_, Some(exp))) if *exp > Instant::now() => false,
                _ => {
                    state
                        .values
                        .insert(notice, (Vec::new(), Some(Instant::now() + wait)));
                    true
                }
            };
            return RateDecision::Limited {
                retry_after: wait,
                first,
            };
        }
        state.sweep_now_and_then(Instant::now(), now);
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
        let state = self.lock();
        match state.values.get(key) {
            Some((_, Some(exp))) if *exp <= Instant::now() => None,
            Some((v, _)) => Some(v.clone()),
            None => None,
        }
    }

    pub(crate) fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        let now = Instant::now();
        let now_ms = self.now_ms();
        let mut state = self.lock();
        state.sweep_now_and_then(now, now_ms);
        state
            .values
            .insert(key.to_owned(), (value.to_vec(), ttl.map(|t| now + t)));
    }

    pub(crate) fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let live = matches!(state.values.get(key), Some((_, exp)) if exp.is_none_or(|e| e > now));
        if live {
            return false;
        }
        state.sweep_now_and_then(now, self.now_ms());
        state
            .values
            .insert(key.to_owned(), (value.to_vec(), Some(now + ttl)));
        true
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        let removed = self.lock().values.remove(key);
        matches!(removed, Some((_, exp)) if exp.is_none_or(|e| e > now))
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
        let mut state = self.lock();
        let entry = state
            .values
            .entry(key.to_owned())
            .or_insert_with(|| (b"0".to_vec(), None));
        let current: i64 = std::str::from_utf8(&entry.0)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let next = current.saturating_add(by);
        entry.0 = next.to_string().into_bytes();
        next
    }

    pub(crate) fn set_add(&self, key: &str, member: &str) -> bool {
        self.lock()
            .sets
            .entry(key.to_owned())
            .or_default()
            .insert(member.to_owned())
    }

    pub(crate) fn set_remove(&self, key: &str, member: &str) -> bool {
        self.lock()
            .sets
            .get_mut(key)
            .is_some_and(|s| s.remove(member))
    }

    pub(crate) fn set_members(&self, key: &str) -> Vec<String> {
        self.lock()
            .sets
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn list_push(&self, key: &str, value: &[u8], cap: usize) {
        let mut state = self.lock();
        let list = state.lists.entry(key.to_owned()).or_default();
        list.push_back(value.to_vec());
        while list.len() > cap.max(1) {
            list.pop_front();
        }
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
        let mut state = self.lock();
        let (order, index) = state.schedules.entry(key.to_owned()).or_default();
        if let Some(old) = index.insert(member.to_owned(), at) {
            order.remove(&(old, member.to_owned()));
        }
        order.insert((at, member.to_owned()));
    }

    pub(crate) fn unschedule(&self, key: &str, member: &str) {
        let mut state = self.lock();
        if let Some((order, index)) = state.schedules.get_mut(key)
            && let Some(old) = index.remove(member)
        {
            order.remove(&(old, member.to_owned()));
        }
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

    pub(crate) fn log_append(&self, key: &str, entry: &[u8], cap: usize) -> String {
        let mut state = self.lock();
        let (next, log) = state.logs.entry(key.to_owned()).or_default();
        *next += 1;
        log.push_back((*next, entry.to_vec()));
        while log.len() > cap.max(1) {
            log.pop_front();
        }
        next.to_string()
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
