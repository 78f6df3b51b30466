//! Stripe API calls, through async-stripe.
//!
//! Every write carries an idempotency key derived from what it does (the
//! user, the plan, the caller's request id), so a retry, ours or our
//! caller's, never creates a second customer or session. 429s, 5xx and
//! network failures are retried here with backoff under the same key:
//! async-stripe's own retrying strategies draw a random key per request,
//! which would defeat that.
//!
//! One file per concern: [`views`] (what billing reads of Stripe's
//! objects), [`accounts`] (customers, Checkout, the portal,
//! subscriptions), [`payments`] (prices, charges, invoices, refunds,
//! events), [`requests`] (the few requests no enabled async-stripe crate
//! has, written by hand).

mod accounts;
mod payments;
mod requests;
mod views;

use std::time::Duration;

use mesh_runtime::Secret;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};

pub use self::views::*;
use crate::error::BillingError;

/// The Stripe client.
#[derive(Clone)]
pub struct StripeApi {
    client: Client,
    attempts: u32,
}

impl std::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeApi(***)")
    }
}

fn key(raw: &str) -> Result<IdempotencyKey, BillingError> {
    // Stripe accepts up to 255 characters; ours are short and ASCII.
    IdempotencyKey::new(raw).map_err(|e| BillingError::Internal(format!("idempotency key: {e}")))
}

impl StripeApi {
    /// A client of `api_base` (Stripe, stripe-mock or a double).
    pub fn new(
        secret: &Secret,
        api_base: &str,
        timeout: Duration,
    ) -> Result<Self, mesh_runtime::ConfigError> {
        let client = ClientBuilder::new(secret.expose())
            .url(format!("{api_base}/"))
            .timeout(timeout)
            .build()
            .map_err(|e| mesh_runtime::ConfigError::new("STRIPE_API_BASE", e))?;
        Ok(Self {
            client,
            attempts: 3,
        })
    }

    /// Sends `request` once per attempt under one idempotency key (writes)
    /// or none (reads), retrying what Stripe says is retryable.
    async fn call<R>(
        &self,
        operation: &'static str,
        request: &R,
        idempotency: Option<&str>,
    ) -> Result<R::Output, BillingError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let strategy = match idempotency {
            Some(k) => RequestStrategy::Idempotent(key(k)?),
            None => RequestStrategy::Once,
        };
        let span = tracing::info_span!(
            "stripe.request",
            otel.kind = "client",
            stripe.operation = operation,
            http.response.status_code = tracing::field::Empty,
        );
        let mut attempt = 1;
        loop {
            let started = std::time::Instant::now();
            let outcome = {
                use tracing::Instrument;
                request
                    .customize()
                    .request_strategy(strategy.clone())
                    .send(&self.client)
                    .instrument(span.clone())
                    .await
            };
            let label = match &outcome {
                Ok(_) => "ok",
                Err(StripeError::Stripe(_, status)) if *status == 429 || *status >= 500 => {
                    "retryable"
                }
                Err(StripeError::Timeout | StripeError::ClientError(_)) => "retryable",
                Err(_) => "error",
            };
            metrics::histogram!("billing_stripe_request_seconds", "operation" => operation, "outcome" => label)
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(value) => return Ok(value),
                Err(e) if label == "retryable" && attempt < self.attempts => {
                    let delay = Duration::from_millis(200 * (1 << (attempt - 1)));
                    tracing::info!(parent: &span, operation, attempt, error = %brief(&e), "Stripe call failed; retrying with the same idempotency key");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(map_error(operation, e)),
            }
        }
    }
}

/// A log-safe summary of an error (never the request, which holds the key).
fn brief(e: &StripeError) -> String {
    match e {
        StripeError::Stripe(err, status) => format!("{status} {}", err.type_.as_str()),
        StripeError::Timeout => "timeout".into(),
        StripeError::ClientError(_) => "network error".into(),
        StripeError::JSONDeserialize(_) => "unreadable response".into(),
        StripeError::ConfigError(_) => "client configuration".into(),
    }
}

/// Maps a Stripe failure to what billing's callers can act on. Matched
/// exhaustively: a card or input problem is the caller's to fix (never
/// INTERNAL); only our own mistakes are internal.
fn map_error(operation: &'static str, e: StripeError) -> BillingError {
    use stripe::ApiErrorsType;
    match e {
        StripeError::Stripe(err, status) => {
            let message = err.message.clone().unwrap_or_default();
            let code = err
                .code
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default();
            match (&err.type_, status) {
                (_, 429) | (_, 500..) => {
                    tracing::warn!(operation, status, "Stripe unavailable after retries");
                    BillingError::Unavailable("Stripe is unavailable; retry later".into())
                }
                (_, 401) => {
                    tracing::error!(operation, "Stripe rejected the API key");
                    BillingError::Internal("payments are misconfigured".into())
                }
                (ApiErrorsType::CardError, _) => {
                    BillingError::FailedPrecondition(format!("card declined: {message}"))
                }
                (ApiErrorsType::InvalidRequestError, 404)
                | (ApiErrorsType::InvalidRequestError, _)
                    if code == "resource_missing" =>
                {
                    BillingError::NotFound(format!("Stripe: {message}"))
                }
                // The object is in the wanted state already (a refund of a
                // refunded charge, an expiry of a session no longer open).
                (ApiErrorsType::InvalidRequestError, _)
                    if code == "charge_already_refunded"
                        || code == "checkout_session_not_open"
                        || message.contains("can be expired") =>
                {
                    BillingError::AlreadyDone(format!("Stripe: {message}"))
                }
                (ApiErrorsType::InvalidRequestError, _) => {
                    BillingError::InvalidArgument(format!("Stripe: {message}"))
                }
                (ApiErrorsType::IdempotencyError, _) => {
                    tracing::error!(operation, "idempotency key reused with other parameters");
                    BillingError::Internal("conflicting retry".into())
                }
                // api_error, and types newer than this client: Stripe's side.
                _ => BillingError::Unavailable("Stripe is unavailable; retry later".into()),
            }
        }
        StripeError::Timeout | StripeError::ClientError(_) => {
            tracing::warn!(operation, "Stripe unreachable after retries");
            BillingError::Unavailable("Stripe is unreachable; retry later".into())
        }
        StripeError::JSONDeserialize(m) => {
            tracing::error!(operation, error = %m, "unreadable Stripe response");
            BillingError::Internal("unreadable Stripe response".into())
        }
        StripeError::ConfigError(m) => {
            tracing::error!(operation, error = %m, "Stripe client misconfigured");
            BillingError::Internal("payments are misconfigured".into())
        }
    }
}
