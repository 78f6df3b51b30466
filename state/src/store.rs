//! [`Store`]: the one handle services use, whichever backend is behind it.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::Claim;
use crate::error::{ConfigField, StoreError};
use crate::memory::MemoryBackend;
use crate::queue::{ClaimResult, Claims, DeadLetter, Enqueued, NewItem, QueueConfig, QueueStats};
use crate::redis_backend::RedisBackend;
use crate::tx::{Tx, TxOutcome};

/// The client span of one Redis call (OpenTelemetry's database
/// conventions; never the URL, which may hold a password). The in-process
/// store makes no spans: there is no database to see. Nor does a call made
/// outside any span (idle polls, gauge samples): it would start a trace of
/// its own every few seconds and bury the traces that matter.
fn redis_span(name: &'static str, command: &'static str) -> tracing::Span {
    if tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "redis",
        otel.name = name,
        otel.kind = "client",
        db.system.name = "redis",
        db.operation.name = command,
    )
}

/// Which backend a [`Store`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-process.
    Memory,
    /// Redis (single node).
    Redis,
}

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit; one unit was consumed.
    Allowed,
    /// Over the limit.
    Limited {
        /// When the next unit becomes available.
        retry_after: Duration,
        /// True the first time the caller is limited in this window, so it
        /// can be told once ("slow down") and ignored after that.
        first: bool,
    },
}

impl RateDecision {
    /// The decision as remembered for a repeated question (in-process memo).
    pub(crate) fn encode(self) -> Vec<u8> {
        match self {
            Self::Allowed => b"1:0:0".to_vec(),
            Self::Limited { retry_after, first } => {
                format!("0:{}:{}", retry_after.as_millis(), u8::from(first)).into_bytes()
            }
        }
    }

    /// Reads [`RateDecision::encode`]'s form.
    pub(crate) fn decode(raw: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut parts = text.split(':');
        let (allowed, wait, first) = (parts.next()?, parts.next()?, parts.next()?);
        Some(if allowed == "1" {
            Self::Allowed
        } else {
            Self::Limited {
                retry_after: Duration::from_millis(wait.parse().ok()?),
                first: first == "1",
            }
        })
    }
}

/// A handle on the shared state. Cheap to clone; every clone shares the
/// same connection (Redis) or the same maps (memory). All keys live under
/// the store's prefix, so tests and tenants sharing one Redis never collide.
#[derive(Clone)]
pub struct Store {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Memory(Arc<MemoryBackend>),
    Redis(RedisBackend),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the Redis URL: it may carry a password.
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// An in-process store.
    pub fn memory() -> Self {
        Self {
            inner: Inner::Memory(Arc::new(MemoryBackend::new())),
        }
    }

