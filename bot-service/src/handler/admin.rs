//! The commands of `ADMIN_USER_IDS`: /stats, /grant, /revoke, /broadcast.

use super::{Ctx, HandleError, Handler, date};
use crate::action::message;
use crate::broadcast::Job;
use crate::effects::Effects;
use crate::keys;

/// The rest of an admin command's words as its reason, or `default`.
fn reason<'a>(words: impl Iterator<Item = &'a str>, default: &str) -> String {
    let reason = words.collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        default.to_owned()
    } else {
        reason
    }
}

impl Handler {
    fn usage(&self, ctx: &Ctx, usage: &str, out: &mut Effects) {
        out.send(message(
            ctx.chat,
            self.t(ctx.lang, "usage", &[("usage", usage.into())]),
        ));
    }

    pub(super) async fn stats(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        let users = i64::try_from(self.store.sorted_len(keys::USERS).await?).unwrap_or(i64::MAX);
        let blocked = i64::try_from(self.store.set_len(keys::BLOCKED).await?).unwrap_or(i64::MAX);
        let text = match self.billing.stats().await {
            Ok(s) => {
                let active = i64::try_from(s.with_access).unwrap_or(i64::MAX);
                let mut lines = vec![self.t(
                    ctx.lang,
                    "stats",
                    &[
                        ("users", users.into()),
                        ("blocked", blocked.into()),
                        ("active", active.into()),
                    ],
                )];
                let mut plans: Vec<_> = s.with_access_by_plan.iter().collect();
                plans.sort();
                for (plan, n) in plans {
                    let n = i64::try_from(*n).unwrap_or(i64::MAX);
                    lines.push(self.t(
                        ctx.lang,
                        "stats-plan",
                        &[("plan", plan.into()), ("count", n.into())],
                    ));
                }
                let churned = i64::try_from(s.churned_this_month).unwrap_or(i64::MAX);
                lines.push(self.t(ctx.lang, "stats-churned", &[("churned", churned.into())]));
                lines.join("\n")
            }
            Err(_) => self.t(ctx.lang, "try-later", &[]),
        };
        out.send(message(ctx.chat, text));
        Ok(())
    }

    pub(super) async fn grant(
        &self,
        ctx: &Ctx,
        args: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let mut words = args.split_whitespace();
        let parsed = (
            words.next().and_then(|u| u.parse::<i64>().ok()),
            words.next(),
            words.next().and_then(|d| d.parse::<u32>().ok()),
        );
        let (Some(user), Some(plan), Some(days)) = parsed else {
            self.usage(ctx, "/grant <user id> <plan> <days> [reason]", out);
            return Ok(());
        };
        let reason = reason(words, "granted by admin");
        let actor = format!("telegram:{}", ctx.user);
        // The update's id makes the grant idempotent: handling this
        // update again grants once.
        let request = format!("u{}", ctx.update_id);
        let granted = self
            .billing
            .grant(user, plan, days, &reason, &actor, &request)
            .await;
        let text = match Self::retry_if_away(granted)? {
            Ok(e) => {
                let until = date(e.current_period_end.map(|t| t.seconds)).unwrap_or_default();
                let who = user.to_string();
                self.t(
                    ctx.lang,
                    "granted",
                    &[
                        ("user", (&who).into()),
                        ("plan", plan.into()),
                        ("date", (&until).into()),
                    ],
                )
            }
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::NotFound | tonic::Code::InvalidArgument
                ) =>
            {
                self.t(ctx.lang, "usage", &[("usage", s.message().into())])
            }
            Err(_) => self.t(ctx.lang, "try-later", &[]),
        };
        out.send(message(ctx.chat, text));
        Ok(())
    }

    pub(super) async fn revoke(
        &self,
        ctx: &Ctx,
        args: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let mut words = args.split_whitespace().peekable();
        let Some(user) = words.next().and_then(|u| u.parse::<i64>().ok()) else {
            self.usage(ctx, "/revoke <user id> [grant] [reason]", out);
            return Ok(());
        };
        // `/revoke <user> grant ...` takes back only an admin grant.
        let grant_only = words.next_if(|w| w.eq_ignore_ascii_case("grant")).is_some();
        let reason = reason(words, "revoked by admin");
        let actor = format!("telegram:{}", ctx.user);
        let revoked = self.billing.revoke(user, &reason, &actor, grant_only).await;
        let text = match Self::retry_if_away(revoked)? {
            Ok(_) => {
                let who = user.to_string();
                self.t(ctx.lang, "revoked", &[("user", (&who).into())])
            }
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                self.t(ctx.lang, "usage", &[("usage", s.message().into())])
            }
            Err(_) => self.t(ctx.lang, "try-later", &[]),
        };
        out.send(message(ctx.chat, text));
        Ok(())
    }

    pub(super) async fn broadcast(
        &self,
        ctx: &Ctx,
        text: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        if text.is_empty() {
            self.usage(ctx, "/broadcast <text>", out);
            return Ok(());
        }
        let users = self.store.sorted_len(keys::USERS).await?;
        let blocked = self.store.set_len(keys::BLOCKED).await?;
        let recipients = i64::try_from(users.saturating_sub(blocked)).unwrap_or(i64::MAX);
        out.send(message(
            ctx.chat,
            self.t(
                ctx.lang,
                "broadcast-started",
                &[("count", recipients.into())],
            ),
        ));
        // The job and its first step are committed with this reply; the
        // recipients are queued step by step by the job itself.
        let job = Job {
            id: format!("u{}", ctx.update_id),
            admin_chat: ctx.chat,
            lang: ctx.lang,
            text: text.to_owned(),
        };
        job.start(&mut out.writes, &self.config.queue)
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
        Ok(())
    }
}
