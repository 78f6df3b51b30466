//! log: the [`crate::Store`] methods, on either backend.

use tracing::Instrument;

use crate::error::StoreError;
use crate::store::on_backend;
use crate::store::{Inner, Store, redis_span};

impl Store {
    /// Appends an entry to the log `key` (keeping about `cap` entries) and
    /// returns its id. Ids increase; readers resume after the last id seen.
    pub async fn log_append(
        &self,
        key: &str,
        entry: &[u8],
        cap: usize,
    ) -> Result<String, StoreError> {
        on_backend!(self, "state.log_append", "XADD", b => b.log_append(key, entry, cap))
    }

    /// Up to `limit` entries of the log `key` after id `after` (from the
    /// start when `None`), oldest first.
    pub async fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        on_backend!(self, "state.log_read", "XRANGE", b => b.log_read(key, after, limit))
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
        on_backend!(self, "state.log_first_id", "XRANGE", b => b.log_first_id(key))
    }

    /// The id of the newest entry of the log `key`, if any.
    pub async fn log_last_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        on_backend!(self, "state.log_last_id", "XREVRANGE", b => b.log_last_id(key))
    }
}
