//! What an acknowledged write survives: what Redis keeps across a restart
//! ([`Durability`], read from its settings) and how many replicas must
//! hold a write before it is acknowledged ([`Ack`], `WAIT`), so a failover
//! to a replica cannot lose it.
//!
//! The Redis side is in `redis.rs`; the in-process store has no replicas
//! and keeps nothing across a restart.

mod redis;

use std::time::Duration;

use tracing::Instrument;

use crate::error::StoreError;
use crate::store::{Inner, Store, redis_span};

/// What an acknowledged write survives: what the store keeps across a
/// restart, and how many replicas hold it before it is acknowledged (the
/// operating docs list each setting's window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// What the store keeps across a restart of its server.
    pub kept: Kept,
    /// Replicas each durable write reaches before it is acknowledged.
    pub replicas: u32,
}

impl Durability {
    /// True when a restart of the store loses every acknowledged write
    /// and no replica holds them either.
    pub fn keeps_nothing(&self) -> bool {
        self.kept.keeps_nothing() && self.replicas == 0
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.replicas {
            0 => self.kept.fmt(f),
            n => write!(
                f,
                "{}; each durable write on {n} replica(s) before it is acknowledged",
                self.kept
            ),
        }
    }
}

/// What a store keeps across a restart: the window of acknowledged
/// writes a crash can lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The in-process store: nothing survives the process.
    InProcess,
    /// Redis with an append-only file, fsynced as `appendfsync` says
    /// (`always`, `everysec` or `no`).
    Aof(String),
    /// Redis with snapshots only (`save` rules): writes since the last
    /// snapshot are lost.
    Snapshots(String),
    /// Redis that keeps nothing (`appendonly no`, no `save` rules): a
    /// restart loses every acknowledged update.
    Nothing,
}

impl Kept {
    pub(crate) fn of_redis(appendonly: bool, appendfsync: String, save: String) -> Self {
        match (appendonly, save.trim().is_empty()) {
            (true, _) => Self::Aof(appendfsync),
            (false, false) => Self::Snapshots(save),
            (false, true) => Self::Nothing,
        }
    }

    /// True when a restart of the store loses every acknowledged write.
    pub fn keeps_nothing(&self) -> bool {
        matches!(self, Self::InProcess | Self::Nothing)
    }
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InProcess => f.write_str("in-process: a restart loses everything"),
            Self::Aof(fsync) => write!(f, "AOF, appendfsync {fsync}"),
            Self::Snapshots(save) => write!(
                f,
                "snapshots only (save {save}): a crash loses what came after the last one"
            ),
            Self::Nothing => f.write_str(
                "nothing (appendonly no, no snapshots): a restart loses every acknowledged update",
            ),
        }
    }
}

/// How many replicas must hold a durable write before it is acknowledged
/// (`STORE_ACK_REPLICAS`, default 0: the primary's word is enough), and
/// how long to wait for them (`STORE_ACK_TIMEOUT_MS`, default 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Replicas that must hold the write.
    pub replicas: u32,
    /// How long to wait for them before the write counts as not
    /// acknowledged (the caller answers 503 and the sender retries).
    pub timeout: Duration,
}

impl Default for Ack {
    fn default() -> Self {
        Self {
            replicas: 0,
            timeout: Duration::from_millis(100),
        }
    }
}

/// The longest `STORE_ACK_TIMEOUT_MS`: inside the connection's 2 s reply
/// deadline, or a slow acknowledgement would read as Redis being away.
const MAX_ACK_TIMEOUT: Duration = Duration::from_millis(1500);

impl Ack {
    /// `STORE_ACK_REPLICAS` and `STORE_ACK_TIMEOUT_MS`.
    pub fn from_env(env: &mesh_runtime::Env) -> Result<Self, mesh_runtime::ConfigError> {
        let replicas = env.parse_or("STORE_ACK_REPLICAS", 0u32)?;
        let timeout = env.millis_or("STORE_ACK_TIMEOUT_MS", Self::default().timeout)?;
        if timeout.is_zero() || timeout > MAX_ACK_TIMEOUT {
            return Err(mesh_runtime::ConfigError::new(
                "STORE_ACK_TIMEOUT_MS",
                format!(
                    "must be between 1 and {} ms (a WAIT of 0 waits forever)",
                    MAX_ACK_TIMEOUT.as_millis()
                ),
            ));
        }
        Ok(Self { replicas, timeout })
    }
}

impl Store {
    /// The same store, acknowledging durable writes once `ack` says so.
    pub fn with_ack(self, ack: Ack) -> Self {
        Self { ack, ..self }
    }

