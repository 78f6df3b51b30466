//! The Redis backend.
//!
//! Key layout (all under the store's prefix `P`):
//! - `P:{P:q:NAME}:seen:ID` (or `:bits:SEGMENT` for sequence ids), `:list:PARTITION`, `:ready`, `:attempts`,
//!   `:held`, `:pending`, `:dead`, `:since`: one queue; the shared hash tag puts them
//!   in one cluster slot, which the Lua scripts need. A queue named with a
//!   scope (`{bot}:updates`) lives in that scope's slot instead:
//!   `P:q:{bot}:updates:ready`, so transactions can span it and the
//!   scope's other keys.
//! - `P:{P:rl:KEY}:tat` (with the last few memoised decisions) and
//!   `:notice`: one rate limit.
//! - `P:v:KEY`: plain values; `P:r:KEY`: versioned records (hash `v`, `d`);
//!   `P:s:`, `P:l:`, `P:z:`, `P:x:` sets, lists, schedules and logs. A key
//!   with a `{scope}` in it takes that scope's slot (Redis hashes only the
//!   part in braces), which is how a transaction's keys share one.
//!
//! Each concern's Redis side lives with the concern (`kv/redis.rs`,
//! `queue/redis.rs` and its scripts, ...); this is the connection, the key
//! layout and the scripts' shared prelude.

use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisFuture, Script, Value};

use crate::error::{ConfigField, StoreError};

/// One stream entry as XRANGE returns it: id and field/value pairs.
pub(crate) type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// A script with the shared prelude in front (the store's clock, queue
/// items' stamps: `lua/prelude.lua`), written once for every script.
pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{}{body}", include_str!("prelude.lua")))
}

/// The server's clock, run as a script only so that a cluster routes it
/// to the node of the key it names (TIME itself takes no key).
pub(crate) static CLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new("local t = redis.call('TIME') return {tonumber(t[1]), tonumber(t[2])}")
});

/// A Redis connection (multiplexed, reconnecting) and a key prefix.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    pub(crate) conn: Conn,
    pub(crate) prefix: String,
    /// Flood checks waiting to go together (see `limiter/redis.rs`).
    pub(crate) limits: Arc<crate::limiter::redis::Batcher>,
}

/// A single node (ConnectionManager) or a cluster. Every multi-key
/// operation's keys share a hash tag, so the same commands and scripts
/// work on both.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

/// A cluster connection made on first use (and again after a failed
/// attempt), so a cluster that is down at start-up needs no restart. Once
/// made, redis-rs follows slot moves and reconnects nodes itself.
pub(crate) struct LazyCluster {
    client: redis::cluster::ClusterClient,
    conn: tokio::sync::Mutex<Option<ClusterConnection>>,
}

