//! log: the in-process side, under the backend's one lock.

use crate::error::StoreError;
use crate::memory::*;

impl State {
    pub(crate) fn log_append(&mut self, key: &str, entry: &[u8], cap: usize) -> String {
        let (next, log) = self.logs.entry(key.to_owned()).or_default();
        *next += 1;
        log.push_back((*next, entry.to_vec()));
        while log.len() > cap.max(1) {
            log.pop_front();
        }
        next.to_string()
    }
}

impl MemoryBackend {
    pub(crate) fn log_append(&self, key: &str, entry: &[u8], cap: usize) -> String {
        self.lock().log_append(key, entry, cap)
    }

    pub(crate) fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<(String, Vec<u8>)> {
        let after = after.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
        let state = self.lock();
        state
            .logs
            .get(key)
            .map(|(_, log)| {
                log.iter()
                    .filter(|(id, _)| *id > after)
                    .take(limit)
                    .map(|(id, e)| (id.to_string(), e.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn log_gap_after(&self, key: &str, cursor: &str) -> Result<bool, StoreError> {
        let cursor: u64 = cursor
            .parse()
            .map_err(|_| StoreError::Protocol(format!("not a log cursor: {cursor:?}")))?;
        let state = self.lock();
        // Ids count up from 1 without gaps: anything before the first kept
        // entry was trimmed.
        Ok(state
            .logs
            .get(key)
            .and_then(|(_, log)| log.front())
            .is_some_and(|(first, _)| cursor + 1 < *first))
    }

    pub(crate) fn log_first_id(&self, key: &str) -> Option<String> {
        let state = self.lock();
        state
            .logs
            .get(key)
            .and_then(|(_, log)| log.front())
            .map(|(id, _)| id.to_string())
    }

    pub(crate) fn log_last_id(&self, key: &str) -> Option<String> {
        let state = self.lock();
        state
            .logs
            .get(key)
            .and_then(|(_, log)| log.back())
            .map(|(id, _)| id.to_string())
    }
}
