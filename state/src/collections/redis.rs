//! collections: the Redis side.

use redis::AsyncCommands;

use crate::error::StoreError;
use crate::redis_backend::*;

impl RedisBackend {
    pub(crate) async fn set_add(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = c.sadd(self.typed_key("s", key), member).await?;
        Ok(n > 0)
    }

    pub(crate) async fn set_remove(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = c.srem(self.typed_key("s", key), member).await?;
        Ok(n > 0)
    }

    pub(crate) async fn set_contains(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.sismember(self.typed_key("s", key), member).await?)
    }

    pub(crate) async fn set_len(&self, key: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.scard(self.typed_key("s", key)).await?)
    }

    pub(crate) async fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.smembers(self.typed_key("s", key)).await?)
    }

    pub(crate) async fn list_push(
        &self,
        key: &str,
        value: &[u8],
        cap: usize,
    ) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let key = self.typed_key("l", key);
        let cap = isize::try_from(cap.max(1)).unwrap_or(isize::MAX);
        // One round trip, applied together.
        redis::pipe()
            .atomic()
            .rpush(&key, value)
            .ignore()
            .ltrim(&key, -cap, -1)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    pub(crate) async fn list_tail(&self, key: &str, n: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut c = self.conn.clone();
        let n = isize::try_from(n).unwrap_or(isize::MAX);
        Ok(c.lrange(self.typed_key("l", key), -n, -1).await?)
    }

    pub(crate) async fn schedule(
        &self,
        key: &str,
        member: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        c.zadd::<_, _, _, ()>(self.typed_key("z", key), member, at)
            .await?;
        Ok(())
    }

    pub(crate) async fn unschedule(&self, key: &str, member: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        c.zrem::<_, _, ()>(self.typed_key("z", key), member).await?;
        Ok(())
    }

    pub(crate) async fn due(
        &self,
        key: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        let limit = isize::try_from(limit).unwrap_or(isize::MAX);
        Ok(
            c.zrangebyscore_limit(self.typed_key("z", key), "-inf", now, 0, limit)
                .await?,
        )
    }

    pub(crate) async fn sorted_after(
        &self,
        key: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("ZRANGEBYSCORE")
            .arg(self.typed_key("z", key))
            .arg(format!("({after}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit.max(1))
            .query_async(&mut c)
            .await?)
    }

    pub(crate) async fn sorted_len(&self, key: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.zcard(self.typed_key("z", key)).await?)
    }
}
