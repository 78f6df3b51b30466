//! The gateway's configuration, read once from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use mesh_runtime::{ConfigError, Env, Secret};

/// Largest accepted `GATEWAY_MAX_BODY_BYTES`: a body travels on in one gRPC
/// message (4 MiB limit), possibly with half a MiB of other updates
/// batched with it (see `accept_batch`).
pub const MAX_BODY_CAP: usize = 3 * 1024 * 1024;

/// Everything the gateway reads from the environment.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `GATEWAY_ADDR` (default `0.0.0.0:8000`); `PORT` overrides the port.
    pub listen: SocketAddr,
    /// `GATEWAY_METRICS_ADDR`: an extra metrics-only listener (the gateway
    /// always serves `/metrics` on its main port too).
    pub metrics_listen: Option<SocketAddr>,
    /// `BOT_SERVICE_URL` (default `http://127.0.0.1:50051`).
    pub bot_url: String,
    /// `BILLING_SERVICE_URL` (default `http://127.0.0.1:50052`).
    pub billing_url: String,
    /// `TELEGRAM_WEBHOOK_SECRET`; unset = header not checked (warned at start-up).
    pub telegram_secret: Option<Secret>,
    /// `STRIPE_WEBHOOK_SECRET`: comma-separated `whsec_...`; empty = the
    /// Stripe webhook answers 503.
    pub stripe_secrets: Vec<Secret>,
    /// `STRIPE_WEBHOOK_TOLERANCE_SECS` (default 300).
    pub stripe_tolerance: Duration,
    /// `GATEWAY_MAX_BODY_BYTES` (default 1 MiB).
    pub max_body_bytes: usize,
    /// `GATEWAY_UPSTREAM_TIMEOUT_MS`: deadline of each gRPC call (default 5000).
    pub upstream_timeout: Duration,
    /// `GATEWAY_BODY_TIMEOUT_MS`: time allowed to receive a body (default 10000).
    pub body_timeout: Duration,
    /// `GATEWAY_RATE_LIMIT_RPS`: per client address, requests that did not
    /// authenticate (see `limiter`); 0 = off (default 100).
    pub rate_limit_rps: u32,
    /// `GATEWAY_RATE_LIMIT_BURST` (default 2 x rps).
    pub rate_limit_burst: u32,
    /// `GATEWAY_AUTHENTICATED_RATE_LIMIT_RPS`: per client address,
    /// authenticated webhook deliveries; 0 = off (the default).
    pub authenticated_rate_limit_rps: u32,
    /// `GATEWAY_AUTHENTICATED_RATE_LIMIT_BURST` (default 2 x rps).
    pub authenticated_rate_limit_burst: u32,
    /// `TELEGRAM_ALLOWED_SOURCES`: CIDRs allowed to call the Telegram webhook
    /// (for example Telegram's `149.154.160.0/20,91.108.4.0/22`); empty = any.
    pub telegram_sources: Vec<IpNet>,
    /// `TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `BILLING_API_TOKEN`: presented to billing-service when it requires one.
    pub billing_token: Option<Secret>,
    /// `BOT_API_TOKEN`: presented to bot-service when it requires one.
    pub bot_token: Option<Secret>,
    /// `GRPC_TLS_*`: TLS (mutual with a CA) towards the services.
    pub grpc_tls: Option<mesh_proto::GrpcTls>,
}

const SECRET_TOKEN_CHARS: &str = "A-Za-z0-9_-";

