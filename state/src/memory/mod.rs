//! The in-process backend: the same semantics as the Lua scripts, under one
//! mutex. Critical sections are short and never await, so a std mutex is
//! the right tool. Every operation is a method of the locked [`State`], so a
//! transaction applies its writes under the one lock, as a Lua script does
//! in Redis. Time comes from tokio's clock, so tests can pause it.
//!
//! Each concern's side of it lives with the concern (`kv/memory.rs`,
//! `queue/memory.rs`, ...); this is the backend itself: its state and
//! clock.

use std::collections::HashSet;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::queue::lanes::Queue;

/// How many dead letters a queue keeps (the oldest go first).
pub(crate) const DEAD_LETTER_CAP: usize = 10_000;

/// The in-process state.
pub(crate) struct MemoryBackend {
    pub(crate) epoch: Instant,
    /// Two independent random keys: an id's de-duplication mark is the
    /// 128-bit pair of its keyed hashes (see [`Marks`]).
    pub(crate) mark_keys: (RandomState, RandomState),
    pub(crate) inner: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) values: HashMap<String, (Vec<u8>, Option<Instant>)>,
    pub(crate) versioned: HashMap<String, (i64, Vec<u8>)>,
    /// GCRA theoretical arrival time, ms since epoch.
    pub(crate) tat: HashMap<String, i64>,
    /// Each GCRA key's last few memoised decisions, by item id.
    pub(crate) decided: HashMap<String, Decided>,
    /// Next free slot of each paced stream, µs since epoch.
    pub(crate) slots: HashMap<String, i64>,
    pub(crate) queues: HashMap<String, Queue>,
    pub(crate) sets: HashMap<String, HashSet<String>>,
    pub(crate) lists: HashMap<String, VecDeque<Vec<u8>>>,
    pub(crate) schedules: HashMap<String, Schedule>,
    pub(crate) logs: HashMap<String, Log>,
    /// Writes since expired values and rate-limit entries were last swept.
    pub(crate) writes: usize,
}

/// A rate limit's remembered decisions (see `limiter/memory.rs`).
#[derive(Default)]
pub(crate) struct Decided {
    /// Kept until then (ms since epoch).
    pub(crate) until: i64,
    /// Newest first.
    pub(crate) recent: VecDeque<(Box<str>, crate::limiter::RateDecision)>,
}

/// Members ordered by time, and each member's time.
pub(crate) type Schedule = (BTreeSet<(i64, String)>, HashMap<String, i64>);

/// The last id handed out, and the retained entries.
pub(crate) type Log = (u64, VecDeque<(u64, Vec<u8>)>);

/// The clock readings one operation works with.
#[derive(Clone, Copy)]
pub(crate) struct Now {
    /// For expiries.
    pub(crate) instant: Instant,
    /// Milliseconds since the backend's epoch (queue and limiter times).
    pub(crate) ms: i64,
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl State {
    /// Drops expired values and idle rate-limit entries every few thousand
    /// writes, so a long-running process does not grow without bound. A
    /// sweep walks every entry, so it waits for as many writes as there
    /// are entries: a constant cost per write however many are kept (a
    /// fixed interval made it grow with the map: 2% of the CPU of a busy
    /// mesh holding an hour of per-update memos).
    pub(crate) fn sweep_now_and_then(&mut self, now: Now) {
        self.writes += 1;
        if self.writes < 4096
            || self.writes < self.values.len() + self.tat.len() + self.decided.len()
        {
            return;
        }
        self.writes = 0;
        self.values
            .retain(|_, (_, exp)| exp.is_none_or(|e| e > now.instant));
        self.tat.retain(|_, tat| *tat > now.ms);
        self.decided.retain(|_, d| d.until > now.ms);
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

    pub(crate) fn now(&self) -> Now {
        let instant = Instant::now();
        Now {
            instant,
            ms: i64::try_from(instant.duration_since(self.epoch).as_millis()).unwrap_or(i64::MAX),
        }
    }

    pub(crate) fn mark(&self, id: &str) -> u128 {
        u128::from(self.mark_keys.0.hash_one(id)) << 64 | u128::from(self.mark_keys.1.hash_one(id))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still
        // consistent (every mutation is a single step), so keep going.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
