//! The Redis backend.
//!
//! Key layout (all under the store's prefix `P`):
//! - `P:{P:q:NAME}:seen:ID` (or `:bits:SEGMENT` for sequence ids), `:list:PARTITION`, `:ready`, `:attempts`,
//!   `:held`, `:pending`, `:dead`, `:since`: one queue; the shared hash tag puts them
//!   in one cluster slot, which the Lua scripts need. A queue named with a
//!   scope (`{bot}:updates`) lives in that scope's slot instead:
//!   `P:q:{bot}:updates:ready`, so transactions can span it and the
//!   scope's other keys.
//! - `P:{P:rl:KEY}:tat`, `:notice` and `:memo:ID`: one rate limit.
//! - `P:v:KEY`: plain values; `P:r:KEY`: versioned records (hash `v`, `d`);
//!   `P:s:`, `P:l:`, `P:z:`, `P:x:` sets, lists, schedules and logs. A key
//!   with a `{scope}` in it takes that scope's slot (Redis hashes only the
//!   part in braces), which is how a transaction's keys share one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, RedisFuture, Script, Value};

use crate::error::{ConfigField, StoreError};
use crate::queue::{
    Claim, Claims, DeadLetter, Enqueued, LaneSlot, NewItem, QueueConfig, QueueStats, SEGMENT_IDS,
    lane_item, placement, sequence,
};
use crate::store::RateDecision;
use crate::tx::{Guard, Op, Settle, Tx, TxOutcome};

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/enqueue.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/claim.lua")));
static COMMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/commit.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/renew.lua")));
static STATS: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/stats.lua")));
static REPLAY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/replay.lua")));
static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/gcra.lua")));
static RESERVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/reserve.lua")));
/// The server's clock, run as a script only so that a cluster routes it
/// to the node of the key it names (TIME itself takes no key).
static CLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new("local t = redis.call('TIME') return {tonumber(t[1]), tonumber(t[2])}")
});
static PUT_IF_NEWER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/put_if_newer.lua")));

/// One stream entry as XRANGE returns it: id and field/value pairs.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// A Redis connection (multiplexed, reconnecting) and a key prefix.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    conn: Conn,
    prefix: String,
}

/// A single node (ConnectionManager) or a cluster. Every multi-key
/// operation's keys share a hash tag, so the same commands and scripts
/// work on both.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

/// A cluster connection made on first use (and again after a failed
/// attempt), so a cluster that is down at start-up needs no restart. Once
/// made, redis-rs follows slot moves and reconnects nodes itself.
struct LazyCluster {
    client: redis::cluster::ClusterClient,
    conn: tokio::sync::Mutex<Option<ClusterConnection>>,
}

