//! Executes [`Action`]s through teloxide's `Bot`, or logs them in a dry run.

use std::time::Duration;

use chrono::Utc;
use mesh_runtime::ConfigError;
use teloxide_core::payloads::{
    BanChatMemberSetters, CreateChatInviteLinkSetters, SendMessageSetters, UnbanChatMemberSetters,
};
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, UserId};
use teloxide_core::{ApiError, Bot, RequestError};
use tracing::Instrument;

use crate::BotConfig;
use crate::delivery::action::{Action, Button};

/// How a failed call should be treated.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Telegram asked us to wait (429): this chat pauses, others go on.
    #[error("rate limited by Telegram for {0:?}")]
    RetryAfter(Duration),
    /// The user blocked the bot (or is gone): stop writing to them.
    #[error("blocked by the user")]
    Blocked,
    /// Worth retrying later (network, 5xx).
    #[error("transient Telegram failure: {0}")]
    Transient(String),
    /// Will fail again however often it is retried.
    #[error("permanent Telegram failure: {0}")]
    Permanent(String),
}

/// What a call left behind that the outbox keeps.
#[derive(Debug, Default)]
pub struct Sent {
    /// Invite links created, per chat (revoked when the user asks again).
    pub links: Vec<(i64, String)>,
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

    /// The underlying client, unless this is a dry run.
    pub fn bot(&self) -> Option<&Bot> {
        match self {
            Self::Live(bot) => Some(bot),
            Self::DryRun => None,
        }
    }

    /// Makes the Bot API call(s) of `action`.
    pub async fn execute(&self, action: &Action) -> Result<Sent, SendError> {
        let span = call_span(action.method(), action.chat());
        let Self::Live(bot) = self else {
            let _enter = span.enter();
            tracing::info!(?action, "dry run: would call {}", action.method());
            return Ok(Sent::default());
        };
        let outcome = run(bot, action).instrument(span).await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(SendError::RetryAfter(_)) => "retry_after",
            Err(SendError::Blocked) => "blocked",
            Err(SendError::Transient(_)) => "transient",
            Err(SendError::Permanent(_)) => "permanent",
        };
        metrics::counter!("bot_telegram_calls_total", "method" => action.method(), "outcome" => label).increment(1);
        outcome
    }

    /// Answers a pre-checkout query at once (not through the outbox: it
    /// has 10 s). `error`: refused, with the text the user sees.
    pub async fn answer_pre_checkout(
        &self,
        id: &str,
        error: Option<&str>,
    ) -> Result<(), SendError> {
        let Self::Live(bot) = self else {
            tracing::info!(
                ok = error.is_none(),
                "dry run: would call answerPreCheckoutQuery"
            );
            return Ok(());
        };
        let span = call_span("answerPreCheckoutQuery", 0);
        let outcome = answer_query(bot, id, error).instrument(span).await;
        let label = if outcome.is_ok() { "ok" } else { "failed" };
        metrics::counter!("bot_telegram_calls_total", "method" => "answerPreCheckoutQuery", "outcome" => label).increment(1);
        outcome
    }

    /// `revokeChatInviteLink`: the link stops working (a used or expired
    /// one is refused by Telegram, which is as good).
    pub async fn revoke_invite(&self, chat: i64, link: &str) -> Result<(), SendError> {
        let Self::Live(bot) = self else {
            tracing::info!(chat, "dry run: would call revokeChatInviteLink");
            return Ok(());
        };
        let span = call_span("revokeChatInviteLink", chat);
        let outcome = std::future::IntoFuture::into_future(
            bot.revoke_chat_invite_link(ChatId(chat), link.to_owned()),
        )
        .instrument(span)
        .await
        .map(drop)
        .map_err(classify);
        let label = match &outcome {
            Ok(()) => "ok",
            Err(SendError::Permanent(_)) => "permanent",
            Err(SendError::RetryAfter(_)) => "retry_after",
            Err(_) => "transient",
        };
        metrics::counter!("bot_telegram_calls_total", "method" => "revokeChatInviteLink", "outcome" => label).increment(1);
        match outcome {
            Err(SendError::Permanent(_) | SendError::Blocked) => Ok(()),
            other => other,
        }
    }
}

/// The client span of one Bot API call (`chat` 0: none).
fn call_span(method: &'static str, chat: i64) -> tracing::Span {
    tracing::info_span!(
        "telegram.call",
        otel.name = method,
        otel.kind = "client",
        http.request.method = "POST",
        telegram.method = method,
        telegram.chat_id = chat,
    )
}

fn keyboard(rows: &[Vec<Button>]) -> Result<InlineKeyboardMarkup, SendError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut buttons = Vec::with_capacity(row.len());
        for b in row {
            buttons.push(match b {
                Button::Url { text, url } => InlineKeyboardButton::url(
                    text.clone(),
                    reqwest::Url::parse(url)
                        .map_err(|e| SendError::Permanent(format!("bad button URL: {e}")))?,
                ),
                Button::Callback { text, data } => {
                    InlineKeyboardButton::callback(text.clone(), data.clone())
                }
            });
        }
        out.push(buttons);
    }
    Ok(InlineKeyboardMarkup::new(out))
}

