//! `bot-service webhook set|delete|info`: managing Telegram's webhook.

use teloxide_core::Bot;
use teloxide_core::payloads::{DeleteWebhookSetters, SetWebhookSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::AllowedUpdate;

/// The update kinds the bot handles, requested explicitly (`chat_member`
/// is only delivered when asked for).
pub const ALLOWED_UPDATES: &[&str] = &[
    "message",
    "callback_query",
    "chat_member",
    "chat_join_request",
    "my_chat_member",
    "pre_checkout_query",
];

fn allowed() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::CallbackQuery,
        AllowedUpdate::ChatMember,
        AllowedUpdate::ChatJoinRequest,
        AllowedUpdate::MyChatMember,
        AllowedUpdate::PreCheckoutQuery,
    ]
}

/// A webhook command.
#[derive(Debug, Clone)]
pub enum Command {
    /// Points Telegram at `url`.
    Set {
        /// The gateway's public `/telegram-webhook` URL.
        url: String,
        /// Concurrent deliveries (1-100).
        max_connections: u8,
        /// Drop what Telegram holds.
        drop_pending_updates: bool,
    },
    /// Shows what Telegram knows.
    Info,
    /// Stops webhook delivery.
    Delete {
        /// Drop what Telegram holds.
        drop_pending_updates: bool,
    },
}

/// Runs a webhook command. Reads `TELEGRAM_BOT_TOKEN`, `TELEGRAM_API_URL`
/// and `TELEGRAM_WEBHOOK_SECRET`.
pub async fn run(
    command: Command,
    config: &crate::BotConfig,
    secret: Option<&mesh_runtime::Secret>,
) -> anyhow::Result<()> {
    let Some(token) = &config.token else {
        anyhow::bail!("TELEGRAM_BOT_TOKEN: required to manage the webhook");
    };
    let url = reqwest::Url::parse(&config.api_url)?;
    let client = teloxide_core::net::default_reqwest_settings().build()?;
    let bot = Bot::with_client(token.expose(), client).set_api_url(url);
    match command {
        Command::Set {
            url,
            max_connections,
            drop_pending_updates,
        } => {
            let target =
                reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("webhook URL: {e}"))?;
            if !(1..=100).contains(&max_connections) {
                anyhow::bail!("--max-connections must be between 1 and 100 (Telegram's range)");
            }
            let mut request = bot
                .set_webhook(target.clone())
                .allowed_updates(allowed())
                .max_connections(max_connections)
                .drop_pending_updates(drop_pending_updates);
            match secret {
                Some(s) => request = request.secret_token(s.expose().to_owned()),
                None => eprintln!(
                    "warning: TELEGRAM_WEBHOOK_SECRET is not set; the gateway will not check the sender"
                ),
            }
            request.await?;
            println!(
                "webhook set to {target} (allowed updates: {})",
                ALLOWED_UPDATES.join(", ")
            );
        }
        Command::Delete {
            drop_pending_updates,
        } => {
            bot.delete_webhook()
                .drop_pending_updates(drop_pending_updates)
                .await?;
            println!("webhook deleted");
        }
        Command::Info => {
            let info = bot.get_webhook_info().await?;
            println!(
                "url: {}",
                info.url
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "(none)".into())
            );
            println!("pending_update_count: {}", info.pending_update_count);
            if let Some(n) = info.max_connections {
                println!("max_connections: {n}");
            }
            match (info.last_error_date, info.last_error_message) {
                (Some(at), Some(message)) => println!("last_error: {message} (at {at})"),
                _ => println!("last_error: none"),
            }
        }
    }
    Ok(())
}
