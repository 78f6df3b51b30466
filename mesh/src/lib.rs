//! One binary, many targets (the Grafana Tempo / Loki shape).
//!
//! [`Target`] names what a process runs: one service, or `all` three in one
//! process. In `all` mode the services still call each other over gRPC,
//! through in-memory pipes rather than loopback TCP, so it exercises the
//! same code paths as a Kubernetes deployment; without `REDIS_URL` they
//! share one in-process store.
//!
//! The binaries `gateway`, `bot-service` and `billing-service` are this
//! crate with a fixed target; `mesh [TARGET]` picks one (default `all`).
//! [`cli`] holds their command lines; [`ops`] the operator commands
//! (reconcile, recover, dead letters, webhook).

use std::net::SocketAddr;

// With the `jemalloc` feature (the image, the benchmark) every binary
// allocates through jemalloc: per update, parsing, framing and queueing make
// many small short-lived allocations, where glibc's malloc took about a fifth
// of the CPU under load (BENCHMARKS.md).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod cli;
pub mod ops;

use anyhow::Context;
use mesh_runtime::{ConfigError, Env};
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// All three services in one process.
    All,
    /// The HTTP gateway.
    Gateway,
    /// The bot service.
    Bot,
    /// The billing service.
    Billing,
}

impl Target {
    /// Parses a target name as given on the command line.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "all" => Some(Self::All),
            "gateway" => Some(Self::Gateway),
            "bot" | "bot-service" => Some(Self::Bot),
            "billing" | "billing-service" => Some(Self::Billing),
            _ => None,
        }
    }

    /// The default `service.name` of a process running this target.
    pub fn service_name(self) -> &'static str {
        match self {
            Self::All => "mesh",
            Self::Gateway => "gateway",
            Self::Bot => "bot-service",
            Self::Billing => "billing-service",
        }
    }
}

/// The validated configuration of every component a target runs.
#[derive(Debug)]
pub struct Mesh {
    target: Target,
    gateway: Option<gateway::GatewayConfig>,
    bot: Option<bot_service::BotConfig>,
    billing: Option<billing_service::BillingConfig>,
    store: Store,
}

/// Listeners bound before start-up (tests bind port 0 and pass them in).
#[derive(Debug, Default)]
pub struct Listeners {
    /// The gateway's HTTP listener.
    pub gateway: Option<TcpListener>,
    /// The bot service's gRPC listener.
    pub bot: Option<TcpListener>,
    /// The billing service's gRPC listener.
    pub billing: Option<TcpListener>,
}

impl Mesh {
    /// Reads and validates the configuration `target` needs.
    pub fn from_env(target: Target, env: &Env) -> Result<Self, ConfigError> {
        let wants = |t: Target| target == Target::All || target == t;
        Ok(Self {
            target,
            gateway: wants(Target::Gateway)
                .then(|| gateway::GatewayConfig::from_env(env))
                .transpose()?,
            bot: wants(Target::Bot)
                .then(|| bot_service::BotConfig::from_env(env))
                .transpose()?,
            billing: wants(Target::Billing)
                .then(|| billing_service::BillingConfig::from_env(env))
                .transpose()?,
            store: Store::from_env(env)?,
        })
    }

