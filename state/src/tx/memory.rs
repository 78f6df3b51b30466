//! tx: the in-process side, under the backend's one lock.

use crate::memory::*;
use crate::tx::{Guard, Op, Tx, TxOutcome};

impl State {
    pub(crate) fn guard_holds(&self, guard: &Guard, now: Now) -> bool {
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
    pub(crate) fn apply(&mut self, backend: &MemoryBackend, tx: &Tx, now: Now) -> TxOutcome {
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
                    // Zero: no mark (see `QueueConfig::dedup_ttl`).
                    if dedup_ttl.is_zero() || q.dedup.insert(mark, now.ms, millis(*dedup_ttl)) {
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
    /// Applies each transaction on its own, all under one lock.
    pub(crate) fn commit_all(&self, txs: &[Tx]) -> Vec<TxOutcome> {
        let now = self.now();
        let mut state = self.lock();
        txs.iter().map(|tx| state.apply(self, tx, now)).collect()
    }
}
