//! collections: the [`crate::Store`] methods, on either backend.

use crate::error::StoreError;
use crate::store::Store;
use crate::store::on_backend;

impl Store {
    /// Adds `member` to the set `key`; true when it was new.
    pub async fn set_add(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        on_backend!(self, "state.set_add", "SADD", b => b.set_add(key, member))
    }

    /// Removes `member` from the set `key`; true when it was there.
    pub async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        on_backend!(self, "state.set_remove", "SREM", b => b.set_remove(key, member))
    }

    /// Whether `member` is in the set `key` (one lookup, whatever its size).
    pub async fn set_contains(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        on_backend!(self, "state.set_contains", "SISMEMBER", b => b.set_contains(key, member))
    }

    /// How many members the set `key` has.
    pub async fn set_len(&self, key: &str) -> Result<u64, StoreError> {
        on_backend!(self, "state.set_len", "SCARD", b => b.set_len(key))
    }

    /// The members of the set `key` (any order).
    pub async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        on_backend!(self, "state.set_members", "SMEMBERS", b => b.set_members(key))
    }

    /// Appends to the list `key`, keeping only its last `cap` entries.
    pub async fn list_push(&self, key: &str, value: &[u8], cap: usize) -> Result<(), StoreError> {
        on_backend!(self, "state.list_push", "RPUSH", b => b.list_push(key, value, cap))
    }

    /// The last `n` entries of the list `key`, oldest first.
    pub async fn list_tail(&self, key: &str, n: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        on_backend!(self, "state.list_tail", "LRANGE", b => b.list_tail(key, n))
    }

    /// Schedules `member` in `key` at `at` (unix seconds), replacing an
    /// earlier schedule of the same member.
    pub async fn schedule(&self, key: &str, member: &str, at: i64) -> Result<(), StoreError> {
        on_backend!(self, "state.schedule", "ZADD", b => b.schedule(key, member, at))
    }

    /// Removes `member`'s schedule from `key`.
    pub async fn unschedule(&self, key: &str, member: &str) -> Result<(), StoreError> {
        on_backend!(self, "state.unschedule", "ZREM", b => b.unschedule(key, member))
    }

    /// Up to `limit` members of `key` scheduled at or before `now`, earliest first.
    pub async fn due(&self, key: &str, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        on_backend!(self, "state.due", "ZRANGEBYSCORE", b => b.due(key, now, limit))
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
        on_backend!(self, "state.sorted_after", "ZRANGEBYSCORE", b => b.sorted_after(key, after, limit))
    }

    /// How many members the sorted set `key` has.
    pub async fn sorted_len(&self, key: &str) -> Result<u64, StoreError> {
        on_backend!(self, "state.sorted_len", "ZCARD", b => b.sorted_len(key))
    }
}
