//! Rate limits: GCRA (a burst, refilled at one unit per interval), with a
//! decision remembered per work item so a retry consumes nothing more; and
//! paced streams whose slots are booked rather than asked for.

mod handle;
mod memory;
mod redis;

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
