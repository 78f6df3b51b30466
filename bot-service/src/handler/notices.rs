//! Billing's entitlement notices: welcome and invites, payment trouble,
//! cancellations, reminders, removals, and alerts for the admins.

use mesh_proto::bot::v1::{AccessReason, NoticeKind, NotifyEntitlementRequest};

use super::{HandleError, Handler, date};
use crate::delivery::action::{Action, Button, message};
use crate::effects::Effects;
use crate::keys;
use crate::messages::Lang;
use crate::pricing;

/// The word `access-ended` selects on.
fn reason_key(reason: AccessReason, word: &str) -> &'static str {
    match reason {
        AccessReason::Revoked => "revoked",
        AccessReason::PaymentFailed => "payment-failed",
        AccessReason::Canceled => "canceled",
        AccessReason::Refunded => "refunded",
        AccessReason::Disputed => "disputed",
        AccessReason::PlanChanged => "plan-changed",
        AccessReason::Expired => "expired",
        // An older billing sends only the word.
        AccessReason::Unspecified => match word {
            "revoked" => "revoked",
            "payment_failed" => "payment-failed",
            "canceled" => "canceled",
            _ => "expired",
        },
    }
}

impl Handler {
    /// The language `user` last wrote to the bot in.
    pub(super) async fn lang_of(&self, user: i64) -> Result<Lang, HandleError> {
        let stored = self.store.get(&keys::lang(user)).await?;
        Ok(Lang::from_code(
            stored.as_deref().and_then(|v| std::str::from_utf8(v).ok()),
        ))
    }

    /// The chats a notice concerns (an older billing names none: the
    /// premium chat).
    fn chats_of(&self, notice: &NotifyEntitlementRequest) -> Vec<i64> {
        if notice.chats.is_empty() {
            self.config.premium_chat_id.into_iter().collect()
        } else {
            notice.chats.clone()
        }
    }

    /// Acts on an entitlement notice from billing.
    pub async fn handle_notice(
        &self,
        notice: &NotifyEntitlementRequest,
    ) -> Result<Effects, HandleError> {
        let user = notice.telegram_user_id;
        let lang = self.lang_of(user).await?;
        let mut out = Effects::new(format!("n{}", notice.notice_id));
        let until = date(notice.access_until.as_ref().map(|t| t.seconds))
            .unwrap_or_else(|| self.t(lang, "period-end", &[]));
        match notice.kind() {
            NoticeKind::AccessGranted => {
                let chats = self.chats_of(notice);
                if chats.is_empty() {
                    out.send(self.say(user, lang, "welcome-no-chat"));
                } else {
                    out.send(self.invite(user, lang, chats, "welcome-premium").await);
                }
            }
            NoticeKind::RenewalSoon => {
                let amount = pricing::amount(lang, notice.amount, &notice.currency);
                out.send(message(
                    user,
                    self.t(
                        lang,
                        "renewal-soon",
                        &[("date", (&until).into()), ("amount", (&amount).into())],
                    ),
                ));
            }
            NoticeKind::WinBack => out.send(self.offer(user, lang, "win-back").await),
            NoticeKind::PaymentFailed => {
                let text = self.t(lang, "payment-failed", &[]);
                let action = match self
                    .billing
                    .portal(user, &format!("n{}", notice.notice_id))
                    .await
                {
                    Ok(url) => Action::SendMessage {
                        chat_id: user,
                        text,
                        buttons: vec![vec![Button::Url {
                            text: self.t(lang, "portal-button", &[]),
                            url,
                        }]],
                    },
                    Err(_) => message(user, format!("{text}\n/portal")),
                };
                out.send(action);
            }
            NoticeKind::PaymentActionRequired => {
                let text = self.t(lang, "action-required", &[]);
                out.send(match reqwest::Url::parse(&notice.url) {
                    Ok(_) => Action::SendMessage {
                        chat_id: user,
                        text,
                        buttons: vec![vec![Button::Url {
                            text: self.t(lang, "action-required-button", &[]),
                            url: notice.url.clone(),
                        }]],
                    },
                    Err(_) => message(user, format!("{text}\n/portal")),
                });
            }
            NoticeKind::PaymentRecovered => out.send(self.say(user, lang, "payment-recovered")),
            NoticeKind::Canceled => {
                out.send(message(
                    user,
                    self.t(lang, "canceled", &[("date", (&until).into())]),
                ));
            }
            NoticeKind::Resumed => out.send(self.say(user, lang, "resumed")),
            NoticeKind::DuplicateRefunded => {
                out.send(self.say(user, lang, "duplicate-refunded"));
            }
            NoticeKind::EndingSoon => {
                out.send(message(
                    user,
                    self.t(lang, "ending-soon", &[("date", (&until).into())]),
                ));
            }
            NoticeKind::TrialEnding => {
                let renews = if notice.renews { "yes" } else { "no" };
                out.send(message(
                    user,
                    self.t(
                        lang,
                        "trial-ending",
                        &[("date", (&until).into()), ("renews", renews.into())],
                    ),
                ));
            }
            NoticeKind::AccessEnded => {
                for chat in self.chats_of(notice) {
                    out.send(Action::RemoveMember {
                        chat_id: chat,
                        user_id: user,
                    });
                }
                let reason = reason_key(notice.reason_code(), &notice.reason);
                out.send(message(
                    user,
                    self.t(lang, "access-ended", &[("reason", reason.into())]),
                ));
            }
            NoticeKind::AdminAlert => {
                let who = user.to_string();
                for admin in &self.config.admin_ids {
                    let lang = self.lang_of(*admin).await?;
                    out.send(message(
                        *admin,
                        self.t(
                            lang,
                            "admin-alert",
                            &[("user", (&who).into()), ("detail", (&notice.detail).into())],
                        ),
                    ));
                }
            }
            NoticeKind::Unspecified => {
                return Err(HandleError::Permanent("notice without a kind".into()));
            }
        }
        Ok(out)
    }
}