impl LazyCluster {
    async fn get(&self) -> redis::RedisResult<ClusterConnection> {
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

fn ms(d: Duration) -> u64 {
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
        })
    }

    fn queue_key(&self, queue: &str, part: &str) -> String {
        if queue.contains('{') {
            format!("{p}:q:{queue}:{part}", p = self.prefix)
        } else {
            format!("{p}:{{{p}:q:{queue}}}:{part}", p = self.prefix)
        }
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

    pub(crate) async fn enqueue_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        items: &[NewItem<'_>],
    ) -> Result<Vec<Enqueued>, StoreError> {
        let mut invocation = ENQUEUE.key(self.queue_key(queue, "ready"));
        invocation
            .key(self.queue_key(queue, "pending"))
            .key(self.queue_key(queue, "since"))
            .arg(ms(config.dedup_ttl));
        for new in items {
            let (mark, offset) = match sequence(config, new.id) {
                Some(seq) => (
                    self.queue_key(queue, &format!("bits:{}", seq / SEGMENT_IDS)),
                    (seq % SEGMENT_IDS).to_string(),
                ),
                None => (
                    self.queue_key(queue, &format!("seen:{}", new.id)),
                    String::new(),
                ),
            };
            // A remembered-only item names no list of its own; the key
            // slot still holds one of the queue's keys for Cluster routing.
            // In a queue with lanes the item goes to its partition's lane,
            // the partition travelling with it.
            let (name, entry) = if new.remember_only {
                (String::new(), Vec::new())
            } else {
                placement(config.lanes, new.partition, new.item)
            };
            invocation
                .key(mark)
                .key(self.queue_key(queue, &format!("list:{name}")))
                .arg(name)
                .arg(entry)
                .arg(offset)
                .arg(u8::from(new.remember_only));
        }
        let added = self.per_item(&invocation, items.len(), "enqueue").await?;
        Ok(added
            .into_iter()
            .map(|a| {
                if a == 1 {
                    Enqueued::New
                } else {
                    Enqueued::Duplicate
                }
            })
            .collect())
    }

    pub(crate) async fn claim_many(
        &self,
        queue: &str,
        config: &QueueConfig,
        most: usize,
    ) -> Result<Claims, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<Value> = CLAIM
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, "attempts"))
            .key(self.queue_key(queue, "held"))
            .key(self.queue_key(queue, "since"))
            .arg(ms(config.lease))
            .arg(self.queue_key(queue, "list:"))
            .arg(most.max(1))
            .invoke_async(&mut c)
            .await?;
        parse_claims(reply)
    }

    pub(crate) async fn renew(
        &self,
        queue: &str,
        claims: &[&Claim],
        lease: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let mut invocation = RENEW.key(self.queue_key(queue, "ready"));
        invocation.key(self.queue_key(queue, "held")).arg(ms(lease));
        for claim in claims {
            invocation.arg(claim.lease()).arg(claim.token);
        }
        let renewed = self.per_item(&invocation, claims.len(), "renew").await?;
        Ok(renewed.into_iter().map(|r| r == 1).collect())
    }

    /// Applies transactions in one script call (see `lua/commit.lua` for
    /// the encoding). Every key must share one hash tag.
    pub(crate) async fn commit_all(&self, txs: &[Tx]) -> Result<Vec<TxOutcome>, StoreError> {
        let mut keys: Vec<String> = Vec::new();
        let mut args: Vec<Vec<u8>> = vec![txs.len().to_string().into_bytes()];
        for tx in txs {
            args.push(tx.guards.len().to_string().into_bytes());
            for guard in &tx.guards {
                self.encode_guard(guard, &mut keys, &mut args);
            }
            args.push(tx.ops.len().to_string().into_bytes());
            for op in &tx.ops {
                self.encode_op(op, &mut keys, &mut args);
            }
        }
        // `check_one_slot` has vetted the logical keys; this catches a
        // layout that maps them apart.
        if let Some(first) = keys.first() {
            let tag = hash_tag(first);
            if let Some(other) = keys.iter().find(|k| hash_tag(k) != tag) {
                return Err(StoreError::Protocol(format!(
                    "keys of one commit must share a hash tag: {first} and {other} do not"
                )));
            }
        }
        let mut invocation = COMMIT.prepare_invoke();
        for k in &keys {
            invocation.key(k);
        }
        for a in &args {
            invocation.arg(a.as_slice());
        }
        let refused = self.per_item(&invocation, txs.len(), "commit").await?;
        Ok(refused
            .into_iter()
            .map(|r| match usize::try_from(r) {
                Ok(0) | Err(_) => TxOutcome::Committed,
                Ok(g) => TxOutcome::Refused(g - 1),
            })
            .collect())
    }

    fn encode_guard(&self, guard: &Guard, keys: &mut Vec<String>, args: &mut Vec<Vec<u8>>) {
        match guard {
            Guard::Rev { key, rev } => {
                args.push(b"rev".to_vec());
                keys.push(self.record_key(key));
                args.push(rev.to_string().into_bytes());
            }
            Guard::Absent { key } => {
                args.push(b"absent".to_vec());
                keys.push(self.value_key(key));
            }
            Guard::Lease {
                queue,
                partition,
                token,
            } => {
                args.push(b"lease".to_vec());
                keys.push(self.queue_key(queue, "held"));
                args.push(partition.clone().into_bytes());
                args.push(token.to_string().into_bytes());
            }
            Guard::Lane {
                queue,
                lane,
                token,
                pos,
            } => {
                args.push(b"laneheld".to_vec());
                keys.push(self.queue_key(queue, "held"));
                args.push(lane.clone().into_bytes());
                args.push(token.to_string().into_bytes());
                args.push(pos.to_string().into_bytes());
            }
        }
    }

    fn encode_op(&self, op: &Op, keys: &mut Vec<String>, args: &mut Vec<Vec<u8>>) {
        let mut name = |n: &str| args.push(n.as_bytes().to_vec());
        match op {
            Op::Put { key, rev, data } => {
                name("put");
                keys.push(self.record_key(key));
                args.push(rev.to_string().into_bytes());
                args.push(data.clone());
            }
            Op::Set { key, value, ttl } => {
                name("set");
                keys.push(self.value_key(key));
                args.push(value.clone());
                args.push(ttl.map_or(0, ms).to_string().into_bytes());
            }
            Op::Delete { key } => {
                name("del");
                keys.push(self.value_key(key));
            }
            Op::Incr { key, by, ttl } => {
                name("incr");
                keys.push(self.value_key(key));
                args.push(by.to_string().into_bytes());
                args.push(ttl.map_or(0, ms).to_string().into_bytes());
            }
            Op::SetAdd { key, member } => {
                name("sadd");
                keys.push(self.typed_key("s", key));
                args.push(member.clone().into_bytes());
            }
            Op::SetRemove { key, member } => {
                name("srem");
                keys.push(self.typed_key("s", key));
                args.push(member.clone().into_bytes());
            }
            Op::ListPush { key, value, cap } => {
                name("push");
                keys.push(self.typed_key("l", key));
                args.push(value.clone());
                args.push(cap.to_string().into_bytes());
            }
            Op::LogAppend { key, entry, cap } => {
                name("xadd");
                keys.push(self.typed_key("x", key));
                args.push(cap.to_string().into_bytes());
                args.push(entry.clone());
            }
            Op::Schedule { key, member, at } => {
                name("zadd");
                keys.push(self.typed_key("z", key));
                args.push(member.clone().into_bytes());
                args.push(at.to_string().into_bytes());
            }
            Op::Unschedule { key, member } => {
                name("zrem");
                keys.push(self.typed_key("z", key));
                args.push(member.clone().into_bytes());
            }
            Op::Enqueue {
                queue,
                dedup_ttl,
                lanes,
                id,
                partition,
                item,
            } => {
                name("enq");
                let (list, entry) = placement(*lanes, partition, item);
                keys.push(self.queue_key(queue, "ready"));
                keys.push(self.queue_key(queue, "pending"));
                keys.push(self.queue_key(queue, "since"));
                keys.push(self.queue_key(queue, &format!("seen:{id}")));
                keys.push(self.queue_key(queue, &format!("list:{list}")));
                args.push(ms(*dedup_ttl).to_string().into_bytes());
                args.push(list.into_bytes());
                args.push(entry);
            }
            Op::Lane {
                queue,
                lane,
                partition,
                last,
                settle,
            } => {
                name("lane");
                for part in ["ready", "held", "attempts", "pending", "dead", "since"] {
                    keys.push(self.queue_key(queue, part));
                }
                keys.push(self.queue_key(queue, &format!("list:{lane}")));
                keys.push(self.queue_key(queue, &format!("list:{partition}")));
                args.push(lane.clone().into_bytes());
                args.push(partition.clone().into_bytes());
                args.push(if *last { b"1".to_vec() } else { b"0".to_vec() });
                let (mode, text, n): (&str, String, u32) = match settle {
                    Settle::Ack => ("ack", String::new(), 0),
                    Settle::Dead { reason, attempts } => ("dead", reason.clone(), *attempts),
                    Settle::Park { delay, attempts } => ("park", ms(*delay).to_string(), *attempts),
                    Settle::Follow => ("follow", String::new(), 0),
                };
                args.push(mode.as_bytes().to_vec());
                args.push(text.into_bytes());
                args.push(n.to_string().into_bytes());
            }
            Op::Ack {
                queue,
                partition,
                dead,
            } => {
                name("ack");
                for part in ["ready", "held", "attempts", "pending", "dead", "since"] {
                    keys.push(self.queue_key(queue, part));
                }
                keys.push(self.queue_key(queue, &format!("list:{partition}")));
                args.push(partition.clone().into_bytes());
                args.push(dead.clone().unwrap_or_default().into_bytes());
            }
            Op::Release {
                queue,
                partition,
                delay,
                counts,
            } => {
                name("rel");
                for part in ["ready", "held", "attempts"] {
                    keys.push(self.queue_key(queue, part));
                }
                args.push(partition.clone().into_bytes());
                args.push(
                    u64::try_from(delay.as_millis())
                        .unwrap_or(u64::MAX)
                        .to_string()
                        .into_bytes(),
                );
                args.push(if *counts {
                    b"1".to_vec()
                } else {
                    b"0".to_vec()
                });
            }
        }
    }

    /// Runs a batch script that answers one integer per item.
    async fn per_item(
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

    pub(crate) async fn pending(&self, queue: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        let n: Option<i64> = c.get(self.queue_key(queue, "pending")).await?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    pub(crate) async fn queue_stats(&self, queue: &str) -> Result<QueueStats, StoreError> {
        let mut c = self.conn.clone();
        let r: Vec<i64> = STATS
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, "held"))
            .key(self.queue_key(queue, "pending"))
            .key(self.queue_key(queue, "since"))
            .key(self.queue_key(queue, "dead"))
            .arg(QueueStats::WALK_CAP)
            .invoke_async(&mut c)
            .await?;
        let [items, partitions, oldest, held, paused, longest, dead, now] = r[..] else {
            return Err(StoreError::Protocol(format!("stats answered {r:?}")));
        };
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(QueueStats {
            items: count(items),
            partitions: count(partitions),
            // Both times are Redis's clock: no skew with this host.
            oldest_age: (oldest >= 0).then(|| Duration::from_millis(count(now - oldest))),
            held: count(held),
            paused: count(paused),
            longest_pause: Duration::from_millis(count(longest)),
            dead_letters: count(dead),
        })
    }

    pub(crate) async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<StreamEntry> = redis::cmd("XRANGE")
            .arg(self.queue_key(queue, "dead"))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut c)
            .await?;
        Ok(reply
            .into_iter()
            .map(|(id, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(f, _)| f == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let text = |name: &str| String::from_utf8_lossy(&field(name)).into_owned();
                DeadLetter {
                    at_ms: id
                        .split_once('-')
                        .and_then(|(ms, _)| ms.parse().ok())
                        .unwrap_or_default(),
                    id,
                    partition: text("p"),
                    item: field("i"),
                    reason: text("r"),
                    attempts: text("a").parse().unwrap_or_default(),
                }
            })
            .collect())
    }

    pub(crate) async fn dead_letter_count(&self, queue: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        let n: u64 = redis::cmd("XLEN")
            .arg(self.queue_key(queue, "dead"))
            .query_async(&mut c)
            .await?;
        Ok(n)
    }

    pub(crate) async fn replay_dead_letter(
        &self,
        queue: &str,
        config: &QueueConfig,
        id: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let done: i64 = REPLAY
            .key(self.queue_key(queue, "dead"))
            .key(self.queue_key(queue, "ready"))
            .key(self.queue_key(queue, "pending"))
            .key(self.queue_key(queue, "since"))
            .arg(id)
            .arg(self.queue_key(queue, "list:"))
            .arg(config.lanes)
            .invoke_async(&mut c)
            .await?;
        Ok(done == 1)
    }

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
        self.log_end(key, "XREVRANGE", "+", "-").await
    }

    /// Whether entries after `cursor` were trimmed from the log: it was
    /// trimmed at all (more entries added than kept) and the cursor is older
    /// than the first kept entry. Conservative by one entry: a cursor equal
    /// to the last trimmed id also counts (stream ids have no predecessor).
    pub(crate) async fn log_gap_after(&self, key: &str, cursor: &str) -> Result<bool, StoreError> {
        let Some(cursor) = stream_id(cursor) else {
            return Err(StoreError::Protocol(format!(
                "not a log cursor: {cursor:?}"
            )));
        };
        let mut c = self.conn.clone();
        let info: Result<HashMap<String, Value>, _> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(self.typed_key("x", key))
            .query_async(&mut c)
            .await;
        // No log at all: nothing is known to be missing.
        let Ok(info) = info else { return Ok(false) };
        let int = |name: &str| match info.get(name) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        };
        if int("entries-added") <= int("length") {
            return Ok(false);
        }
        let first = match info.get("first-entry") {
            Some(Value::Array(entry)) => match entry.first() {
                Some(Value::BulkString(id)) => stream_id(&String::from_utf8_lossy(id)),
                _ => None,
            },
            _ => None,
        };
        Ok(first.is_none_or(|first| cursor < first))
    }

    pub(crate) async fn log_first_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.log_end(key, "XRANGE", "-", "+").await
    }

    async fn log_end(
        &self,
        key: &str,
        command: &str,
        from: &str,
        to: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        let reply: Vec<StreamEntry> = redis::cmd(command)
            .arg(self.typed_key("x", key))
            .arg(from)
            .arg(to)
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await?;
        Ok(reply.into_iter().next().map(|(id, _)| id))
    }
}

