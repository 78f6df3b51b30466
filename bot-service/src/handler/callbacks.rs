//! Taps on inline buttons. Every callback query is answered (or the
//! user's button spins); what the button does comes from its typed data.

use mesh_proto::refusal::BillingRefusal;
use teloxide_core::types::CallbackQuery;

use super::{HandleError, Handler};
use crate::callback::Callback;
use crate::delivery::action::Action;
use crate::effects::Effects;
use crate::keys;

impl Handler {
    pub(super) async fn on_callback(
        &self,
        q: &CallbackQuery,
        update_id: i64,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        // Answers go to the user's private chat.
        let private = i64::try_from(q.from.id.0).unwrap_or_default();
        let ctx = self.ctx(&q.from, private, update_id, out);
        let user = ctx.user;
        let lang = ctx.lang;
        out.send(Action::AnswerCallbackQuery {
            callback_query_id: q.id.0.clone(),
            text: None,
        });
        let Some(callback) = q.data.as_deref().and_then(Callback::parse) else {
            return Ok(());
        };
        let action = match callback {
            Callback::Subscribe(plan) => {
                let plans = match self.plans().await {
                    Ok(plans) => plans,
                    Err(s) => return Err(Self::billing_down(s)),
                };
                match plans.iter().find(|p| p.id == plan) {
                    Some(p) => self.pay_offer(&ctx, p, &q.id.0).await?,
                    None => self.say(user, lang, "plans-none"),
                }
            }
            Callback::CancelYes => {
                let session = keys::cancel_session(user);
                if self.store.get(&session).await?.is_none() {
                    out.send(self.say(user, lang, "confirmation-expired"));
                    return Ok(());
                }
                // Cancelling twice is harmless at billing, so handling this
                // tap again (after a failure, or while billing is away)
                // cancels once and answers once.
                match Self::retry_if_away(self.billing.cancel(user).await)? {
                    Ok(e) => {
                        out.writes.delete(&session);
                        let until = self.until(lang, &e);
                        crate::delivery::action::message(
                            user,
                            self.t(lang, "canceled", &[("date", (&until).into())]),
                        )
                    }
                    Err(s) if BillingRefusal::of(&s) == Some(BillingRefusal::NoSubscription) => {
                        out.writes.delete(&session);
                        self.say(user, lang, "no-subscription")
                    }
                    // The confirmation stays: tapping again works.
                    Err(_) => self.say(user, lang, "try-later"),
                }
            }
            Callback::CancelNo => {
                out.writes.delete(&keys::cancel_session(user));
                self.say(user, lang, "cancel-aborted")
            }
            Callback::Join => return self.join(&ctx, out).await,
            Callback::BroadcastSend => return self.broadcast_send(&ctx, out).await,
            Callback::BroadcastDiscard => {
                out.writes.delete(&keys::broadcast_draft(user));
                self.say(user, lang, "broadcast-discarded")
            }
            Callback::Resume => match Self::retry_if_away(self.billing.resume(user).await)? {
                Ok(_) => self.say(user, lang, "resumed"),
                Err(s) if BillingRefusal::of(&s) == Some(BillingRefusal::NoSubscription) => {
                    self.say(user, lang, "no-subscription")
                }
                Err(_) => self.say(user, lang, "try-later"),
            },
        };
        out.send(action);
        Ok(())
    }
}
