//! log: the Redis side.

use std::collections::HashMap;

use redis::Value;

use crate::error::StoreError;
use crate::redis_backend::*;

/// A stream id (`ms-seq`) as a comparable pair.
pub(crate) fn stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl RedisBackend {
    pub(crate) async fn log_append(
        &self,
        key: &str,
        entry: &[u8],
        cap: usize,
    ) -> Result<String, StoreError> {
        let mut c = self.conn.clone();
        let id: String = redis::cmd("XADD")
            .arg(self.typed_key("x", key))
            .arg("MAXLEN")
            .arg("~")
            .arg(cap.max(1))
            .arg("*")
            .arg("e")
            .arg(entry)
            .query_async(&mut c)
            .await?;
        Ok(id)
    }

    pub(crate) async fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut c = self.conn.clone();
        let start = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
        let reply: Vec<StreamEntry> = redis::cmd("XRANGE")
            .arg(self.typed_key("x", key))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut c)
            .await?;
        Ok(reply
            .into_iter()
            .filter_map(|(id, fields)| {
                fields
                    .into_iter()
                    .find(|(f, _)| f == "e")
                    .map(|(_, e)| (id, e))
            })
            .collect())
    }

    pub(crate) async fn log_last_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.log_end(key, "XREVRANGE", "+", "-").await
    }

    /// Whether entries after `cursor` were trimmed from the log: it was
    /// trimmed at all (more entries added than kept) and the cursor is older
    /// than the first kept entry. Conservative by one entry: a cursor equal
    /// to the last trimmed id also counts (stream ids have no predecessor).
    pub(crate) async fn log_gap_after(&self, key: &str, cursor: &str) -> Result<bool, StoreError> {
        let Some(cursor) = stream_id(cursor) else {
            return Err(StoreError::Protocol(format!(
                "not a log cursor: {cursor:?}"
            )));
        };
        let mut c = self.conn.clone();
        let info: Result<HashMap<String, Value>, _> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(self.typed_key("x", key))
            .query_async(&mut c)
            .await;
        // No log at all: nothing is known to be missing.
        let Ok(info) = info else { return Ok(false) };
        let int = |name: &str| match info.get(name) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        };
        if int("entries-added") <= int("length") {
            return Ok(false);
        }
        let first = match info.get("first-entry") {
            Some(Value::Array(entry)) => match entry.first() {
                Some(Value::BulkString(id)) => stream_id(&String::from_utf8_lossy(id)),
                _ => None,
            },
            _ => None,
        };
        Ok(first.is_none_or(|first| cursor < first))
    }

    pub(crate) async fn log_first_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.log_end(key, "XRANGE", "-", "+").await
    }

    pub(crate) async fn log_end(
        &self,
        key: &str,
        command: &str,
        from: &str,
        to: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<StreamEntry> = redis::cmd(command)
            .arg(self.typed_key("x", key))
            .arg(from)
            .arg(to)
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await?;
        Ok(reply.into_iter().next().map(|(id, _)| id))
    }
}
