//! Who may be in the premium chats: join requests are approved for users
//! entitled to that chat and declined for others; anyone else who gets in
//! is removed. Billing being away is waited out (minutes of back-off), not
//! answered with a wrong decision: the gate fails closed.

use teloxide_core::types::{ChatJoinRequest, ChatMemberUpdated};

use super::{HandleError, Handler};
use crate::delivery::action::Action;
use crate::effects::Effects;
use crate::messages::Lang;

impl Handler {
    /// Whether `chat` is one the bot sells access to: the premium chat and
    /// every chat a plan opens. Fails closed: while billing can't answer,
    /// the plans of its last good answer decide (kept past their
    /// freshness); with none yet, the update waits for billing rather than
    /// let a plan chat pass as ungated.
    async fn gated(&self, chat: i64) -> Result<bool, HandleError> {
        if self.config.premium_chat_id == Some(chat) {
            return Ok(true);
        }
        let plans = match self.plans().await {
            Ok(plans) => plans,
            Err(status) => match &self.plans.lock().await.plans {
                Some((_, last_good)) => last_good.clone(),
                None => return Err(Self::billing_down(status)),
            },
        };
        Ok(plans.iter().any(|p| p.chats.contains(&chat)))
    }

    /// Whether `user` may be in `chat` now.
    async fn entitled(&self, user: i64, chat: i64) -> Result<bool, HandleError> {
        let e = self
            .billing
            .entitlement(user)
            .await
            .map_err(Self::billing_down)?;
        // An older billing names no chats: its access is to the premium chat.
        let opens = e.chats.contains(&chat)
            || (e.chats.is_empty() && self.config.premium_chat_id == Some(chat));
        Ok(e.has_access && opens)
    }

    pub(super) async fn on_join_request(
        &self,
        r: &ChatJoinRequest,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let chat = r.chat.id.0;
        if !self.gated(chat).await? {
            return Ok(());
        }
        let user = i64::try_from(r.from.id.0).unwrap_or_default();
        let lang = Lang::from_code(r.from.language_code.as_deref());
        if self.is_admin(user) || self.entitled(user, chat).await? {
            out.send(Action::ApproveJoinRequest {
                chat_id: chat,
                user_id: user,
            });
        } else {
            out.send(Action::DeclineJoinRequest {
                chat_id: chat,
                user_id: user,
            });
            out.send(self.say(r.user_chat_id.0, lang, "join-declined"));
        }
        Ok(())
    }

    pub(super) async fn on_chat_member(
        &self,
        m: &ChatMemberUpdated,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let chat = m.chat.id.0;
        let member = &m.new_chat_member;
        let joined = member.is_present() && !m.old_chat_member.is_present();
        if !joined || member.user.is_bot || member.is_privileged() || !self.gated(chat).await? {
            return Ok(());
        }
        let user = i64::try_from(member.user.id.0).unwrap_or_default();
        if self.is_admin(user) || self.entitled(user, chat).await? {
            return Ok(());
        }
        tracing::info!(
            user,
            chat,
            "member without an entitlement joined a premium chat; removing"
        );
        let lang = Lang::from_code(member.user.language_code.as_deref());
        out.send(Action::RemoveMember {
            chat_id: chat,
            user_id: user,
        });
        out.send(self.say(user, lang, "removed-no-access"));
        Ok(())
    }
}
