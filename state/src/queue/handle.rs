//! queue: the [`crate::Store`] methods, on either backend.

use std::time::Duration;

use crate::Claim;
use crate::error::StoreError;
use crate::queue::{ClaimResult, Claims, DeadLetter, Enqueued, NewItem, QueueConfig, QueueStats};
use crate::store::on_backend;
use crate::store::{Inner, Store};
use crate::tx::Tx;

impl Store {
    /// Appends `item` to `partition` of `queue` unless `id` was enqueued
    /// within the de-duplication window; both in one atomic step.
    pub async fn enqueue_once(
        &self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
        partition: &str,
        item: &[u8],
    ) -> Result<Enqueued, StoreError> {
        let parent = tracing::Span::current();
        let new = NewItem {
            id,
            partition,
            item,
            remember_only: false,
            parent: &parent,
        };
        let outcomes = self.enqueue_many(queue, config, &[new]).await?;
        outcomes
            .first()
            .copied()
            .ok_or_else(|| StoreError::Protocol("no outcome for the item".into()))
    }

    /// [`Store::enqueue_once`] for many items in one atomic step (one Redis
    /// round trip): outcomes in the order of `items`. A repeated id within
    /// the batch is a duplicate like any other.
    pub async fn enqueue_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        items: &[NewItem<'_>],
    ) -> Result<Vec<Enqueued>, StoreError> {
        for new in items.iter().filter(|new| !new.remember_only) {
            crate::queue::check_partition(new.partition)?;
        }
        match &self.inner {
            Inner::Memory(m) => Ok(m.enqueue_many(queue, config, items)),
            Inner::Redis(_) if items.is_empty() => Ok(Vec::new()),
            Inner::Redis(r) => {
                // One client span per item, under the call that delivered
                // it, all covering the one shared write: each item's trace
                // shows its store write.
                let spans: Vec<tracing::Span> = items
                    .iter()
                    .filter(|new| !new.parent.is_none())
                    .map(|new| {
                        tracing::info_span!(
                            parent: new.parent,
                            "redis",
                            otel.name = "state.enqueue",
                            otel.kind = "client",
                            db.system.name = "redis",
                            db.operation.name = "EVALSHA",
                            db.operation.batch.size = items.len(),
                            queue,
                        )
                    })
                    .collect();
                let outcome = r.enqueue_many(queue, config, items).await;
                drop(spans);
                outcome
            }
        }
    }

    /// Leases the head item of the partition that has waited longest.
    pub async fn claim(
        &self,
        queue: &str,
        config: &QueueConfig,
    ) -> Result<ClaimResult, StoreError> {
        Ok(match self.claim_many(queue, config, 1).await? {
            Claims::Claimed(claims) => match claims.into_iter().next() {
                Some(claim) => ClaimResult::Claimed(claim),
                None => ClaimResult::Idle(Some(Duration::ZERO)),
            },
            Claims::Idle(wait) => ClaimResult::Idle(wait),
        })
    }

    /// Leases the head items of up to `most` partitions, those that have
    /// waited longest first, in one atomic step (one Redis round trip).
    pub async fn claim_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        most: usize,
    ) -> Result<Claims, StoreError> {
        on_backend!(self, "state.claim_many", "EVALSHA", b => b.claim_many(queue, config, most))
    }

    /// Extends the leases of `claims` that are still held, to `lease` from
    /// now; for each, whether it was renewed (false: it was taken over or
    /// settled). Workers renew while they work, so a slow item is never
    /// handed to a second worker.
    pub async fn renew(
        &self,
        queue: &str,
        claims: &[&Claim],
        lease: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        on_backend!(self, "state.renew", "EVALSHA", b => b.renew(queue, claims, lease))
    }

    /// Runs `work` while holding `claims`: their leases are renewed every
    /// quarter lease until it finishes, so a slow step (a call to Telegram
    /// or another service) is never handed to a second worker meanwhile.
    /// A renewal that fails is retried at the next tick.
    pub async fn hold<F: std::future::Future>(
        &self,
        queue: &str,
        claims: &[&Claim],
        lease: Duration,
        work: F,
    ) -> F::Output {
        tokio::pin!(work);
        let mut renewal = tokio::time::interval(lease / 4);
        renewal.tick().await;
        loop {
            tokio::select! {
                output = &mut work => return output,
                _ = renewal.tick() => {
                    if let Err(e) = self.renew(queue, claims, lease).await {
                        tracing::warn!(error = %e, queue, "cannot renew leases; retrying");
                    }
                }
            }
        }
    }

    /// Finishes a claimed item while its lease is held (with
    /// `dead_letter`, keeps it aside with that reason). Returns false when
    /// the lease had passed to another worker; then nothing changed.
    pub async fn ack(
        &self,
        queue: &str,
        claim: &Claim,
        dead_letter: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::new();
        tx.ack(queue, claim, dead_letter);
        Ok(self.commit(&tx).await?.committed())
    }

    /// Gives a lease back; the same item is handed out again after `delay`.
    /// `counts` false: this hand-out is not counted as an attempt.
    pub async fn release(
        &self,
        queue: &str,
        claim: &Claim,
        delay: Duration,
        counts: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::new();
        tx.release(queue, claim, delay, counts);
        Ok(self.commit(&tx).await?.committed())
    }

    /// How many items are queued and not yet acknowledged.
    pub async fn pending(&self, queue: &str) -> Result<u64, StoreError> {
        on_backend!(self, "state.pending", "GET", b => b.pending(queue))
    }

    /// `queue`'s numbers, read in one atomic step (for gauges: sample
    /// them every few seconds, not per scrape).
    pub async fn queue_stats(&self, queue: &str) -> Result<QueueStats, StoreError> {
        on_backend!(self, "state.queue_stats", "EVALSHA", b => b.queue_stats(queue))
    }

    /// Up to `limit` dead letters of `queue`, oldest first (a queue keeps
    /// about the last 10,000).
    pub async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        on_backend!(self, "state.dead_letters", "XRANGE", b => b.dead_letters(queue, limit))
    }

    /// How many dead letters `queue` holds.
    pub async fn dead_letter_count(&self, queue: &str) -> Result<u64, StoreError> {
        on_backend!(self, "state.dead_letter_count", "XLEN", b => b.dead_letter_count(queue))
    }

    /// Puts dead letter `id` back at the end of its partition, to be
    /// handled again; false when there is no such dead letter.
    pub async fn replay_dead_letter(
        &self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
    ) -> Result<bool, StoreError> {
        on_backend!(self, "state.replay_dead_letter", "EVALSHA", b => b.replay_dead_letter(queue, config, id))
    }
}
