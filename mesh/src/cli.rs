//! The command lines of the four binaries (clap).
//!
//! Exit codes: 0 done; 1 a run or a command failed (the error is printed);
//! 2 bad usage or bad configuration (one line naming what is wrong).

use clap::{Parser, Subcommand};

/// `mesh`: any target of the platform, or an operator command.
#[derive(Debug, Parser)]
#[command(
    name = "mesh",
    version,
    about = "Paid-subscription Telegram bot platform: the gateway, bot-service and billing-service, together or one at a time, and the operator commands.",
    after_help = "Without a command, runs `all`. Configuration comes from the environment (see docs/operating.md)."
)]
pub struct MeshCli {
    /// What to run.
    #[command(subcommand)]
    pub command: Option<MeshCommand>,
}

/// A `mesh` command.
#[derive(Debug, Subcommand)]
pub enum MeshCommand {
    /// All three services in one process (the default): in-memory state
    /// without REDIS_URL, a dry run without TELEGRAM_BOT_TOKEN.
    All,
    /// The HTTP gateway only.
    Gateway,
    /// bot-service only.
    #[command(name = "bot-service", alias = "bot")]
    Bot,
    /// billing-service only.
    #[command(name = "billing-service", alias = "billing")]
    Billing,
    /// Rebuild every entitlement from Stripe (asks billing at BILLING_SERVICE_URL).
    Reconcile,
    /// Replay the Stripe events whose webhook delivery failed.
    #[command(alias = "recover-events")]
    Recover,
    /// Every member billing knows, as CSV on stdout (an admin call to
    /// billing at BILLING_SERVICE_URL).
    #[command(name = "export-members")]
    ExportMembers,
    /// Work bot-service gave up on: list it, or replay it once the cause is
    /// fixed (asks bot-service at BOT_SERVICE_URL).
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetterCommand),
    /// Telegram's webhook for this bot.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

/// `mesh dead-letters ...`.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Lists dead letters, oldest first, with why each was given up on.
    List {
        /// `updates` or `outbox` (default: both).
        #[arg(long)]
        queue: Option<String>,
        /// At most this many per queue.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Puts dead letters back in their chat's queue.
    Replay {
        /// `updates` or `outbox`.
        #[arg(long, default_value = "updates")]
        queue: String,
        /// A dead letter to replay (repeatable).
        #[arg(long = "id", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every dead letter of the queue.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

/// `... webhook ...`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Points Telegram at the gateway, with TELEGRAM_WEBHOOK_SECRET.
    Set {
        /// The public HTTPS URL of `/telegram-webhook` (port 443, 80, 88 or 8443).
        url: String,
        /// Concurrent deliveries Telegram may make (1-100).
        #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u8).range(1..=100))]
        max_connections: u8,
        /// Drop the updates Telegram is holding.
        #[arg(long)]
        drop_pending_updates: bool,
    },
    /// What Telegram knows: the URL, pending updates, the last error.
    Info,
    /// Stops webhook delivery (for polling).
    Delete {
        /// Drop the updates Telegram is holding.
        #[arg(long)]
        drop_pending_updates: bool,
    },
}

impl From<WebhookCommand> for bot_service::intake::webhook::Command {
    fn from(c: WebhookCommand) -> Self {
        match c {
            WebhookCommand::Set {
                url,
                max_connections,
                drop_pending_updates,
            } => Self::Set {
                url,
                max_connections,
                drop_pending_updates,
            },
            WebhookCommand::Info => Self::Info,
            WebhookCommand::Delete {
                drop_pending_updates,
            } => Self::Delete {
                drop_pending_updates,
            },
        }
    }
}

/// `bot-service`: the service, or its webhook.
#[derive(Debug, Parser)]
#[command(
    name = "bot-service",
    version,
    about = "bot-service: Telegram updates in, Bot API calls out (bot.v1 over gRPC).",
    after_help = "Without a command, runs the service. Configuration comes from the environment (see docs/operating.md)."
)]
pub struct BotCli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<BotCommand>,
}

/// A `bot-service` command.
#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Telegram's webhook for this bot.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}
