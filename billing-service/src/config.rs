//! The billing service's configuration, read once from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use mesh_runtime::{ConfigError, Env, Secret};

use crate::events::{DisputePolicy, RefundPolicy};
use crate::plans::{self, Plans};

/// Everything the billing service reads from the environment.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// `BILLING_SERVICE_ADDR` (default `0.0.0.0:50052`).
    pub listen: SocketAddr,
    /// `BILLING_METRICS_ADDR` (default `0.0.0.0:9102`; `off` = none).
    pub metrics_listen: Option<SocketAddr>,
    /// `STRIPE_SECRET_KEY`; unset = payments not configured.
    pub stripe_secret_key: Option<Secret>,
    /// `STRIPE_API_BASE` (default `https://api.stripe.com`).
    pub stripe_api_base: String,
    /// The plans (`PLANS_FILE`), a plan without `chats` opening
    /// `PREMIUM_CHAT_ID`.
    pub plans: Plans,
    /// `BILLING_EVENT_DEDUP_SECS`: how long an applied `event.id` is
    /// remembered (default 4 days: Stripe retries for 3).
    pub event_dedup_ttl: Duration,
    /// `BILLING_PAST_DUE_GRACE_SECS`: access kept after a failed renewal
    /// (default 3 days).
    pub past_due_grace: Duration,
    /// `BILLING_REMINDER_DAYS`: how long before a non-renewing plan ends the
    /// reminder goes out (default 3).
    pub reminder_lead: Duration,
    /// `BILLING_SWEEP_INTERVAL_SECS`: how often lapsed access is looked for
    /// (default 60).
    pub sweep_interval: Duration,
    /// `BILLING_RENEWAL_REMINDER_DAYS`: how long before an automatic
    /// renewal the user is reminded (default 0: no reminder).
    pub renewal_lead: Duration,
    /// `BILLING_WINBACK_DAYS`: how long after access ended the win-back
    /// message goes out (default 0: none).
    pub winback_after: Duration,
    /// `BILLING_PRICE_REFRESH_SECS`: how often plans' Stripe prices are
    /// read again (default 600).
    pub price_refresh: Duration,
    /// `STRIPE_TIMEOUT_MS`: per-attempt timeout of Stripe calls (default 10000).
    pub stripe_timeout: Duration,
    /// `BOT_SERVICE_URL`: where notices go (default `http://127.0.0.1:50051`).
    pub bot_url: String,
    /// `CHECKOUT_SUCCESS_URL` (default: the bot's `?start=paid` deep link
    /// when `TELEGRAM_BOT_USERNAME` is set).
    pub checkout_success_url: String,
    /// `CHECKOUT_CANCEL_URL` (default: the bot's `?start=canceled` deep link).
    pub checkout_cancel_url: String,
    /// `PORTAL_RETURN_URL` (default: the bot's chat).
    pub portal_return_url: String,
    /// `BILLING_API_TOKEN`: when set, every billing.v1 call must present it
    /// (or the admin token) as `authorization: Bearer ...`.
    pub api_token: Option<Secret>,
    /// `BILLING_ADMIN_TOKEN`: when set, grant, revoke, reconcile and
    /// recover-events require it.
    pub admin_token: Option<Secret>,
    /// `BOT_API_TOKEN`: presented to bot-service with every notice.
    pub bot_token: Option<Secret>,
    /// `BILLING_NOTICE_LEASE_MS`: how long a notice stays with a replica
    /// that stopped renewing its lease (default 4000).
    pub notice_lease: Duration,
    /// `BILLING_NOTICE_POLL_MS`: how often idle delivery looks for notices
    /// another replica queued (default 1000).
    pub notice_poll: Duration,
    /// `BILLING_DISPUTE_POLICY`: `suspend` (default) or `notify`.
    pub disputes: DisputePolicy,
    /// `BILLING_REFUND_POLICY`: `end` (default) or `keep`.
    pub refunds: RefundPolicy,
    /// `GRPC_TLS_*`: TLS for the gRPC server and towards bot-service.
    pub grpc_tls: Option<mesh_proto::GrpcTls>,
    /// `TELEGRAM_BOT_TOKEN`: the Stars methods (invoice links, refunds,
    /// renewals, transactions); unset = no Stars.
    pub telegram_token: Option<Secret>,
    /// `TELEGRAM_API_URL` (default `https://api.telegram.org`).
    pub telegram_api_url: String,
    /// `GAUGE_SAMPLE_SECS`: how often the entitlement and notice gauges
    /// are sampled (default 5).
    pub gauge_sample: Duration,
}