    /// A Redis store. Connects lazily and reconnects on its own, so a Redis
    /// that is down at start-up or restarts later needs no process restart;
    /// until it answers, calls fail with [`StoreError::Unavailable`].
    pub fn redis(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            inner: Inner::Redis(RedisBackend::new(url, prefix)?),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Memory(_) => Backend::Memory,
            Inner::Redis(_) => Backend::Redis,
        }
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(_) => Ok(()),
            Inner::Redis(r) => r.ping().instrument(redis_span("state.ping", "PING")).await,
        }
    }

    /// The store's clock in unix milliseconds, read on the node that holds
    /// `key`: one clock for every replica, so reads stamped with it order
    /// the same way whichever replica made them.
    pub async fn clock_ms(&self, key: &str) -> Result<i64, StoreError> {
        match &self.inner {
            Inner::Memory(_) => Ok(crate::memory::unix_ms()),
            Inner::Redis(r) => {
                r.clock_ms(key)
                    .instrument(redis_span("state.clock", "EVALSHA"))
                    .await
            }
        }
    }

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
        match &self.inner {
            Inner::Memory(m) => Ok(m.claim_many(queue, config, most)),
            Inner::Redis(r) => {
                r.claim_many(queue, config, most)
                    .instrument(redis_span("state.claim_many", "EVALSHA"))
                    .await
            }
        }
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
        match &self.inner {
            _ if claims.is_empty() => Ok(Vec::new()),
            Inner::Memory(m) => Ok(m.renew(queue, claims, lease)),
            Inner::Redis(r) => {
                r.renew(queue, claims, lease)
                    .instrument(redis_span("state.renew", "EVALSHA"))
                    .await
            }
        }
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

    /// Applies `tx` in one atomic step: all its writes, or none when a
    /// guard does not hold (see [`Tx`]).
    pub async fn commit(&self, tx: &Tx) -> Result<TxOutcome, StoreError> {
        let outcomes = self.commit_all(std::slice::from_ref(tx)).await?;
        outcomes
            .first()
            .copied()
            .ok_or_else(|| StoreError::Protocol("no outcome for the commit".into()))
    }

    /// Applies each of `txs` on its own (a refused one does not hold back
    /// the others), all in one atomic step and one round trip; outcomes in
    /// order.
    pub async fn commit_all(&self, txs: &[Tx]) -> Result<Vec<TxOutcome>, StoreError> {
        crate::tx::check_one_slot(txs)?;
        crate::tx::check_partitions(txs)?;
        match &self.inner {
            _ if txs.is_empty() => Ok(Vec::new()),
            Inner::Memory(m) => Ok(m.commit_all(txs)),
            Inner::Redis(r) => {
                r.commit_all(txs)
                    .instrument(redis_span("state.commit_all", "EVALSHA"))
                    .await
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
        match &self.inner {
            Inner::Memory(m) => Ok(m.pending(queue)),
            Inner::Redis(r) => {
                r.pending(queue)
                    .instrument(redis_span("state.pending", "GET"))
                    .await
            }
        }
    }

    /// `queue`'s numbers, read in one atomic step (for gauges: sample
    /// them every few seconds, not per scrape).
    pub async fn queue_stats(&self, queue: &str) -> Result<QueueStats, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.queue_stats(queue)),
            Inner::Redis(r) => {
                r.queue_stats(queue)
                    .instrument(redis_span("state.queue_stats", "EVALSHA"))
                    .await
            }
        }
    }

    /// Up to `limit` dead letters of `queue`, oldest first (a queue keeps
    /// about the last 10,000).
    pub async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.dead_letters(queue, limit)),
            Inner::Redis(r) => {
                r.dead_letters(queue, limit)
                    .instrument(redis_span("state.dead_letters", "XRANGE"))
                    .await
            }
        }
    }

    /// How many dead letters `queue` holds.
    pub async fn dead_letter_count(&self, queue: &str) -> Result<u64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.dead_letter_count(queue)),
            Inner::Redis(r) => {
                r.dead_letter_count(queue)
                    .instrument(redis_span("state.dead_letter_count", "XLEN"))
                    .await
            }
        }
    }

    /// Puts dead letter `id` back at the end of its partition, to be
    /// handled again; false when there is no such dead letter.
    pub async fn replay_dead_letter(
        &self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.replay_dead_letter(queue, config, id)),
            Inner::Redis(r) => {
                r.replay_dead_letter(queue, config, id)
                    .instrument(redis_span("state.replay_dead_letter", "EVALSHA"))
                    .await
            }
        }
    }

    /// Consumes one unit of `key`'s budget: `burst` units, refilled at one
    /// per `interval` (GCRA).
    pub async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.rate_limit(key, interval, burst, None)),
            Inner::Redis(r) => {
                r.rate_limit(key, interval, burst, None)
                    .instrument(redis_span("state.rate_limit", "EVALSHA"))
                    .await
            }
        }
    }

    /// [`Store::rate_limit`] for the work item `id`: the decision is
    /// remembered for `memo_ttl`, so asking again for the same item (a
    /// retry) gets the same answer and consumes nothing more.
    pub async fn rate_limit_once(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        id: &str,
        memo_ttl: Duration,
    ) -> Result<RateDecision, StoreError> {
        let memo = Some((id, memo_ttl));
        match &self.inner {
            Inner::Memory(m) => Ok(m.rate_limit(key, interval, burst, memo)),
            Inner::Redis(r) => {
                r.rate_limit(key, interval, burst, memo)
                    .instrument(redis_span("state.rate_limit", "EVALSHA"))
                    .await
            }
        }
    }

    /// Books the next slot of a paced stream whose slots are `interval`
    /// apart (shared by every replica) and returns how long to wait for it.
    pub async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.reserve_slot(key, interval)),
            Inner::Redis(r) => {
                r.reserve_slot(key, interval)
                    .instrument(redis_span("state.reserve_slot", "EVALSHA"))
                    .await
            }
        }
    }

    /// Reads a value.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.get(key)),
            Inner::Redis(r) => r.get(key).instrument(redis_span("state.get", "GET")).await,
        }
    }

    /// Writes a value, expiring after `ttl` when given.
    pub async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Inner::Redis(r) => {
                r.set(key, value, ttl)
                    .instrument(redis_span("state.set", "SET"))
                    .await
            }
        }
    }

    /// Sets `key` only if absent; true when this call set it.
    pub async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_if_absent(key, value, ttl)),
            Inner::Redis(r) => {
                r.set_if_absent(key, value, ttl)
                    .instrument(redis_span("state.set_if_absent", "SET"))
                    .await
            }
        }
    }

    /// Deletes a value; true when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.delete(key)),
            Inner::Redis(r) => {
                r.delete(key)
                    .instrument(redis_span("state.delete", "DEL"))
                    .await
            }
        }
    }

    /// Stores a versioned record unless a newer version is stored; true when written.
    pub async fn put_if_newer(
        &self,
        key: &str,
        version: i64,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.put_if_newer(key, version, data)),
            Inner::Redis(r) => {
                r.put_if_newer(key, version, data)
                    .instrument(redis_span("state.put_if_newer", "EVALSHA"))
                    .await
            }
        }
    }

    /// Reads a versioned record.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.get_versioned(key)),
            Inner::Redis(r) => {
                r.get_versioned(key)
                    .instrument(redis_span("state.get_versioned", "HMGET"))
                    .await
            }
        }
    }

    /// Adds `by` to the counter `key` and returns the new value.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.incr(key, by)),
            Inner::Redis(r) => {
                r.incr(key, by)
                    .instrument(redis_span("state.incr", "INCRBY"))
                    .await
            }
        }
    }

    /// Adds `member` to the set `key`; true when it was new.
    pub async fn set_add(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_add(key, member)),
            Inner::Redis(r) => {
                r.set_add(key, member)
                    .instrument(redis_span("state.set_add", "SADD"))
                    .await
            }
        }
    }

    /// Removes `member` from the set `key`; true when it was there.
    pub async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_remove(key, member)),
            Inner::Redis(r) => {
                r.set_remove(key, member)
                    .instrument(redis_span("state.set_remove", "SREM"))
                    .await
            }
        }
    }

    /// Whether `member` is in the set `key` (one lookup, whatever its size).
    pub async fn set_contains(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_contains(key, member)),
            Inner::Redis(r) => {
                r.set_contains(key, member)
                    .instrument(redis_span("state.set_contains", "SISMEMBER"))
                    .await
            }
        }
    }

    /// How many members the set `key` has.
    pub async fn set_len(&self, key: &str) -> Result<u64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_len(key)),
            Inner::Redis(r) => {
                r.set_len(key)
                    .instrument(redis_span("state.set_len", "SCARD"))
                    .await
            }
        }
    }

    /// The members of the set `key` (any order).
    pub async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_members(key)),
            Inner::Redis(r) => {
                r.set_members(key)
                    .instrument(redis_span("state.set_members", "SMEMBERS"))
                    .await
            }
        }
    }

    /// Appends to the list `key`, keeping only its last `cap` entries.
    pub async fn list_push(&self, key: &str, value: &[u8], cap: usize) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.list_push(key, value, cap);
                Ok(())
            }
            Inner::Redis(r) => {
                r.list_push(key, value, cap)
                    .instrument(redis_span("state.list_push", "RPUSH"))
                    .await
            }
        }
    }

    /// The last `n` entries of the list `key`, oldest first.
    pub async fn list_tail(&self, key: &str, n: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.list_tail(key, n)),
            Inner::Redis(r) => {
                r.list_tail(key, n)
                    .instrument(redis_span("state.list_tail", "LRANGE"))
                    .await
            }
        }
    }

    /// Schedules `member` in `key` at `at` (unix seconds), replacing an
    /// earlier schedule of the same member.
    pub async fn schedule(&self, key: &str, member: &str, at: i64) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.schedule(key, member, at);
                Ok(())
            }
            Inner::Redis(r) => {
                r.schedule(key, member, at)
                    .instrument(redis_span("state.schedule", "ZADD"))
                    .await
            }
        }
    }

    /// Removes `member`'s schedule from `key`.
    pub async fn unschedule(&self, key: &str, member: &str) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.unschedule(key, member);
                Ok(())
            }
            Inner::Redis(r) => {
                r.unschedule(key, member)
                    .instrument(redis_span("state.unschedule", "ZREM"))
                    .await
            }
        }
    }

    /// Up to `limit` members of `key` scheduled at or before `now`, earliest first.
    pub async fn due(&self, key: &str, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.due(key, now, limit)),
            Inner::Redis(r) => {
                r.due(key, now, limit)
                    .instrument(redis_span("state.due", "ZRANGEBYSCORE"))
                    .await
            }
        }
    }

    /// Up to `limit` members of the sorted set `key` (the one `schedule`
    /// writes) whose score is above `after`, lowest first, with scores:
    /// a walk that resumes exactly where it stopped.
    pub async fn sorted_after(
        &self,
        key: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.sorted_after(key, after, limit)),
            Inner::Redis(r) => {
                r.sorted_after(key, after, limit)
                    .instrument(redis_span("state.sorted_after", "ZRANGEBYSCORE"))
                    .await
            }
        }
    }

    /// How many members the sorted set `key` has.
    pub async fn sorted_len(&self, key: &str) -> Result<u64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.sorted_len(key)),
            Inner::Redis(r) => {
                r.sorted_len(key)
                    .instrument(redis_span("state.sorted_len", "ZCARD"))
                    .await
            }
        }
    }

    /// Appends an entry to the log `key` (keeping about `cap` entries) and
    /// returns its id. Ids increase; readers resume after the last id seen.
    pub async fn log_append(
        &self,
        key: &str,
        entry: &[u8],
        cap: usize,
    ) -> Result<String, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.log_append(key, entry, cap)),
            Inner::Redis(r) => {
                r.log_append(key, entry, cap)
                    .instrument(redis_span("state.log_append", "XADD"))
                    .await
            }
        }
    }

    /// Up to `limit` entries of the log `key` after id `after` (from the
    /// start when `None`), oldest first.
    pub async fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.log_read(key, after, limit)),
            Inner::Redis(r) => {
                r.log_read(key, after, limit)
                    .instrument(redis_span("state.log_read", "XRANGE"))
                    .await
            }
        }
    }

    /// Whether entries of the log `key` after `cursor` were trimmed away
    /// (a reader resuming from it would silently miss them). On Redis the
    /// cursor of the very last trimmed entry counts too: a trimmed stream
    /// keeps no record of where trimming stopped (`max-deleted-entry-id`
    /// follows only `XDEL`), so that reader resynchronises once rather
    /// than risk a silent gap.
    pub async fn log_gap_after(&self, key: &str, cursor: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => m.log_gap_after(key, cursor),
            Inner::Redis(r) => {
                r.log_gap_after(key, cursor)
                    .instrument(redis_span("state.log_gap_after", "XINFO"))
                    .await
            }
        }
    }

    /// The id of the oldest entry still kept in the log `key`, if any.
    pub async fn log_first_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.log_first_id(key)),
            Inner::Redis(r) => {
                r.log_first_id(key)
                    .instrument(redis_span("state.log_first_id", "XRANGE"))
                    .await
            }
        }
    }

    /// The id of the newest entry of the log `key`, if any.
    pub async fn log_last_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.log_last_id(key)),
            Inner::Redis(r) => {
                r.log_last_id(key)
                    .instrument(redis_span("state.log_last_id", "XREVRANGE"))
                    .await
            }
        }
    }
}

