//! queue: the transaction steps of a queue (enqueue, and settling a
//! claim: acknowledge, give back, follow), so a settle commits with
//! everything its item decided.

use std::time::Duration;

use crate::queue::{Claim, QueueConfig};
use crate::tx::Tx;
use crate::tx::steps::{Guard, Op, Settle};

impl Tx {
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

    pub(crate) fn lane_op(
        &mut self,
        queue: &str,
        claim: &Claim,
        guard: usize,
        settle: Settle,
    ) -> usize {
        self.op(Op::Lane {
            queue: queue.to_owned(),
            lane: claim.lease().to_owned(),
            partition: claim.partition.clone(),
            last: claim.ends_lease(),
            settle,
        });
        guard
    }
}
