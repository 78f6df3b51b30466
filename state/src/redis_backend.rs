//! The Redis backend.
//!
//! Key layout (all under the store's prefix `P`):
//! - `P:{P:q:NAME}:seen:ID`, `:list:PARTITION`, `:ready`, `:attempts`,
//!   `:pending`, `:dead`: one queue; the shared hash tag puts them in one
//!   cluster slot, which the Lua scripts need.
//! - `P:{P:rl:KEY}:tat` and `:notice`: one rate limit.
//! - `P:v:KEY`: plain values; `P:r:KEY`: versioned records (hash `v`, `d`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, Value};

use crate::error::StoreError;
use crate::queue::{Claim, ClaimResult, Enqueued, QueueConfig};
use crate::store::RateDecision;

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/enqueue.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/claim.lua")));
static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ack.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release.lua")));
static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/gcra.lua")));
static PUT_IF_NEWER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/put_if_newer.lua")));

/// One stream entry as XRANGE returns it: id and field/value pairs.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// A Redis connection (multiplexed, reconnecting) and a key prefix.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisBackend {
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::Config(format!(
                "key prefix {prefix:?} must be non-empty and free of braces"
            )));
        }
        // Never echo the URL: it may carry a password.
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Config(format!("invalid Redis URL: {e}")))?;
        // Short timeouts and few retries: a webhook waiting on a dead Redis
        // should get its 503 in well under Telegram's 60 s, and the manager
        // reconnects by itself on the next call once Redis is back.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn queue_key(&self, queue: &str, part: &str) -> String {
        format!("{p}:{{{p}:q:{queue}}}:{part}", p = self.prefix)
    }

    fn value_key(&self, key: &str) -> String {
        format!("{}:v:{key}", self.prefix)
    }

    fn record_key(&self, key: &str) -> String {
        format!("{}:r:{key}", self.prefix)
    }

    fn typed_key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.prefix)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    pub(crate) async fn enqueue_once(
        &self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
        partition: &str,
        item: &[u8],
    ) -> Result<Enqueued, StoreError> {
        let mut c = self.conn.clone();
        let added: i64 = ENQUEUE
            .key(self.queue_key(queue, &format!("seen:{id}")))
            .key(self.queue_key(queue, &format!("list:{partition}")))
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, "pending"))
            .arg(ms(config.dedup_ttl))
            .arg(partition)
            .arg(item)
            .invoke_async(&mut c)
            .await?;
        Ok(if added == 1 {
            Enqueued::New
        } else {
            Enqueued::Duplicate
        })
    }

    pub(crate) async fn claim(
        &self,
        queue: &str,
        config: &QueueConfig,
    ) -> Result<ClaimResult, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<Value> = CLAIM
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, "attempts"))
            .arg(ms(config.lease))
            .arg(self.queue_key(queue, "list:"))
            .invoke_async(&mut c)
            .await?;
        parse_claim(reply)
    }

    pub(crate) async fn ack(
        &self,
        queue: &str,
        claim: &Claim,
        dead_letter: bool,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let done: i64 = ACK
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, &format!("list:{}", claim.partition)))
            .key(self.queue_key(queue, "attempts"))
            .key(self.queue_key(queue, "pending"))
            .key(self.queue_key(queue, "dead"))
            .arg(&claim.partition)
            .arg(claim.token)
            .arg(if dead_letter { "1" } else { "0" })
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn release(
        &self,
        queue: &str,
        claim: &Claim,
        delay: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let done: i64 = RELEASE
            .key(self.queue_key(queue, "ready"))
            .arg(&claim.partition)
            .arg(claim.token)
            .arg(ms(delay))
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn pending(&self, queue: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        let n: Option<i64> = c.get(self.queue_key(queue, "pending")).await?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    pub(crate) async fn dead_letters(&self, queue: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        Ok(c.lrange(self.queue_key(queue, "dead"), 0, -1).await?)
    }

    pub(crate) async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        let mut c = self.conn.clone();
        let tag = format!("{p}:{{{p}:rl:{key}}}", p = self.prefix);
        let (allowed, wait, first): (i64, i64, i64) = GCRA
            .key(format!("{tag}:tat"))
            .key(format!("{tag}:notice"))
            .arg(ms(interval))
            .arg(burst.max(1))
            .invoke_async(&mut c)
            .await?;
        Ok(if allowed == 1 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(wait.unsigned_abs()),
                first: first == 1,
            }
        })
    }

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

    pub(crate) async fn log_append(
        &self,
        key: &str,
        entry: &[u8],
        cap: usize,
    ) -> Result<String, StoreError> {
        let mut c = self.conn.clone();
        let id: String = redis::cmd("XADD")
            .arg(self.typed_key("x", key))
            .arg("MAXLEN")
            .arg("~")
            .arg(cap.max(1))
            .arg("*")
            .arg("e")
            .arg(entry)
            .query_async(&mut c)
            .await?;
        Ok(id)
    }

    pub(crate) async fn log_read(
        &self,
        key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut c = self.conn.clone();
        let start = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
        let reply: Vec<StreamEntry> = redis::cmd("XRANGE")
            .arg(self.typed_key("x", key))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut c)
            .await?;
        Ok(reply
            .into_iter()
            .filter_map(|(id, fields)| {
                fields
                    .into_iter()
                    .find(|(f, _)| f == "e")
                    .map(|(_, e)| (id, e))
            })
            .collect())
    }

    pub(crate) async fn log_last_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<StreamEntry> = redis::cmd("XREVRANGE")
            .arg(self.typed_key("x", key))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await?;
        Ok(reply.into_iter().next().map(|(id, _)| id))
    }
}

fn parse_claim(reply: Vec<Value>) -> Result<ClaimResult, StoreError> {
    use redis::FromRedisValue;
    let mut it = reply.into_iter();
    let mut next = |what: &str| -> Result<Value, StoreError> {
        it.next()
            .ok_or_else(|| StoreError::Protocol(format!("claim reply: no {what}")))
    };
    fn read<T: FromRedisValue>(v: Value, what: &str) -> Result<T, StoreError> {
        T::from_redis_value(v).map_err(|_| StoreError::Protocol(format!("claim reply: bad {what}")))
    }
    match read::<i64>(next("flag")?, "flag")? {
        1 => Ok(ClaimResult::Claimed(Claim {
            partition: read(next("partition")?, "partition")?,
            item: read(next("item")?, "item")?,
            token: read(next("token")?, "token")?,
            attempts: u32::try_from(read::<i64>(next("attempts")?, "attempts")?)
                .unwrap_or(u32::MAX),
        })),
        0 => {
            let wait: i64 = read(next("wait")?, "wait")?;
            Ok(ClaimResult::Idle(
                u64::try_from(wait).ok().map(Duration::from_millis),
            ))
        }
        other => Err(StoreError::Protocol(format!("claim reply: flag {other}"))),
    }
}
