//! kv: the Redis side.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use crate::error::StoreError;
use crate::redis_backend::*;

pub(crate) static PUT_IF_NEWER: LazyLock<Script> =
    LazyLock::new(|| script(include_str!("put_if_newer.lua")));

impl RedisBackend {
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.get(self.value_key(key)).await?)
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        match ttl {
            Some(ttl) => {
                c.pset_ex::<_, _, ()>(self.value_key(key), value, ms(ttl))
                    .await?
            }
            None => c.set::<_, _, ()>(self.value_key(key), value).await?,
        }
        Ok(())
    }

    pub(crate) async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.value_key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl))
            .query_async(&mut c)
            .await?;
        Ok(reply.is_some())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.value_key(key)).await?;
        Ok(n > 0)
    }

    pub(crate) async fn put_if_newer(
        &self,
        key: &str,
        version: i64,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let done: i64 = PUT_IF_NEWER
            .key(self.record_key(key))
            .arg(version)
            .arg(data)
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn get_versioned(
        &self,
        key: &str,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let mut c = self.conn.clone();
        let (v, d): (Option<i64>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(self.record_key(key))
            .arg("v")
            .arg("d")
            .query_async(&mut c)
            .await?;
        Ok(v.zip(d))
    }

    pub(crate) async fn incr(&self, key: &str, by: i64) -> Result<i64, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.incr(self.value_key(key), by).await?)
    }
}
