//! Test doubles and harnesses for the mesh's end-to-end tests.
//!
//! - [`telegram`]: a Bot API double speaking the real wire format
//!   (`{"ok":..,"result":..}` envelopes, error codes, `retry_after`), which
//!   records every call with its arrival time; [`telegram_stars`] is its
//!   Telegram Stars side (invoices, payments, refunds, transactions).
//! - [`stripe`]: webhook signing (an implementation independent of the
//!   gateway's) and event builders.
//! - [`stripe_double`]: a Stripe API double (form-encoded nested keys, Bearer
//!   auth, idempotency replay, error objects, paging, signed events).
//! - [`otlp`]: an OTLP trace receiver recording every span it is sent.
//! - [`redis_server`]: a private `redis-server` a test can stop and start.
//! - [`mesh`]: the one-process mesh on ephemeral ports.
//! - [`process`]: the real binaries as child processes, logs kept.
//! - [`product`]: the whole product (mesh, Redis, both doubles) for flows.
//! - [`http`]: posting updates and events as Telegram and Stripe do.
//! - [`fault_proxy`]: a RESP proxy that fails one chosen Redis command.
//! - [`cancel`]: a future dropped at its N-th await.
//! - [`sweep`]: a flow run once per failure point, asserting exactly-once.

pub mod cancel;
pub mod fault_proxy;
pub mod http;
pub mod link;
pub mod mesh;
pub mod otlp;
pub mod pinned;
pub mod process;
pub mod product;
pub mod redis_server;
pub mod stripe;
pub mod stripe_double;
pub mod sweep;
pub mod telegram;
pub mod telegram_stars;

use std::time::Duration;

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("t-{test}-{}-{nanos}", std::process::id())
}

/// The shared Redis of the machine (see `.ci/run`).
pub fn shared_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// What every test that runs the mesh against Redis and the Bot API double
/// starts from: the shared Redis under the test's own key prefix, the
/// services' metrics listeners off, and the double as Telegram.
pub fn base_env(test: &str, telegram: &telegram::TelegramDouble) -> Vec<(&'static str, String)> {
    vec![
        ("REDIS_URL", shared_redis_url()),
        ("REDIS_KEY_PREFIX", unique_prefix(test)),
        ("BOT_METRICS_ADDR", "off".into()),
        ("BILLING_METRICS_ADDR", "off".into()),
        ("TELEGRAM_BOT_TOKEN", telegram.token.clone()),
        ("TELEGRAM_API_URL", telegram.url.clone()),
    ]
}

/// A free loopback port (bound and released; the OS does not hand it out
/// again right away).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Polls `check` until it returns `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs of in-process components to the test output when `TEST_LOG` is set
/// (a `RUST_LOG`-style filter), for debugging a failing test.
pub fn init_logs() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}
