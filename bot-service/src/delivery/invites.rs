//! A user's invite links: one single-use link per chat, fresh whenever
//! they ask (`/join`, the button in `/status`, a welcome). The links made
//! last time are kept, per user and chat, so the next invite revokes them
//! first (`revokeChatInviteLink`): a link forwarded to someone else stops
//! working as soon as its owner asks for a new one.
//!
//! Links are read, revoked, made and kept by the outbox sender as it sends
//! the invite (the links exist only once Telegram made them); kept links
//! expire with the links themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use mesh_state::{Store, StoreError, Tx};

use crate::delivery::telegram::Telegram;
use crate::keys;

/// Kept links, per chat.
pub type Links = BTreeMap<i64, String>;

/// The links made for `user` last time.
pub async fn kept(store: &Store, user: i64) -> Result<Links, StoreError> {
    Ok(store
        .get(&keys::invites(user))
        .await?
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default())
}

/// Revokes `earlier` links (read with [`kept`] before the invite was
/// sent) of the chats a new link was just made for (`made`); a chat whose
/// new link was refused keeps its earlier link. Best effort: a revocation
/// Telegram refuses is logged (that link still expires on its own) and
/// does not undo the invite already sent.
pub async fn revoke_replaced(
    telegram: &Telegram,
    user: i64,
    earlier: &Links,
    made: &[(i64, String)],
) {
    for (chat, _) in made {
        if let Some(link) = earlier.get(chat)
            && let Err(e) = telegram.revoke_invite(*chat, link).await
        {
            tracing::warn!(user, chat, error = ?e, "cannot revoke an earlier invite link; it expires on its own");
        }
    }
}

/// Keeps `made` (over `earlier`) for `user` in `tx`, for as long as the
/// links work.
pub fn remember(
    tx: &mut Tx,
    user: i64,
    mut earlier: Links,
    made: Vec<(i64, String)>,
    life: Duration,
) {
    if made.is_empty() {
        return;
    }
    earlier.extend(made);
    if let Ok(json) = serde_json::to_vec(&earlier) {
        tx.set(&keys::invites(user), &json, Some(life));
    }
}
