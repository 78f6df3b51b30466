//! kv: the in-process side, under the backend's one lock.

use std::time::Duration;

use crate::memory::*;

impl State {
    pub(crate) fn live_value(&self, key: &str, now: Now) -> Option<&Vec<u8>> {
        match self.values.get(key) {
            Some((_, Some(exp))) if *exp <= now.instant => None,
            Some((v, _)) => Some(v),
            None => None,
        }
    }

    pub(crate) fn set_value(&mut self, key: &str, value: &[u8], ttl: Option<Duration>, now: Now) {
        self.sweep_now_and_then(now);
        self.values.insert(
            key.to_owned(),
            (value.to_vec(), ttl.map(|t| now.instant + t)),
        );
    }

    pub(crate) fn delete_value(&mut self, key: &str, now: Now) -> bool {
        let removed = self.values.remove(key);
        matches!(removed, Some((_, exp)) if exp.is_none_or(|e| e > now.instant))
    }

    pub(crate) fn incr(&mut self, key: &str, by: i64, now: Now) -> i64 {
        let current: i64 = self
            .live_value(key, now)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let next = current.saturating_add(by);
        let ttl = match self.values.get(key) {
            Some((_, Some(exp))) if *exp > now.instant => Some(*exp - now.instant),
            _ => None,
        };
        self.set_value(key, next.to_string().as_bytes(), ttl, now);
        next
    }
}

impl MemoryBackend {
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = self.now();
        self.lock().live_value(key, now).cloned()
    }

    pub(crate) fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        let now = self.now();
        self.lock().set_value(key, value, ttl, now);
    }

    pub(crate) fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let now = self.now();
        let mut state = self.lock();
        if state.live_value(key, now).is_some() {
            return false;
        }
        state.set_value(key, value, Some(ttl), now);
        true
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        let now = self.now();
        self.lock().delete_value(key, now)
    }

    pub(crate) fn put_if_newer(&self, key: &str, version: i64, data: &[u8]) -> bool {
        let mut state = self.lock();
        if let Some((cur, _)) = state.versioned.get(key)
            && *cur > version
        {
            return false;
        }
        state
            .versioned
            .insert(key.to_owned(), (version, data.to_vec()));
        true
    }

    pub(crate) fn get_versioned(&self, key: &str) -> Option<(i64, Vec<u8>)> {
        self.lock().versioned.get(key).cloned()
    }

    pub(crate) fn incr(&self, key: &str, by: i64) -> i64 {
        let now = self.now();
        self.lock().incr(key, by, now)
    }
}
