//! Stripe API calls, through async-stripe.
//!
//! Every write carries an idempotency key derived from what it does (the
//! user, the plan, the caller's request id), so a retry, ours or our
//! caller's, never creates a second customer or session. 429s, 5xx and
//! network failures are retried here with backoff under the same key:
//! async-stripe's own retrying strategies draw a random key per request,
//! which would defeat that.

use std::collections::HashMap;
use std::time::Duration;

use mesh_runtime::Secret;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    ExpireCheckoutSession, ListCheckoutSession, RetrieveCheckoutSession,
};
use stripe_core::charge::RetrieveCharge;
use stripe_core::customer::CreateCustomer;
use stripe_core::event::ListEvent;
use stripe_core::refund::CreateRefund;
use stripe_shared::{CheckoutSessionMode, Subscription};

use crate::error::BillingError;
use crate::money::PriceTerms;

/// What billing needs to know of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// `sub_...`.
    pub id: String,
    /// `cus_...`.
    pub customer: String,
    /// Stripe's status (`active`, `past_due`, ...).
    pub status: String,
    /// Will not renew.
    pub cancel_at_period_end: bool,
    /// End of the current period (unix seconds).
    pub current_period_end: Option<i64>,
    /// The first item's price.
    pub price_id: Option<String>,
    /// `metadata.telegram_user_id`.
    pub telegram_user_id: Option<i64>,
    /// `metadata.plan_id`.
    pub plan_id: Option<String>,
    /// Creation time (unix seconds).
    pub created: i64,
    /// What the first item charges each period.
    pub price: Option<PriceTerms>,
    /// It had a free trial (whatever its status now): no trial again.
    pub had_trial: bool,
    /// Its latest invoice (`in_...`): what its first payment paid.
    pub latest_invoice: Option<String>,
}

impl From<&stripe_shared::Price> for PriceTerms {
    /// A per-unit price's `unit_amount`; a decimal one's
    /// `unit_amount_decimal` rounded to the nearest minor unit; a tiered
    /// one's lowest tier (when its tiers were expanded), marked as a
    /// starting price.
    fn from(p: &stripe_shared::Price) -> Self {
        let decimal = p
            .unit_amount_decimal
            .as_ref()
            .and_then(|d| d.to_string().parse::<f64>().ok())
            .map(|d| d.round() as i64);
        let lowest_tier = p.tiers.as_ref().and_then(|tiers| {
            tiers
                .iter()
                .filter_map(|t| {
                    t.unit_amount.or_else(|| {
                        t.unit_amount_decimal
                            .as_ref()
                            .and_then(|d| d.to_string().parse::<f64>().ok())
                            .map(|d| d.round() as i64)
                    })
                })
                .min()
        });
        Self {
            amount: p
                .unit_amount
                .or(decimal)
                .or(lowest_tier)
                .unwrap_or_default(),
            starting_at: p.unit_amount.is_none() && decimal.is_none() && lowest_tier.is_some(),
            currency: p.currency.to_string(),
            interval: p.recurring.as_ref().map(|r| r.interval.as_str().to_owned()),
            interval_count: p
                .recurring
                .as_ref()
                .map_or(1, |r| u32::try_from(r.interval_count).unwrap_or(1)),
        }
    }
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        let item = s.items.data.first();
        Self {
            id: s.id.as_str().to_owned(),
            customer: s.customer.id().as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            cancel_at_period_end: s.cancel_at_period_end,
            current_period_end: item.map(|i| i.current_period_end),
            price_id: item.map(|i| i.price.id.as_str().to_owned()),
            telegram_user_id: s
                .metadata
                .get("telegram_user_id")
                .and_then(|v| v.parse().ok()),
            plan_id: s.metadata.get("plan_id").cloned(),
            created: s.created,
            price: item.map(|i| PriceTerms::from(&i.price)),
            had_trial: s.trial_start.is_some(),
            latest_invoice: s
                .latest_invoice
                .as_ref()
                .and_then(|i| i.id().as_ref().map(|id| id.as_str().to_owned())),
        }
    }
}

