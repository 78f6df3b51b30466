//! What the bot does with one update.

use std::time::Duration;

use teloxide_core::types::{Message, Update, UpdateKind};

use crate::billing::BillingClient;
use crate::messages;
use crate::telegram::{SendError, Telegram};

/// Why handling failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Try again later (after `retry_after` when given).
    #[error("{reason}")]
    Transient {
        /// What failed.
        reason: String,
        /// How long to wait first.
        retry_after: Option<Duration>,
    },
    /// Retrying can't help (an update this version can't read).
    #[error("{0}")]
    Permanent(String),
}

impl From<SendError> for HandleError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Transient {
                reason,
                retry_after,
            } => Self::Transient {
                reason,
                retry_after,
            },
            SendError::Permanent(reason) => Self::Permanent(reason),
        }
    }
}

/// A command at the start of a message: `/name@bot args` gives `("name", "args")`.
pub fn parse_command(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = head.split('@').next().unwrap_or(head);
    if name.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), args.trim()))
}

/// Handles updates; cheap to clone.
#[derive(Clone)]
pub struct Handler {
    telegram: Telegram,
    billing: BillingClient,
}

impl Handler {
    /// A handler answering through `telegram` and asking `billing`.
    pub fn new(telegram: Telegram, billing: BillingClient) -> Self {
        Self { telegram, billing }
    }

    /// Handles one raw update.
    pub async fn handle(&self, update: &[u8]) -> Result<(), HandleError> {
        let update: Update = serde_json::from_slice(update)
            .map_err(|e| HandleError::Permanent(format!("unreadable update: {e}")))?;
        match update.kind {
            UpdateKind::Message(message) => self.on_message(&message).await,
            // Other kinds are accepted and acknowledged; nothing to say.
            _ => Ok(()),
        }
    }

    async fn on_message(&self, message: &Message) -> Result<(), HandleError> {
        if !message.chat.is_private() {
            return Ok(());
        }
        let Some(text) = message.text() else {
            return Ok(());
        };
        let chat = message.chat.id.0;
        let reply = match parse_command(text) {
            Some((name, _args)) => match name.as_str() {
                "start" => {
                    let plans = self.plans().await;
                    let first_name = message.from.as_ref().map(|u| u.first_name.as_str());
                    messages::welcome(first_name, plans.as_deref())
                }
                "help" => messages::help(),
                "plans" => messages::plan_list(self.plans().await.as_deref()),
                _ => messages::unknown(),
            },
            None => messages::unknown(),
        };
        self.telegram
            .send_message(chat, &reply)
            .await
            .map_err(HandleError::from)
    }

    /// The plans, or `None` when billing can't be reached (the reply says so
    /// rather than failing the whole update).
    async fn plans(&self) -> Option<Vec<mesh_proto::billing::v1::Plan>> {
        match self.billing.plans().await {
            Ok(plans) => Some(plans),
            Err(status) => {
                tracing::warn!(code = ?status.code(), "billing unavailable for plans");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_command;

    /// Commands with bot suffixes and arguments are recognised; other text is not.
    #[test]
    fn commands() {
        assert_eq!(parse_command("/start"), Some(("start".into(), "")));
        assert_eq!(
            parse_command("/Start@PayBot  ref_42 "),
            Some(("start".into(), "ref_42"))
        );
        assert_eq!(
            parse_command("/grant 1 monthly 30"),
            Some(("grant".into(), "1 monthly 30"))
        );
        assert_eq!(parse_command("hello"), None);
        assert_eq!(parse_command("/"), None);
    }
}
