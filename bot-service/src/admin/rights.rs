//! The bot's own rights in every chat it sells access to. At start-up, and
//! again every `BOT_RIGHTS_CHECK_SECS` (the plans may have changed),
//! bot-service asks Telegram for its own membership in each plan chat
//! (`getChatMember` on itself) and reports every right it lacks: making
//! invite links (also what approving join requests needs) and removing
//! members. A missing right is logged, shown by the
//! `bot_chat_rights_missing` gauge and in the gateway's `/ready` detail
//! (`services.chat_rights`, from a report in the shared store), and told
//! to the admins once a day per chat and set of rights (the message's
//! outbox id de-duplicates it across replicas and restarts). Without it
//! users of that chat's plans get no link there (the other chats still
//! do), and strangers can't be removed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mesh_state::reports::{self, ChatRights};
use mesh_state::{Store, Tx};
use teloxide_core::Bot;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, ChatMemberKind, UserId};
use tokio_util::sync::CancellationToken;

use crate::billing::BillingClient;
use crate::config::BotConfig;
use crate::delivery::action::message;
use crate::delivery::outbox::Item;
use crate::keys;
use crate::messages::Lang;

/// The rights the bot needs in a plan chat and lacks in `member`.
fn missing(member: &ChatMemberKind) -> Vec<&'static str> {
    match member {
        ChatMemberKind::Owner(_) => Vec::new(),
        ChatMemberKind::Administrator(a) => {
            let mut out = Vec::new();
            if !a.can_invite_users {
                out.push("can_invite_users");
            }
            if !a.can_restrict_members {
                out.push("can_restrict_members");
            }
            out
        }
        // Not an admin at all: none of it.
        _ => vec!["administrator", "can_invite_users", "can_restrict_members"],
    }
}

/// Checks every plan chat until `shutdown`, first as soon as billing names
/// the plans.
pub fn spawn(
    bot: Bot,
    billing: BillingClient,
    store: Store,
    config: Arc<BotConfig>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(1);
        loop {
            let next = match check(&bot, &billing, &store, &config).await {
                Ok(()) => {
                    wait = Duration::from_secs(1);
                    config.rights_check
                }
                Err(why) => {
                    tracing::info!(%why, "cannot check the bot's rights in the plan chats yet; retrying");
                    wait = (wait * 2).min(Duration::from_secs(60));
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(next) => {}
                () = shutdown.cancelled() => return,
            }
        }
    })
}

async fn check(
    bot: &Bot,
    billing: &BillingClient,
    store: &Store,
    config: &BotConfig,
) -> Result<(), String> {
    let plans = billing
        .plans()
        .await
        .map_err(|s| format!("billing: {}", s.code()))?;
    let chats: BTreeSet<i64> = plans
        .iter()
        .flat_map(|p| p.chats.iter().copied())
        .chain(config.premium_chat_id)
        .collect();
    let me = bot.get_me().await.map_err(|e| format!("getMe: {e}"))?;
    let day = chrono::Utc::now().timestamp() / 86_400;
    let mut report = ChatRights::new();
    for chat in chats {
        let member = bot
            .get_chat_member(ChatId(chat), UserId(me.id.0))
            .await
            .map_err(|e| format!("getChatMember in {chat}: {e}"))?;
        let lacks = missing(&member.kind);
        metrics::gauge!("bot_chat_rights_missing", "chat" => chat.to_string())
            .set(lacks.len() as f64);
        report.insert(chat, lacks.iter().map(|r| (*r).to_owned()).collect());
        if lacks.is_empty() {
            continue;
        }
        let rights = lacks.join(", ");
        tracing::warn!(chat, rights = %rights, "the bot lacks rights in a plan chat: users of its plans get no link there and strangers can't be removed");
        tell_admins(store, config, chat, &rights, day)
            .await
            .map_err(|e| format!("store: {e}"))?;
    }
    // For the gateway's readiness detail, for a few checks' time.
    let json = serde_json::to_vec(&report).map_err(|e| e.to_string())?;
    store
        .set(reports::CHAT_RIGHTS, &json, Some(config.rights_check * 3))
        .await
        .map_err(|e| format!("store: {e}"))?;
    Ok(())
}

/// Queues the admins' message, once a day per chat and set of rights.
async fn tell_admins(
    store: &Store,
    config: &BotConfig,
    chat: i64,
    rights: &str,
    day: i64,
) -> Result<(), mesh_state::StoreError> {
    let mut tx = Tx::new();
    for admin in &config.admin_ids {
        let lang = store
            .get(&keys::lang(*admin))
            .await?
            .and_then(|v| String::from_utf8(v).ok());
        let lang = Lang::from_code(lang.as_deref());
        let text = config.messages.text(
            lang,
            "admin-missing-rights",
            &[("chat", chat.into()), ("rights", rights.into())],
        );
        let id = format!("rights:{chat}:{rights}:{day}:{admin}");
        let item = Item {
            id: id.clone(),
            action: message(*admin, text),
            job: None,
            traceparent: String::new(),
        };
        let bytes = serde_json::to_vec(&item)
            .map_err(|e| mesh_state::StoreError::Protocol(e.to_string()))?;
        tx.enqueue(
            keys::OUTBOX,
            &config.outbox_queue,
            &id,
            &keys::chat_partition(*admin),
            bytes,
        );
    }
    if !tx.is_empty() {
        store.commit(&tx).await?;
    }
    Ok(())
}
