//! The commands everyone has: /start, /help, /plans, /subscribe, /join,
//! /status, /portal, /cancel.

use std::time::Duration;

use mesh_proto::billing::v1::{Entitlement, EntitlementState, Rail};
use mesh_proto::refusal::BillingRefusal;
use teloxide_core::types::{Message, User};

use super::admin::state_key;
use super::{Ctx, HandleError, Handler, date, parse_command};
use crate::callback::Callback;
use crate::delivery::action::{Action, Button};
use crate::effects::Effects;
use crate::keys;
use crate::messages::Lang;

/// How long a `/cancel` waits for its confirmation.
const CANCEL_CONFIRMATION: Duration = Duration::from_secs(600);

/// Whether the user's subscription is set to end and can be resumed.
pub(super) fn resumable(e: &Entitlement) -> bool {
    e.has_access && subscribed(e) && e.state() == EntitlementState::Canceled
}

/// Whether a subscription (Stripe's or Telegram Stars') pays for the
/// user's access.
fn subscribed(e: &Entitlement) -> bool {
    match e.rail() {
        Rail::Stars => !e.stars_subscription_charge_id.is_empty(),
        _ => !e.stripe_subscription_id.is_empty(),
    }
}

/// The rail's word in the catalogue's `status-rail` selector.
pub(super) fn rail_key(e: &Entitlement) -> &'static str {
    match e.rail() {
        Rail::Stars => "stars",
        Rail::Grant => "grant",
        _ => "stripe",
    }
}

/// A text message, as the commands read it (from teloxide's `Message`, or
/// straight from the update's JSON: `read::read_text`).
pub(super) struct Said<'a> {
    /// The sender, not a bot.
    pub from: &'a User,
    /// The chat's id.
    pub chat: i64,
    /// Whether the chat is a private one.
    pub private: bool,
    /// The text.
    pub text: &'a str,
    /// The chat and id of the message this one replies to.
    pub reply_to: Option<(i64, i32)>,
}

impl Handler {
    pub(super) async fn on_message(
        &self,
        m: &Message,
        update_id: i64,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let Some(from) = m.from.as_ref().filter(|u| !u.is_bot) else {
            return Ok(());
        };
        if m.chat.is_private() && super::payments::is_payment(m) {
            let ctx = self.ctx(from, m.chat.id.0, update_id, out);
            return self.on_payment(m, &ctx, out).await;
        }
        let Some(text) = m.text() else {
            return Ok(());
        };
        let said = Said {
            from,
            chat: m.chat.id.0,
            private: m.chat.is_private(),
            text,
            reply_to: m.reply_to_message().map(|r| (r.chat.id.0, r.id.0)),
        };
        self.on_text(&said, update_id, out).await
    }

    /// A text message from a person: a command, or something the bot
    /// doesn't understand.
    pub(super) async fn on_text(
        &self,
        said: &Said<'_>,
        update_id: i64,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let command = parse_command(said.text);
        if !said.private && !self.addressed(command.as_ref()) {
            return Ok(());
        }
        let from = said.from;
        let ctx = self.ctx(from, said.chat, update_id, out);
        if !self.within_limit(&ctx, out).await? {
            return Ok(());
        }
        let Some((name, _, args)) = command else {
            out.send(self.say(ctx.chat, ctx.lang, "unknown"));
            return Ok(());
        };
        let admin = self.is_admin(ctx.user);
        match name.as_str() {
            "start" => self.start(&ctx, from, args, out).await,
            "help" => {
                let mut text = self.t(ctx.lang, "help", &[]);
                if admin {
                    text = format!("{text}\n{}", self.t(ctx.lang, "help-admin", &[]));
                }
                out.send(crate::delivery::action::message(ctx.chat, text));
                Ok(())
            }
            "plans" => {
                let text = self.plan_list(ctx.lang).await;
                out.send(crate::delivery::action::message(ctx.chat, text));
                Ok(())
            }
            // The commands that ask billing or an admin's: boxed, so that
            // their futures (gRPC calls) don't size every handled update's,
            // which the worker moves as it starts each one.
            "subscribe" => Box::pin(self.subscribe(&ctx, out)).await,
            "join" => Box::pin(self.join(&ctx, out)).await,
            "status" => Box::pin(self.status(&ctx, out)).await,
            "portal" => Box::pin(self.portal(&ctx, &format!("u{update_id}"), out)).await,
            "cancel" => Box::pin(self.cancel_ask(&ctx, out)).await,
            "stats" if admin => Box::pin(self.stats(&ctx, out)).await,
            "user" if admin => Box::pin(self.user_info(&ctx, args, out)).await,
            "broadcast_cancel" if admin => Box::pin(self.broadcast_cancel(&ctx, out)).await,
            "grant" if admin => Box::pin(self.grant(&ctx, args, out)).await,
            "revoke" if admin => Box::pin(self.revoke(&ctx, args, out)).await,
            "refund" if admin => Box::pin(self.refund(&ctx, args, out)).await,
            "broadcast" if admin => Box::pin(self.broadcast(&ctx, args, said.reply_to, out)).await,
            // Admin commands from anyone else get the same answer as nonsense.
            _ => {
                out.send(self.say(ctx.chat, ctx.lang, "unknown"));
                Ok(())
            }
        }
    }

