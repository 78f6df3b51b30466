//! kv: the [`crate::Store`] methods, on either backend.

use std::time::Duration;

use crate::error::StoreError;
use crate::store::Store;
use crate::store::on_backend;

impl Store {
    /// Reads a value.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_backend!(self, "state.get", "GET", b => b.get(key))
    }

    /// Writes a value, expiring after `ttl` when given.
    pub async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        on_backend!(self, "state.set", "SET", b => b.set(key, value, ttl))
    }

    /// Sets `key` only if absent; true when this call set it.
    pub async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        on_backend!(self, "state.set_if_absent", "SET", b => b.set_if_absent(key, value, ttl))
    }

    /// Deletes a value; true when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        on_backend!(self, "state.delete", "DEL", b => b.delete(key))
    }

    /// Stores a versioned record unless a newer version is stored; true when written.
    pub async fn put_if_newer(
        &self,
        key: &str,
        version: i64,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        on_backend!(self, "state.put_if_newer", "EVALSHA", b => b.put_if_newer(key, version, data))
    }

    /// Reads a versioned record.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        on_backend!(self, "state.get_versioned", "HMGET", b => b.get_versioned(key))
    }

    /// Adds `by` to the counter `key` and returns the new value.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        on_backend!(self, "state.incr", "INCRBY", b => b.incr(key, by))
    }
}
