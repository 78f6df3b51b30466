//! `POST /telegram-webhook`: verify, check shape, hand to bot-service.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tonic::Status;
use tracing::Instrument;

use crate::app::AppState;
use crate::error::{ApiError, from_upstream};
use crate::limiter::{self, Authenticated, ClientIp};
use crate::routes::{body, status};
use crate::source;

/// The one field the gateway needs; everything else is skipped unparsed
/// (but still checked to be well-formed JSON).
#[derive(Deserialize)]
struct UpdateHead {
    update_id: i64,
}

/// Deepest nesting a Telegram update plausibly has (a reply inside a
/// message inside a callback is about a dozen levels).
const MAX_DEPTH: usize = 64;

/// The deepest `[`/`{` nesting of a JSON text, ignoring brackets inside
/// strings. serde_json skips unknown fields without a depth limit, so a
/// body nested thousands deep would otherwise pass the gateway.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Checks that `bytes` is a JSON object with an integer `update_id`.
pub fn parse_update_id(bytes: &[u8]) -> Result<i64, ApiError> {
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(ApiError::BadRequest("JSON nested too deeply"));
    }
    // serde would also accept `[1]` for a one-field struct; Telegram sends objects.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(ApiError::BadRequest("body is not a JSON object"));
        }
        _ => return Err(ApiError::BadRequest("body is not valid JSON")),
    }
    serde_json::from_slice::<UpdateHead>(bytes)
        .map(|h| h.update_id)
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => {
                ApiError::BadRequest("update_id is missing or not an integer")
            }
            _ => ApiError::BadRequest("body is not valid JSON"),
        })
}

/// `POST /telegram-webhook` on its own path (see `app::router`): the
/// request's span, the limiter, and the request metrics around
/// [`webhook`], as the general stack gives every other route.
pub async fn fast_webhook(State(app): State<AppState>, request: Request) -> Response {
    let span = mesh_telemetry::http_server_span(&request);
    let started = Instant::now();
    let response = limiter::guarded(&app, request, |request| async {
        webhook(State(app.clone()), request).await.into_response()
    })
    .instrument(span.clone())
    .await;
    span.in_scope(|| crate::app::on_response(&response, started.elapsed(), &span));
    crate::app::record_request("/telegram-webhook", &response, started);
    response
}

/// Handles one delivery from Telegram.
pub async fn webhook(
    State(app): State<AppState>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let config = &app.config;
    let (parts, body) = request.into_parts();
    let client = parts.extensions.get::<ClientIp>().and_then(|c| c.0);
    if !source::allowed(client, &config.telegram_sources) {
        return Err(ApiError::Forbidden);
    }
    if let Some(secret) = &config.telegram_secret {
        // Exactly one header, matching: a second copy (smuggled by a proxy
        // or a crafted request) is refused rather than guessed between.
        let mut values = parts
            .headers
            .get_all("x-telegram-bot-api-secret-token")
            .iter();
        let given = values.next().map(|v| v.as_bytes()).unwrap_or_default();
        if values.next().is_some() || !secret.matches(given) {
            return Err(ApiError::Unauthorized);
        }
    }
    // A secret proves the sender; without one, only a source list does.
    if (config.telegram_secret.is_some() || !config.telegram_sources.is_empty())
        && let Some(auth) = parts.extensions.get::<Authenticated>()
    {
        auth.mark();
    }
    if !body::is_json(&parts.headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = body::read_limited(
        &parts.headers,
        body,
        config.max_body_bytes,
        config.body_timeout,
    )
    .await?;
    let update_id = parse_update_id(&bytes)?;
    tracing::Span::current().record("telegram.update_id", update_id);

    let span = mesh_telemetry::grpc_client_span!("bot.v1.BotService", "AcceptUpdates");
    let traceparent = span.in_scope(mesh_telemetry::current_traceparent);
    // The call's own deadline starts when it is sent; this one also covers
    // the wait for a call slot.
    let accepted = mesh_telemetry::grpc::client_call(span, async {
        tokio::time::timeout(
            app.upstreams.timeout,
            app.accepts.accept(update_id, bytes, traceparent),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Status::deadline_exceeded(
                "bot-service did not answer in time",
            ))
        })
    })
    .await;
    match accepted {
        Ok(duplicate) => {
            metrics::counter!("gateway_telegram_updates_total", "outcome" => if duplicate { "duplicate" } else { "accepted" })
                .increment(1);
            Ok(status("ok"))
        }
        Err(status) => Err(from_upstream("bot-service", &status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only JSON objects with an integer update_id pass.
    #[test]
    fn update_shapes() {
        assert_eq!(
            parse_update_id(br#" {"update_id": 7, "message": {"text": "x"}}"#).unwrap(),
            7
        );
        for bad in [
            &br#"[{"update_id":1}]"#[..],
            br#""update_id""#,
            br#"{"update_id": "7"}"#,
            br#"{"update_id": 7.5}"#,
            br#"{"message": {}}"#,
            br#"{"update_id": 7"#,
            b"not json",
            b"",
            br#"{"update_id": 1} trailing"#,
        ] {
            assert!(
                parse_update_id(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!(
            "{{\"update_id\":1,\"x\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(
            parse_update_id(deep.as_bytes()).is_err(),
            "deep nesting must be refused"
        );
        let in_text = format!(r#"{{"update_id":2,"t":"{}\"]"}}"#, "[".repeat(500));
        assert_eq!(
            parse_update_id(in_text.as_bytes()).unwrap(),
            2,
            "brackets inside strings don't count"
        );
    }
}
