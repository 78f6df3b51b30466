//! tx: the Redis side.

use std::sync::LazyLock;

use redis::Script;

use crate::error::StoreError;
use crate::queue::placement;
use crate::redis_backend::*;
use crate::tx::{Guard, Op, Settle, Tx, TxOutcome};

pub(crate) static COMMIT: LazyLock<Script> =
    LazyLock::new(|| script(&super::table::commit_script()));

impl RedisBackend {
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

    pub(crate) fn encode_guard(
        &self,
        guard: &Guard,
        keys: &mut Vec<String>,
        args: &mut Vec<Vec<u8>>,
    ) {
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

    pub(crate) fn encode_op(&self, op: &Op, keys: &mut Vec<String>, args: &mut Vec<Vec<u8>>) {
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
                let (list, entry) = placement(*lanes, partition, item);
                // 0: no mark (see `QueueConfig::dedup_ttl`): the step
                // without the mark's key and ttl, two values fewer per
                // reply for the script to take in.
                let marked = !dedup_ttl.is_zero();
                name(if marked { "enq" } else { "enq0" });
                for part in ["ready", "pending", "since"] {
                    keys.push(self.queue_key(queue, part));
                }
                if marked {
                    keys.push(self.queue_key_of(queue, &["seen:", id]));
                }
                keys.push(self.queue_key_of(queue, &["list:", &list]));
                if marked {
                    args.push(ms(*dedup_ttl).to_string().into_bytes());
                }
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
                let last = if *last { b"1".to_vec() } else { b"0".to_vec() };
                let (mode, text, n): (&str, String, u32) = match settle {
                    Settle::Ack => {
                        // The common settle, with only the keys an
                        // acknowledgement touches: seven values fewer per
                        // item for the script to take in than `lane`.
                        name("lack");
                        for part in ["ready", "held", "attempts", "pending"] {
                            keys.push(self.queue_key(queue, part));
                        }
                        keys.push(self.queue_key_of(queue, &["list:", lane]));
                        args.push(lane.clone().into_bytes());
                        args.push(last);
                        return;
                    }
                    Settle::Dead { reason, attempts } => ("dead", reason.clone(), *attempts),
                    Settle::Park { delay, attempts } => ("park", ms(*delay).to_string(), *attempts),
                    Settle::Follow => ("follow", String::new(), 0),
                };
                name("lane");
                for part in ["ready", "held", "attempts", "pending", "dead", "since"] {
                    keys.push(self.queue_key(queue, part));
                }
                keys.push(self.queue_key_of(queue, &["list:", lane]));
                keys.push(self.queue_key_of(queue, &["list:", partition]));
                args.push(lane.clone().into_bytes());
                args.push(partition.clone().into_bytes());
                args.push(last);
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
                keys.push(self.queue_key_of(queue, &["list:", partition]));
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
}
