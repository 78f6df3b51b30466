//! The router, its middleware, and the server loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::GatewayConfig;
use crate::accept_batch::AcceptBatcher;
use crate::error::ApiError;
use crate::limiter::{self, Limiter};
use crate::routes::{self, probes, stripe, telegram};
use crate::upstream::Upstreams;

/// What every handler shares; one allocation, so the per-request clone
/// axum makes is a reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
pub struct Shared {
    /// Validated configuration.
    pub config: GatewayConfig,
    /// The shared store (checked by `/ready`).
    pub store: Store,
    /// Per-address budgets of this replica.
    pub limiter: Limiter,
    /// gRPC clients.
    pub upstreams: Upstreams,
    /// Telegram updates on their way to bot-service, many per call.
    pub accepts: AcceptBatcher,
}

/// Builds the router for `config`, talking to `store` and the services.
pub fn router(config: GatewayConfig, store: Store) -> Result<Router, mesh_runtime::ConfigError> {
    let upstreams = Upstreams::new(&config)?;
    let accepts = AcceptBatcher::spawn(upstreams.bot.clone(), upstreams.timeout);
    let state = AppState(Arc::new(Shared {
        limiter: Limiter::new(&config),
        config,
        store,
        upstreams,
        accepts,
    }));
    // POST /telegram-webhook, the one route under load, takes a path of its
    // own: the same span, limiter, metrics and panic guard as every route,
    // called directly rather than through the general stack's layers, which
    // cost about a third of the one-process mesh's rate (BENCHMARKS.md).
    // Its other methods go to the general router (405 there).
    let fast = post(telegram::fast_webhook).with_state(state.clone());
    let general = general_router(state);
    Ok(Router::new()
        .route(
            "/telegram-webhook",
            fast.fallback_service(general.clone())
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal.into_response()
                })),
        )
        .fallback_service(general))
}

/// Every route behind the general middleware: span, metrics, limiter,
/// panic guard.
fn general_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/metrics", get(mesh_telemetry::metrics::metrics_handler))
        .route("/telegram-webhook", post(telegram::webhook))
        .route("/stripe-webhook", post(stripe::webhook))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limiter::guard,
        ))
        .with_state(state)
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(mesh_telemetry::http_server_span)
                .on_request(())
                .on_response(on_response)
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal.into_response()
        }))
}

/// Puts the answer on the request's span (an error status from 500 up).
pub(crate) fn on_response<B>(
    response: &http::Response<B>,
    latency: std::time::Duration,
    span: &tracing::Span,
) {
    let code = response.status().as_u16();
    span.record("http.response.status_code", code);
    if code >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        status = code,
        latency_ms = latency.as_secs_f64() * 1e3,
        "answered"
    );
}

/// Counts requests and their latency by route and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| limiter::route_label(p.as_str()));
    let started = Instant::now();
    let response = next.run(request).await;
    record_request(route, &response, started);
    response
}

/// Counts one answered request of `route` and its latency since `started`.
pub(crate) fn record_request(route: &'static str, response: &Response, started: Instant) {
    let status = response.status().as_u16().to_string();
    metrics::counter!("gateway_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    metrics::histogram!("gateway_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
}

/// Serves the gateway on `listener` until `shutdown` fires, then stops
/// accepting and lets requests in flight finish.
pub async fn run(
    config: GatewayConfig,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    crate::instruments::describe();
    if config.telegram_secret.is_none() {
        tracing::warn!(
            "TELEGRAM_WEBHOOK_SECRET is not set: anyone who finds the URL can post updates"
        );
    }
    if config.stripe_secrets.is_empty() {
        tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: /stripe-webhook answers 503");
    }
    if let Some(addr) = config.metrics_listen {
        // The gateway's own readiness is `/ready` on its main port.
        let always = mesh_telemetry::metrics::Readiness::default();
        always.set(true);
        let bound = mesh_telemetry::metrics::spawn_server(addr, always, shutdown.clone()).await?;
        tracing::info!(%bound, "gateway metrics listening");
    }
    let app = router(config, store)?;
    tracing::info!(addr = %listener.local_addr()?, "gateway listening");
    // TCP_NODELAY: a response must not wait for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await?;
    tracing::info!("gateway stopped");
    Ok(())
}
