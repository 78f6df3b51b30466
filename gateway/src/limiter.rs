//! Per-address limits, applied in front of every route.
//!
//! Authenticated webhook deliveries are not limited by default: Telegram
//! bounds its own concurrency (`max_connections`) and Stripe its own rate,
//! and a busy bot must never be slowed by its own protection. Everything
//! else (a wrong or missing secret, a bad Stripe signature, unknown paths,
//! probes, and Telegram deliveries when no secret or source list proves
//! where they come from) spends the address's budget. An address over its
//! budget is refused with 429 before its credentials are even looked at,
//! so guessing the secret gets no faster by trying harder.
//!
//! The state is in-process on purpose: it protects this replica and costs
//! no Redis round trip on the hot path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mesh_state::{RateDecision, Store};

use crate::GatewayConfig;
use crate::app::AppState;
use crate::error::ApiError;
use crate::source;

/// A budget: one request per `interval`, `burst` at once.
#[derive(Debug, Clone, Copy)]
struct Budget {
    interval: Duration,
    burst: u32,
}

impl Budget {
    fn of(rps: u32, burst: u32) -> Option<Self> {
        (rps > 0).then(|| Self {
            interval: Duration::from_secs(1) / rps,
            burst: burst.max(1),
        })
    }
}

/// The per-address budgets of one replica.
pub struct Limiter {
    store: Store,
    unauthenticated: Option<Budget>,
    authenticated: Option<Budget>,
}

/// The caller's address as the gateway believes it (see [`source`]),
/// worked out once per request for every handler.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// Set by a handler once the request proved who sent it (the Telegram
/// secret, a Stripe signature).
#[derive(Debug, Clone, Default)]
pub struct Authenticated(Arc<AtomicBool>);

impl Authenticated {
    /// The request is authenticated.
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Limiter {
    /// The budgets `config` asks for.
    pub fn new(config: &GatewayConfig) -> Self {
        Self {
            store: Store::memory(),
            unauthenticated: Budget::of(config.rate_limit_rps, config.rate_limit_burst),
            authenticated: Budget::of(
                config.authenticated_rate_limit_rps,
                config.authenticated_rate_limit_burst,
            ),
        }
    }

    /// False when no budget is configured (both rates 0).
    fn enabled(&self) -> bool {
        self.unauthenticated.is_some() || self.authenticated.is_some()
    }

    /// How long `address` is still refused, if it is.
    async fn refused(&self, address: &str) -> Option<Duration> {
        let until = self.store.get(&format!("refused:{address}")).await.ok()??;
        let until: u64 = std::str::from_utf8(&until).ok()?.parse().ok()?;
        let left = until.saturating_sub(unix_ms());
        (left > 0).then(|| Duration::from_millis(left))
    }

    /// Spends one request of `address`'s budget; an address over it is
    /// refused until a request's worth has come back.
    async fn spend(&self, address: &str, authenticated: bool) {
        let (budget, bucket) = if authenticated {
            (self.authenticated, "auth")
        } else {
            (self.unauthenticated, "unauth")
        };
        let Some(budget) = budget else { return };
        let key = format!("{bucket}:{address}");
        if let Ok(RateDecision::Limited { retry_after, .. }) = self
            .store
            .rate_limit(&key, budget.interval, budget.burst)
            .await
        {
            let until =
                unix_ms().saturating_add(u64::try_from(retry_after.as_millis()).unwrap_or(0));
            let _ = self
                .store
                .set(
                    &format!("refused:{address}"),
                    until.to_string().as_bytes(),
                    Some(retry_after),
                )
                .await;
        }
    }
}

/// The middleware of the general routes: [`guarded`].
pub async fn guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    guarded(&app, request, |request| next.run(request)).await
}

/// Refuses an address over budget, runs `route` with the request's
/// [`ClientIp`] and [`Authenticated`] in its extensions, then spends the
/// budget the outcome calls for. With no budget configured there is
/// nothing to refuse or spend, and no per-request lookup is made.
pub async fn guarded<F, Fut>(app: &AppState, mut request: Request, route: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = source::client_ip(peer, forwarded, &app.config.trusted_proxies);
    request.extensions_mut().insert(ClientIp(client));
    if !app.limiter.enabled() {
        request.extensions_mut().insert(Authenticated::default());
        return route(request).await;
    }
    let address = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if let Some(wait) = app.limiter.refused(&address).await {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| route_label(p.as_str()));
        metrics::counter!("gateway_rate_limited_total", "route" => route).increment(1);
        return ApiError::RateLimited(wait).into_response();
    }
    let authenticated = Authenticated::default();
    request.extensions_mut().insert(authenticated.clone());
    let response = route(request).await;
    app.limiter.spend(&address, authenticated.get()).await;
    response
}

/// A fixed label for a matched route (never the raw path).
pub fn route_label(matched: &str) -> &'static str {
    match matched {
        "/telegram-webhook" => "/telegram-webhook",
        "/stripe-webhook" => "/stripe-webhook",
        "/health" => "/health",
        "/ready" => "/ready",
        "/metrics" => "/metrics",
        _ => "other",
    }
}