impl Store {
    /// The store the environment asks for: Redis when `REDIS_URL` is set
    /// (keys under `REDIS_KEY_PREFIX`, default `mesh`), else in-process.
    pub fn from_env(env: &mesh_runtime::Env) -> Result<Self, mesh_runtime::ConfigError> {
        match env.get("REDIS_URL") {
            None => Ok(Self::memory()),
            Some(url) => {
                let prefix = env.get("REDIS_KEY_PREFIX").unwrap_or("mesh");
                Self::redis(url, prefix).map_err(|e| {
                    let var = match &e {
                        StoreError::Config {
                            field: ConfigField::Prefix,
                            ..
                        } => "REDIS_KEY_PREFIX",
                        _ => "REDIS_URL",
                    };
                    mesh_runtime::ConfigError::new(var, e)
                })
            }
        }
    }
}

/// Runs `op` until it succeeds or `within` has passed, backing off from
/// 50 ms to 1 s. Made for settling a claim after the work is done: while
/// the lease is ours, an acknowledgement that lands late is still the
/// acknowledgement (a redelivery would repeat the work).
pub async fn retry_within<T, F, Fut>(within: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut delay = Duration::from_millis(50);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() + delay >= deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mesh_runtime::Env;

    use super::Store;

    /// A bad setting is blamed by its variable, from the error's field
    /// (not by searching its message), and the URL is never echoed.
    #[test]
    fn configuration_errors_name_their_variable() {
        let env = |url: &str, prefix: &str| {
            Env::default()
                .with("REDIS_URL", url)
                .with("REDIS_KEY_PREFIX", prefix)
        };
        let prefix = Store::from_env(&env("redis://127.0.0.1:6379", "a{b}")).err();
        assert_eq!(prefix.map(|e| e.var), Some("REDIS_KEY_PREFIX".into()));
        let url = Store::from_env(&env("nonsense://user:hunter2@host", "mesh")).err();
        let url = url.expect("a bad URL is refused");
        assert_eq!(url.var, "REDIS_URL");
        assert!(!url.to_string().contains("hunter2"), "{url}");
    }
}