    /// How many replicas a durable write must reach.
    pub fn replicas_asked(&self) -> Ack {
        self.ack
    }

    /// What this store keeps across a restart of its server (or of this
    /// process, in memory); `None` when Redis refuses to say.
    pub async fn durability(&self) -> Result<Option<Durability>, StoreError> {
        let kept = match &self.inner {
            Inner::Memory(_) => Some(Kept::InProcess),
            Inner::Redis(r) => {
                r.durability()
                    .instrument(redis_span("state.durability", "CONFIG"))
                    .await?
            }
        };
        Ok(kept.map(|kept| Durability {
            kept,
            replicas: self.ack.replicas,
        }))
    }

    /// Waits until the replicas [`Ack`] asks for hold every write this
    /// store made so far on the node of `scope` (a key or a `{scope}` of
    /// the writes to cover; on a cluster, that key's shard). Call it after
    /// a write whose loss in a failover would lose or repeat an effect,
    /// before acknowledging it. Fewer replicas in time is
    /// [`StoreError::NotReplicated`] (counted in
    /// `state_replica_ack_shortfall_total`): the caller answers 503, and
    /// the sender's retry, de-duplicated, waits again.
    pub async fn replicated(&self, scope: &str, what: &'static str) -> Result<(), StoreError> {
        let wanted = self.ack.replicas;
        let Inner::Redis(r) = &self.inner else {
            return Ok(());
        };
        if wanted == 0 {
            return Ok(());
        }
        let got = r
            .wait_replicas(scope, wanted, self.ack.timeout)
            .instrument(redis_span("state.replicated", "WAIT"))
            .await?;
        if got >= wanted {
            return Ok(());
        }
        metrics::counter!("state_replica_ack_shortfall_total", "what" => what).increment(1);
        Err(StoreError::NotReplicated {
            wanted,
            got,
            within: self.ack.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mesh_runtime::Env;

    use super::{Ack, Durability, Kept};
    use crate::Store;

    /// Redis's settings read as what a restart keeps.
    #[test]
    fn durability_of_redis_settings() {
        let aof = Kept::of_redis(true, "everysec".into(), String::new());
        assert_eq!(aof, Kept::Aof("everysec".into()));
        let snapshots = Kept::of_redis(false, "everysec".into(), "3600 1".into());
        assert_eq!(snapshots, Kept::Snapshots("3600 1".into()));
        let nothing = Kept::of_redis(false, "everysec".into(), " ".into());
        assert_eq!(nothing, Kept::Nothing);
        assert!(nothing.keeps_nothing() && Kept::InProcess.keeps_nothing());
        assert!(!aof.keeps_nothing() && !snapshots.keeps_nothing());
        // A replica that holds each write before its 200 is kept too.
        let replicated = Durability {
            kept: nothing.clone(),
            replicas: 1,
        };
        assert!(!replicated.keeps_nothing());
        assert!(
            replicated
                .to_string()
                .ends_with("on 1 replica(s) before it is acknowledged")
        );
        let alone = Durability {
            kept: nothing,
            replicas: 0,
        };
        assert!(alone.keeps_nothing() && alone.to_string().starts_with("nothing"));
    }

    /// The acknowledgement settings: defaults, bounds, and no replicas to
    /// ask of the in-process store.
    #[tokio::test]
    async fn ack_settings() {
        assert_eq!(Ack::from_env(&Env::default()).ok(), Some(Ack::default()));
        let env = Env::default()
            .with("STORE_ACK_REPLICAS", "2")
            .with("STORE_ACK_TIMEOUT_MS", "250");
        let ack = Ack::from_env(&env).ok();
        assert_eq!(
            ack,
            Some(Ack {
                replicas: 2,
                timeout: Duration::from_millis(250)
            })
        );
        for bad in ["0", "5000"] {
            let env = Env::default().with("STORE_ACK_TIMEOUT_MS", bad);
            let e = Ack::from_env(&env).err().map(|e| e.var);
            assert_eq!(e.as_deref(), Some("STORE_ACK_TIMEOUT_MS"), "{bad}");
        }
        let memory = Env::default().with("STORE_ACK_REPLICAS", "1");
        let e = Store::from_env(&memory).err().map(|e| e.var);
        assert_eq!(e.as_deref(), Some("STORE_ACK_REPLICAS"));
        let redis = memory.with("REDIS_URL", "redis://127.0.0.1:6379");
        let store = Store::from_env(&redis)
            .ok()
            .map(|s| s.replicas_asked().replicas);
        assert_eq!(store, Some(1));
    }
}
