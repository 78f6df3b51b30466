//! The commands of `ADMIN_USER_IDS`: /stats, /user, /grant, /revoke
//! (broadcasts are in [`super::broadcasts`]).

use mesh_proto::billing::v1::{EntitlementState, GetStatsResponse};

use super::{Ctx, HandleError, Handler, date};
use crate::delivery::action::message;
use crate::effects::Effects;
use crate::keys;
use crate::messages::Lang;
use crate::pricing;

/// A state's word in the catalogue's `state` selector.
pub(super) fn state_key(state: EntitlementState) -> &'static str {
    match state {
        EntitlementState::Trialing => "trialing",
        EntitlementState::PastDue => "past-due",
        EntitlementState::Canceled => "canceled",
        EntitlementState::Expired => "expired",
        EntitlementState::Suspended => "suspended",
        EntitlementState::None | EntitlementState::Unspecified => "none",
        EntitlementState::Active => "active",
    }
}

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
    pub(super) fn usage(&self, ctx: &Ctx, usage: &str, out: &mut Effects) {
        out.send(message(
            ctx.chat,
            self.t(ctx.lang, "usage", &[("usage", usage.into())]),
        ));
    }

    pub(super) async fn stats(&self, ctx: &Ctx, out: &mut Effects) -> Result<(), HandleError> {
        let users = i64::try_from(self.store.sorted_len(keys::USERS).await?).unwrap_or(i64::MAX);
        let blocked = i64::try_from(self.store.set_len(keys::BLOCKED).await?).unwrap_or(i64::MAX);
        let text = match self.billing.stats().await {
            Ok(s) => self.stats_text(ctx.lang, users, blocked, &s),
            Err(_) => self.t(ctx.lang, "try-later", &[]),
        };
        out.send(message(ctx.chat, text));
        Ok(())
    }

    fn stats_text(&self, lang: Lang, users: i64, blocked: i64, s: &GetStatsResponse) -> String {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let state = |name: &str| n(s.by_state.get(name).copied().unwrap_or(0));
        let mut lines = vec![
            self.t(
                lang,
                "stats",
                &[
                    ("users", users.into()),
                    ("blocked", blocked.into()),
                    ("active", n(s.with_access).into()),
                ],
            ),
            self.t(
                lang,
                "stats-states",
                &[
                    ("active", state("active").into()),
                    ("trialing", state("trialing").into()),
                    ("pastdue", state("past_due").into()),
                    ("canceled", state("canceled").into()),
                    ("expired", state("expired").into()),
                    ("suspended", state("suspended").into()),
                ],
            ),
        ];
        let mut plans: Vec<_> = s.with_access_by_plan.iter().collect();
        plans.sort();
        for (plan, count) in plans {
            lines.push(self.t(
                lang,
                "stats-plan",
                &[("plan", plan.into()), ("count", n(*count).into())],
            ));
        }
        if s.mrr.is_empty() {
            lines.push(self.t(lang, "stats-mrr-none", &[]));
        }
        for revenue in &s.mrr {
            // Whole units of the smallest one: fractions of a cent are not news.
            let minor = revenue.monthly_amount.round() as i64;
            let amount = pricing::amount(lang, minor, &revenue.currency);
            lines.push(self.t(lang, "stats-mrr", &[("amount", (&amount).into())]));
        }
        let started = n(s.checkouts_started_last_30_days);
        let completed = n(s.checkouts_completed_last_30_days);
        let conversion = if started > 0 {
            (completed * 100 + started / 2) / started
        } else {
            0
        };
        if s.stars_monthly > 0 || s.stars_last_30_days != 0 {
            lines.push(self.t(
                lang,
                "stats-stars",
                &[
                    ("monthly", n(s.stars_monthly).into()),
                    ("paid", s.stars_last_30_days.into()),
                ],
            ));
        }
        lines.push(self.t(
            lang,
            "stats-30d",
            &[
                ("joined", n(s.new_last_30_days).into()),
                ("left", n(s.churned_last_30_days).into()),
                ("started", started.into()),
                ("completed", completed.into()),
                ("conversion", conversion.into()),
            ],
        ));
        lines.join("\n")
    }

    /// `/user <id>`: where a user stands and what happened last.
    pub(super) async fn user_info(
        &self,
        ctx: &Ctx,
        args: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let Some(user) = args
            .split_whitespace()
            .next()
            .and_then(|u| u.parse::<i64>().ok())
        else {
            self.usage(ctx, "/user <user id>", out);
            return Ok(());
        };
        let (entitlement, audit) = match (
            self.billing.entitlement(user).await,
            self.billing.audit(user, 5).await,
        ) {
            (Ok(e), Ok(a)) => (e, a),
            _ => {
                out.send(self.say(ctx.chat, ctx.lang, "try-later"));
                return Ok(());
            }
        };
        let lang = ctx.lang;
        let state = self.t(
            lang,
            "state",
            &[("state", state_key(entitlement.state()).into())],
        );
        let plan = if entitlement.plan_id.is_empty() {
            "-".to_owned()
        } else {
            entitlement.plan_id.clone()
        };
        let until = if entitlement.lifetime {
            self.t(lang, "user-lifetime", &[])
        } else {
            date(entitlement.current_period_end.map(|t| t.seconds)).unwrap_or_else(|| "-".into())
        };
        let who = user.to_string();
        let mut lines = vec![self.t(
            lang,
            "user-info",
            &[
                ("user", (&who).into()),
                ("state", (&state).into()),
                ("plan", (&plan).into()),
                ("until", (&until).into()),
            ],
        )];
        if entitlement.has_access {
            let rail = super::user::rail_key(&entitlement);
            lines.push(self.t(lang, "status-rail", &[("rail", rail.into())]));
        }
        if audit.is_empty() {
            lines.push(self.t(lang, "user-no-audit", &[]));
        }
        for entry in &audit {
            let word = |s: i32| {
                let state = EntitlementState::try_from(s).unwrap_or_default();
                self.t(lang, "state", &[("state", state_key(state).into())])
            };
            let when = date(entry.at.map(|t| t.seconds)).unwrap_or_default();
            let (from, to) = (word(entry.from_state), word(entry.to_state));
            lines.push(self.t(
                lang,
                "user-audit-line",
                &[
                    ("date", (&when).into()),
                    ("from", (&from).into()),
                    ("to", (&to).into()),
                    ("actor", (&entry.actor).into()),
                    ("reason", (&entry.reason).into()),
                ],
            ));
        }
        out.send(message(ctx.chat, lines.join("\n")));
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

    /// `/refund <user> [charge]`: refunds a Stars payment (the user's
    /// latest, or the one named); what it bought ends under the refund
    /// policy. Handling the command again refunds nothing twice: billing
    /// picks the same latest payment and Telegram's refund is made once.
    pub(super) async fn refund(
        &self,
        ctx: &Ctx,
        args: &str,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let mut words = args.split_whitespace();
        let Some(user) = words.next().and_then(|u| u.parse::<i64>().ok()) else {
            self.usage(ctx, "/refund <user id> [charge]", out);
            return Ok(());
        };
        let charge = words.next().unwrap_or_default();
        let reason = reason(words, "refunded by admin");
        let actor = format!("telegram:{}", ctx.user);
        let refunded = self
            .billing
            .refund_stars(user, charge, &reason, &actor)
            .await;
        let who = user.to_string();
        let text = match Self::retry_if_away(refunded)? {
            Ok(r) => self.t(
                ctx.lang,
                "refund-done",
                &[
                    ("user", (&who).into()),
                    ("stars", i64::from(r.amount).into()),
                    ("charge", (&r.telegram_payment_charge_id).into()),
                ],
            ),
            Err(s)
                if mesh_proto::refusal::BillingRefusal::of(&s)
                    == Some(mesh_proto::refusal::BillingRefusal::NoStarsPayment) =>
            {
                self.t(ctx.lang, "refund-none", &[("user", (&who).into())])
            }
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                self.t(ctx.lang, "usage", &[("usage", s.message().into())])
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                self.t(ctx.lang, "refund-failed", &[("reason", s.message().into())])
            }
            Err(_) => self.t(ctx.lang, "try-later", &[]),
        };
        out.send(message(ctx.chat, text));
        Ok(())
    }
}
