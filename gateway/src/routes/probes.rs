//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use mesh_state::{Backend, reports};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::routes::status;

/// `GET /health`: the process is up.
pub async fn health() -> impl IntoResponse {
    status("healthy")
}

/// `GET /ready`: whether this gateway can take Telegram updates. Redis
/// (when configured) and bot-service must answer their health checks
/// (503 otherwise: the pod leaves the Service, Telegram retries elsewhere);
/// billing-service being down only degrades it (200 `degraded`): Telegram
/// intake goes on, and `/stripe-webhook` answers 503 itself so Stripe
/// retries. `services.durability` says what an acknowledged update
/// survives (a detail). The checks run concurrently, each bounded, so the probe answers
/// within about two seconds whatever is down.
pub async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    let redis = async {
        match app.store.backend() {
            Backend::Memory => Ok("in-memory (not shared)".to_owned()),
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
    // bot-service's last check of its rights in the plan chats: a detail,
    // never a reason to leave the Service (Telegram intake goes on).
    let rights = async {
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            app.store.get(reports::CHAT_RIGHTS),
        )
        .await;
        match read {
            Ok(Ok(Some(raw))) => serde_json::from_slice::<reports::ChatRights>(&raw)
                .ok()
                .map(|r| reports::describe(&r)),
            _ => None,
        }
    };
    // What an acknowledged update survives (a detail, like the rights):
    // a Redis that keeps nothing is said, not failed.
    let durability = async {
        match tokio::time::timeout(std::time::Duration::from_secs(2), app.store.durability()).await
        {
            Ok(Ok(Some(d))) => d.to_string(),
            Ok(Ok(None)) => "unknown (CONFIG GET refused)".to_owned(),
            _ => "unknown (store away)".to_owned(),
        }
    };
    let (redis, bot, billing, rights, durability) = tokio::join!(
        redis,
        async { ok(app.upstreams.bot_health().await) },
        async { ok(app.upstreams.billing_health().await) },
        rights,
        durability
    );
    let intake = redis.is_ok() && bot.is_ok();
    let status = match (intake, billing.is_ok()) {
        (true, true) => "ready",
        (true, false) => "degraded",
        (false, _) => "unhealthy",
    };
    let mut services: Map<String, Value> = [("redis", redis), ("bot", bot), ("billing", billing)]
        .into_iter()
        .map(|(name, r)| (name.to_owned(), Value::String(r.unwrap_or_else(|e| e))))
        .collect();
    services.insert("durability".to_owned(), Value::String(durability));
    if let Some(rights) = rights {
        services.insert("chat_rights".to_owned(), Value::String(rights));
    }
    let code = if intake {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "status": status, "services": services })),
    )
}
