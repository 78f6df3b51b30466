//! What the bot does with one update or one entitlement notice.
//!
//! Handlers never call Telegram themselves: they decide, and queue their
//! replies in the [`Outbox`] under ids derived from the update (`u<id>:<n>`)
//! or notice (`n<id>:<n>`). Handling the same update twice (a crash before
//! its acknowledgement) therefore queues each reply once. Calls to billing
//! carry request ids derived the same way, so they are idempotent too.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use mesh_proto::billing::v1::EntitlementState;
use mesh_proto::bot::v1::{NoticeKind, NotifyEntitlementRequest};
use mesh_state::{RateDecision, Store, StoreError};
use serde::Deserialize;
use teloxide_core::types::{
    CallbackQuery, ChatJoinRequest, ChatMemberUpdated, Message, Update, UpdateKind, User,
};

use crate::BotConfig;
use crate::action::{Action, Button, message};
use crate::billing::BillingClient;
use crate::broadcast::Broadcasts;
use crate::messages::{Lang, PlanLine, Text};
use crate::outbox::Outbox;
use crate::users::Users;

/// Why handling failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Try again later (the store or billing is down).
    #[error("{0}")]
    Transient(String),
    /// Retrying can't help (an update this version can't read).
    #[error("{0}")]
    Permanent(String),
}

impl From<StoreError> for HandleError {
    fn from(e: StoreError) -> Self {
        Self::Transient(e.to_string())
    }
}

/// A command at the start of a message: `/name@bot args` gives
/// `("name", Some("bot"), "args")`.
pub fn parse_command(text: &str) -> Option<(String, Option<&str>, &str)> {
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (name, target) = match head.split_once('@') {
        Some((n, t)) => (n, Some(t)),
        None => (head, None),
    };
    if name.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), target, args.trim()))
}

/// A date for users (UTC).
fn date(seconds: Option<i64>) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds?, 0).map(|d| d.format("%Y-%m-%d").to_string())
}

/// Replies queued under one source id.
struct Replies<'a> {
    source: String,
    outbox: &'a Outbox,
    next: usize,
}

impl Replies<'_> {
    async fn push(&mut self, action: Action) -> Result<(), HandleError> {
        let id = format!("{}:{}", self.source, self.next);
        self.next += 1;
        self.outbox.send(&id, action, None).await?;
        Ok(())
    }
}

/// Handles updates and notices; cheap to clone.
#[derive(Clone)]
pub struct Handler {
    config: Arc<BotConfig>,
    billing: BillingClient,
    outbox: Outbox,
    users: Users,
    store: Store,
    broadcasts: Broadcasts,
}

/// Who is talking, in which chat and language.
struct Ctx {
    user: i64,
    chat: i64,
    lang: Lang,
    source: i64,
}

impl Handler {
    /// A handler.
    pub fn new(
        config: Arc<BotConfig>,
        billing: BillingClient,
        outbox: Outbox,
        users: Users,
        store: Store,
        broadcasts: Broadcasts,
    ) -> Self {
        Self {
            config,
            billing,
            outbox,
            users,
            store,
            broadcasts,
        }
    }

