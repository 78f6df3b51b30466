//! queue: the Redis side.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script, Value};

use crate::error::StoreError;
use crate::queue::{
    Claim, Claims, DeadLetter, Enqueued, LaneSlot, NewItem, QueueConfig, QueueStats, SEGMENT_IDS,
    lane_item, placement, sequence,
};
use crate::redis_backend::*;

pub(crate) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| script(include_str!("enqueue.lua")));

pub(crate) static CLAIM: LazyLock<Script> = LazyLock::new(|| script(include_str!("claim.lua")));

pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| script(include_str!("renew.lua")));

pub(crate) static STATS: LazyLock<Script> = LazyLock::new(|| script(include_str!("stats.lua")));

pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| script(include_str!("replay.lua")));

/// An item as stored, without the enqueue time the scripts put in front
/// (`\x01MS\x01`; see `lua/enqueue.lua`). An item stored by an older
/// version has none and is returned as it is.
pub(crate) fn unstamp(mut stored: Vec<u8>) -> Vec<u8> {
    if stored.first() == Some(&1)
        && let Some(end) = stored.iter().skip(1).take(20).position(|&b| b == 1)
        && stored[1..=end].iter().all(u8::is_ascii_digit)
    {
        stored.drain(..end + 2);
    }
    stored
}

pub(crate) fn parse_claims(reply: Vec<Value>) -> Result<Claims, StoreError> {
    use redis::FromRedisValue;
    pub(crate) fn read<T: FromRedisValue>(v: Option<Value>, what: &str) -> Result<T, StoreError> {
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

impl RedisBackend {
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
                    self.queue_key_of(queue, &["bits:", &(seq / SEGMENT_IDS).to_string()]),
                    (seq % SEGMENT_IDS).to_string(),
                ),
                None => (self.queue_key_of(queue, &["seen:", new.id]), String::new()),
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
                .key(self.queue_key_of(queue, &["list:", &name]))
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
}
