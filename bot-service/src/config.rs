//! The bot service's configuration, read once from the environment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mesh_runtime::{ConfigError, Env, Secret};
use mesh_state::QueueConfig;

use crate::messages::Catalogue;

/// Everything the bot service reads from the environment.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// `BOT_SERVICE_ADDR` (default `0.0.0.0:50051`).
    pub listen: SocketAddr,
    /// `BOT_METRICS_ADDR` (default `0.0.0.0:9101`; empty = off).
    pub metrics_listen: Option<SocketAddr>,
    /// `TELEGRAM_BOT_TOKEN`; unset = dry run.
    pub token: Option<Secret>,
    /// `TELEGRAM_API_URL` (default `https://api.telegram.org`).
    pub api_url: String,
    /// `BILLING_SERVICE_URL` (default `http://127.0.0.1:50052`).
    pub billing_url: String,
    /// `BOT_WORKERS`: updates handled concurrently (default 32).
    pub workers: usize,
    /// `BOT_UPDATE_LEASE_MS`: how long a chat stays with a worker that
    /// stopped renewing its lease, i.e. how soon a crashed worker's chats
    /// move on (default 4000; live workers renew every quarter of it),
    /// `BOT_DEDUP_TTL_SECS` (default 86400), and `BOT_QUEUE_LANES`: the
    /// lanes updates are spread over by chat (default 16; more lanes keep a
    /// slow chat's neighbours apart, fewer share each store command among
    /// more updates).
    pub queue: QueueConfig,
    /// The outbox's timing: the same lease, and call ids remembered a day.
    pub outbox_queue: QueueConfig,
    /// `BOT_MAX_ATTEMPTS`: deliveries of one update before it is set aside
    /// in the dead-letter list (default 5).
    pub max_attempts: u32,
    /// Attempts an item failing because another service is away gets:
    /// enough back-off to cover `BOT_DEPENDENCY_RETRY_SECS` (default 900).
    pub dependency_attempts: u32,
    /// `BOT_HANDLER_TIMEOUT_MS`: the longest one item may be worked on
    /// (default 60000); its lease is renewed meanwhile.
    pub handler_timeout: Duration,
    /// `GAUGE_SAMPLE_SECS`: how often the queue and registry gauges are
    /// sampled (default 5).
    pub gauge_sample: Duration,
    /// `BOT_POLL_MS`: how often an idle replica looks for work that another
    /// replica accepted (default 200; work accepted here wakes it at once).
    pub poll_interval: Duration,
    /// `BOT_RIGHTS_CHECK_SECS`: how often the bot's rights in the plan
    /// chats are checked again after start-up (default 1800).
    pub rights_check: Duration,
    /// `PREMIUM_CHAT_ID`: the chat whose access is sold.
    pub premium_chat_id: Option<i64>,
    /// `ADMIN_USER_IDS`: who may use admin commands.
    pub admin_ids: Vec<i64>,
    /// `TELEGRAM_BOT_USERNAME` (without `@`); asked of Telegram at start-up
    /// when unset. Commands in groups must name it.
    pub username: Option<String>,
    /// `BOT_USER_RATE_PER_MIN`: messages a user may send per minute (0 = no
    /// limit; default 30) and `BOT_USER_BURST` (default 10).
    pub user_rate_per_min: u32,
    /// See `user_rate_per_min`.
    pub user_burst: u32,
    /// `BOT_OUTBOX_WORKERS`: concurrent senders (default 8).
    pub outbox_workers: usize,
    /// `BOT_GLOBAL_SEND_INTERVAL_MS`: spacing of messages overall (default 34:
    /// at most 30 in any second).
    pub global_send_interval: Duration,
    /// `BOT_CHAT_SEND_INTERVAL_MS`: spacing of messages to one chat (default 1000).
    pub chat_send_interval: Duration,
    /// `TELEGRAM_POLLING`: fetch updates with `getUpdates` instead of
    /// receiving webhooks (local development without a public URL).
    pub polling: bool,
    /// `BILLING_ADMIN_TOKEN`, else `BILLING_API_TOKEN`: presented to billing.
    pub billing_token: Option<Secret>,
    /// `GRPC_TLS_*`: TLS for the gRPC server and towards billing.
    pub grpc_tls: Option<mesh_proto::GrpcTls>,
    /// `BOT_API_TOKEN`: what every bot.v1 caller must present (unset: open).
    pub api_token: Option<Secret>,
    /// The texts, with `MESSAGES_DIR`'s overrides.
    pub messages: Arc<Catalogue>,
}