impl LazyCluster {
    pub(crate) async fn get(&self) -> redis::RedisResult<ClusterConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.get_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(l) => {
                Box::pin(async move { l.get().await?.req_packed_command(cmd).await })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(l) => Box::pin(async move {
                l.get()
                    .await?
                    .req_packed_commands(pipeline, offset, count)
                    .await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

/// The node URLs of a cluster `REDIS_URL`, or `None` for a single node.
/// A cluster is named by a `redis+cluster://` (or `rediss+cluster://`)
/// scheme, or by several comma-separated node URLs.
fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let explicit = url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://");
    if !explicit && !url.contains(',') {
        return None;
    }
    let scheme = if url.starts_with("rediss") {
        "rediss"
    } else {
        "redis"
    };
    Some(
        url.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                let rest = n.split_once("://").map_or(n, |(_, r)| r);
                format!("{scheme}://{rest}")
            })
            .collect(),
    )
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisBackend {
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::config(
                ConfigField::Prefix,
                format!("{prefix:?} must be non-empty and free of braces"),
            ));
        }
        if let Some(nodes) = cluster_nodes(url) {
            let client = redis::cluster::ClusterClient::builder(nodes)
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(Duration::from_secs(2))
                .retries(1)
                .build()
                .map_err(|e| {
                    StoreError::config(ConfigField::Url, format!("invalid Redis Cluster URL: {e}"))
                })?;
            return Ok(Self {
                conn: Conn::Cluster(Arc::new(LazyCluster {
                    client,
                    conn: tokio::sync::Mutex::new(None),
                })),
                prefix: prefix.to_owned(),
                limits: Arc::default(),
            });
        }
        // Never echo the URL: it may carry a password.
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::config(ConfigField::Url, format!("invalid Redis URL: {e}")))?;
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
            conn: Conn::Single(conn),
            prefix: prefix.to_owned(),
            limits: Arc::default(),
        })
    }

    pub(crate) fn queue_key(&self, queue: &str, part: &str) -> String {
        self.queue_key_of(queue, &[part])
    }

    /// A queue's key for a part given in pieces (`["list:", lane]`), built
    /// at its exact size: a settle names a dozen keys per item, and
    /// `format!` growing each one showed in the worker's profile.
    pub(crate) fn queue_key_of(&self, queue: &str, part: &[&str]) -> String {
        let p = self.prefix.as_str();
        let tagged = queue.contains('{');
        let len = part.iter().map(|s| s.len()).sum::<usize>()
            + queue.len()
            + if tagged { p.len() + 4 } else { 2 * p.len() + 7 };
        let mut key = String::with_capacity(len);
        key.push_str(p);
        if tagged {
            key.push_str(":q:");
            key.push_str(queue);
        } else {
            key.push_str(":{");
            key.push_str(p);
            key.push_str(":q:");
            key.push_str(queue);
            key.push('}');
        }
        key.push(':');
        for s in part {
            key.push_str(s);
        }
        key
    }

    pub(crate) fn value_key(&self, key: &str) -> String {
        format!("{}:v:{key}", self.prefix)
    }

    pub(crate) fn record_key(&self, key: &str) -> String {
        format!("{}:r:{key}", self.prefix)
    }

    pub(crate) fn typed_key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.prefix)
    }

    pub(crate) async fn clock_ms(&self, key: &str) -> Result<i64, StoreError> {
        let mut c = self.conn.clone();
        let (secs, micros): (i64, i64) =
            CLOCK.key(self.value_key(key)).invoke_async(&mut c).await?;
        Ok(secs * 1000 + micros / 1000)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    /// Runs a batch script that answers one integer per item.
    pub(crate) async fn per_item(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        items: usize,
        what: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let mut c = self.conn.clone();
        let answers: Vec<i64> = invocation.invoke_async(&mut c).await?;
        if answers.len() != items {
            return Err(StoreError::Protocol(format!(
                "{what} answered {} outcomes for {items} items",
                answers.len()
            )));
        }
        Ok(answers)
    }
}

/// The part of a key Redis Cluster hashes: the first non-empty `{...}`, or
/// the whole key.
pub(crate) fn hash_tag(key: &str) -> &str {
    key.find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::{cluster_nodes, hash_tag};

    /// Keys hash by their first non-empty braces, as Redis Cluster does.
    #[test]
    fn hash_tags() {
        assert_eq!(hash_tag("p:v:{billing}:entitlement:7"), "billing");
        assert_eq!(hash_tag("p:{p:q:updates}:ready"), "p:q:updates");
        assert_eq!(hash_tag("p:v:plain"), "p:v:plain");
        assert_eq!(hash_tag("p:v:{}:x"), "p:v:{}:x");
    }

    /// Queue keys built in pieces at their exact size are the keys the
    /// layout gives, for queues with and without a scope of their own.
    #[tokio::test]
    async fn queue_keys() {
        let backend = super::RedisBackend::new("redis://127.0.0.1:6379", "pre").unwrap();
        for queue in ["updates", "{bot}:outbox"] {
            let layout = if queue.contains('{') {
                format!("pre:q:{queue}:list:chat:7")
            } else {
                format!("pre:{{pre:q:{queue}}}:list:chat:7")
            };
            let key = backend.queue_key_of(queue, &["list:", "chat:7"]);
            assert_eq!(key, layout);
            assert_eq!(key.capacity(), key.len(), "{queue}");
            assert_eq!(backend.queue_key(queue, "list:chat:7"), layout);
        }
    }

    /// Cluster URLs are recognised by scheme or by a node list.
    #[test]
    fn cluster_urls() {
        assert_eq!(cluster_nodes("redis://localhost:6379"), None);
        assert_eq!(
            cluster_nodes("redis+cluster://10.0.0.1:7000"),
            Some(vec!["redis://10.0.0.1:7000".into()])
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://:pw@a:7000,b:7001"),
            Some(vec!["rediss://:pw@a:7000".into(), "rediss://b:7001".into()])
        );
        assert_eq!(
            cluster_nodes("redis://a:7000, redis://b:7001"),
            Some(vec!["redis://a:7000".into(), "redis://b:7001".into()])
        );
    }
}