impl From<&stripe_shared::CheckoutSession> for SessionView {
    fn from(s: &stripe_shared::CheckoutSession) -> Self {
        Self {
            id: s.id.as_str().to_owned(),
            mode: s.mode.as_str().to_owned(),
            payment_status: s.payment_status.as_str().to_owned(),
            customer: s.customer.as_ref().map(|c| c.id().as_str().to_owned()),
            payment_intent: s
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned()),
            subscription: s.subscription.as_ref().map(|p| p.id().as_str().to_owned()),
            metadata: s.metadata.clone().unwrap_or_default(),
        }
    }
}

impl SubscriptionView {
    /// Whether the status still means a live subscription.
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "active" | "trialing" | "past_due")
    }
}

/// What billing needs to know of a charge (refunds and disputes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeView {
    /// `ch_...`.
    pub id: String,
    /// `cus_...`, when the charge has a customer.
    pub customer: Option<String>,
    /// Amount charged, in the currency's smallest unit.
    pub amount: i64,
    /// Amount refunded so far.
    pub amount_refunded: i64,
    /// The currency (lowercase ISO code).
    pub currency: String,
    /// The payment it belongs to (`pi_...`), when it has one.
    pub payment_intent: Option<String>,
}

/// What billing needs to know of a Checkout session, as Stripe has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// `cs_...`.
    pub id: String,
    /// `payment` or `subscription`.
    pub mode: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// `cus_...`.
    pub customer: Option<String>,
    /// The payment (`pi_...`), payment mode.
    pub payment_intent: Option<String>,
    /// The subscription it started, subscription mode.
    pub subscription: Option<String>,
    /// The metadata billing set when it made the session.
    pub metadata: HashMap<String, String>,
}

/// A Checkout session to send the user to.
#[derive(Debug, Clone)]
pub struct CheckoutLink {
    /// `cs_...`.
    pub id: String,
    /// The hosted page.
    pub url: String,
    /// When it stops working (unix seconds).
    pub expires_at: i64,
}