impl BillingConfig {
    /// Reads and validates the billing service's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let stripe_secret_key = env.secret("STRIPE_SECRET_KEY");
        if let Some(k) = &stripe_secret_key
            && !(k.expose().starts_with("sk_") || k.expose().starts_with("rk_"))
        {
            return Err(ConfigError::new(
                "STRIPE_SECRET_KEY",
                "must be a secret (sk_...) or restricted (rk_...) key",
            ));
        }
        let username = env
            .get("TELEGRAM_BOT_USERNAME")
            .map(|u| u.trim_start_matches('@').to_owned());
        if let Some(u) = &username
            && (u.len() < 5 || !u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(ConfigError::new(
                "TELEGRAM_BOT_USERNAME",
                "not a Telegram username",
            ));
        }
        let bot_link = |suffix: &str| match &username {
            Some(u) => format!("https://t.me/{u}{suffix}"),
            None => "https://t.me".to_owned(),
        };
        let metrics_listen = match env.get("BILLING_METRICS_ADDR") {
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            _ => Some(env.addr_or("BILLING_METRICS_ADDR", "0.0.0.0:9102")?),
        };
        Ok(Self {
            listen: env.addr_or("BILLING_SERVICE_ADDR", "0.0.0.0:50052")?,
            metrics_listen,
            stripe_secret_key,
            stripe_api_base: env.url_or("STRIPE_API_BASE", "https://api.stripe.com")?,
            plans: Plans::new(
                plans::load(env.get("PLANS_FILE"))?,
                env.parse::<i64>("PREMIUM_CHAT_ID")?.into_iter().collect(),
            ),
            event_dedup_ttl: Duration::from_secs(
                env.parse_or("BILLING_EVENT_DEDUP_SECS", 4 * 24 * 3600u64)?,
            ),
            past_due_grace: Duration::from_secs(
                env.parse_or("BILLING_PAST_DUE_GRACE_SECS", 3 * 24 * 3600u64)?,
            ),
            reminder_lead: env.days_or("BILLING_REMINDER_DAYS", 3.0)?,
            sweep_interval: Duration::from_secs(
                env.parse_or("BILLING_SWEEP_INTERVAL_SECS", 60u64)?.max(1),
            ),
            renewal_lead: env.days_or("BILLING_RENEWAL_REMINDER_DAYS", 0.0)?,
            winback_after: env.days_or("BILLING_WINBACK_DAYS", 0.0)?,
            price_refresh: Duration::from_secs(
                env.parse_or("BILLING_PRICE_REFRESH_SECS", 600u64)?.max(10),
            ),
            stripe_timeout: env.millis_or("STRIPE_TIMEOUT_MS", Duration::from_secs(10))?,
            bot_url: env.url_or("BOT_SERVICE_URL", "http://127.0.0.1:50051")?,
            checkout_success_url: env.url_or("CHECKOUT_SUCCESS_URL", &bot_link("?start=paid"))?,
            checkout_cancel_url: env.url_or("CHECKOUT_CANCEL_URL", &bot_link("?start=canceled"))?,
            portal_return_url: env.url_or("PORTAL_RETURN_URL", &bot_link(""))?,
            api_token: env.secret("BILLING_API_TOKEN"),
            admin_token: env.secret("BILLING_ADMIN_TOKEN"),
            bot_token: env.secret("BOT_API_TOKEN"),
            notice_lease: env
                .millis_or("BILLING_NOTICE_LEASE_MS", Duration::from_secs(4))?
                .max(Duration::from_millis(200)),
            notice_poll: env
                .millis_or("BILLING_NOTICE_POLL_MS", Duration::from_secs(1))?
                .max(Duration::from_millis(10)),
            disputes: match env.get("BILLING_DISPUTE_POLICY").unwrap_or("suspend") {
                "suspend" => DisputePolicy::Suspend,
                "notify" => DisputePolicy::Notify,
                _ => {
                    return Err(ConfigError::new(
                        "BILLING_DISPUTE_POLICY",
                        "must be suspend or notify",
                    ));
                }
            },
            refunds: match env.get("BILLING_REFUND_POLICY").unwrap_or("end") {
                "end" => RefundPolicy::End,
                "keep" => RefundPolicy::Keep,
                _ => {
                    return Err(ConfigError::new(
                        "BILLING_REFUND_POLICY",
                        "must be end or keep",
                    ));
                }
            },
            grpc_tls: mesh_proto::GrpcTls::from_env(env)?,
            telegram_token: env.secret("TELEGRAM_BOT_TOKEN"),
            telegram_api_url: env.url_or("TELEGRAM_API_URL", "https://api.telegram.org")?,
            gauge_sample: env.period_secs_or("GAUGE_SAMPLE_SECS", 5)?,
        })
    }
}
