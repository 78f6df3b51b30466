//! limiter: the in-process side, under the backend's one lock.

use std::time::Duration;

use crate::limiter::RateDecision;
use crate::memory::*;

/// How many of a caller's decisions are remembered (as in gcra.lua): a
/// retry is answered alike as long as fewer than this many items of the
/// same caller were decided since.
const RECENT: usize = 8;

impl MemoryBackend {
    pub(crate) fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        memo: Option<(&str, Duration)>,
    ) -> RateDecision {
        let now = self.now();
        let mut state = self.lock();
        let Some((id, ttl)) = memo else {
            return Self::gcra(&mut state, key, millis(interval), burst, now);
        };
        if let Some(decided) = state.decided.get(key)
            && decided.until > now.ms
            && let Some((_, decision)) = decided.recent.iter().find(|(seen, _)| **seen == *id)
        {
            return *decision;
        }
        let decision = Self::gcra(&mut state, key, millis(interval), burst, now);
        // As in gcra.lua: the caller's last few decisions, kept with its
        // limit rather than one entry per item.
        let until = now.ms.saturating_add(millis(ttl));
        let decided = state.decided.entry(key.to_owned()).or_default();
        if decided.until <= now.ms {
            decided.recent.clear();
        }
        decided.until = decided.until.max(until);
        decided.recent.truncate(RECENT - 1);
        decided.recent.push_front((id.into(), decision));
        decision
    }

    pub(crate) fn gcra(
        state: &mut State,
        key: &str,
        interval: i64,
        burst: u32,
        now: Now,
    ) -> RateDecision {
        let tat = state.tat.get(key).copied().unwrap_or(now.ms).max(now.ms);
        let new_tat = tat + interval;
        let allow_at = new_tat - interval * i64::from(burst);
        if allow_at > now.ms {
            let wait = Duration::from_millis((allow_at - now.ms).unsigned_abs());
            let notice = format!("\u{0}notice:{key}");
            let first = state.live_value(&notice, now).is_none();
            if first {
                state.set_value(&notice, b"", Some(wait), now);
            }
            return RateDecision::Limited {
                retry_after: wait,
                first,
            };
        }
        state.sweep_now_and_then(now);
        state.tat.insert(key.to_owned(), new_tat);
        RateDecision::Allowed
    }

    pub(crate) fn reserve_slot(&self, key: &str, interval: Duration) -> Duration {
        let now = i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX / 2);
        let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX / 4);
        let mut state = self.lock();
        let slot = state.slots.get(key).copied().unwrap_or(now).max(now);
        state.slots.insert(key.to_owned(), slot + interval);
        Duration::from_micros((slot - now).unsigned_abs())
    }
}