    /// Where each component listens. In `all` mode the services listen on
    /// the ports of `BOT_SERVICE_URL` / `BILLING_SERVICE_URL` (where the
    /// gateway calls them), on loopback unless their `*_ADDR` says otherwise.
    fn addresses(&self, env: &Env) -> (Option<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>) {
        let in_process =
            |url: Option<&String>, own: Option<SocketAddr>, addr_var: &str| -> Option<SocketAddr> {
                let mut addr = own?;
                if self.target == Target::All {
                    if env.get(addr_var).is_none() {
                        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    if let Some(port) = url.and_then(|u| mesh_runtime::env::url_port(u)) {
                        addr.set_port(port);
                    }
                }
                Some(addr)
            };
        let gateway = self.gateway.as_ref();
        (
            gateway.map(|g| g.listen),
            in_process(
                gateway.map(|g| &g.bot_url),
                self.bot.as_ref().map(|b| b.listen),
                "BOT_SERVICE_ADDR",
            ),
            in_process(
                gateway.map(|g| &g.billing_url),
                self.billing.as_ref().map(|b| b.listen),
                "BILLING_SERVICE_ADDR",
            ),
        )
    }

    /// Binds every listener this target needs.
    pub async fn bind(&self, env: &Env) -> anyhow::Result<Listeners> {
        async fn bind(addr: Option<SocketAddr>, what: &str) -> anyhow::Result<Option<TcpListener>> {
            match addr {
                None => Ok(None),
                Some(a) => {
                    Ok(Some(TcpListener::bind(a).await.with_context(|| {
                        format!("cannot listen on {a} ({what})")
                    })?))
                }
            }
        }
        let (g, b, p) = self.addresses(env);
        Ok(Listeners {
            gateway: bind(g, "gateway").await?,
            bot: bind(b, "bot-service").await?,
            billing: bind(p, "billing-service").await?,
        })
    }

    /// Runs every component until `shutdown` fires, or until one fails,
    /// which stops the others too.
    pub async fn run(
        self,
        listeners: Listeners,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        // Installed before anything counts: a counter bumped before the
        // first scrape must not be lost.
        mesh_telemetry::metrics::recorder();
        if self.store.backend() == mesh_state::Backend::Memory {
            let scope = if self.target == Target::All {
                "this process only"
            } else {
                "this one service of this process only: every other process keeps its own"
            };
            tracing::warn!(
                "REDIS_URL is not set: state is kept in {scope}. It is not shared with any other replica (updates, de-duplication and entitlements differ per replica) and is lost on restart. Set REDIS_URL for anything but one process on one machine."
            );
        }
        if self.store.backend() == mesh_state::Backend::Redis {
            // What an acknowledged update survives depends on how Redis
            // keeps data; said once at start-up (a Redis that refuses
            // CONFIG GET, or is down now, is not a reason to wait).
            let store = self.store.clone();
            tokio::spawn(async move {
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(2), store.durability());
                match read.await {
                    Ok(Ok(Some(d))) if d.keeps_nothing() => tracing::warn!(
                        durability = %d,
                        "Redis keeps nothing across a restart and no replica is asked to hold writes: updates and events acknowledged with 200 are lost when it restarts. Run it with appendonly yes, or set STORE_ACK_REPLICAS (see the operating docs, Durability)"
                    ),
                    Ok(Ok(Some(d))) => tracing::info!(durability = %d, "Redis persistence"),
                    _ => tracing::info!(
                        "Redis persistence unknown (CONFIG GET refused or Redis away)"
                    ),
                }
            });
        }
        let bound = self.bind_in_process(&listeners);
        let mut tasks = tokio::task::JoinSet::new();
        // A child token: one component failing drains the others without
        // touching the caller's token.
        let stop = shutdown.child_token();
        if let (Some(config), Some(listener)) = (self.billing, listeners.billing) {
            tasks.spawn(billing_service::run(
                config,
                self.store.clone(),
                listener,
                stop.clone(),
            ));
        }
        if let (Some(config), Some(listener)) = (self.bot, listeners.bot) {
            tasks.spawn(bot_service::run(
                config,
                self.store.clone(),
                listener,
                stop.clone(),
            ));
        }
        if let (Some(config), Some(listener)) = (self.gateway, listeners.gateway) {
            tasks.spawn(gateway::run(
                config,
                self.store.clone(),
                listener,
                stop.clone(),
            ));
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let result = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = result {
                tracing::error!(error = %e, "component failed; stopping the others");
                stop.cancel();
                first_error.get_or_insert(e);
            } else if !stop.is_cancelled() {
                // A component returned without being asked to: stop the rest.
                stop.cancel();
            }
        }
        for url in bound {
            mesh_proto::inproc::unbind(&url);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// In the one-process mode the services call each other through
    /// in-memory pipes instead of loopback TCP (same gRPC stack, no
    /// sockets); their TCP listeners stay open for callers outside. Not
    /// under TLS, which pipes inside one process would only slow down.
    /// Returns the URLs bound.
    fn bind_in_process(&self, listeners: &Listeners) -> Vec<String> {
        let Some(gateway) = self.gateway.as_ref().filter(|g| g.grpc_tls.is_none()) else {
            return Vec::new();
        };
        if self.target != Target::All {
            return Vec::new();
        }
        // Billing and the bot dial each other at these same URLs, so they
        // take the pipes too; a URL bound nowhere stays TCP.
        let mut bound = Vec::new();
        for (url, listener) in [
            (&gateway.bot_url, &listeners.bot),
            (&gateway.billing_url, &listeners.billing),
        ] {
            if let Some(addr) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
                mesh_proto::inproc::bind(url, addr);
                bound.push(url.clone());
            }
        }
        bound
    }
}

/// The body of every binary: configuration, telemetry, signals, run.
/// Bad configuration prints one line naming the variable and exits 2.
///
/// One Tokio runtime per process: it is entered before the configuration
/// is read because the Redis store starts its lazy connection task when
/// it is built.
pub fn main_for(target: Target) -> anyhow::Result<()> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _entered = runtime.enter();
    let loaded = Mesh::from_env(target, &env).and_then(|mesh| {
        Ok((
            mesh,
            mesh_telemetry::TelemetryConfig::from_env(
                &env,
                target.service_name(),
                env!("CARGO_PKG_VERSION"),
            )?,
        ))
    });
    let (mesh, telemetry_config) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    runtime.block_on(async move {
        let telemetry = mesh_telemetry::init(&telemetry_config)?;
        mesh_telemetry::metrics::recorder();
        tracing::info!(target = ?target, version = env!("CARGO_PKG_VERSION"), "starting");
        let shutdown = mesh_runtime::shutdown_on_signal();
        let listeners = mesh.bind(&env).await?;
        let result = mesh.run(listeners, shutdown).await;
        telemetry.shutdown();
        result
    })
}
