//! Local development without a public URL: `getUpdates` long polling
//! feeding the same durable path as webhooks.
//!
//! The call is made by hand rather than with teloxide's typed
//! `get_updates`: each update must reach the queue as the exact bytes
//! Telegram sent (as a webhook's do), and the typed call would re-serialise
//! them. The offset lives in the shared store and only advances after the
//! updates are queued, so a crash redelivers rather than loses; the
//! `update_id` de-duplication absorbs the repeat.

use std::sync::Arc;
use std::time::Duration;

use mesh_state::{QueueConfig, Store};
use serde::Deserialize;
use serde_json::value::RawValue;
use teloxide_core::Bot;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::intake::service::{Incoming, accept_updates};
use crate::intake::webhook::ALLOWED_UPDATES;

const LONG_POLL_SECS: u64 = 25;

#[derive(Deserialize)]
struct Envelope<'a> {
    ok: bool,
    #[serde(borrow, default)]
    result: Vec<&'a RawValue>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
}

/// Polls until `shutdown`.
pub async fn run(
    bot: Bot,
    store: Store,
    queue: QueueConfig,
    username: Option<String>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    tracing::info!("polling Telegram for updates (getUpdates)");
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let outcome = tokio::select! {
            r = poll_once(&bot, &store, &queue, username.as_deref(), &wake) => r,
            () = shutdown.cancelled() => return,
        };
        match outcome {
            Ok(n) => {
                failures = 0;
                if n > 0 {
                    tracing::debug!(updates = n, "polled");
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(error = %e, "getUpdates failed; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(u64::from(failures.min(5)))) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

async fn poll_once(
    bot: &Bot,
    store: &Store,
    queue: &QueueConfig,
    username: Option<&str>,
    wake: &Notify,
) -> Result<usize, String> {
    let offset: i64 = store
        .get(crate::keys::POLL_OFFSET)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut url = bot.api_url();
    url.set_path(&format!("bot{}/getUpdates", bot.token()));
    let body = serde_json::json!({
        "offset": offset,
        "timeout": LONG_POLL_SECS,
        "allowed_updates": ALLOWED_UPDATES,
    });
    let response = bot
        .client()
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(LONG_POLL_SECS + 10))
        .send()
        .await
        // The URL holds the token: report only the kind of failure.
        .map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                "network error".to_owned()
            }
        })?;
    let bytes = response
        .bytes()
        .await
        .map_err(|_| "network error".to_owned())?;
    let envelope: Envelope<'_> =
        serde_json::from_slice(&bytes).map_err(|e| format!("unreadable getUpdates answer: {e}"))?;
    if !envelope.ok {
        let hint = if envelope.error_code == Some(409) {
            " (a webhook is set: run `bot-service webhook delete`)"
        } else {
            ""
        };
        return Err(format!(
            "{}{hint}",
            envelope.description.unwrap_or_default()
        ));
    }
    let mut next = offset;
    // The whole page in one store write.
    let page: Vec<Incoming<'_>> = envelope
        .result
        .iter()
        .map(|raw| Incoming {
            json: raw.get().as_bytes(),
            claimed_id: None,
            span: tracing::Span::current(),
        })
        .collect();
    let outcomes = accept_updates(store, queue, username, wake, None, &page)
        .await
        .map_err(|e| e.to_string())?;
    for outcome in outcomes {
        match outcome {
            Ok((id, _)) => next = next.max(id + 1),
            // Telegram never sends one; skipping it beats polling the same page forever.
            Err(reason) => {
                tracing::warn!(%reason, "getUpdates returned an unreadable update; skipped")
            }
        }
    }
    if next != offset {
        store
            .set(crate::keys::POLL_OFFSET, next.to_string().as_bytes(), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(envelope.result.len())
}