async fn run(bot: &Bot, action: &Action) -> Result<Sent, SendError> {
    let done = |r: Result<(), SendError>| r.map(|()| Sent::default());
    match action {
        Action::SendMessage {
            chat_id,
            text,
            buttons,
        } => {
            let mut request = bot.send_message(ChatId(*chat_id), text.clone());
            if !buttons.is_empty() {
                request = request.reply_markup(keyboard(buttons)?);
            }
            done(request.await.map(drop).map_err(classify))
        }
        Action::CopyMessage {
            chat_id,
            from_chat_id,
            message_id,
        } => done(
            bot.copy_message(
                ChatId(*chat_id),
                ChatId(*from_chat_id),
                teloxide_core::types::MessageId(*message_id),
            )
            .await
            .map(drop)
            .map_err(classify),
        ),
        Action::AnswerCallbackQuery {
            callback_query_id,
            text,
        } => {
            let mut request = bot.answer_callback_query(callback_query_id.clone().into());
            if let Some(t) = text {
                use teloxide_core::payloads::AnswerCallbackQuerySetters;
                request = request.text(t.clone());
            }
            done(request.await.map(drop).map_err(classify))
        }
        Action::SendInvite {
            chat_id,
            chats,
            text,
            buttons,
            expire_secs,
        } => {
            let expire = Utc::now() + chrono::Duration::seconds(*expire_secs);
            let mut rows = Vec::with_capacity(chats.len());
            let mut links = Vec::with_capacity(chats.len());
            let mut refused = Vec::new();
            for (i, chat) in chats.iter().enumerate() {
                // A retry after a partial failure makes new links; the
                // unused ones expire with the rest.
                let made = bot
                    .create_chat_invite_link(ChatId(*chat))
                    .name(format!("tg{chat_id}"))
                    .member_limit(1)
                    .expire_date(expire)
                    .await
                    .map_err(classify);
                // One chat's refusal (the bot lost its rights there) does
                // not hold back the links to the others.
                let link = match made {
                    Ok(link) => link,
                    Err(SendError::Permanent(reason)) => {
                        metrics::counter!("bot_invite_refusals_total").increment(1);
                        tracing::warn!(chat, %reason, "Telegram refused an invite link for this chat (check the bot's rights there); inviting to the others");
                        refused.push(format!("{chat}: {reason}"));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let label = buttons
                    .get(i)
                    .or(buttons.last())
                    .cloned()
                    .unwrap_or_default();
                links.push((*chat, link.invite_link.clone()));
                rows.push(vec![Button::Url {
                    text: label,
                    url: link.invite_link,
                }]);
            }
            if links.is_empty() {
                return Err(SendError::Permanent(format!(
                    "no invite link could be made: {}",
                    refused.join("; ")
                )));
            }
            bot.send_message(ChatId(*chat_id), text.clone())
                .reply_markup(keyboard(&rows)?)
                .await
                .map_err(classify)?;
            Ok(Sent { links })
        }
        Action::AnswerPreCheckoutQuery {
            pre_checkout_query_id,
            error_message,
        } => done(answer_query(bot, pre_checkout_query_id, error_message.as_deref()).await),
        Action::ApproveJoinRequest { chat_id, user_id } => done(
            bot.approve_chat_join_request(ChatId(*chat_id), user(*user_id)?)
                .await
                .map(drop)
                .map_err(classify),
        ),
        Action::DeclineJoinRequest { chat_id, user_id } => done(
            bot.decline_chat_join_request(ChatId(*chat_id), user(*user_id)?)
                .await
                .map(drop)
                .map_err(classify),
        ),
        Action::RemoveMember { chat_id, user_id } => {
            // An until_date under 30 s would mean "for ever": ban for a
            // minute, then lift it at once.
            bot.ban_chat_member(ChatId(*chat_id), user(*user_id)?)
                .until_date(Utc::now() + chrono::Duration::seconds(60))
                .await
                .map_err(classify)?;
            done(
                bot.unban_chat_member(ChatId(*chat_id), user(*user_id)?)
                    .only_if_banned(true)
                    .await
                    .map(drop)
                    .map_err(classify),
            )
        }
    }
}

/// `answerPreCheckoutQuery`: ok without `error`, else refused with it.
async fn answer_query(bot: &Bot, id: &str, error: Option<&str>) -> Result<(), SendError> {
    use teloxide_core::payloads::AnswerPreCheckoutQuerySetters;
    let mut request = bot.answer_pre_checkout_query(id.to_owned().into(), error.is_none());
    if let Some(error) = error {
        request = request.error_message(error.to_owned());
    }
    request.await.map(drop).map_err(classify)
}

fn user(id: i64) -> Result<UserId, SendError> {
    u64::try_from(id)
        .map(UserId)
        .map_err(|_| SendError::Permanent(format!("bad user id {id}")))
}

/// Sorts a teloxide error into what the outbox does next. Matched
/// exhaustively so a new teloxide variant forces a decision here.
fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(wait) => SendError::RetryAfter(wait.duration()),
        // Reqwest errors may carry the request URL, which holds the token:
        // keep only the kind of failure.
        RequestError::Network(e) => SendError::Transient(if e.is_timeout() {
            "timeout".into()
        } else {
            "network error".into()
        }),
        RequestError::Io(_) => SendError::Transient("I/O error".into()),
        RequestError::InvalidJson { .. } => {
            SendError::Transient("invalid response from Telegram".into())
        }
        RequestError::MigrateToChatId(_) => {
            SendError::Permanent("chat migrated to a supergroup".into())
        }
        RequestError::Api(api) => match api {
            ApiError::BotBlocked | ApiError::UserDeactivated => SendError::Blocked,
            ApiError::BotKicked | ApiError::BotKickedFromSupergroup | ApiError::ChatNotFound => {
                SendError::Permanent(api.to_string())
            }
            ApiError::Unknown(ref m)
                if m.contains("Internal Server Error")
                    || m.contains("Bad Gateway")
                    || m.contains("Gateway") =>
            {
                SendError::Transient(api.to_string())
            }
            other => SendError::Permanent(other.to_string()),
        },
    }
}
