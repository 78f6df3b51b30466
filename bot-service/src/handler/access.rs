//! What a user is sold and how they get in: the plans with their prices,
//! the plan buttons, and invites (a fresh single-use link to each chat of
//! their plan, on `/join`, the button in `/status`, or a welcome; the
//! outbox revokes their earlier links first).

use mesh_proto::billing::v1::Plan;

use super::{Ctx, HandleError, Handler};
use crate::callback::Callback;
use crate::delivery::action::{Action, Button};
use crate::delivery::outbox::INVITE_LIFE;
use crate::effects::Effects;
use crate::messages::Lang;
use crate::pricing;

impl Handler {
    /// The plans as text (or why they can't be shown).
    pub(super) async fn plan_list(&self, lang: Lang) -> String {
        match self.plans().await {
            Err(_) => self.t(lang, "plans-unavailable", &[]),
            Ok(plans) if plans.is_empty() => self.t(lang, "plans-none", &[]),
            Ok(plans) => self.plan_lists.get(&plans, lang, || {
                let mut out = self.t(lang, "plans-header", &[]);
                for p in plans.iter() {
                    out.push('\n');
                    out.push_str(&self.plan_line(lang, p));
                }
                out
            }),
        }
    }

    fn plan_line(&self, lang: Lang, p: &Plan) -> String {
        match pricing::price(self.texts(), lang, p) {
            Some(price) => self.t(
                lang,
                "plan-line",
                &[
                    ("name", (&p.name).into()),
                    ("price", (&price).into()),
                    ("description", (&p.description).into()),
                ],
            ),
            None => self.t(
                lang,
                "plan-line-no-price",
                &[
                    ("name", (&p.name).into()),
                    ("description", (&p.description).into()),
                ],
            ),
        }
    }

    /// One button per plan, its price on it; a tap starts Checkout.
    pub(super) fn plan_buttons(&self, lang: Lang, plans: &[Plan]) -> Vec<Vec<Button>> {
        plans
            .iter()
            .map(|p| {
                let text = match pricing::price(self.texts(), lang, p) {
                    Some(price) => self.t(
                        lang,
                        "plan-button",
                        &[("name", (&p.name).into()), ("price", (&price).into())],
                    ),
                    None => p.name.clone(),
                };
                vec![Button::Callback {
                    text,
                    data: Callback::Subscribe(p.id.clone()).data(),
                }]
            })
            .collect()
    }

    /// The plans with their buttons, under `header` (a message id).
    pub(super) async fn offer(&self, chat: i64, lang: Lang, header: &str) -> Action {
        match self.plans().await {
            Ok(plans) if !plans.is_empty() => Action::SendMessage {
                chat_id: chat,
                text: format!(
                    "{}\n\n{}",
                    self.t(lang, header, &[]),
                    self.plan_list(lang).await
                ),
                buttons: self.plan_buttons(lang, &plans),
            },
            Ok(_) => self.say(chat, lang, "plans-none"),
            Err(_) => self.say(chat, lang, "try-later"),
        }
    }

    /// What each chat is, one line each, as the plans file describes them.
    async fn chat_lines(&self, lang: Lang, chats: &[i64]) -> Vec<String> {
        let plans = self.plans().await.ok();
        chats
            .iter()
            .filter_map(|chat| {
                let info = plans
                    .as_ref()?
                    .iter()
                    .flat_map(|p| p.chat_info.iter())
                    .find(|c| c.id == *chat)?;
                Some(if info.description.is_empty() {
                    self.t(
                        lang,
                        "chat-line-no-description",
                        &[("name", (&info.name).into())],
                    )
                } else {
                    self.t(
                        lang,
                        "chat-line",
                        &[
                            ("name", (&info.name).into()),
                            ("description", (&info.description).into()),
                        ],
                    )
                })
            })
            .collect()
    }

    /// A fresh single-use invite to each of `chats` for `user`, under the
    /// message `header` (which selects on `$count`), with what each chat is.
    pub(super) async fn invite(
        &self,
        user: i64,
        lang: Lang,
        chats: Vec<i64>,
        header: &str,
    ) -> Action {
        let count = i64::try_from(chats.len()).unwrap_or(1);
        let mut text = self.t(lang, header, &[("count", count.into())]);
        let lines = self.chat_lines(lang, &chats).await;
        if !lines.is_empty() {
            text = format!("{text}\n\n{}", lines.join("\n"));
        }
        let names = self.chat_names(&chats).await;
        let buttons = (1..=count)
            .zip(names)
            .map(|(n, name)| match name {
                Some(name) => self.t(lang, "join-named-button", &[("name", (&name).into())]),
                None => self.t(
                    lang,
                    "join-button",
                    &[("count", count.into()), ("number", n.into())],
                ),
            })
            .collect();
        Action::SendInvite {
            chat_id: user,
            chats,
            text,
            buttons,
            expire_secs: i64::try_from(INVITE_LIFE.as_secs()).unwrap_or(86_400),
        }
    }

    async fn chat_names(&self, chats: &[i64]) -> Vec<Option<String>> {
        let plans = self.plans().await.ok();
        chats
            .iter()
            .map(|chat| {
                plans
                    .as_ref()?
                    .iter()
                    .flat_map(|p| p.chat_info.iter())
                    .find(|c| c.id == *chat)
                    .map(|c| c.name.clone())
            })
            .collect()
    }

    /// `/join` and the "Get my invite link" button: fresh links for an
    /// entitled user, the plans for anyone else. While billing is away the
    /// request waits (a paying user gets their link once it answers)
    /// rather than being answered "try later".
    pub(super) async fn join(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        let entitlement = Self::retry_if_away(self.billing.entitlement(ctx.user).await)?;
        let action = match entitlement {
            Ok(e) if e.has_access => {
                let chats = if e.chats.is_empty() {
                    self.config.premium_chat_id.into_iter().collect()
                } else {
                    e.chats
                };
                if chats.is_empty() {
                    self.say(ctx.user, ctx.lang, "welcome-no-chat")
                } else {
                    self.invite(ctx.user, ctx.lang, chats, "join-links").await
                }
            }
            Ok(_) => self.offer(ctx.user, ctx.lang, "join-no-access").await,
            Err(_) => self.say(ctx.user, ctx.lang, "try-later"),
        };
        out.send(action);
        Ok(())
    }
}
