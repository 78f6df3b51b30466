//! Outgoing Bot API work, as data: what the outbox stores and sends.

use serde::{Deserialize, Serialize};

/// An inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Button {
    /// Opens a URL.
    Url {
        /// Label.
        text: String,
        /// Target.
        url: String,
    },
    /// Sends a callback query with `data` (at most 64 bytes).
    Callback {
        /// Label.
        text: String,
        /// Payload.
        data: String,
    },
}

/// One Bot API call (or a short fixed sequence) the bot wants made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Action {
    /// `sendMessage`, optionally with an inline keyboard.
    SendMessage {
        /// Target chat.
        chat_id: i64,
        /// Text.
        text: String,
        /// Keyboard rows.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Vec<Button>>,
    },
    /// `copyMessage`: the message `message_id` of `from_chat_id` (a photo,
    /// a document, formatted text) sent again to `chat_id`.
    CopyMessage {
        /// Target chat.
        chat_id: i64,
        /// Where the message is.
        from_chat_id: i64,
        /// Which message.
        message_id: i32,
    },
    /// `answerCallbackQuery`.
    AnswerCallbackQuery {
        /// The query.
        callback_query_id: String,
        /// A toast, if any.
        #[serde(default)]
        text: Option<String>,
    },
    /// `createChatInviteLink` (single use, expiring) for each of `chats`,
    /// then `sendMessage` to `chat_id` with a button per link.
    SendInvite {
        /// The user's chat.
        chat_id: i64,
        /// The chats the user may join.
        chats: Vec<i64>,
        /// Message text.
        text: String,
        /// Button labels, one per chat.
        buttons: Vec<String>,
        /// Link lifetime in seconds.
        expire_secs: i64,
    },
    /// `answerPreCheckoutQuery` (from the queue, when the answer at
    /// acceptance failed).
    AnswerPreCheckoutQuery {
        /// The query.
        pre_checkout_query_id: String,
        /// Why it is refused; `None`: ok.
        #[serde(default)]
        error_message: Option<String>,
    },
    /// `approveChatJoinRequest`.
    ApproveJoinRequest {
        /// The premium chat.
        chat_id: i64,
        /// The user.
        user_id: i64,
    },
    /// `declineChatJoinRequest`.
    DeclineJoinRequest {
        /// The premium chat.
        chat_id: i64,
        /// The user.
        user_id: i64,
    },
    /// `banChatMember` then `unbanChatMember(only_if_banned)`: removes the
    /// user without a lasting ban, so they can come back after paying.
    RemoveMember {
        /// The premium chat.
        chat_id: i64,
        /// The user.
        user_id: i64,
    },
}

impl Action {
    /// The chat this action writes to: throttling and ordering are per chat.
    pub fn chat(&self) -> i64 {
        match self {
            Self::SendMessage { chat_id, .. }
            | Self::SendInvite { chat_id, .. }
            | Self::CopyMessage { chat_id, .. } => *chat_id,
            Self::ApproveJoinRequest { chat_id, .. }
            | Self::DeclineJoinRequest { chat_id, .. }
            | Self::RemoveMember { chat_id, .. } => *chat_id,
            // Callback answers go to no chat; they are not rate limited by
            // Telegram per chat, so give them their own lane.
            Self::AnswerCallbackQuery { .. } | Self::AnswerPreCheckoutQuery { .. } => 0,
        }
    }

    /// Whether the action posts a message (counted against send limits).
    pub fn is_message(&self) -> bool {
        matches!(
            self,
            Self::SendMessage { .. } | Self::SendInvite { .. } | Self::CopyMessage { .. }
        )
    }

    /// The Bot API method, for logs and metrics.
    pub fn method(&self) -> &'static str {
        match self {
            Self::SendMessage { .. } => "sendMessage",
            Self::CopyMessage { .. } => "copyMessage",
            Self::AnswerCallbackQuery { .. } => "answerCallbackQuery",
            Self::AnswerPreCheckoutQuery { .. } => "answerPreCheckoutQuery",
            Self::SendInvite { .. } => "createChatInviteLink+sendMessage",
            Self::ApproveJoinRequest { .. } => "approveChatJoinRequest",
            Self::DeclineJoinRequest { .. } => "declineChatJoinRequest",
            Self::RemoveMember { .. } => "banChatMember+unbanChatMember",
        }
    }
}

/// Shorthand for a plain message.
pub fn message(chat_id: i64, text: impl Into<String>) -> Action {
    Action::SendMessage {
        chat_id,
        text: text.into(),
        buttons: Vec::new(),
    }
}
