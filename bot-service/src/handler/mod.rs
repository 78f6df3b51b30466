//! What the bot does with one update, notice or job: it decides, and
//! returns [`Effects`] (replies, dialogue state, registry changes), which
//! the worker commits with the item's acknowledgement in one step.
//!
//! - [`user`]: the commands everyone has.
//! - [`access`]: plans and prices, invites and `/join`.
//! - [`callbacks`]: taps on inline buttons.
//! - [`payments`]: Telegram Stars: the ⭐ offer, payments and refunds.
//! - [`gate`]: who may be in the premium chats.
//! - [`admin`]: the commands of `ADMIN_USER_IDS`.
//! - [`broadcasts`]: an admin's broadcast, from draft to cancel.
//! - [`notices`]: billing's entitlement notices.
//!
//! Calls to billing carry request ids derived from the item, so handling it
//! again after a failure repeats no payment action.

mod access;
mod admin;
mod broadcasts;
mod callbacks;
mod gate;
mod jobs;
mod notices;
mod payments;
mod read;
pub(crate) mod registry;
mod user;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mesh_proto::billing::v1::Plan;
use mesh_state::{RateDecision, Store, StoreError};
use teloxide_core::types::{Update, UpdateKind, User};
use tokio::sync::Mutex;

use crate::BotConfig;
use crate::billing::BillingClient;
use crate::delivery::action::{Action, message};
use crate::effects::Effects;
pub(crate) use crate::intake::command::parse_command;
use crate::keys;
use crate::messages::{Arg, Catalogue, Lang};

/// Why handling failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Try again soon (the store hiccupped).
    #[error("{0}")]
    Transient(String),
    /// Another service is away (billing): back off for minutes before
    /// giving up.
    #[error("{0}")]
    Dependency(String),
    /// Retrying can't help (an update this version can't read).
    #[error("{0}")]
    Permanent(String),
}

impl From<StoreError> for HandleError {
    fn from(e: StoreError) -> Self {
        Self::Transient(e.to_string())
    }
}

/// A date for users (UTC, ISO: the same in every language).
fn date(seconds: Option<i64>) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds?, 0).map(|d| d.format("%Y-%m-%d").to_string())
}

/// Who is talking, in which chat and language, in which update.
struct Ctx {
    user: i64,
    chat: i64,
    lang: Lang,
    update_id: i64,
}

/// Plans, fetched from billing at most once a minute; kept until the
/// instant given.
#[derive(Default)]
struct PlanCache {
    plans: Option<(tokio::time::Instant, Arc<Vec<Plan>>)>,
}

/// The plan list as each language shows it, for the plans last fetched:
/// every `/start` and `/plans` shows it, and formatting its prices and
/// lines was a visible part of a handled `/start`'s cost.
#[derive(Default)]
struct PlanLists {
    inner: std::sync::Mutex<Rendered>,
}

/// The plans the lists were rendered from, and the lists by language.
type Rendered = (Option<Arc<Vec<Plan>>>, HashMap<Lang, String>);

impl PlanLists {
    /// The list of `plans` in `lang`, rendered by `render` the first time.
    fn get(&self, plans: &Arc<Vec<Plan>>, lang: Lang, render: impl FnOnce() -> String) -> String {
        // A poisoned lock only means a render panicked: the map is still whole.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (of, texts) = &mut *inner;
        if !of.as_ref().is_some_and(|of| Arc::ptr_eq(of, plans)) {
            *of = Some(plans.clone());
            texts.clear();
        }
        texts.entry(lang).or_insert_with(render).clone()
    }
}

const PLAN_CACHE_TTL: Duration = Duration::from_secs(60);
const UNPRICED_TTL: Duration = Duration::from_secs(2);

/// Handles updates, notices and jobs; cheap to clone.
#[derive(Clone)]
pub struct Handler {
    config: Arc<BotConfig>,
    billing: BillingClient,
    store: Store,
    texts: Arc<Catalogue>,
    plans: Arc<Mutex<PlanCache>>,
    plan_lists: Arc<PlanLists>,
    registered: Arc<registry::Registered>,
}

impl Handler {
    /// A handler.
    pub fn new(config: Arc<BotConfig>, billing: BillingClient, store: Store) -> Self {
        let texts = config.messages.clone();
        Self {
            config,
            billing,
            store,
            texts,
            plans: Arc::default(),
            plan_lists: Arc::default(),
            registered: Arc::default(),
        }
    }

