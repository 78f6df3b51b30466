//! [`Store`]: the one handle services use, whichever backend is behind it.

use std::sync::Arc;
use std::time::Duration;

use crate::Claim;
use crate::error::StoreError;
use crate::memory::MemoryBackend;
use crate::queue::{ClaimResult, Claims, Enqueued, Finished, NewItem, QueueConfig};
use crate::redis_backend::RedisBackend;

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
    #[tracing::instrument(name = "state.ping", skip_all, fields(db.system = self.db_system()))]
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(_) => Ok(()),
            Inner::Redis(r) => r.ping().await,
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
        // One span per item, under the call that delivered it, all covering
        // the one shared write: each item's trace shows its store write.
        let spans: Vec<tracing::Span> = items
            .iter()
            .map(|new| {
                tracing::info_span!(
                    parent: new.parent,
                    "state.enqueue",
                    db.system = self.db_system(),
                    queue,
                    db.operation.batch.size = items.len(),
                )
            })
            .collect();
        let outcome = match &self.inner {
            Inner::Memory(m) => Ok(m.enqueue_many(queue, config, items)),
            Inner::Redis(_) if items.is_empty() => Ok(Vec::new()),
            Inner::Redis(r) => r.enqueue_many(queue, config, items).await,
        };
        drop(spans);
        outcome
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
    #[tracing::instrument(name = "state.claim", skip_all, fields(db.system = self.db_system(), queue, most))]
    pub async fn claim_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        most: usize,
    ) -> Result<Claims, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.claim_many(queue, config, most)),
            Inner::Redis(r) => r.claim_many(queue, config, most).await,
        }
    }

    /// Finishes a claimed item (optionally moving it to the dead-letter
    /// list). Returns false when the lease had expired and passed to another
    /// worker, in which case nothing changed.
    pub async fn ack(
        &self,
        queue: &str,
        claim: &Claim,
        dead_letter: bool,
    ) -> Result<bool, StoreError> {
        let parent = tracing::Span::current();
        let done = Finished {
            claim,
            dead_letter,
            parent: &parent,
        };
        let acked = self.ack_many(queue, &[done]).await?;
        Ok(acked.first().copied().unwrap_or(false))
    }

    /// [`Store::ack`] for many claims in one atomic step (one Redis round
    /// trip): for each, in order, whether its lease was still held.
    pub async fn ack_many(
        &self,
        queue: &str,
        done: &[Finished<'_>],
    ) -> Result<Vec<bool>, StoreError> {
        // As in `enqueue_many`: one span per item, in its own trace.
        let spans: Vec<tracing::Span> = done
            .iter()
            .map(|d| {
                tracing::info_span!(
                    parent: d.parent,
                    "state.ack",
                    db.system = self.db_system(),
                    queue,
                    db.operation.batch.size = done.len(),
                )
            })
            .collect();
        let claims: Vec<(&Claim, bool)> = done.iter().map(|d| (d.claim, d.dead_letter)).collect();
        let outcome = match &self.inner {
            Inner::Memory(m) => Ok(m.ack_many(queue, &claims)),
            Inner::Redis(_) if claims.is_empty() => Ok(Vec::new()),
            Inner::Redis(r) => r.ack_many(queue, &claims).await,
        };
        drop(spans);
        outcome
    }

    /// Gives a lease back; the same item is handed out again after `delay`.
    #[tracing::instrument(name = "state.release", skip_all, fields(db.system = self.db_system(), queue))]
    pub async fn release(
        &self,
        queue: &str,
        claim: &Claim,
        delay: Duration,
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.release(queue, claim, delay)),
            Inner::Redis(r) => r.release(queue, claim, delay).await,
        }
    }

    /// How many items are queued and not yet acknowledged.
    pub async fn pending(&self, queue: &str) -> Result<u64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.pending(queue)),
            Inner::Redis(r) => r.pending(queue).await,
        }
    }

    /// The items moved to the dead-letter list (at most the last 1000).
    pub async fn dead_letters(&self, queue: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.dead_letters(queue)),
            Inner::Redis(r) => r.dead_letters(queue).await,
        }
    }

    /// Consumes one unit of `key`'s budget: `burst` units, refilled at one
    /// per `interval` (GCRA).
    #[tracing::instrument(name = "state.rate_limit", skip_all, fields(db.system = self.db_system()))]
    pub async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.rate_limit(key, interval, burst)),
            Inner::Redis(r) => r.rate_limit(key, interval, burst).await,
        }
    }

    /// Books the next slot of a paced stream whose slots are `interval`
    /// apart (shared by every replica) and returns how long to wait for it.
    #[tracing::instrument(name = "state.reserve_slot", skip_all, fields(db.system = self.db_system()))]
    pub async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.reserve_slot(key, interval)),
            Inner::Redis(r) => r.reserve_slot(key, interval).await,
        }
    }

    /// Reads a value.
    #[tracing::instrument(name = "state.get", skip_all, fields(db.system = self.db_system()))]
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.get(key)),
            Inner::Redis(r) => r.get(key).await,
        }
    }

    /// Writes a value, expiring after `ttl` when given.
    #[tracing::instrument(name = "state.set", skip_all, fields(db.system = self.db_system()))]
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
            Inner::Redis(r) => r.set(key, value, ttl).await,
        }
    }

    /// Sets `key` only if absent; true when this call set it.
    #[tracing::instrument(name = "state.set_nx", skip_all, fields(db.system = self.db_system()))]
    pub async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_if_absent(key, value, ttl)),
            Inner::Redis(r) => r.set_if_absent(key, value, ttl).await,
        }
    }

    /// Deletes a value; true when it existed.
    #[tracing::instrument(name = "state.delete", skip_all, fields(db.system = self.db_system()))]
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.delete(key)),
            Inner::Redis(r) => r.delete(key).await,
        }
    }

    /// Stores a versioned record unless a newer version is stored; true when written.
    #[tracing::instrument(name = "state.put_if_newer", skip_all, fields(db.system = self.db_system()))]
    pub async fn put_if_newer(
        &self,
        key: &str,
        version: i64,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.put_if_newer(key, version, data)),
            Inner::Redis(r) => r.put_if_newer(key, version, data).await,
        }
    }

    /// Reads a versioned record.
    #[tracing::instrument(name = "state.get_versioned", skip_all, fields(db.system = self.db_system()))]
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.get_versioned(key)),
            Inner::Redis(r) => r.get_versioned(key).await,
        }
    }

    /// Adds `by` to the counter `key` and returns the new value.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.incr(key, by)),
            Inner::Redis(r) => r.incr(key, by).await,
        }
    }

    /// Adds `member` to the set `key`; true when it was new.
    pub async fn set_add(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_add(key, member)),
            Inner::Redis(r) => r.set_add(key, member).await,
        }
    }

    /// Removes `member` from the set `key`; true when it was there.
    pub async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_remove(key, member)),
            Inner::Redis(r) => r.set_remove(key, member).await,
        }
    }

    /// The members of the set `key` (any order).
    pub async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.set_members(key)),
            Inner::Redis(r) => r.set_members(key).await,
        }
    }

    /// Appends to the list `key`, keeping only its last `cap` entries.
    pub async fn list_push(&self, key: &str, value: &[u8], cap: usize) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.list_push(key, value, cap);
                Ok(())
            }
            Inner::Redis(r) => r.list_push(key, value, cap).await,
        }
    }

    /// The last `n` entries of the list `key`, oldest first.
    pub async fn list_tail(&self, key: &str, n: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.list_tail(key, n)),
            Inner::Redis(r) => r.list_tail(key, n).await,
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
            Inner::Redis(r) => r.schedule(key, member, at).await,
        }
    }

    /// Removes `member`'s schedule from `key`.
    pub async fn unschedule(&self, key: &str, member: &str) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(m) => {
                m.unschedule(key, member);
                Ok(())
            }
            Inner::Redis(r) => r.unschedule(key, member).await,
        }
    }

    /// Up to `limit` members of `key` scheduled at or before `now`, earliest first.
    pub async fn due(&self, key: &str, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.due(key, now, limit)),
            Inner::Redis(r) => r.due(key, now, limit).await,
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
            Inner::Redis(r) => r.log_append(key, entry, cap).await,
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
            Inner::Redis(r) => r.log_read(key, after, limit).await,
        }
    }

    /// The id of the newest entry of the log `key`, if any.
    pub async fn log_last_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.inner {
            Inner::Memory(m) => Ok(m.log_last_id(key)),
            Inner::Redis(r) => r.log_last_id(key).await,
        }
    }

    fn db_system(&self) -> &'static str {
        match self.backend() {
            Backend::Memory => "memory",
            Backend::Redis => "redis",
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
                    let var = if matches!(&e, StoreError::Config(m) if m.contains("prefix")) {
                        "REDIS_KEY_PREFIX"
                    } else {
                        "REDIS_URL"
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
