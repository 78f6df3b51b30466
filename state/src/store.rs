//! [`Store`]: the one handle services use, whichever backend is behind it.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::durability::Ack;
use crate::error::{ConfigField, StoreError};
use crate::memory::MemoryBackend;
use crate::redis_backend::RedisBackend;

/// The client span of one Redis call (OpenTelemetry's database
/// conventions; never the URL, which may hold a password). The in-process
/// store makes no spans: there is no database to see. Nor does a call made
/// outside any span (idle polls, gauge samples): it would start a trace of
/// its own every few seconds and bury the traces that matter.
pub(crate) fn redis_span(name: &'static str, command: &'static str) -> tracing::Span {
    if tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "redis",
        otel.name = name,
        otel.kind = "client",
        db.system.name = "redis",
        db.operation.name = command,
    )
}

/// Which backend a [`Store`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-process.
    Memory,
    /// Redis (single node).
    Redis,
}

/// A handle on the shared state. Cheap to clone; every clone shares the
/// same connection (Redis) or the same maps (memory). All keys live under
/// the store's prefix, so tests and tenants sharing one Redis never collide.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Inner,
    /// How many replicas must hold a write before it is acknowledged.
    pub(crate) ack: Ack,
}

#[derive(Clone)]
pub(crate) enum Inner {
    Memory(Arc<MemoryBackend>),
    Redis(RedisBackend),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the Redis URL: it may carry a password.
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// An in-process store.
    pub fn memory() -> Self {
        Self {
            inner: Inner::Memory(Arc::new(MemoryBackend::new())),
            ack: Ack::default(),
        }
    }

    /// A Redis store. Connects lazily and reconnects on its own, so a Redis
    /// that is down at start-up or restarts later needs no process restart;
    /// until it answers, calls fail with [`StoreError::Unavailable`].
    pub fn redis(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            inner: Inner::Redis(RedisBackend::new(url, prefix)?),
            ack: Ack::default(),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Memory(_) => Backend::Memory,
            Inner::Redis(_) => Backend::Redis,
        }
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Memory(_) => Ok(()),
            Inner::Redis(r) => r.ping().instrument(redis_span("state.ping", "PING")).await,
        }
    }

    /// The store's clock in unix milliseconds, read on the node that holds
    /// `key`: one clock for every replica, so reads stamped with it order
    /// the same way whichever replica made them.
    pub async fn clock_ms(&self, key: &str) -> Result<i64, StoreError> {
        match &self.inner {
            Inner::Memory(_) => Ok(crate::memory::unix_ms()),
            Inner::Redis(r) => {
                r.clock_ms(key)
                    .instrument(redis_span("state.clock", "EVALSHA"))
                    .await
            }
        }
    }
}

/// One call on whichever backend the store has: the in-process side's
/// answer as it is, the Redis side's under a client span named `$span`
/// (`$command` the Redis command it sends). Every [`Store`] method that is
/// one backend call goes through here, so a new one is one line.
macro_rules! on_backend {
    ($store:expr, $span:literal, $command:literal, $b:ident => $call:expr) => {
        match &$store.inner {
            crate::store::Inner::Memory($b) => Ok($call),
            crate::store::Inner::Redis($b) => {
                tracing::Instrument::instrument($call, crate::store::redis_span($span, $command))
                    .await
            }
        }
    };
}
pub(crate) use on_backend;

impl Store {
    /// The store the environment asks for: Redis when `REDIS_URL` is set
    /// (keys under `REDIS_KEY_PREFIX`, default `mesh`), else in-process.
    /// `STORE_ACK_REPLICAS` and `STORE_ACK_TIMEOUT_MS` say how many
    /// replicas must hold a durable write before it is acknowledged.
    pub fn from_env(env: &mesh_runtime::Env) -> Result<Self, mesh_runtime::ConfigError> {
        let ack = Ack::from_env(env)?;
        match env.get("REDIS_URL") {
            None if ack.replicas > 0 => Err(mesh_runtime::ConfigError::new(
                "STORE_ACK_REPLICAS",
                "needs REDIS_URL: the in-process store has no replicas",
            )),
            None => Ok(Self::memory()),
            Some(url) => {
                let prefix = env.get("REDIS_KEY_PREFIX").unwrap_or("mesh");
                Self::redis(url, prefix)
                    .map_err(|e| {
                        let var = match &e {
                            StoreError::Config {
                                field: ConfigField::Prefix,
                                ..
                            } => "REDIS_KEY_PREFIX",
                            _ => "REDIS_URL",
                        };
                        mesh_runtime::ConfigError::new(var, e)
                    })
                    .map(|store| Self { ack, ..store })
            }
        }
    }
}

/// Runs `op` until it succeeds or `within` has passed, backing off from
/// 50 ms to 1 s. Made for settling a claim after the work is done: while
/// the lease is ours, an acknowledgement that lands late is still the
/// acknowledgement (a redelivery would repeat the work).
pub async fn retry_within<T, F, Fut>(within: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut delay = Duration::from_millis(50);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() + delay >= deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mesh_runtime::Env;

    use super::Store;

    /// A bad setting is blamed by its variable, from the error's field
    /// (not by searching its message), and the URL is never echoed.
    #[test]
    fn configuration_errors_name_their_variable() {
        let env = |url: &str, prefix: &str| {
            Env::default()
                .with("REDIS_URL", url)
                .with("REDIS_KEY_PREFIX", prefix)
        };
        let prefix = Store::from_env(&env("redis://127.0.0.1:6379", "a{b}")).err();
        assert_eq!(prefix.map(|e| e.var), Some("REDIS_KEY_PREFIX".into()));
        let url = Store::from_env(&env("nonsense://user:hunter2@host", "mesh")).err();
        let url = url.expect("a bad URL is refused");
        assert_eq!(url.var, "REDIS_URL");
        assert!(!url.to_string().contains("hunter2"), "{url}");
    }
}