    fn replies(&self, source: String) -> Replies<'_> {
        Replies {
            source,
            outbox: &self.outbox,
            next: 0,
        }
    }

    fn is_admin(&self, user: i64) -> bool {
        self.config.admin_ids.contains(&user)
    }

    /// True when a command in a group is meant for this bot; the bot stays
    /// quiet in groups otherwise.
    fn addressed(&self, command: Option<&(String, Option<&str>, &str)>) -> bool {
        matches!(
            (command, self.config.username.as_deref()),
            (Some((_, Some(target), _)), Some(me)) if target.eq_ignore_ascii_case(me)
        )
    }

    /// True for an update that certainly needs nothing done: a group
    /// message that is not a command addressed to this bot, which is most
    /// of what a bot in busy groups receives. Read from three fields:
    /// building teloxide's whole `Update` costs more than everything else
    /// the mesh does for such an update. Anything else is parsed in full.
    fn ignorable(&self, update: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Glance<'a> {
            #[serde(borrow)]
            message: Option<GlanceMessage<'a>>,
        }
        #[derive(Deserialize)]
        struct GlanceMessage<'a> {
            #[serde(borrow)]
            chat: GlanceChat<'a>,
            #[serde(borrow, default)]
            text: Option<Cow<'a, str>>,
        }
        #[derive(Deserialize)]
        struct GlanceChat<'a> {
            #[serde(rename = "type", borrow)]
            kind: Cow<'a, str>,
        }
        match serde_json::from_slice::<Glance<'_>>(update) {
            Ok(Glance { message: Some(m) }) => {
                m.chat.kind != "private"
                    && m.text
                        .is_none_or(|text| !self.addressed(parse_command(&text).as_ref()))
            }
            _ => false,
        }
    }

    /// Handles one raw update.
    pub async fn handle_update(&self, update: &[u8]) -> Result<(), HandleError> {
        if self.ignorable(update) {
            return Ok(());
        }
        let update: Update = serde_json::from_slice(update)
            .map_err(|e| HandleError::Permanent(format!("unreadable update: {e}")))?;
        let mut out = self.replies(format!("u{}", update.id.0));
        match &update.kind {
            UpdateKind::Message(m) => self.on_message(m, i64::from(update.id.0), &mut out).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q, &mut out).await,
            UpdateKind::ChatJoinRequest(r) => self.on_join_request(r, &mut out).await,
            UpdateKind::ChatMember(m) => self.on_chat_member(m, &mut out).await,
            UpdateKind::MyChatMember(m) => self.on_my_chat_member(m).await,
            // Other kinds are accepted and acknowledged; nothing to say.
            _ => Ok(()),
        }
    }

    async fn ctx_for(&self, from: &User, chat: i64, source: i64) -> Result<Ctx, HandleError> {
        let user = i64::try_from(from.id.0).unwrap_or_default();
        self.users.seen(user, from.language_code.as_deref()).await?;
        Ok(Ctx {
            user,
            chat,
            lang: Lang::from_code(from.language_code.as_deref()),
            source,
        })
    }

    /// The per-user flood limit: true when this message may be handled.
    async fn within_limit(&self, ctx: &Ctx, out: &mut Replies<'_>) -> Result<bool, HandleError> {
        let per_minute = self.config.user_rate_per_min;
        if per_minute == 0 {
            return Ok(true);
        }
        let interval = Duration::from_secs(60) / per_minute;
        match self
            .store
            .rate_limit(
                &format!("bot:flood:{}", ctx.user),
                interval,
                self.config.user_burst,
            )
            .await?
        {
            RateDecision::Allowed => Ok(true),
            RateDecision::Limited { first, .. } => {
                metrics::counter!("bot_flood_limited_total").increment(1);
                if first {
                    out.push(message(ctx.chat, ctx.lang.text(Text::SlowDown)))
                        .await?;
                }
                Ok(false)
            }
        }
    }

    async fn on_message(
        &self,
        m: &Message,
        update_id: i64,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        let Some(from) = m.from.as_ref().filter(|u| !u.is_bot) else {
            return Ok(());
        };
        let Some(text) = m.text() else {
            return Ok(());
        };
        let private = m.chat.is_private();
        let command = parse_command(text);
        if !private && !self.addressed(command.as_ref()) {
            return Ok(());
        }
        let ctx = self.ctx_for(from, m.chat.id.0, update_id).await?;
        if !self.within_limit(&ctx, out).await? {
            return Ok(());
        }
        let Some((name, _, args)) = command else {
            return out
                .push(message(ctx.chat, ctx.lang.text(Text::Unknown)))
                .await;
        };
        let admin = self.is_admin(ctx.user);
        match name.as_str() {
            "start" => self.start(&ctx, from, args, out).await,
            "help" => {
                out.push(message(ctx.chat, ctx.lang.text(Text::Help { admin })))
                    .await
            }
            "plans" => {
                let plans = self.billing.plans().await.ok();
                let lines = plans.as_ref().map(|p| plan_lines(p));
                out.push(message(
                    ctx.chat,
                    ctx.lang.text(Text::Plans(lines.as_deref())),
                ))
                .await
            }
            "subscribe" => self.subscribe(&ctx, out).await,
            "status" => self.status(&ctx, out).await,
            "portal" => self.portal(&ctx, &format!("u{update_id}"), out).await,
            "cancel" => self.cancel_ask(&ctx, out).await,
            "stats" if admin => self.stats(&ctx, out).await,
            "grant" if admin => self.grant(&ctx, args, out).await,
            "revoke" if admin => self.revoke(&ctx, args, out).await,
            "broadcast" if admin => self.broadcast(&ctx, args, out).await,
            // Admin commands from anyone else get the same answer as nonsense.
            _ => {
                out.push(message(ctx.chat, ctx.lang.text(Text::Unknown)))
                    .await
            }
        }
    }

    async fn start(
        &self,
        ctx: &Ctx,
        from: &User,
        payload: &str,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        let text = match payload {
            "paid" => ctx.lang.text(Text::ThanksForPaying),
            "canceled" => ctx.lang.text(Text::CheckoutCanceled),
            _ => {
                let plans = self.billing.plans().await.ok();
                let lines = plans.as_ref().map(|p| plan_lines(p));
                ctx.lang.text(Text::Welcome {
                    first_name: Some(from.first_name.as_str()),
                    plans: lines.as_deref(),
                })
            }
        };
        out.push(message(ctx.chat, text)).await
    }

    async fn subscribe(&self, ctx: &Ctx, out: &mut Replies<'_>) -> Result<(), HandleError> {
        let plans = match self.billing.plans().await {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => {
                return out
                    .push(message(ctx.chat, ctx.lang.text(Text::Plans(Some(&[])))))
                    .await;
            }
            Err(_) => {
                return out
                    .push(message(ctx.chat, ctx.lang.text(Text::TryLater)))
                    .await;
            }
        };
        let buttons = plans
            .iter()
            .map(|p| {
                vec![Button::Callback {
                    text: p.name.clone(),
                    data: format!("sub:{}", p.id),
                }]
            })
            .collect();
        out.push(Action::SendMessage {
            chat_id: ctx.chat,
            text: ctx.lang.text(Text::ChoosePlan),
            buttons,
        })
        .await
    }

    async fn status(&self, ctx: &Ctx, out: &mut Replies<'_>) -> Result<(), HandleError> {
        let text = match self.billing.entitlement(ctx.user).await {
            Ok(e)
                if matches!(
                    e.state(),
                    EntitlementState::None | EntitlementState::Unspecified
                ) =>
            {
                ctx.lang.text(Text::NoSubscription)
            }
            Ok(e) => ctx.lang.text(Text::Status {
                state: state_word(e.state()),
                plan: if e.plan_id.is_empty() {
                    "-"
                } else {
                    &e.plan_id
                },
                until: date(e.current_period_end.map(|t| t.seconds)),
                renews: !e.cancel_at_period_end
                    && matches!(
                        e.state(),
                        EntitlementState::Active | EntitlementState::Trialing
                    ),
                access: e.has_access,
            }),
            Err(_) => ctx.lang.text(Text::TryLater),
        };
        out.push(message(ctx.chat, text)).await
    }

    async fn portal(
        &self,
        ctx: &Ctx,
        request_id: &str,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        let action = match self.billing.portal(ctx.user, request_id).await {
            Ok(url) => Action::SendMessage {
                chat_id: ctx.chat,
                text: ctx.lang.text(Text::PortalPrompt),
                buttons: vec![vec![Button::Url {
                    text: ctx.lang.text(Text::PortalButton),
                    url,
                }]],
            },
            Err(s) if s.code() == tonic::Code::NotFound => {
                message(ctx.chat, ctx.lang.text(Text::NoSubscription))
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                message(ctx.chat, ctx.lang.text(Text::PaymentsUnavailable))
            }
            Err(_) => message(ctx.chat, ctx.lang.text(Text::TryLater)),
        };
        out.push(action).await
    }

    async fn cancel_ask(&self, ctx: &Ctx, out: &mut Replies<'_>) -> Result<(), HandleError> {
        let entitlement = match self.billing.entitlement(ctx.user).await {
            Ok(e) => e,
            Err(_) => {
                return out
                    .push(message(ctx.chat, ctx.lang.text(Text::TryLater)))
                    .await;
            }
        };
        let cancellable = entitlement.has_access
            && !entitlement.stripe_subscription_id.is_empty()
            && matches!(
                entitlement.state(),
                EntitlementState::Active | EntitlementState::Trialing | EntitlementState::PastDue
            );
        if !cancellable {
            return out
                .push(message(ctx.chat, ctx.lang.text(Text::NoSubscription)))
                .await;
        }
        // The dialogue's state lives in the shared store, so the "yes" may
        // reach any replica; it expires if the user walks away.
        self.store
            .set(
                &format!("bot:session:cancel:{}", ctx.user),
                b"asked",
                Some(Duration::from_secs(600)),
            )
            .await?;
        out.push(Action::SendMessage {
            chat_id: ctx.chat,
            text: ctx.lang.text(Text::CancelConfirm {
                until: date(entitlement.current_period_end.map(|t| t.seconds)),
            }),
            buttons: vec![vec![
                Button::Callback {
                    text: ctx.lang.text(Text::Yes),
                    data: "cancel:yes".into(),
                },
                Button::Callback {
                    text: ctx.lang.text(Text::No),
                    data: "cancel:no".into(),
                },
            ]],
        })
        .await
    }

    async fn on_callback(
        &self,
        q: &CallbackQuery,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        let user = i64::try_from(q.from.id.0).unwrap_or_default();
        let ctx = self.ctx_for(&q.from, user, 0).await?;
        // Every callback query is answered, or the user's button spins.
        out.push(Action::AnswerCallbackQuery {
            callback_query_id: q.id.0.clone(),
            text: None,
        })
        .await?;
        let data = q.data.as_deref().unwrap_or_default();
        if let Some(plan) = data.strip_prefix("sub:") {
            let action = match self.billing.checkout(user, plan, &q.id.0).await {
                Ok(session) => Action::SendMessage {
                    chat_id: user,
                    text: ctx.lang.text(Text::PayPrompt),
                    buttons: vec![vec![Button::Url {
                        text: ctx.lang.text(Text::PayButton),
                        url: session.url,
                    }]],
                },
                Err(s)
                    if s.code() == tonic::Code::FailedPrecondition
                        && s.message().contains("already") =>
                {
                    message(user, ctx.lang.text(Text::AlreadySubscribed))
                }
                Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                    message(user, ctx.lang.text(Text::PaymentsUnavailable))
                }
                Err(_) => message(user, ctx.lang.text(Text::TryLater)),
            };
            return out.push(action).await;
        }
        match data {
            "cancel:yes" => {
                let session = format!("bot:session:cancel:{user}");
                if !self.store.delete(&session).await? {
                    return out
                        .push(message(user, ctx.lang.text(Text::ConfirmationExpired)))
                        .await;
                }
                let text = match self.billing.cancel(user).await {
                    Ok(e) => ctx.lang.text(Text::Canceled {
                        until: date(e.current_period_end.map(|t| t.seconds)),
                    }),
                    Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                        ctx.lang.text(Text::NoSubscription)
                    }
                    Err(_) => ctx.lang.text(Text::TryLater),
                };
                out.push(message(user, text)).await
            }
            "cancel:no" => {
                self.store
                    .delete(&format!("bot:session:cancel:{user}"))
                    .await?;
                out.push(message(user, ctx.lang.text(Text::CancelAborted)))
                    .await
            }
            _ => Ok(()),
        }
    }

    async fn entitled(&self, user: i64) -> Result<bool, HandleError> {
        self.billing
            .entitlement(user)
            .await
            .map(|e| e.has_access)
            .map_err(|s| HandleError::Transient(format!("billing: {}", s.code())))
    }

    async fn on_join_request(
        &self,
        r: &ChatJoinRequest,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        if Some(r.chat.id.0) != self.config.premium_chat_id {
            return Ok(());
        }
        let user = i64::try_from(r.from.id.0).unwrap_or_default();
        let lang = Lang::from_code(r.from.language_code.as_deref());
        if self.entitled(user).await? || self.is_admin(user) {
            out.push(Action::ApproveJoinRequest {
                chat_id: r.chat.id.0,
                user_id: user,
            })
            .await
        } else {
            out.push(Action::DeclineJoinRequest {
                chat_id: r.chat.id.0,
                user_id: user,
            })
            .await?;
            out.push(message(r.user_chat_id.0, lang.text(Text::JoinDeclined)))
                .await
        }
    }

    async fn on_chat_member(
        &self,
        m: &ChatMemberUpdated,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        if Some(m.chat.id.0) != self.config.premium_chat_id {
            return Ok(());
        }
        let member = &m.new_chat_member;
        let joined = member.is_present() && !m.old_chat_member.is_present();
        if !joined || member.user.is_bot || member.is_privileged() {
            return Ok(());
        }
        let user = i64::try_from(member.user.id.0).unwrap_or_default();
        if self.is_admin(user) || self.entitled(user).await? {
            return Ok(());
        }
        tracing::info!(
            user,
            "member without an entitlement joined the premium chat; removing"
        );
        let lang = Lang::from_code(member.user.language_code.as_deref());
        out.push(Action::RemoveMember {
            chat_id: m.chat.id.0,
            user_id: user,
        })
        .await?;
        out.push(message(user, lang.text(Text::RemovedNoAccess)))
            .await
    }

    /// The bot's own membership: in a private chat, "kicked" means the user
    /// blocked the bot.
    async fn on_my_chat_member(&self, m: &ChatMemberUpdated) -> Result<(), HandleError> {
        if m.chat.is_private() && m.new_chat_member.is_banned() {
            self.users.blocked(m.chat.id.0).await?;
        }
        Ok(())
    }

    async fn stats(&self, ctx: &Ctx, out: &mut Replies<'_>) -> Result<(), HandleError> {
        let (users, blocked) = self.users.counts().await?;
        let text = match self.billing.stats().await {
            Ok(s) => {
                let mut plans: Vec<_> = s.with_access_by_plan.iter().collect();
                plans.sort();
                let by_plan: String = plans.iter().map(|(p, n)| format!("\n  {p}: {n}")).collect();
                ctx.lang.text(Text::Stats {
                    users,
                    blocked,
                    with_access: s.with_access,
                    by_plan,
                    churned: s.churned_this_month,
                })
            }
            Err(_) => ctx.lang.text(Text::TryLater),
        };
        out.push(message(ctx.chat, text)).await
    }

    async fn grant(&self, ctx: &Ctx, args: &str, out: &mut Replies<'_>) -> Result<(), HandleError> {
        let mut words = args.split_whitespace();
        let parsed = (
            words.next().and_then(|u| u.parse::<i64>().ok()),
            words.next(),
            words.next().and_then(|d| d.parse::<u32>().ok()),
        );
        let (Some(user), Some(plan), Some(days)) = parsed else {
            return out
                .push(message(
                    ctx.chat,
                    ctx.lang
                        .text(Text::Usage("/grant <user id> <plan> <days> [reason]")),
                ))
                .await;
        };
        let reason = reason(words, "granted by admin");
        let text = match self
            .billing
            .grant(user, plan, days, &reason, &format!("telegram:{}", ctx.user))
            .await
        {
            Ok(e) => ctx.lang.text(Text::Done(format!(
                "{user} has {plan} until {}",
                date(e.current_period_end.map(|t| t.seconds)).unwrap_or_default()
            ))),
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::NotFound | tonic::Code::InvalidArgument
                ) =>
            {
                ctx.lang.text(Text::Usage(s.message()))
            }
            Err(_) => ctx.lang.text(Text::TryLater),
        };
        out.push(message(ctx.chat, text)).await
    }

    async fn revoke(
        &self,
        ctx: &Ctx,
        args: &str,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        let mut words = args.split_whitespace();
        let Some(user) = words.next().and_then(|u| u.parse::<i64>().ok()) else {
            return out
                .push(message(
                    ctx.chat,
                    ctx.lang.text(Text::Usage("/revoke <user id> [reason]")),
                ))
                .await;
        };
        let reason = reason(words, "revoked by admin");
        let text = match self
            .billing
            .revoke(user, &reason, &format!("telegram:{}", ctx.user))
            .await
        {
            Ok(_) => ctx
                .lang
                .text(Text::Done(format!("{user} no longer has access"))),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                ctx.lang.text(Text::Usage(s.message()))
            }
            Err(_) => ctx.lang.text(Text::TryLater),
        };
        out.push(message(ctx.chat, text)).await
    }

    async fn broadcast(
        &self,
        ctx: &Ctx,
        text: &str,
        out: &mut Replies<'_>,
    ) -> Result<(), HandleError> {
        if text.is_empty() {
            return out
                .push(message(
                    ctx.chat,
                    ctx.lang.text(Text::Usage("/broadcast <text>")),
                ))
                .await;
        }
        let users = self.users.reachable().await?;
        out.push(message(
            ctx.chat,
            ctx.lang.text(Text::BroadcastStarted {
                recipients: users.len(),
            }),
        ))
        .await?;
        let job = format!("u{}", ctx.source);
        self.broadcasts
            .start(&job, ctx.chat, ctx.lang, text, &users, &self.outbox)
            .await?;
        Ok(())
    }

    /// Acts on an entitlement notice from billing.
    pub async fn handle_notice(
        &self,
        notice: &NotifyEntitlementRequest,
    ) -> Result<(), HandleError> {
        let user = notice.telegram_user_id;
        let lang = Lang::from_code(self.users.language(user).await?.as_deref());
        let mut out = self.replies(format!("n{}", notice.notice_id));
        let until = date(notice.access_until.as_ref().map(|t| t.seconds));
        match notice.kind() {
            NoticeKind::AccessGranted => match self.config.premium_chat_id {
                Some(premium) => {
                    out.push(Action::SendInvite {
                        chat_id: user,
                        premium_chat_id: premium,
                        text: lang.text(Text::WelcomePremium),
                        button: lang.text(Text::JoinButton),
                        expire_secs: 24 * 3600,
                    })
                    .await
                }
                None => {
                    out.push(message(user, lang.text(Text::WelcomeNoChat)))
                        .await
                }
            },
            NoticeKind::PaymentFailed => {
                let action = match self
                    .billing
                    .portal(user, &format!("n{}", notice.notice_id))
                    .await
                {
                    Ok(url) => Action::SendMessage {
                        chat_id: user,
                        text: lang.text(Text::PaymentFailed),
                        buttons: vec![vec![Button::Url {
                            text: lang.text(Text::PortalButton),
                            url,
                        }]],
                    },
                    Err(_) => message(user, format!("{}\n/portal", lang.text(Text::PaymentFailed))),
                };
                out.push(action).await
            }
            NoticeKind::PaymentRecovered => {
                out.push(message(user, lang.text(Text::PaymentRecovered)))
                    .await
            }
            NoticeKind::Canceled => {
                out.push(message(user, lang.text(Text::Canceled { until })))
                    .await
            }
            NoticeKind::EndingSoon => {
                out.push(message(user, lang.text(Text::EndingSoon { until })))
                    .await
            }
            NoticeKind::AccessEnded => {
                if let Some(premium) = self.config.premium_chat_id {
                    out.push(Action::RemoveMember {
                        chat_id: premium,
                        user_id: user,
                    })
                    .await?;
                }
                out.push(message(
                    user,
                    lang.text(Text::AccessEnded {
                        reason: &notice.reason,
                    }),
                ))
                .await
            }
            NoticeKind::Unspecified => Err(HandleError::Permanent("notice without a kind".into())),
        }
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

fn plan_lines(plans: &[mesh_proto::billing::v1::Plan]) -> Vec<PlanLine<'_>> {
    plans
        .iter()
        .map(|p| PlanLine {
            name: &p.name,
            description: &p.description,
        })
        .collect()
}

fn state_word(state: EntitlementState) -> &'static str {
    match state {
        EntitlementState::Active => "active",
        EntitlementState::Trialing => "trial",
        EntitlementState::PastDue => "payment overdue",
        EntitlementState::Canceled => "cancelled (not renewing)",
        EntitlementState::Expired => "expired",
        EntitlementState::None | EntitlementState::Unspecified => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::parse_command;

    /// Commands with bot suffixes and arguments are recognised; other text is not.
    #[test]
    fn commands() {
        assert_eq!(parse_command("/start"), Some(("start".into(), None, "")));
        assert_eq!(
            parse_command("/Start@PayBot  ref_42 "),
            Some(("start".into(), Some("PayBot"), "ref_42"))
        );
        assert_eq!(
            parse_command("/grant 1 monthly 30"),
            Some(("grant".into(), None, "1 monthly 30"))
        );
        assert_eq!(parse_command("hello"), None);
        assert_eq!(parse_command("/"), None);
    }
}