impl GatewayConfig {
    /// Reads and validates the gateway's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut listen = env.addr_or("GATEWAY_ADDR", "0.0.0.0:8000")?;
        if let Some(port) = env.parse::<u16>("PORT")? {
            listen.set_port(port);
        }
        let telegram_secret = env.secret("TELEGRAM_WEBHOOK_SECRET");
        if let Some(s) = &telegram_secret {
            let ok = (1..=256).contains(&s.expose().len())
                && s.expose()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(ConfigError::new(
                    "TELEGRAM_WEBHOOK_SECRET",
                    format!("must be 1-256 characters of {SECRET_TOKEN_CHARS} (Telegram's rule)"),
                ));
            }
        }
        let stripe_secrets: Vec<Secret> = env
            .list("STRIPE_WEBHOOK_SECRET")
            .into_iter()
            .map(Secret::new)
            .collect();
        if stripe_secrets
            .iter()
            .any(|s| !s.expose().starts_with("whsec_") || s.expose().len() < 10)
        {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "every comma-separated secret must look like whsec_...",
            ));
        }
        let rate_limit_rps = env.parse_or("GATEWAY_RATE_LIMIT_RPS", 100u32)?;
        let authenticated_rate_limit_rps =
            env.parse_or("GATEWAY_AUTHENTICATED_RATE_LIMIT_RPS", 0u32)?;
        let max_body_bytes = env.parse_or("GATEWAY_MAX_BODY_BYTES", 1024 * 1024usize)?;
        if max_body_bytes == 0 || max_body_bytes > MAX_BODY_CAP {
            return Err(ConfigError::new(
                "GATEWAY_MAX_BODY_BYTES",
                format_args!("must be between 1 and {MAX_BODY_CAP}"),
            ));
        }
        Ok(Self {
            listen,
            metrics_listen: env
                .get("GATEWAY_METRICS_ADDR")
                .map(|_| env.addr_or("GATEWAY_METRICS_ADDR", ""))
                .transpose()?,
            bot_url: env.url_or("BOT_SERVICE_URL", "http://127.0.0.1:50051")?,
            billing_url: env.url_or("BILLING_SERVICE_URL", "http://127.0.0.1:50052")?,
            telegram_secret,
            stripe_secrets,
            stripe_tolerance: Duration::from_secs(
                env.parse_or("STRIPE_WEBHOOK_TOLERANCE_SECS", 300u64)?,
            ),
            max_body_bytes,
            upstream_timeout: env
                .millis_or("GATEWAY_UPSTREAM_TIMEOUT_MS", Duration::from_secs(5))?,
            body_timeout: env.millis_or("GATEWAY_BODY_TIMEOUT_MS", Duration::from_secs(10))?,
            rate_limit_rps,
            rate_limit_burst: env
                .parse_or("GATEWAY_RATE_LIMIT_BURST", rate_limit_rps.saturating_mul(2))?,
            authenticated_rate_limit_rps,
            authenticated_rate_limit_burst: env.parse_or(
                "GATEWAY_AUTHENTICATED_RATE_LIMIT_BURST",
                authenticated_rate_limit_rps.saturating_mul(2),
            )?,
            telegram_sources: env.parse_list("TELEGRAM_ALLOWED_SOURCES")?,
            trusted_proxies: env.parse_list("TRUSTED_PROXIES")?,
            billing_token: env.secret("BILLING_API_TOKEN"),
            bot_token: env.secret("BOT_API_TOKEN"),
            grpc_tls: mesh_proto::GrpcTls::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults are the documented ones; PORT overrides the port.
    #[test]
    fn defaults_and_port() {
        let c = GatewayConfig::from_env(&Env::default().with("PORT", "9999")).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
        assert_eq!(c.bot_url, "http://127.0.0.1:50051");
        assert_eq!(c.stripe_tolerance, Duration::from_secs(300));
        assert!(c.telegram_secret.is_none() && c.stripe_secrets.is_empty());
    }

    /// Malformed secrets stop start-up with the variable's name, never its value.
    #[test]
    fn bad_secrets_named_not_echoed() {
        let e =
            GatewayConfig::from_env(&Env::default().with("TELEGRAM_WEBHOOK_SECRET", "has space"))
                .unwrap_err();
        assert_eq!(e.var, "TELEGRAM_WEBHOOK_SECRET");
        assert!(!e.to_string().contains("has space"));
        let e = GatewayConfig::from_env(
            &Env::default().with("STRIPE_WEBHOOK_SECRET", "whsec_abcdefgh,sk_live_x"),
        )
        .unwrap_err();
        assert_eq!(e.var, "STRIPE_WEBHOOK_SECRET");
        assert!(!e.to_string().contains("sk_live_x"));
        let e = GatewayConfig::from_env(&Env::default().with("TRUSTED_PROXIES", "10.0.0.0/99"))
            .unwrap_err();
        assert_eq!(e.var, "TRUSTED_PROXIES");
    }

    /// The body limit is positive and leaves room in a gRPC message.
    #[test]
    fn body_limit_bounds() {
        for bad in ["0", "3145729", "lots"] {
            let e = GatewayConfig::from_env(&Env::default().with("GATEWAY_MAX_BODY_BYTES", bad))
                .unwrap_err();
            assert_eq!(e.var, "GATEWAY_MAX_BODY_BYTES", "{bad}");
        }
        let c = GatewayConfig::from_env(&Env::default().with("GATEWAY_MAX_BODY_BYTES", "3145728"))
            .unwrap();
        assert_eq!(c.max_body_bytes, MAX_BODY_CAP);
    }
}
