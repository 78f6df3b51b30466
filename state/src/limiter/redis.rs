//! limiter: the Redis side.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::error::StoreError;
use crate::limiter::RateDecision;
use crate::redis_backend::*;

pub(crate) static GCRA: LazyLock<Script> = LazyLock::new(|| script(include_str!("gcra.lua")));

pub(crate) static RESERVE: LazyLock<Script> = LazyLock::new(|| script(include_str!("reserve.lua")));

impl RedisBackend {
    pub(crate) async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        memo: Option<(&str, Duration)>,
    ) -> Result<RateDecision, StoreError> {
        let mut c = self.conn.clone();
        let tag = format!("{p}:{{{p}:rl:{key}}}", p = self.prefix);
        let mut invocation = GCRA.key(format!("{tag}:tat"));
        invocation
            .key(format!("{tag}:notice"))
            .arg(ms(interval))
            .arg(burst.max(1));
        if let Some((id, ttl)) = memo {
            invocation.key(format!("{tag}:memo:{id}")).arg(ms(ttl));
        }
        let (allowed, wait, first): (i64, i64, i64) = invocation.invoke_async(&mut c).await?;
        Ok(if allowed == 1 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(wait.unsigned_abs()),
                first: first == 1,
            }
        })
    }

    pub(crate) async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        let mut c = self.conn.clone();
        let micros = u64::try_from(interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let wait: i64 = RESERVE
            .key(format!("{p}:{{{p}:slot:{key}}}", p = self.prefix))
            .arg(micros)
            .invoke_async(&mut c)
            .await?;
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