    /// The shared store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Registry entries this process wrote lately.
    pub(crate) fn registered(&self) -> &registry::Registered {
        &self.registered
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &BotConfig {
        &self.config
    }

    /// The client of billing.
    pub(crate) fn billing(&self) -> &BillingClient {
        &self.billing
    }

    /// The message catalogue.
    pub(crate) fn texts(&self) -> &Catalogue {
        &self.texts
    }

    /// Message `id` in `lang`.
    fn t(&self, lang: Lang, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.texts.text(lang, id, args)
    }

    /// A plain message of `id` to `chat`.
    fn say(&self, chat: i64, lang: Lang, id: &str) -> Action {
        message(chat, self.t(lang, id, &[]))
    }

    fn is_admin(&self, user: i64) -> bool {
        self.config.admin_ids.contains(&user)
    }

    /// The plans on sale (cached for a minute; billing being away only
    /// shows while the cache is cold).
    async fn plans(&self) -> Result<Arc<Vec<Plan>>, tonic::Status> {
        let mut cache = self.plans.lock().await;
        if let Some((until, plans)) = &cache.plans
            && tokio::time::Instant::now() < *until
        {
            return Ok(plans.clone());
        }
        // Boxed: it runs once a minute, and a gRPC call's future would size
        // every `/start`'s.
        let plans = Arc::new(Box::pin(self.billing.plans()).await?);
        // Prices may still be loading at billing (read from Stripe after
        // its start): look again soon rather than show no price for a minute.
        let priced = plans
            .iter()
            .all(|p| p.price.is_some() || !p.price_display.is_empty());
        let ttl = if priced { PLAN_CACHE_TTL } else { UNPRICED_TTL };
        cache.plans = Some((tokio::time::Instant::now() + ttl, plans.clone()));
        Ok(plans)
    }

    /// True when a command in a group is meant for this bot; the bot stays
    /// quiet in groups otherwise.
    fn addressed(&self, command: Option<&(String, Option<&str>, &str)>) -> bool {
        crate::intake::command::addressed(command, self.config.username.as_deref())
    }

    /// Handles one raw update.
    pub async fn handle_update(&self, update: &[u8]) -> Result<Effects, HandleError> {
        // Most handled updates are plain text messages: read just what the
        // commands use.
        if let Some(text) = read::read_text(update) {
            let mut out = Effects::new(format!("u{}", text.update_id));
            if let Some(from) = text.from.as_ref().filter(|u| !u.is_bot) {
                let said = user::Said {
                    from,
                    chat: text.chat,
                    private: text.private,
                    text: &text.text,
                    reply_to: text.reply_to,
                };
                self.on_text(&said, text.update_id, &mut out).await?;
            }
            return Ok(out);
        }
        // Acceptance queues no chatter; an item queued by an older version
        // may still be some. (A plain text message is read above, and
        // `on_text` ignores chatter with the same rule.)
        if crate::intake::chatter::ignorable(update, self.config.username.as_deref()) {
            return Ok(Effects::new(""));
        }
        // Boxed: a whole `Update` and the handlers of the rarer kinds would
        // otherwise size the future of every update, text ones included.
        Box::pin(self.handle_other(update)).await
    }

    /// Handles an update that is not a plain text message.
    async fn handle_other(&self, update: &[u8]) -> Result<Effects, HandleError> {
        let update: Update = read::read_update(update)
            .map_err(|e| HandleError::Permanent(format!("unreadable update: {e}")))?;
        let id = i64::from(update.id.0);
        let mut out = Effects::new(format!("u{id}"));
        match &update.kind {
            UpdateKind::Message(m) => self.on_message(m, id, &mut out).await?,
            UpdateKind::CallbackQuery(q) => self.on_callback(q, id, &mut out).await?,
            UpdateKind::ChatJoinRequest(r) => self.on_join_request(r, &mut out).await?,
            UpdateKind::ChatMember(m) => self.on_chat_member(m, &mut out).await?,
            UpdateKind::PreCheckoutQuery(q) => self.on_pre_checkout(q, &mut out).await,
            // In a private chat, "kicked" means the user blocked the bot.
            UpdateKind::MyChatMember(m) if m.chat.is_private() && m.new_chat_member.is_banned() => {
                out.writes.set_add(keys::BLOCKED, &m.chat.id.0.to_string());
            }
            // teloxide reads what it can't parse as an "error" kind rather
            // than failing: that is an update this version can't read,
            // kept as a dead letter, not quietly dropped.
            UpdateKind::Error(_) => {
                return Err(HandleError::Permanent(format!("unreadable update {id}")));
            }
            // Other kinds are accepted and acknowledged; nothing to say.
            _ => {}
        }
        Ok(out)
    }

    /// Who is talking; registers them (in the effects).
    fn ctx(&self, from: &User, chat: i64, update_id: i64, out: &mut Effects) -> Ctx {
        let user = i64::try_from(from.id.0).unwrap_or_default();
        let lang = from.language_code.as_deref();
        out.seen(user, lang, self.registered.current(user, lang));
        Ctx {
            user,
            chat,
            lang: Lang::from_code(from.language_code.as_deref()),
            update_id,
        }
    }

    /// The per-user flood limit: true when this message may be handled.
    /// The decision is remembered per update, so handling the same update
    /// again (after a failure) decides the same and consumes nothing.
    async fn within_limit(&self, ctx: &Ctx, out: &mut Effects) -> Result<bool, HandleError> {
        let per_minute = self.config.user_rate_per_min;
        if per_minute == 0 {
            return Ok(true);
        }
        let interval = Duration::from_secs(60) / per_minute;
        let decision = self
            .store
            .rate_limit_once(
                &keys::flood(ctx.user),
                interval,
                self.config.user_burst,
                &format!("u{}", ctx.update_id),
                Duration::from_secs(3600),
            )
            .await?;
        match decision {
            RateDecision::Allowed => Ok(true),
            RateDecision::Limited { first, .. } => {
                metrics::counter!("bot_flood_limited_total").increment(1);
                if first {
                    out.send(self.say(ctx.chat, ctx.lang, "slow-down"));
                }
                Ok(false)
            }
        }
    }

    /// Billing being away is a dependency failure: the item backs off for
    /// minutes instead of giving up after a few quick tries.
    pub(crate) fn billing_down(status: tonic::Status) -> HandleError {
        HandleError::Dependency(format!("billing: {}", status.code()))
    }

    /// For actions (grant, revoke, cancel, resume, checkout, portal): the
    /// failures that retrying fixes (billing or its store away, a deadline)
    /// make the item be handled again later, so the action happens once;
    /// anything else is billing's answer. Read-only commands answer "try
    /// later" instead.
    fn retry_if_away<T>(
        result: Result<T, tonic::Status>,
    ) -> Result<Result<T, tonic::Status>, HandleError> {
        match result {
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::Unavailable
                        | tonic::Code::DeadlineExceeded
                        | tonic::Code::Cancelled
                ) =>
            {
                Err(Self::billing_down(s))
            }
            other => Ok(other),
        }
    }
}
