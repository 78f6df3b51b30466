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

use crate::action::Action;
use crate::keys;
use crate::telegram::{SendError, Telegram};

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

/// Revokes the links kept for the chats `action` invites to; returns the
/// kept links (for [`remember`]). Not an invite: nothing to do.
pub async fn revoke_earlier(
    telegram: &Telegram,
    store: &Store,
    action: &Action,
) -> Result<Option<Links>, SendError> {
    let Action::SendInvite { chat_id, chats, .. } = action else {
        return Ok(None);
    };
    let links = kept(store, *chat_id)
        .await
        .map_err(|e| SendError::Transient(format!("store: {e}")))?;
    for chat in chats {
        if let Some(link) = links.get(chat) {
            telegram.revoke_invite(*chat, link).await?;
        }
    }
    Ok(Some(links))
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
