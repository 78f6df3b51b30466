//! The Bot API's Stars methods billing calls (teloxide's client): invoice
//! links, refunds, a subscription's renewals, and the transaction list
//! reconcile reads. Bot-service answers pre-checkout queries itself.

use std::time::Duration;

use mesh_runtime::Secret;
use teloxide_core::payloads::{CreateInvoiceLinkSetters, GetStarTransactionsSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{LabeledPrice, Seconds, StarTransaction, UserId};
use teloxide_core::{ApiError, Bot, RequestError};

use super::payload::PayloadKey;
use crate::error::BillingError;

/// Telegram's only Stars subscription period: 30 days.
pub const PERIOD_SECS: u32 = 2_592_000;

/// The most transactions `getStarTransactions` returns per page.
pub const PAGE: u8 = 100;

/// The Stars side of the Bot API; cheap to clone.
#[derive(Clone)]
pub struct StarsApi {
    bot: Bot,
    key: PayloadKey,
}

/// What an invoice link sells.
pub struct Invoice<'a> {
    /// The plan's name (at most 32 characters are shown).
    pub title: &'a str,
    /// Its description.
    pub description: &'a str,
    /// Billing's payload.
    pub payload: &'a str,
    /// Stars.
    pub price: u32,
    /// A 30-day subscription (or one payment).
    pub subscription: bool,
}

impl StarsApi {
    /// A client of the Bot API at `api_url` with `token`.
    pub fn new(token: &Secret, api_url: &str, timeout: Duration) -> Result<Self, BillingError> {
        let url = reqwest::Url::parse(api_url)
            .map_err(|e| BillingError::Internal(format!("TELEGRAM_API_URL: {e}")))?;
        let client = teloxide_core::net::default_reqwest_settings()
            .timeout(timeout)
            .build()
            .map_err(|e| BillingError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            bot: Bot::with_client(token.expose(), client).set_api_url(url),
            key: PayloadKey::from_token(token),
        })
    }

    /// The key invoice payloads are signed with.
    pub fn key(&self) -> &PayloadKey {
        &self.key
    }

    /// `createInvoiceLink` in XTR: one price, no provider token, and a
    /// 30-day period for a subscription.
    pub async fn invoice_link(&self, invoice: &Invoice<'_>) -> Result<String, BillingError> {
        // Telegram takes 1-32 characters of title and 1-255 of description.
        let title: String = invoice.title.chars().take(32).collect();
        let mut description: String = invoice.description.chars().take(255).collect();
        if description.trim().is_empty() {
            description = title.clone();
        }
        let mut request = self.bot.create_invoice_link(
            title.clone(),
            description,
            invoice.payload,
            "XTR",
            [LabeledPrice::new(title, invoice.price)],
        );
        if invoice.subscription {
            request = request.subscription_period(Seconds::from_seconds(PERIOD_SECS));
        }
        request.await.map_err(telegram_error)
    }

    /// `refundStarPayment`; a charge Telegram already refunded counts as
    /// done (a retry after a lost reply).
    pub async fn refund(&self, user: i64, charge: &str) -> Result<(), BillingError> {
        match self
            .bot
            .refund_star_payment(user_id(user)?, charge.to_owned().into())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if described(&e, "CHARGE_ALREADY_REFUNDED") => Ok(()),
            Err(e) => Err(telegram_error(e)),
        }
    }

    /// `editUserStarSubscription`: stop (`cancel`) or resume renewals. A
    /// subscription that can't renew any more (ended, refunded) stops
    /// renewing as asked.
    pub async fn set_renewal(
        &self,
        user: i64,
        charge: &str,
        cancel: bool,
    ) -> Result<(), BillingError> {
        match self
            .bot
            .edit_user_star_subscription(user_id(user)?, charge.to_owned().into(), cancel)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if cancel && described(&e, "SUBSCRIPTION_") => Ok(()),
            Err(e) => Err(telegram_error(e)),
        }
    }

    /// One page of `getStarTransactions` (oldest first).
    pub async fn transactions(&self, offset: u32) -> Result<Vec<StarTransaction>, BillingError> {
        let page = self
            .bot
            .get_star_transactions()
            .offset(offset)
            .limit(PAGE)
            .await
            .map_err(telegram_error)?;
        Ok(page.transactions)
    }
}

fn user_id(user: i64) -> Result<UserId, BillingError> {
    u64::try_from(user)
        .map(UserId)
        .map_err(|_| BillingError::InvalidArgument(format!("bad user id {user}")))
}

/// Whether Telegram's refusal names `what` (its descriptions carry the
/// error's code, for example `Bad Request: CHARGE_ALREADY_REFUNDED`).
fn described(e: &RequestError, what: &str) -> bool {
    matches!(e, RequestError::Api(api) if api.to_string().contains(what))
}

/// Telegram's answer as billing's error: a refusal is the caller's to see;
/// the network, a flood wait or Telegram's own failure is worth a retry.
fn telegram_error(e: RequestError) -> BillingError {
    match e {
        RequestError::Api(ApiError::Unknown(m)) if m.contains("not found") => {
            BillingError::NotFound(format!("Telegram: {m}"))
        }
        // Telegram's own failure: worth a retry.
        RequestError::Api(ApiError::Unknown(m)) if m.contains("Internal Server Error") => {
            BillingError::Unavailable(format!("Telegram: {m}"))
        }
        RequestError::Api(api) => BillingError::FailedPrecondition(format!("Telegram: {api}")),
        other => BillingError::Unavailable(format!("Telegram: {other}")),
    }
}
