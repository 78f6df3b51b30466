//! The benchmark's ceiling: the least a Telegram webhook endpoint can do
//! (constant-time secret check, JSON parse, 200), persisting nothing. The
//! mesh is measured against it with the same tool and settings.
//!
//! `bench-ceiling 127.0.0.1:18100` (secret `benchsecret`).

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::serve::ListenerExt;
use mesh_runtime::Secret;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Head {
    #[allow(dead_code)]
    update_id: i64,
}

async fn webhook(headers: HeaderMap, body: Bytes) -> (StatusCode, Json<Value>) {
    let secret = Secret::new("benchsecret");
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secret.matches(given) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad secret"})),
        );
    }
    match serde_json::from_slice::<Head>(&body) {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad update"})),
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18100".to_owned());
    // The same socket options as the gateway's, so only the work differs.
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = axum::Router::new().route("/telegram-webhook", post(webhook));
    axum::serve(listener, app).await?;
    Ok(())
}
