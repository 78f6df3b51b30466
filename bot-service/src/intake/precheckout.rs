//! Pre-checkout queries: Telegram waits 10 seconds for the answer before
//! it fails the user's payment, however deep the queues are. So a query is
//! answered as it is accepted, before the gateway's 200, on a path that
//! waits for nothing but one read at billing and the answer itself; only
//! when that fails (billing or Telegram away) does it go through the queue
//! like any update, to be answered by a worker.
//!
//! Billing decides ([`mesh_proto::billing::v1::CheckStarsPayment`]): the
//! payload is its own for this user, the plan is sold for that many Stars,
//! and the user has no live access to it on either rail. While billing
//! can't answer, the query is refused ("try again in a minute"): nothing
//! is sold that billing did not see.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_proto::billing::v1::{CheckStarsPaymentRequest, StarsRefusal};
use serde::Deserialize;

use crate::billing::BillingClient;
use crate::delivery::telegram::{SendError, Telegram};
use crate::messages::{Catalogue, Lang};

/// What a pre-checkout query says, read from its update.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    /// The query's id.
    pub id: String,
    /// Who pays.
    pub from: From,
    /// `XTR` for Stars.
    pub currency: String,
    /// The amount.
    pub total_amount: u32,
    /// The invoice's payload.
    pub invoice_payload: String,
}

/// The payer.
#[derive(Debug, Clone, Deserialize)]
pub struct From {
    /// Their id.
    pub id: i64,
    /// Their language.
    #[serde(default)]
    pub language_code: Option<String>,
}

#[derive(Deserialize)]
struct HasQuery {
    pre_checkout_query: Query,
}

/// The query in `update`, when it is a pre-checkout query.
pub fn read(update: &[u8]) -> Option<Query> {
    serde_json::from_slice::<HasQuery>(update)
        .ok()
        .map(|u| u.pre_checkout_query)
}

/// Billing's deadline: what is left of Telegram's 10 s covers the answer.
const CHECK_DEADLINE: Duration = Duration::from_secs(3);

/// The longest an answer may hold up acceptance (the gateway's upstream
/// deadline is 5 s by default); past it the query goes through the queue.
pub const AT_ACCEPTANCE: Duration = Duration::from_secs(4);

/// The answer to `query`: `None` to go ahead, else the refusal's text in
/// the payer's language.
pub async fn decide(billing: &BillingClient, texts: &Catalogue, query: &Query) -> Option<String> {
    let lang = Lang::from_code(query.from.language_code.as_deref());
    let request = CheckStarsPaymentRequest {
        telegram_user_id: query.from.id,
        invoice_payload: query.invoice_payload.clone(),
        currency: query.currency.clone(),
        total_amount: query.total_amount,
    };
    let key = match billing.check_stars(request, CHECK_DEADLINE).await {
        Ok(answer) if answer.ok => return None,
        Ok(answer) => match answer.refusal() {
            StarsRefusal::PlanGone => "stars-refused-plan-gone",
            StarsRefusal::PriceChanged => "stars-refused-price",
            StarsRefusal::AlreadyEntitled => "stars-refused-entitled",
            StarsRefusal::NotOurs | StarsRefusal::Unspecified => "stars-refused-not-ours",
        },
        Err(status) => {
            tracing::warn!(code = ?status.code(), "billing can't check a Stars payment; refused");
            "stars-refused-unavailable"
        }
    };
    Some(texts.text(lang, key, &[]))
}

/// Answers pre-checkout queries as they are accepted; cheap to clone.
#[derive(Clone)]
pub struct PreCheckout {
    billing: BillingClient,
    telegram: Telegram,
    texts: Arc<Catalogue>,
}

impl PreCheckout {
    /// Answers through `telegram`, asking `billing`.
    pub fn new(billing: BillingClient, telegram: Telegram, texts: Arc<Catalogue>) -> Self {
        Self {
            billing,
            telegram,
            texts,
        }
    }

    /// Answers `query`: true once Telegram has the answer (or refused it
    /// for good, a query already answered or too old); false when the
    /// update should go through the queue instead.
    pub async fn answer(&self, query: &Query) -> bool {
        let started = Instant::now();
        let refusal = decide(&self.billing, &self.texts, query).await;
        let ok = refusal.is_none();
        let outcome = self
            .telegram
            .answer_pre_checkout(&query.id, refusal.as_deref())
            .await;
        let answered = match outcome {
            Ok(()) => true,
            Err(SendError::Permanent(e)) => {
                tracing::warn!(error = %e, "Telegram refused a pre-checkout answer");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "pre-checkout answer failed; queued instead");
                false
            }
        };
        if answered {
            metrics::histogram!("bot_pre_checkout_seconds").record(started.elapsed().as_secs_f64());
            let label = if ok { "ok" } else { "refused" };
            metrics::counter!("bot_pre_checkout_total", "answer" => label).increment(1);
        }
        answered
    }
}
