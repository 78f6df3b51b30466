//! Where a transaction's keys live: every key of one commit must share a
//! Redis Cluster slot, and queue partitions must be names a lane entry
//! can carry.

use super::Tx;
use super::steps::{Guard, Op};

/// The slot a logical key falls in: its `{scope}` when it has one, else
/// the key itself under its kind (Redis hashes `P:v:KEY` and `P:s:KEY`
/// apart). Queues without a scope have a tag of their own.
fn slot<'k>(kind: &'static str, key: &'k str) -> (Option<&'static str>, &'k str) {
    match scope_of(key) {
        Some(scope) => (None, scope),
        None => (Some(kind), key),
    }
}

fn scope_of(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let rest = &key[open + 1..];
    rest.find('}')
        .filter(|&close| close > 0)
        .map(|close| &rest[..close])
}

impl Tx {
    pub(crate) fn slots(&self) -> impl Iterator<Item = (Option<&'static str>, &str)> {
        let guards = self.guards.iter().map(|g| match g {
            Guard::Rev { key, .. } => slot("r", key),
            Guard::Absent { key } => slot("v", key),
            Guard::Lease { queue, .. } | Guard::Lane { queue, .. } => slot("q", queue),
        });
        let ops = self.ops.iter().map(|op| match op {
            Op::Put { key, .. } => slot("r", key),
            Op::Set { key, .. } | Op::Delete { key } | Op::Incr { key, .. } => slot("v", key),
            Op::SetAdd { key, .. } | Op::SetRemove { key, .. } => slot("s", key),
            Op::ListPush { key, .. } => slot("l", key),
            Op::LogAppend { key, .. } => slot("x", key),
            Op::Schedule { key, .. } | Op::Unschedule { key, .. } => slot("z", key),
            Op::Enqueue { queue, .. }
            | Op::Ack { queue, .. }
            | Op::Release { queue, .. }
            | Op::Lane { queue, .. } => slot("q", queue),
        });
        guards.chain(ops)
    }
}

/// Refuses transactions whose keys would span Redis Cluster slots: one
/// script can only touch one slot. Checked by both backends, so the
/// in-process store catches the mistake too.
pub(crate) fn check_one_slot(txs: &[Tx]) -> Result<(), crate::StoreError> {
    let mut slots = txs.iter().flat_map(Tx::slots);
    let Some(first) = slots.next() else {
        return Ok(());
    };
    match slots.find(|s| *s != first) {
        None => Ok(()),
        Some(other) => Err(crate::StoreError::Protocol(format!(
            "keys of one commit must share a {{scope}}: {first:?} and {other:?} do not"
        ))),
    }
}

/// Refuses an enqueue to a partition whose name could pass for a lane or
/// break a lane entry apart (see [`crate::queue::check_partition`]).
pub(crate) fn check_partitions(txs: &[Tx]) -> Result<(), crate::StoreError> {
    txs.iter()
        .flat_map(|tx| &tx.ops)
        .try_for_each(|op| match op {
            Op::Enqueue { partition, .. } => crate::queue::check_partition(partition),
            _ => Ok(()),
        })
}