/// What a Checkout session needs.
#[derive(Debug, Clone)]
pub struct CheckoutParams<'a> {
    /// The paying user.
    pub telegram_user_id: i64,
    /// Their Stripe customer.
    pub customer: &'a str,
    /// The plan id (kept in metadata).
    pub plan_id: &'a str,
    /// The Stripe price.
    pub price_id: &'a str,
    /// Trial days (0 = none).
    pub trial_days: u32,
    /// For a one-time plan, its days of access (`Some(None)`: for life):
    /// Checkout in payment mode. `None`: a subscription.
    pub one_time: Option<Option<u32>>,
    /// Where Stripe sends the user after paying.
    pub success_url: &'a str,
    /// Where Stripe sends the user when they give up.
    pub cancel_url: &'a str,
}

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

    /// Creates the Stripe customer of a Telegram user.
    pub async fn create_customer(&self, telegram_user_id: i64) -> Result<String, BillingError> {
        let metadata =
            HashMap::from([("telegram_user_id".to_owned(), telegram_user_id.to_string())]);
        let request = CreateCustomer::new()
            .description(format!("Telegram user {telegram_user_id}"))
            .metadata(metadata);
        let customer = self
            .call(
                "customers.create",
                &request,
                Some(&format!("customer-tg{telegram_user_id}")),
            )
            .await?;
        Ok(customer.id.as_str().to_owned())
    }

    /// Creates a Checkout session: subscription mode, or payment mode for
    /// a one-time plan (its days bought kept in the metadata, so what was
    /// paid for is what is granted whatever the plans file says later).
    pub async fn create_checkout(
        &self,
        p: &CheckoutParams<'_>,
        idempotency: &str,
    ) -> Result<CheckoutLink, BillingError> {
        let mut metadata = HashMap::from([
            (
                "telegram_user_id".to_owned(),
                p.telegram_user_id.to_string(),
            ),
            ("plan_id".to_owned(), p.plan_id.to_owned()),
        ]);
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(p.price_id.to_owned());
        line.quantity = Some(1);
        let mut request = CreateCheckoutSession::new()
            .customer(p.customer)
            .client_reference_id(p.telegram_user_id.to_string())
            .line_items(vec![line])
            .allow_promotion_codes(true)
            .success_url(p.success_url)
            .cancel_url(p.cancel_url);
        match p.one_time {
            None => {
                let mut subscription = CreateCheckoutSessionSubscriptionData::new();
                subscription.metadata = Some(metadata.clone());
                if p.trial_days > 0 {
                    subscription.trial_period_days = Some(p.trial_days);
                }
                request = request
                    .mode(CheckoutSessionMode::Subscription)
                    .subscription_data(subscription);
            }
            Some(days) => {
                metadata.insert(
                    "duration_days".to_owned(),
                    days.map_or_else(|| "0".to_owned(), |d| d.to_string()),
                );
                request = request.mode(CheckoutSessionMode::Payment);
            }
        }
        let request = request.metadata(metadata);
        let session = self
            .call("checkout.sessions.create", &request, Some(idempotency))
            .await?;
        let url = session.url.ok_or_else(|| {
            BillingError::Internal("Stripe returned a Checkout session without a URL".into())
        })?;
        Ok(CheckoutLink {
            id: session.id.as_str().to_owned(),
            url,
            expires_at: session.expires_at,
        })
    }

    /// Creates a customer-portal session.
    pub async fn create_portal(
        &self,
        customer: &str,
        return_url: &str,
        idempotency: &str,
    ) -> Result<String, BillingError> {
        let request = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        Ok(self
            .call(
                "billing_portal.sessions.create",
                &request,
                Some(idempotency),
            )
            .await?
            .url)
    }

    /// Reads a subscription (the truth, whatever order events came in).
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionView, BillingError> {
        let sub = self
            .call(
                "subscriptions.retrieve",
                &RetrieveSubscription::new(id),
                None,
            )
            .await?;
        Ok(SubscriptionView::from(&sub))
    }

    /// Sets a subscription to cancel at period end (`cancel`) or to renew
    /// again (`!cancel`). `idempotency` must name this one request: a key
    /// reused for a later, identical request would only replay the first.
    pub async fn set_cancel_at_period_end(
        &self,
        id: &str,
        cancel: bool,
        idempotency: &str,
    ) -> Result<SubscriptionView, BillingError> {
        let request = UpdateSubscription::new(id).cancel_at_period_end(cancel);
        let sub = self
            .call("subscriptions.update", &request, Some(idempotency))
            .await?;
        Ok(SubscriptionView::from(&sub))
    }

    /// Reads a price (what a plan costs).
    pub async fn price(&self, id: &str) -> Result<PriceTerms, BillingError> {
        let price = self
            .call(
                "prices.retrieve",
                &RetrievePrice { id: id.to_owned() },
                None,
            )
            .await?;
        Ok(PriceTerms::from(&price))
    }

    /// Reads a charge (who paid, how much was refunded).
    pub async fn charge(&self, id: &str) -> Result<ChargeView, BillingError> {
        let charge = self
            .call("charges.retrieve", &RetrieveCharge::new(id), None)
            .await?;
        Ok(ChargeView {
            id: charge.id.as_str().to_owned(),
            customer: charge.customer.as_ref().map(|c| c.id().as_str().to_owned()),
            amount: charge.amount,
            amount_refunded: charge.amount_refunded,
            currency: charge.currency.to_string(),
            payment_intent: charge
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned()),
        })
    }

    /// Reads a Checkout session: what Stripe says was paid, whoever
    /// delivered the event about it.
    pub async fn checkout_session(&self, id: &str) -> Result<SessionView, BillingError> {
        let s = self
            .call(
                "checkout.sessions.retrieve",
                &RetrieveCheckoutSession::new(id),
                None,
            )
            .await?;
        Ok(SessionView::from(&s))
    }

    /// The subscription whose invoice payment `intent` paid, if any: the
    /// invoice payments API is the link from a payment to its invoice
    /// (charges no longer name their invoice).
    pub async fn subscription_of_payment(
        &self,
        intent: &str,
    ) -> Result<Option<String>, BillingError> {
        let page = self
            .invoice_payments(InvoicePaymentsOf::Payment(intent.to_owned()))
            .await?;
        Ok(page
            .pointer("/data/0/invoice")
            .and_then(crate::payload::invoice_subscription))
    }

    /// The payment (`pi_...`) that paid `invoice`, if it was paid.
    pub async fn payment_of_invoice(&self, invoice: &str) -> Result<Option<String>, BillingError> {
        let page = self
            .invoice_payments(InvoicePaymentsOf::Invoice(invoice.to_owned()))
            .await?;
        Ok(page
            .pointer("/data/0/payment/payment_intent")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned))
    }

    async fn invoice_payments(
        &self,
        of: InvoicePaymentsOf,
    ) -> Result<serde_json::Value, BillingError> {
        let page = self
            .call("invoice_payments.list", &ListInvoicePayments { of }, None)
            .await?;
        serde_json::from_str(&miniserde::json::to_string(&page))
            .map_err(|e| BillingError::Internal(format!("invoice payments: {e}")))
    }

    /// What the subscription's next invoice will charge (amount due and
    /// currency), from Stripe's invoice preview: coupons, tax and quantity
    /// included, unlike the price's list amount.
    pub async fn next_invoice(
        &self,
        subscription: &str,
    ) -> Result<Option<(i64, String)>, BillingError> {
        let preview = self
            .call(
                "invoices.create_preview",
                &PreviewInvoice {
                    subscription: subscription.to_owned(),
                },
                None,
            )
            .await?;
        let preview: serde_json::Value =
            serde_json::from_str(&miniserde::json::to_string(&preview))
                .map_err(|e| BillingError::Internal(format!("invoice preview: {e}")))?;
        let amount = preview
            .get("amount_due")
            .and_then(serde_json::Value::as_i64);
        let currency = crate::payload::str_at(&preview, &["currency"]);
        Ok(amount.zip(currency).map(|(a, c)| (a, c.to_owned())))
    }

    /// Refunds a payment in full. One key per payment, so a retry replays
    /// the first answer; a payment already refunded counts as done.
    pub async fn refund_payment(&self, intent: &str) -> Result<(), BillingError> {
        let request = CreateRefund::new().payment_intent(intent);
        match self
            .call(
                "refunds.create",
                &request,
                Some(&format!("refund-{intent}")),
            )
            .await
        {
            Ok(_) | Err(BillingError::AlreadyDone(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Expires an open Checkout session (it can't be paid any more). One
    /// that is no longer open (paid, or expired already) is left as it is.
    pub async fn expire_checkout(&self, id: &str) -> Result<(), BillingError> {
        match self
            .call(
                "checkout.sessions.expire",
                &ExpireCheckoutSession::new(id),
                Some(&format!("expire-{id}")),
            )
            .await
        {
            Ok(_) | Err(BillingError::AlreadyDone(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Cancels a subscription now (a terminal action: one key per
    /// subscription is right, a replay answers the same). Done once is done:
    /// when Stripe refuses because it is over already (a retry after the
    /// stored answer was pruned gets "No such subscription"), a re-read
    /// that shows it ended counts as the cancel.
    pub async fn cancel_now(&self, id: &str) -> Result<SubscriptionView, BillingError> {
        let refused = match self
            .call(
                "subscriptions.cancel",
                &CancelSubscription::new(id),
                Some(&format!("cancel-now-{id}")),
            )
            .await
        {
            Ok(sub) => return Ok(SubscriptionView::from(&sub)),
            Err(e @ (BillingError::NotFound(_) | BillingError::InvalidArgument(_))) => e,
            Err(e) => return Err(e),
        };
        match self.subscription(id).await {
            Ok(view) if !crate::subscription::not_ended(&view.status) => Ok(view),
            Ok(_) => Err(refused),
            Err(e) => Err(e),
        }
    }

    /// Every subscription, any status, all pages.
    pub async fn all_subscriptions(&self) -> Result<Vec<SubscriptionView>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListSubscription::new()
                .status(ListSubscriptionStatus::All)
                .limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("subscriptions.list", &request, None).await?;
            out.extend(page.data.iter().map(SubscriptionView::from));
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Every completed Checkout session of a one-time plan billing made
    /// (payment mode, paid, with billing's metadata), all pages: the
    /// purchases reconcile rebuilds.
    pub async fn paid_one_time_sessions(&self) -> Result<Vec<(SessionView, i64)>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListCheckoutSession::new()
                .status(stripe_shared::CheckoutSessionStatus::Complete)
                .limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("checkout.sessions.list", &request, None).await?;
            for s in &page.data {
                if s.mode.as_str() != "payment" || s.payment_status.as_str() != "paid" {
                    continue;
                }
                out.push((SessionView::from(s), s.created));
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Events whose webhook delivery failed (Stripe keeps 30 days), as
    /// event JSON the webhook path understands.
    pub async fn undelivered_events(&self) -> Result<Vec<Vec<u8>>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListEvent::new().delivery_success(false).limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("events.list", &request, None).await?;
            for event in &page.data {
                let object: serde_json::Value =
                    serde_json::from_str(&miniserde::json::to_string(&event.data.object))
                        .map_err(|e| BillingError::Internal(format!("event object: {e}")))?;
                let json = serde_json::json!({
                    "id": event.id.as_str(),
                    "object": "event",
                    "type": event.type_.as_str(),
                    "created": event.created,
                    "data": {"object": object},
                });
                out.push(json.to_string().into_bytes());
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }
}

/// `GET /v1/prices/{id}`. Written here because the one async-stripe crate
/// that has it (`async-stripe-product`) would add every product resource
/// to the build for one call.
struct RetrievePrice {
    id: String,
}

impl StripeRequest for RetrievePrice {
    type Output = stripe_shared::Price;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        // Tiers are only sent when asked for.
        #[derive(serde::Serialize)]
        struct Query {
            expand: [&'static str; 1],
        }
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Get,
            format!("/prices/{}", self.id),
        )
        .query(&Query { expand: ["tiers"] })
    }
}

/// `GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=..`
/// with the invoice expanded. Written here because no enabled resource
/// crate has it; read leniently (a JSON value) since billing needs one path
/// of it.
struct ListInvoicePayments {
    of: InvoicePaymentsOf,
}

/// `POST /v1/invoices/create_preview` for a subscription (it creates
/// nothing: no idempotency key). Written here because the invoice resource
/// of async-stripe would add the whole invoicing API to the build for one
/// read; read leniently (a JSON value) for the two fields billing needs.
struct PreviewInvoice {
    subscription: String,
}

impl StripeRequest for PreviewInvoice {
    type Output = miniserde::json::Value;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        #[derive(serde::Serialize)]
        struct Form<'a> {
            subscription: &'a str,
        }
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Post,
            "/invoices/create_preview",
        )
        .form(&Form {
            subscription: &self.subscription,
        })
    }
}

/// Which invoice payments to list.
enum InvoicePaymentsOf {
    /// The one a payment made.
    Payment(String),
    /// The ones that paid an invoice.
    Invoice(String),
}

impl StripeRequest for ListInvoicePayments {
    type Output = miniserde::json::Value;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        #[derive(serde::Serialize)]
        struct Payment<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            payment_intent: &'a str,
        }
        #[derive(serde::Serialize)]
        struct Query<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            payment: Option<Payment<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            invoice: Option<&'a str>,
            expand: [&'a str; 1],
            limit: u8,
        }
        let (payment, invoice) = match &self.of {
            InvoicePaymentsOf::Payment(intent) => (
                Some(Payment {
                    kind: "payment_intent",
                    payment_intent: intent,
                }),
                None,
            ),
            InvoicePaymentsOf::Invoice(id) => (None, Some(id.as_str())),
        };
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Get,
            "/invoice_payments",
        )
        .query(&Query {
            payment,
            invoice,
            expand: ["data.invoice"],
            limit: 1,
        })
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
