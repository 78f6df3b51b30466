//! Outgoing Bot API calls, through teloxide's `Bot`, or logged in a dry run.

use mesh_runtime::ConfigError;
use teloxide_core::requests::Requester;
use teloxide_core::types::ChatId;
use teloxide_core::{ApiError, Bot, RequestError};
use tracing::Instrument;

use crate::BotConfig;

/// How a failed call should be treated.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later (network, 5xx, 429 with its wait).
    #[error("transient Telegram failure: {reason}")]
    Transient {
        /// What went wrong (never contains the token).
        reason: String,
        /// Telegram's `retry_after`, when it gave one.
        retry_after: Option<std::time::Duration>,
    },
    /// Will fail again however often it is retried (blocked, bad request).
    #[error("permanent Telegram failure: {0}")]
    Permanent(String),
}

/// The Bot API client, or a dry run.
#[derive(Clone)]
pub enum Telegram {
    /// Real calls to `TELEGRAM_API_URL`.
    Live(Bot),
    /// No token: calls are logged, not sent.
    DryRun,
}

impl Telegram {
    /// The client `config` asks for; logs once when it is a dry run.
    pub fn new(config: &BotConfig) -> Result<Self, ConfigError> {
        let Some(token) = &config.token else {
            tracing::warn!(
                "TELEGRAM_BOT_TOKEN is not set: dry run, outgoing Telegram calls are logged, not sent"
            );
            return Ok(Self::DryRun);
        };
        let url = reqwest::Url::parse(&config.api_url)
            .map_err(|e| ConfigError::new("TELEGRAM_API_URL", e))?;
        let client = teloxide_core::net::default_reqwest_settings()
            .build()
            .map_err(|e| {
                ConfigError::new(
                    "TELEGRAM_API_URL",
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Self::Live(
            Bot::with_client(token.expose(), client).set_api_url(url),
        ))
    }

    /// `sendMessage`.
    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), SendError> {
        let span = tracing::info_span!(
            "telegram.sendMessage",
            otel.kind = "client",
            http.request.method = "POST",
            telegram.method = "sendMessage",
            telegram.chat_id = chat_id,
        );
        match self {
            Self::DryRun => {
                let _enter = span.enter();
                tracing::info!(chat_id, text, "dry run: would call sendMessage");
                Ok(())
            }
            Self::Live(bot) => {
                let outcome = bot
                    .send_message(ChatId(chat_id), text)
                    .into_future()
                    .instrument(span)
                    .await;
                metrics::counter!("bot_telegram_calls_total", "method" => "sendMessage", "ok" => if outcome.is_ok() { "true" } else { "false" })
                    .increment(1);
                outcome.map(|_| ()).map_err(classify)
            }
        }
    }
}

/// Sorts a teloxide error into retry-or-not. Matched exhaustively so a new
/// teloxide variant forces a decision here.
fn classify(e: RequestError) -> SendError {
    let transient = |reason: String| SendError::Transient {
        reason,
        retry_after: None,
    };
    match e {
        RequestError::RetryAfter(wait) => SendError::Transient {
            reason: "rate limited by Telegram".into(),
            retry_after: Some(wait.duration()),
        },
        // Reqwest errors may carry the request URL, which holds the token:
        // keep only the kind of failure.
        RequestError::Network(e) => transient(if e.is_timeout() {
            "timeout".into()
        } else {
            "network error".into()
        }),
        RequestError::Io(_) => transient("I/O error".into()),
        RequestError::InvalidJson { .. } => transient("invalid response from Telegram".into()),
        RequestError::MigrateToChatId(_) => {
            SendError::Permanent("chat migrated to a supergroup".into())
        }
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup => SendError::Permanent(api.to_string()),
            ApiError::Unknown(ref m)
                if m.contains("Internal Server Error") || m.contains("Bad Gateway") =>
            {
                transient(api.to_string())
            }
            other => SendError::Permanent(other.to_string()),
        },
    }
}
