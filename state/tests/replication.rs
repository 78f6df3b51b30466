//! Acknowledgement by replicas (`WAIT`): a single Redis without replicas
//! falls short and says by how much; on the test cluster (one replica per
//! master) the wait goes to the shard that took the write, whichever it
//! is, and asking more replicas than a shard has falls short there too.

#![allow(clippy::unwrap_used)]

// Only its Redis URLs and prefixes: the suite macro is for the suites.
#[allow(unused_macros)]
mod common;

use std::time::Duration;

use mesh_state::{Ack, Store, StoreError};

/// A wait that should succeed is given long enough for a loaded machine
/// (it answers as soon as the replica has the write); one that should
/// fall short, little.
fn ack(replicas: u32, timeout_ms: u64) -> Ack {
    Ack {
        replicas,
        timeout: Duration::from_millis(timeout_ms),
    }
}

/// No replicas asked: nothing to wait for, on every backend.
#[tokio::test]
async fn nothing_asked_nothing_awaited() {
    let redis = Store::redis(&common::redis_url(), &common::unique_prefix("ack0")).unwrap();
    for store in [Store::memory(), redis] {
        store.set("{s}:x", b"1", None).await.unwrap();
        store.replicated("{s}:x", "test").await.unwrap();
    }
}

/// A lone Redis has no replica to hold the write: not acknowledged.
#[tokio::test]
async fn lone_redis_falls_short() {
    let store = Store::redis(&common::redis_url(), &common::unique_prefix("ack1"))
        .unwrap()
        .with_ack(ack(1, 50));
    store.set("{s}:x", b"1", None).await.unwrap();
    match store.replicated("{s}:x", "test").await {
        Err(StoreError::NotReplicated { wanted, got, .. }) => assert_eq!((wanted, got), (1, 0)),
        other => panic!("expected a shortfall, got {other:?}"),
    }
}

/// On the cluster each shard's primary has one replica: a write in any
/// slot is acknowledged by it (the wait reached that shard's primary: a
/// replica or another shard would refuse or count nothing), and two
/// replicas are more than a shard has.
#[tokio::test]
async fn cluster_waits_on_the_shard_of_the_write() {
    let prefix = common::unique_prefix("ackc");
    let store = Store::redis(&common::cluster_url(), &prefix)
        .unwrap()
        .with_ack(ack(1, 1500));
    // Scopes whose slots fall on each of the three masters.
    for scope in ["{a}", "{b}", "{c}", "{bot}", "{billing}"] {
        let key = format!("{scope}:x");
        store.set(&key, b"1", None).await.unwrap();
        store.replicated(&key, "test").await.unwrap();
    }
    let greedy = store.with_ack(ack(2, 300));
    greedy.set("{a}:y", b"1", None).await.unwrap();
    match greedy.replicated("{a}:y", "test").await {
        Err(StoreError::NotReplicated { wanted, got, .. }) => assert!(wanted == 2 && got < 2),
        other => panic!("expected a shortfall, got {other:?}"),
    }
}
