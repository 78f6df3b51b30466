//! limiter: the in-process side, under the backend's one lock.

use std::time::Duration;

use crate::limiter::RateDecision;
use crate::memory::*;

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
        let memo_key = memo.map(|(id, _)| format!("\u{0}memo:{key}:{id}"));
        if let Some(k) = &memo_key
            && let Some(stored) = state.live_value(k, now)
            && let Some(decision) = RateDecision::decode(stored)
        {
            return decision;
        }
        let decision = Self::gcra(&mut state, key, millis(interval), burst, now);
        if let (Some(k), Some((_, ttl))) = (memo_key, memo) {
            state.set_value(&k, &decision.encode(), Some(ttl), now);
        }
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
