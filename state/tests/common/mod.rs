//! What the store's suites share: the backends every scenario runs on,
//! and claim helpers.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use mesh_state::{Claim, ClaimResult, QueueConfig, Store};

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The test Redis Cluster's URL, starting the cluster once if needed
/// (`tests/redis-cluster.sh`: six local redis-server processes).
pub fn cluster_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_REDIS_CLUSTER_URL") {
            return url;
        }
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/redis-cluster.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("run tests/redis-cluster.sh");
        assert!(
            out.status.success(),
            "cluster start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
    .clone()
}

pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("test:{test}:{}:{nanos}", std::process::id())
}

pub async fn claimed(store: &Store, queue: &str, cfg: &QueueConfig) -> Claim {
    match store.claim(queue, cfg).await.expect("claim") {
        ClaimResult::Claimed(c) => c,
        other => panic!("expected a claim, got {other:?}"),
    }
}

/// Polls until a claim appears, for behaviour that waits on the backend's
/// own clock (Redis server time); bounded, never a fixed sleep.
pub async fn claimed_within(
    store: &Store,
    queue: &str,
    cfg: &QueueConfig,
    limit: Duration,
) -> Claim {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match store.claim(queue, cfg).await.expect("claim") {
            ClaimResult::Claimed(c) => return c,
            ClaimResult::Idle(wait) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no claim within {limit:?}"
                );
                tokio::time::sleep(
                    wait.unwrap_or(Duration::from_millis(10))
                        .min(Duration::from_millis(20)),
                )
                .await;
            }
        }
    }
}

/// Runs each scenario on the in-process store, on Redis and on a Redis
/// Cluster, each Redis run under its own key prefix.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(mesh_state::Store::memory()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = mesh_state::Store::redis(&crate::common::redis_url(), &crate::common::unique_prefix(stringify!($name)))
                        .expect("redis store");
                    store.ping().await.expect("a Redis server on TEST_REDIS_URL (see .ci/run)");
                    super::$name(store).await;
                }
            )*
        }
        /// The same suite on a 3-master Redis Cluster: every multi-key
        /// script's keys share a hash tag.
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    let url = crate::common::cluster_url();
                    let store = mesh_state::Store::redis(&url, &crate::common::unique_prefix(stringify!($name)))
                        .expect("cluster store");
                    store.ping().await.expect("the test Redis Cluster");
                    super::$name(store).await;
                }
            )*
        }
    };
}
