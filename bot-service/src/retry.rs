//! How work that failed is tried again: quick back-off for a hiccup,
//! minutes of patience while another service is away, and the dead
//! letter's reason when it is given up. The worker and the outbox share it.

use std::time::Duration;

/// A dead letter's reason: the last failure and how often it was tried.
pub fn gave_up(reason: &str, attempts: u32) -> String {
    let s = if attempts == 1 { "" } else { "s" };
    format!("{reason} (gave up after {attempts} attempt{s})")
}

/// Exponential back-off: 100 ms, 200 ms, ... capped at 10 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(7)))
        .min(Duration::from_secs(10))
}

/// Back-off while another service is away: 1 s, 2 s, ... capped at a minute.
pub fn dependency_backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// How many attempts [`dependency_backoff`] spreads over `window`.
pub fn dependency_attempts(window: Duration) -> u32 {
    let mut total = Duration::ZERO;
    let mut attempt = 1;
    while total < window && attempt < 10_000 {
        total += dependency_backoff(attempt);
        attempt += 1;
    }
    attempt
}
