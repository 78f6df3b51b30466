//! Rate limits: GCRA (a burst, refilled at one unit per interval), with a
//! decision remembered per work item so a retry consumes nothing more; and
//! paced streams whose slots are booked rather than asked for.

mod handle;
mod memory;
pub(crate) mod redis;

use std::time::Duration;

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
