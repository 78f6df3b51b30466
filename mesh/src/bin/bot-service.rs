//! The `bot-service` binary: the mesh with the `bot-service` target only;
//! `bot-service webhook set|info|delete` manages Telegram's webhook.

use clap::Parser;
use mesh::cli::{BotCli, BotCommand};

fn main() -> anyhow::Result<()> {
    match BotCli::parse().command {
        Some(BotCommand::Webhook(c)) => mesh::ops::webhook(c.into()),
        None => mesh::main_for(mesh::Target::Bot),
    }
}