/// The part of a key Redis Cluster hashes: the first non-empty `{...}`, or
/// the whole key.
fn hash_tag(key: &str) -> &str {
    key.find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key)
}

/// An item as stored, without the enqueue time the scripts put in front
/// (`\x01MS\x01`; see `lua/enqueue.lua`). An item stored by an older
/// version has none and is returned as it is.
fn unstamp(mut stored: Vec<u8>) -> Vec<u8> {
    if stored.first() == Some(&1)
        && let Some(end) = stored.iter().skip(1).take(20).position(|&b| b == 1)
        && stored[1..=end].iter().all(u8::is_ascii_digit)
    {
        stored.drain(..end + 2);
    }
    stored
}

/// A stream id (`ms-seq`) as a comparable pair.
fn stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn parse_claims(reply: Vec<Value>) -> Result<Claims, StoreError> {
    use redis::FromRedisValue;
    fn read<T: FromRedisValue>(v: Option<Value>, what: &str) -> Result<T, StoreError> {
        let v = v.ok_or_else(|| StoreError::Protocol(format!("claim reply: no {what}")))?;
        T::from_redis_value(v).map_err(|_| StoreError::Protocol(format!("claim reply: bad {what}")))
    }
    let mut it = reply.into_iter();
    match read::<i64>(it.next(), "flag")? {
        1 => {
            let token: i64 = read(it.next(), "token")?;
            let mut claims = Vec::new();
            while let Some(lease) = it.next() {
                let lease: String = read(Some(lease), "lease")?;
                let partition: String = read(it.next(), "partition")?;
                let item: Vec<u8> = read(it.next(), "item")?;
                let attempts =
                    u32::try_from(read::<i64>(it.next(), "attempts")?).unwrap_or(u32::MAX);
                let pos: i64 = read(it.next(), "position")?;
                let run: i64 = read(it.next(), "run")?;
                // Both come stamped; a lane's entry also carries its
                // partition in front of the item.
                let item = unstamp(item);
                let (item, lane) = match u32::try_from(pos) {
                    Ok(pos) => (
                        lane_item(item),
                        Some(LaneSlot {
                            name: lease,
                            pos,
                            run: u32::try_from(run).unwrap_or(1),
                        }),
                    ),
                    Err(_) => (item, None),
                };
                claims.push(Claim {
                    partition,
                    item,
                    token,
                    attempts,
                    lane,
                });
            }
            Ok(Claims::Claimed(claims))
        }
        0 => {
            let wait: i64 = read(it.next(), "wait")?;
            Ok(Claims::Idle(
                u64::try_from(wait).ok().map(Duration::from_millis),
            ))
        }
        other => Err(StoreError::Protocol(format!("claim reply: flag {other}"))),
    }
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
