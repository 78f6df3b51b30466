//! queue: the in-process side, under the backend's one lock.

use std::sync::Arc;
use std::time::Duration;

use crate::memory::*;
use crate::queue::{
    Claim, Claims, DeadLetter, Enqueued, LANE_PREFIX, LaneSlot, NewItem, QueueConfig, QueueStats,
    sequence,
};

impl MemoryBackend {
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
}