    async fn start(
        &self,
        ctx: &Ctx,
        from: &User,
        payload: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let text = match payload {
            "paid" => self.t(ctx.lang, "thanks-for-paying", &[]),
            "canceled" => self.t(ctx.lang, "checkout-canceled", &[]),
            _ => [
                self.t(ctx.lang, "greeting", &[("name", (&from.first_name).into())]),
                self.t(ctx.lang, "premium-pitch", &[]),
                self.plan_list(ctx.lang).await,
                self.t(ctx.lang, "start-footer", &[]),
            ]
            .join("\n\n"),
        };
        out.send(crate::delivery::action::message(ctx.chat, text));
        Ok(())
    }

    /// The plan buttons, or, for someone who already has access, where
    /// they stand: one live subscription per user.
    async fn subscribe(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        match self.billing.entitlement(ctx.user).await {
            Ok(e) if resumable(&e) => {
                out.send(self.resume_prompt(ctx.chat, ctx.lang, &e));
                return Ok(());
            }
            Ok(e) if e.has_access && e.rail() == Rail::Stars && subscribed(&e) => {
                let text = self.status_text(ctx.lang, &e);
                let manage = self.t(ctx.lang, "portal-stars", &[]);
                out.send(crate::delivery::action::message(
                    ctx.chat,
                    format!("{text}\n\n{manage}"),
                ));
                return Ok(());
            }
            Ok(e) if e.has_access && subscribed(&e) => {
                let text = self.status_text(ctx.lang, &e);
                out.send(
                    self.with_portal(ctx, text, &format!("u{}", ctx.update_id))
                        .await,
                );
                return Ok(());
            }
            Ok(_) => {}
            Err(_) => {
                out.send(self.say(ctx.chat, ctx.lang, "try-later"));
                return Ok(());
            }
        }
        let plans = match self.plans().await {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => {
                out.send(self.say(ctx.chat, ctx.lang, "plans-none"));
                return Ok(());
            }
            Err(_) => {
                out.send(self.say(ctx.chat, ctx.lang, "try-later"));
                return Ok(());
            }
        };
        out.send(Action::SendMessage {
            chat_id: ctx.chat,
            text: self.t(ctx.lang, "choose-plan", &[]),
            buttons: self.plan_buttons(ctx.lang, &plans),
        });
        Ok(())
    }

    /// "Your subscription ends on ..., resume it?" with the button.
    pub(super) fn resume_prompt(&self, chat: i64, lang: Lang, e: &Entitlement) -> Action {
        let until = self.until(lang, e);
        Action::SendMessage {
            chat_id: chat,
            text: self.t(lang, "resume-prompt", &[("date", (&until).into())]),
            buttons: vec![vec![Button::Callback {
                text: self.t(lang, "resume-button", &[]),
                data: Callback::Resume.data(),
            }]],
        }
    }

    /// The end of the period as users read it.
    pub(super) fn until(&self, lang: Lang, e: &Entitlement) -> String {
        date(e.current_period_end.as_ref().map(|t| t.seconds))
            .unwrap_or_else(|| self.t(lang, "period-end", &[]))
    }

    fn status_text(&self, lang: Lang, e: &Entitlement) -> String {
        let state = self.t(lang, "state", &[("state", state_key(e.state()).into())]);
        let plan = if e.plan_id.is_empty() {
            "-"
        } else {
            &e.plan_id
        };
        let mut lines = vec![
            self.t(lang, "status-plan", &[("plan", plan.into())]),
            self.t(lang, "status-state", &[("state", (&state).into())]),
        ];
        if e.has_access {
            lines.push(self.t(lang, "status-rail", &[("rail", rail_key(e).into())]));
        }
        if let Some(d) = date(e.current_period_end.as_ref().map(|t| t.seconds)) {
            let renews = !e.cancel_at_period_end
                && matches!(
                    e.state(),
                    EntitlementState::Active | EntitlementState::Trialing
                );
            let id = if renews {
                "status-renews"
            } else {
                "status-until"
            };
            lines.push(self.t(lang, id, &[("date", (&d).into())]));
        }
        let access = if e.has_access {
            "status-access"
        } else {
            "status-no-access"
        };
        lines.push(self.t(lang, access, &[]));
        lines.join("\n")
    }

