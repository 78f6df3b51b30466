//! limiter: the [`crate::Store`] methods, on either backend.

use std::time::Duration;

use crate::error::StoreError;
use crate::limiter::RateDecision;
use crate::store::Store;
use crate::store::on_backend;

impl Store {
    /// Consumes one unit of `key`'s budget: `burst` units, refilled at one
    /// per `interval` (GCRA).
    pub async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        on_backend!(self, "state.rate_limit", "EVALSHA", b => b.rate_limit(key, interval, burst, None))
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
        on_backend!(self, "state.rate_limit", "EVALSHA", b => b.rate_limit(key, interval, burst, memo))
    }

    /// Books the next slot of a paced stream whose slots are `interval`
    /// apart (shared by every replica) and returns how long to wait for it.
    pub async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        on_backend!(self, "state.reserve_slot", "EVALSHA", b => b.reserve_slot(key, interval))
    }
}
