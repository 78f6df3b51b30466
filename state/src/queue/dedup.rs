//! queue: de-duplication in memory: ids as 128-bit keyed marks in two
//! generations, sequence ids as bits.

use std::collections::HashMap;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::queue::SEGMENT_IDS;

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
pub(crate) struct Marks {
    current: HashSet<u128, BuildHasherDefault<MarkHasher>>,
    previous: HashSet<u128, BuildHasherDefault<MarkHasher>>,
    /// When `current` began, ms since the epoch.
    since: i64,
}

impl Marks {
    /// Records `mark`; false when it was already there.
    pub(crate) fn insert(&mut self, mark: u128, now_ms: i64, ttl_ms: i64) -> bool {
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
pub(crate) struct SeqBits {
    segments: HashMap<u64, (Vec<u64>, i64)>,
}

impl SeqBits {
    /// Records `id`; false when it was already there.
    pub(crate) fn insert(&mut self, id: u64, now_ms: i64, ttl_ms: i64) -> bool {
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
pub(crate) struct MarkHasher(u64);

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