    async fn status(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        let action = match self.billing.entitlement(ctx.user).await {
            Ok(e)
                if matches!(
                    e.state(),
                    EntitlementState::None | EntitlementState::Unspecified
                ) =>
            {
                self.say(ctx.chat, ctx.lang, "no-subscription")
            }
            Ok(e) => {
                let text = self.status_text(ctx.lang, &e);
                let mut buttons = Vec::new();
                if e.has_access {
                    buttons.push(vec![Button::Callback {
                        text: self.t(ctx.lang, "join-link-button", &[]),
                        data: Callback::Join.data(),
                    }]);
                }
                if resumable(&e) {
                    buttons.push(vec![Button::Callback {
                        text: self.t(ctx.lang, "resume-button", &[]),
                        data: Callback::Resume.data(),
                    }]);
                }
                Action::SendMessage {
                    chat_id: ctx.chat,
                    text,
                    buttons,
                }
            }
            Err(_) => self.say(ctx.chat, ctx.lang, "try-later"),
        };
        out.send(action);
        Ok(())
    }

    /// `text` with a button to the customer portal (or `text` alone when
    /// the portal can't be had).
    async fn with_portal(&self, ctx: &Ctx, text: String, request_id: &str) -> Action {
        match self.billing.portal(ctx.user, request_id).await {
            Ok(url) => Action::SendMessage {
                chat_id: ctx.chat,
                text,
                buttons: vec![vec![Button::Url {
                    text: self.t(ctx.lang, "portal-button", &[]),
                    url,
                }]],
            },
            Err(_) => crate::delivery::action::message(ctx.chat, format!("{text}\n/portal")),
        }
    }

    async fn portal(
        &self,
        ctx: &Ctx,
        request_id: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        // Telegram's settings manage a Stars subscription; there is no
        // Stripe portal for it.
        if let Ok(e) = self.billing.entitlement(ctx.user).await
            && e.has_access
            && e.rail() == Rail::Stars
        {
            out.send(self.say(ctx.chat, ctx.lang, "portal-stars"));
            return Ok(());
        }
        let action = match Self::retry_if_away(self.billing.portal(ctx.user, request_id).await)? {
            Ok(url) => Action::SendMessage {
                chat_id: ctx.chat,
                text: self.t(ctx.lang, "portal-prompt", &[]),
                buttons: vec![vec![Button::Url {
                    text: self.t(ctx.lang, "portal-button", &[]),
                    url,
                }]],
            },
            Err(s) => match BillingRefusal::of(&s) {
                Some(BillingRefusal::NoCustomer) => self.say(ctx.chat, ctx.lang, "no-subscription"),
                Some(BillingRefusal::PaymentsNotConfigured) => {
                    self.say(ctx.chat, ctx.lang, "payments-unavailable")
                }
                _ => self.say(ctx.chat, ctx.lang, "try-later"),
            },
        };
        out.send(action);
        Ok(())
    }

    async fn cancel_ask(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        let entitlement = match self.billing.entitlement(ctx.user).await {
            Ok(e) => e,
            Err(_) => {
                out.send(self.say(ctx.chat, ctx.lang, "try-later"));
                return Ok(());
            }
        };
        let cancellable = entitlement.has_access
            && subscribed(&entitlement)
            && matches!(
                entitlement.state(),
                EntitlementState::Active | EntitlementState::Trialing | EntitlementState::PastDue
            );
        if !cancellable {
            out.send(self.say(ctx.chat, ctx.lang, "no-subscription"));
            return Ok(());
        }
        // The dialogue's state lives in the shared store (so the "yes" may
        // reach any replica), written with this reply; it expires if the
        // user walks away.
        out.writes.set(
            &keys::cancel_session(ctx.user),
            b"asked",
            Some(CANCEL_CONFIRMATION),
        );
        let until = self.until(ctx.lang, &entitlement);
        out.send(Action::SendMessage {
            chat_id: ctx.chat,
            text: self.t(ctx.lang, "cancel-confirm", &[("date", (&until).into())]),
            buttons: vec![vec![
                Button::Callback {
                    text: self.t(ctx.lang, "button-yes-cancel", &[]),
                    data: Callback::CancelYes.data(),
                },
                Button::Callback {
                    text: self.t(ctx.lang, "button-keep", &[]),
                    data: Callback::CancelNo.data(),
                },
            ]],
        });
        Ok(())
    }
}
