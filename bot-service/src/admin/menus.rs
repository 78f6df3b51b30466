//! The command menu Telegram clients show: set at start-up with
//! `setMyCommands` for every supported language (and English as the
//! default), and for each admin in their own chat
//! (`BotCommandScopeChat`) with the admin commands too, in the admin's
//! language. Setting the same menu again changes nothing, so every
//! replica does it on every start; a failure is retried with back-off.

use std::time::Duration;

use mesh_state::Store;
use teloxide_core::Bot;
use teloxide_core::payloads::SetMyCommandsSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{BotCommand, BotCommandScope, ChatId, Recipient};
use tokio_util::sync::CancellationToken;

use crate::keys;
use crate::messages::{Catalogue, Lang};

/// Everyone's commands, and the catalogue message describing each.
const USER: &[(&str, &str)] = &[
    ("start", "cmd-start"),
    ("plans", "cmd-plans"),
    ("subscribe", "cmd-subscribe"),
    ("join", "cmd-join"),
    ("status", "cmd-status"),
    ("portal", "cmd-portal"),
    ("cancel", "cmd-cancel"),
    ("help", "cmd-help"),
];

/// The admins' commands besides everyone's.
const ADMIN: &[(&str, &str)] = &[
    ("stats", "cmd-stats"),
    ("user", "cmd-user"),
    ("grant", "cmd-grant"),
    ("revoke", "cmd-revoke"),
    ("refund", "cmd-refund"),
    ("broadcast", "cmd-broadcast"),
    ("broadcast_cancel", "cmd-broadcast-cancel"),
];

fn menu(texts: &Catalogue, lang: Lang, admin: bool) -> Vec<BotCommand> {
    let extra: &[(&str, &str)] = if admin { ADMIN } else { &[] };
    USER.iter()
        .chain(extra)
        .map(|(name, id)| BotCommand::new(*name, texts.text(lang, id, &[])))
        .collect()
}

/// One menu to set: the scope, the language (`None`: the default), the
/// commands.
type Menu = (BotCommandScope, Option<Lang>, Vec<BotCommand>);

async fn menus(texts: &Catalogue, store: &Store, admins: &[i64]) -> Vec<Menu> {
    let mut out = vec![(BotCommandScope::Default, None, menu(texts, Lang::En, false))];
    for lang in Lang::ALL {
        out.push((
            BotCommandScope::Default,
            Some(*lang),
            menu(texts, *lang, false),
        ));
    }
    for admin in admins {
        let stored = store.get(&keys::lang(*admin)).await.ok().flatten();
        let lang = Lang::from_code(stored.as_deref().and_then(|v| std::str::from_utf8(v).ok()));
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(*admin)),
        };
        out.push((scope, None, menu(texts, lang, true)));
    }
    out
}

/// Sets every menu, retrying until done or `shutdown`.
pub fn spawn(
    bot: Bot,
    texts: std::sync::Arc<Catalogue>,
    store: Store,
    admins: Vec<i64>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pending = menus(&texts, &store, &admins).await;
        let mut wait = Duration::from_secs(1);
        while !pending.is_empty() {
            let mut failed = Vec::new();
            for (scope, lang, commands) in pending {
                let mut request = bot.set_my_commands(commands.clone()).scope(scope.clone());
                if let Some(lang) = lang {
                    request = request.language_code(lang.code());
                }
                if let Err(e) = request.await {
                    if let teloxide_core::RequestError::RetryAfter(after) = &e {
                        wait = wait.max(after.duration());
                    }
                    tracing::warn!(error = %e, "cannot set the command menu; retrying");
                    failed.push((scope, lang, commands));
                }
            }
            pending = failed;
            if pending.is_empty() {
                tracing::info!("command menus set");
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every menu's commands are valid for Telegram, in every language.
    #[test]
    fn menus_are_valid() {
        let texts = Catalogue::load(None).unwrap();
        for lang in Lang::ALL {
            for admin in [false, true] {
                for c in menu(&texts, *lang, admin) {
                    assert!(
                        c.command.len() <= 32
                            && c.command
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b == b'_')
                    );
                    let len = c.description.chars().count();
                    assert!((1..=256).contains(&len), "{lang:?} {}", c.command);
                }
            }
        }
    }
}
