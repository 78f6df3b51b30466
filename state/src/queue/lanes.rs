//! queue: the in-process queue itself (lists, lanes, leases, dead
//! letters), as the Lua scripts keep it in Redis.

use std::collections::HashSet;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::dedup::{Marks, SeqBits};
use crate::memory::*;
use crate::queue::{DeadLetter, lane_item, placement, split_lane_entry};
use crate::tx::Settle;

#[derive(Default)]
pub(crate) struct Queue {
    /// The ids seen within the de-duplication window.
    pub(crate) dedup: Marks,
    /// The sequence ids seen, as bits.
    pub(crate) seen_bits: SeqBits,
    /// Partition names are shared by every index below: one allocation per
    /// partition rather than several per operation.
    /// Each item with its enqueue time (ms).
    pub(crate) lists: HashMap<Arc<str>, VecDeque<(i64, Vec<u8>)>>,
    /// (enqueue time of the head item, partition): the oldest queued item
    /// is the first entry.
    pub(crate) since: BTreeSet<(i64, Arc<str>)>,
    /// (ready-at ms, partition) ordered, plus the reverse index.
    pub(crate) ready: BTreeSet<(i64, Arc<str>)>,
    pub(crate) score: HashMap<Arc<str>, i64>,
    pub(crate) attempts: HashMap<Arc<str>, u32>,
    /// The token of each partition's (or lane's) current lease.
    pub(crate) held: HashMap<Arc<str>, i64>,
    /// For each held lane, how many items of its run are settled.
    pub(crate) settled: HashMap<Arc<str>, u32>,
    pub(crate) pending: u64,
    pub(crate) dead: VecDeque<(u64, DeadLetter)>,
    pub(crate) next_dead: u64,
}

impl Queue {
    /// The shared name of `partition`, made once.
    pub(crate) fn name(&self, partition: &str) -> Arc<str> {
        self.lists
            .get_key_value(partition)
            .map(|(k, _)| k.clone())
            .or_else(|| self.score.get_key_value(partition).map(|(k, _)| k.clone()))
            .unwrap_or_else(|| Arc::from(partition))
    }

    pub(crate) fn set_score(&mut self, partition: &Arc<str>, score: i64) {
        if let Some(old) = self.score.insert(partition.clone(), score) {
            self.ready.remove(&(old, partition.clone()));
        }
        self.ready.insert((score, partition.clone()));
    }

    pub(crate) fn remove_partition(&mut self, partition: &str) {
        if let Some((name, old)) = self.score.remove_entry(partition) {
            self.ready.remove(&(old, name));
        }
    }

    pub(crate) fn holds(&self, partition: &str, token: i64) -> bool {
        self.held.get(partition) == Some(&token)
    }

    /// Appends an item to its partition, or in a queue of `lanes` lanes to
    /// its partition's lane (no de-duplication).
    pub(crate) fn push_item(&mut self, lanes: u16, partition: &str, item: &[u8], now_ms: i64) {
        let (list, entry) = placement(lanes, partition, item);
        self.push(&list, entry, now_ms);
    }

    /// Appends an item to its partition (no de-duplication).
    pub(crate) fn push(&mut self, partition: &str, item: Vec<u8>, now_ms: i64) {
        self.append(partition, now_ms, item);
        if !self.score.contains_key(partition) {
            let name = self.name(partition);
            self.set_score(&name, now_ms);
        }
        self.pending += 1;
    }

    pub(crate) fn ack(&mut self, partition: &str, dead: Option<&str>, now_ms: i64) {
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
    pub(crate) fn append(&mut self, partition: &str, at: i64, item: Vec<u8>) {
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
    pub(crate) fn head_changed(&mut self, name: &Arc<str>, old: Option<i64>) {
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
    pub(crate) fn take_run(
        &mut self,
        lane: &Arc<str>,
        cap: usize,
    ) -> Option<Vec<(String, Vec<u8>)>> {
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

    pub(crate) fn holds_lane(&self, lane: &str, token: i64, pos: u32) -> bool {
        self.holds(lane, token) && self.settled.get(lane).copied().unwrap_or(0) == pos
    }

    /// Settles the next item of `lane`'s run (see [`Settle`]); `last` gives
    /// the lane back.
    pub(crate) fn settle_lane(
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

    pub(crate) fn bury(&mut self, partition: &str, item: Vec<u8>, reason: &str, attempts: u32) {
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

    pub(crate) fn release(&mut self, partition: &str, delay: Duration, counts: bool, now_ms: i64) {
        let name = self.name(partition);
        self.set_score(&name, now_ms.saturating_add(millis(delay)));
        self.held.remove(partition);
        if !counts && let Some(n) = self.attempts.get_mut(partition) {
            *n = n.saturating_sub(1);
        }
    }
}