impl BotConfig {
    /// Reads and validates the bot service's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token = env.secret("TELEGRAM_BOT_TOKEN");
        if let Some(t) = &token {
            // Bot API tokens look like 123456:ABC-DEF...; checking the shape
            // turns a pasted-wrong token into a start-up error, not 401s later.
            let valid = t.expose().split_once(':').is_some_and(|(id, rest)| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && rest.len() >= 20
            });
            if !valid {
                return Err(ConfigError::new(
                    "TELEGRAM_BOT_TOKEN",
                    "not a Bot API token (expected <digits>:<secret>)",
                ));
            }
        }
        let workers = env.parse_or("BOT_WORKERS", 32usize)?;
        if workers == 0 {
            return Err(ConfigError::new("BOT_WORKERS", "must be at least 1"));
        }
        let lease = env.millis_or("BOT_UPDATE_LEASE_MS", Duration::from_secs(4))?;
        let lanes = env.parse_or("BOT_QUEUE_LANES", 16u16)?;
        if lanes == 0 {
            return Err(ConfigError::new("BOT_QUEUE_LANES", "must be at least 1"));
        }
        if lease < Duration::from_millis(200) {
            return Err(ConfigError::new(
                "BOT_UPDATE_LEASE_MS",
                "must be at least 200",
            ));
        }
        Ok(Self {
            listen: env.addr_or("BOT_SERVICE_ADDR", "0.0.0.0:50051")?,
            metrics_listen: optional_addr(env, "BOT_METRICS_ADDR", "0.0.0.0:9101")?,
            token,
            api_url: env.url_or("TELEGRAM_API_URL", "https://api.telegram.org")?,
            billing_url: env.url_or("BILLING_SERVICE_URL", "http://127.0.0.1:50052")?,
            workers,
            queue: QueueConfig {
                dedup_ttl: Duration::from_secs(env.parse_or("BOT_DEDUP_TTL_SECS", 24 * 3600u64)?),
                lease,
                // Telegram's update_ids: a bit each.
                sequence_ids: true,
                lanes,
            },
            // Sends wait out Telegram's retry_after per chat, so each chat
            // keeps a list of its own.
            outbox_queue: QueueConfig {
                dedup_ttl: Duration::from_secs(24 * 3600),
                lease,
                sequence_ids: false,
                lanes: 0,
            },
            max_attempts: env.parse_or("BOT_MAX_ATTEMPTS", 5u32)?.max(1),
            dependency_attempts: crate::retry::dependency_attempts(Duration::from_secs(
                env.parse_or("BOT_DEPENDENCY_RETRY_SECS", 900u64)?,
            )),
            handler_timeout: env
                .millis_or("BOT_HANDLER_TIMEOUT_MS", Duration::from_secs(60))?
                .max(lease),
            gauge_sample: env.period_secs_or("GAUGE_SAMPLE_SECS", 5)?,
            poll_interval: env
                .millis_or("BOT_POLL_MS", Duration::from_millis(200))?
                .max(Duration::from_millis(10)),
            rights_check: Duration::from_secs(
                env.parse_or("BOT_RIGHTS_CHECK_SECS", 1800u64)?.max(1),
            ),
            premium_chat_id: env.parse("PREMIUM_CHAT_ID")?,
            admin_ids: env.parse_list("ADMIN_USER_IDS")?,
            username: env
                .get("TELEGRAM_BOT_USERNAME")
                .map(|u| u.trim_start_matches('@').to_owned()),
            user_rate_per_min: env.parse_or("BOT_USER_RATE_PER_MIN", 30u32)?,
            user_burst: env.parse_or("BOT_USER_BURST", 10u32)?.max(1),
            outbox_workers: env.parse_or("BOT_OUTBOX_WORKERS", 8usize)?.max(1),
            global_send_interval: env
                .millis_or("BOT_GLOBAL_SEND_INTERVAL_MS", Duration::from_millis(34))?,
            chat_send_interval: env
                .millis_or("BOT_CHAT_SEND_INTERVAL_MS", Duration::from_secs(1))?,
            polling: env.parse_or("TELEGRAM_POLLING", false)?,
            billing_token: env
                .secret("BILLING_ADMIN_TOKEN")
                .or_else(|| env.secret("BILLING_API_TOKEN")),
            grpc_tls: mesh_proto::GrpcTls::from_env(env)?,
            api_token: env.secret("BOT_API_TOKEN"),
            messages: Arc::new(Catalogue::load(
                env.get("MESSAGES_DIR").map(std::path::Path::new),
            )?),
        })
    }
}

/// An address with a default, where the literal `off` disables it.
pub(crate) fn optional_addr(
    env: &Env,
    key: &str,
    default: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    match env.get(key) {
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
        _ => env.addr_or(key, default).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documented defaults; a malformed token is refused without being echoed.
    #[test]
    fn defaults_and_token_shape() {
        let c = BotConfig::from_env(&Env::default()).unwrap();
        assert!(c.token.is_none());
        assert_eq!(c.api_url, "https://api.telegram.org");
        assert_eq!(c.listen.port(), 50051);
        let e = BotConfig::from_env(&Env::default().with("TELEGRAM_BOT_TOKEN", "oops-secret"))
            .unwrap_err();
        assert_eq!(e.var, "TELEGRAM_BOT_TOKEN");
        assert!(!e.to_string().contains("oops-secret"));
        let c = BotConfig::from_env(
            &Env::default()
                .with("TELEGRAM_BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                .with("BOT_METRICS_ADDR", "off"),
        )
        .unwrap();
        assert!(c.token.is_some() && c.metrics_listen.is_none());
    }
}
