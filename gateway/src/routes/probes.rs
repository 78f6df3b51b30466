//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use mesh_state::Backend;
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::routes::status;

/// `GET /health`: the process is up.
pub async fn health() -> impl IntoResponse {
    status("healthy")
}

/// `GET /ready`: Redis (when configured) and both services answer their
/// health checks. The three checks run concurrently, each bounded, so the
/// probe answers within about two seconds whatever is down.
pub async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    let redis = async {
        match app.store.backend() {
            Backend::Memory => Ok("in-memory".to_owned()),
            Backend::Redis => {
                match tokio::time::timeout(std::time::Duration::from_secs(2), app.store.ping())
                    .await
                {
                    Ok(Ok(())) => Ok("ok".to_owned()),
                    Ok(Err(_)) => Err("unavailable".to_owned()),
                    Err(_) => Err("timeout".to_owned()),
                }
            }
        }
    };
    let ok = |r: Result<(), String>| r.map(|()| "ok".to_owned());
    let (redis, bot, billing) = tokio::join!(
        redis,
        async { ok(app.upstreams.bot_health().await) },
        async { ok(app.upstreams.billing_health().await) }
    );
    let all_ok = redis.is_ok() && bot.is_ok() && billing.is_ok();
    let services: Map<String, Value> = [("redis", redis), ("bot", bot), ("billing", billing)]
        .into_iter()
        .map(|(name, r)| (name.to_owned(), Value::String(r.unwrap_or_else(|e| e))))
        .collect();
    if all_ok {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "services": services })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "services": services })),
        )
    }
}
