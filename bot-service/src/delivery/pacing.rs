//! Telegram's sending limits: about 30 messages a second overall, one a
//! second per private chat, 20 a minute per group; shared by every
//! replica through the store.

use std::time::Duration;

use mesh_state::{RateDecision, Store, StoreError};

use crate::delivery::action::Action;
use crate::keys;

/// Sending limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Spacing of messages overall (34 ms: 29.4/s, at most 30 in any second).
    pub global: Duration,
    /// Spacing of messages to one private chat.
    pub chat: Duration,
    /// Spacing of messages to one group (20 per minute).
    pub group: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            global: Duration::from_millis(34),
            chat: Duration::from_secs(1),
            group: Duration::from_secs(3),
        }
    }
}

/// Books `action`'s chat's and the global budget. Returns how long the
/// chat must wait (the claim is given back so others can go meanwhile).
pub(super) async fn throttle(
    store: &Store,
    limits: Limits,
    action: &Action,
) -> Result<Option<Duration>, StoreError> {
    if action.is_message() {
        let chat = action.chat();
        let spacing = if chat < 0 { limits.group } else { limits.chat };
        if let RateDecision::Limited { retry_after, .. } = store
            .rate_limit(&keys::send_limit(chat), spacing, 1)
            .await?
        {
            return Ok(Some(retry_after));
        }
    }
    // The overall pace: book the next global slot and wait for it here,
    // holding the claim. Booking (rather than asking "may I now?") loses
    // no slot when no sender happens to ask at the instant it opens.
    let wait = store.reserve_slot(keys::SEND_PACE, limits.global).await?;
    tokio::time::sleep(wait).await;
    Ok(None)
}
