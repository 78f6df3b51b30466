//! A Stripe API double speaking Stripe's wire format.
//!
//! Requests are `application/x-www-form-urlencoded` with nested keys
//! (`line_items[0][price]`), authenticated with `Authorization: Bearer`.
//! Writes honour `Idempotency-Key`: the same key with the same parameters
//! replays the first response; with other parameters it is an
//! `idempotency_error`. Errors are Stripe error objects; lists page with
//! `starting_after` and `has_more`. Objects carry every field async-stripe
//! requires, so the real client parses them.
//!
//! The test drives Stripe's side of the story (a customer pays, a renewal
//! fails, a subscription ends): each step changes the double's objects and
//! returns the events Stripe would send, which the test signs and posts to
//! the gateway like Stripe's webhook sender.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::stripe::{now, signature_header};

/// One request the double received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// Path, e.g. `/v1/checkout/sessions`.
    pub path: String,
    /// Parsed parameters (nested keys become nested objects).
    pub params: Value,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    customers: BTreeMap<String, Value>,
    sessions: BTreeMap<String, Value>,
    subscriptions: BTreeMap<String, Value>,
    charges: BTreeMap<String, Value>,
    disputes: BTreeMap<String, Value>,
    /// Invoice payments (`inpay_...`): which invoice each payment paid.
    invoice_payments: Vec<Value>,
    invoices: BTreeMap<String, Value>,
    /// A coupon on every subscription's next invoice (percent off).
    coupon_percent_off: i64,
    events: Vec<(Value, bool)>,
    idempotency: HashMap<String, (String, u16, Value)>,
    requests: Vec<Recorded>,
    failures: VecDeque<(String, u16)>,
    delays: VecDeque<(String, Duration)>,
}

/// The running double.
#[derive(Clone)]
pub struct StripeDouble {
    /// Base URL for `STRIPE_API_BASE`.
    pub url: String,
    /// The API key it accepts.
    pub secret_key: String,
    /// The webhook signing secret its events are signed with.
    pub webhook_secret: String,
    prices: Vec<String>,
    inner: Arc<Mutex<Inner>>,
}

type Reply = (StatusCode, Json<Value>);

fn error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> Reply {
    let mut e = json!({"type": kind, "message": message});
    if let Some(c) = code {
        e["code"] = json!(c);
    }
    if let Some(p) = param {
        e["param"] = json!(p);
    }
    (status, Json(json!({"error": e})))
}

/// Parses a form or query string into nested JSON (`a[b][0]=x` gives
/// `{"a":{"b":{"0":"x"}}}`).
pub fn parse_nested(raw: &[u8]) -> Value {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(raw) {
        let mut parts: Vec<String> = Vec::new();
        let (head, rest) = key
            .split_once('[')
            .map_or((key.as_ref(), ""), |(h, r)| (h, r));
        parts.push(head.to_owned());
        for seg in rest.split('[') {
            let seg = seg.trim_end_matches(']');
            if !seg.is_empty() || !rest.is_empty() {
                parts.push(seg.to_owned());
            }
        }
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let mut node = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert(part.clone(), Value::String(value.to_string()));
            } else {
                let entry = node
                    .entry(part.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                node = entry.as_object_mut().unwrap_or_else(|| unreachable!());
            }
        }
    }
    Value::Object(root)
}

fn s<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

impl StripeDouble {
    /// Starts the double, selling `prices`.
    pub async fn start(prices: &[&str]) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let mut double = Self {
            url: String::new(),
            secret_key: "sk_test_double_0123456789".into(),
            webhook_secret: "whsec_double_signing_secret".into(),
            prices: prices.iter().map(|p| (*p).to_owned()).collect(),
            inner,
        };
        let app = axum::Router::new()
            .route("/v1/customers", post(handle))
            .route("/v1/checkout/sessions", post(handle).get(handle))
            .route("/v1/checkout/sessions/{id}", get(handle))
            .route("/v1/checkout/sessions/{id}/expire", post(handle))
            .route("/v1/invoice_payments", get(handle))
            .route("/v1/refunds", post(handle))
            .route("/v1/invoices/create_preview", post(handle))
            .route("/v1/billing_portal/sessions", post(handle))
            .route("/v1/subscriptions", get(handle))
            .route("/v1/events", get(handle))
            .route("/v1/charges/{id}", get(handle))
            .route("/v1/prices/{id}", get(handle))
            .route(
                "/v1/subscriptions/{id}",
                get(handle).post(handle).delete(handle),
            )
            .with_state(double.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        double.url = format!("http://{addr}");
        double
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Requests to `method path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// The variables that point billing and the gateway at this double.
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("STRIPE_SECRET_KEY", self.secret_key.clone()),
            ("STRIPE_API_BASE", self.url.clone()),
            ("STRIPE_WEBHOOK_SECRET", self.webhook_secret.clone()),
        ]
    }

    /// Checkout sessions created.
    pub fn sessions(&self) -> Vec<Value> {
        self.lock().sessions.values().cloned().collect()
    }

    /// A subscription as Stripe holds it now.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.lock().subscriptions.get(id).cloned()
    }

    /// The next request whose path starts with `prefix` fails with `status`.
    pub fn fail_next(&self, prefix: &str, status: u16) {
        self.lock().failures.push_back((prefix.to_owned(), status));
    }

    /// The next request whose path starts with `prefix` is processed at
    /// once but answered only after `delay` (a response lost to a timeout).
    pub fn delay_next(&self, prefix: &str, delay: Duration) {
        self.lock().delays.push_back((prefix.to_owned(), delay));
    }

    fn id(inner: &mut Inner, prefix: &str) -> String {
        inner.next += 1;
        format!(
            "{prefix}_test{:06}{}",
            inner.next,
            rand::random::<u32>() % 10_000
        )
    }

    fn event(inner: &mut Inner, kind: &str, object: Value) -> Value {
        let id = Self::id(inner, "evt");
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": "2025-08-27.basil",
            "created": now(),
            "data": {"object": object},
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": kind,
        });
        inner.events.push((event.clone(), false));
        event
    }

    fn invoice(inner: &mut Inner, sub: &Value, status: &str) -> Value {
        let id = Self::id(inner, "in");
        let amount = price_amount(&sub["items"]["data"][0]["price"]);
        let invoice = json!({
            "id": id, "object": "invoice", "customer": sub["customer"], "subscription": sub["id"],
            "status": status, "created": now(), "currency": "usd", "amount_due": amount,
            "amount_paid": if status == "paid" { amount } else { 0 },
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}},
        });
        // A paid invoice was paid by a payment: a charge of its own, and an
        // invoice payment linking the two (charges don't name invoices).
        if status == "paid" {
            let intent = Self::id(inner, "pi");
            let charge = Self::id(inner, "ch");
            let mut c = charge_object(&charge, &sub["customer"], amount);
            c["payment_intent"] = json!(intent);
            inner.charges.insert(charge.clone(), c);
            let inpay = Self::id(inner, "inpay");
            inner.invoice_payments.push(json!({
                "id": inpay, "object": "invoice_payment", "amount_paid": amount,
                "amount_requested": amount, "created": now(), "currency": "usd", "invoice": id,
                "is_default": true, "livemode": false, "status": "paid",
                "payment": {"type": "payment_intent", "payment_intent": intent},
                "status_transitions": {"canceled_at": null, "paid_at": now()},
            }));
            inner.invoices.insert(id.clone(), invoice.clone());
        }
        if let Some(sub_id) = sub["id"].as_str()
            && let Some(stored) = inner.subscriptions.get_mut(sub_id)
        {
            stored["latest_invoice"] = json!(id);
        }
        invoice
    }

    /// The customer pays a one-time plan's session, `ago` seconds before
    /// now (Stripe's event time): returns `checkout.session.completed`.
    pub fn complete_payment(&self, session_id: &str, ago: i64) -> Value {
        let mut inner = self.lock();
        let Some(session) = inner.sessions.get(session_id).cloned() else {
            panic!("no session {session_id}");
        };
        assert_eq!(session["mode"], "payment", "a payment-mode session");
        let intent = Self::id(&mut inner, "pi");
        let charge = Self::id(&mut inner, "ch");
        let mut completed = session.clone();
        completed["status"] = json!("complete");
        completed["payment_status"] = json!("paid");
        completed["payment_intent"] = json!(intent);
        inner
            .sessions
            .insert(session_id.to_owned(), completed.clone());
        let amount =
            price_object(s(&session, "/line_items/0/price").unwrap_or_default())["unit_amount"]
                .clone();
        let mut c = charge_object(
            &charge,
            &session["customer"],
            amount.as_i64().unwrap_or(1500),
        );
        c["payment_intent"] = json!(intent);
        c["created"] = json!(now() - ago);
        inner.charges.insert(charge.clone(), c);
        let mut event = Self::event(&mut inner, "checkout.session.completed", completed);
        event["created"] = json!(now() - ago);
        if let Some((stored, _)) = inner.events.last_mut() {
            *stored = event.clone();
        }
        event
    }

    /// The customer pays: the session completes and a subscription starts.
    /// Returns the events Stripe sends (subscription created, checkout
    /// completed, invoice paid).
    pub fn complete_checkout(&self, session_id: &str) -> Vec<Value> {
        let mut inner = self.lock();
        let Some(session) = inner.sessions.get(session_id).cloned() else {
            panic!("no session {session_id}");
        };
        assert_eq!(
            session["status"], "open",
            "only an open session can be paid"
        );
        let sub_id = Self::id(&mut inner, "sub");
        let trial =
            s(&session, "/subscription_data/trial_period_days").and_then(|d| d.parse::<i64>().ok());
        let status = if trial.is_some() {
            "trialing"
        } else {
            "active"
        };
        let price = s(&session, "/line_items/0/price")
            .unwrap_or_default()
            .to_owned();
        let metadata = session["subscription_data"]["metadata"].clone();
        let sub = subscription_object(
            &sub_id,
            s(&session, "/customer").unwrap_or_default(),
            status,
            &price,
            metadata,
            trial,
        );
        inner.subscriptions.insert(sub_id.clone(), sub.clone());
        let mut completed = session.clone();
        completed["status"] = json!("complete");
        completed["payment_status"] = json!(if trial.is_some() {
            "no_payment_required"
        } else {
            "paid"
        });
        completed["subscription"] = json!(sub_id);
        inner
            .sessions
            .insert(session_id.to_owned(), completed.clone());
        let invoice = Self::invoice(&mut inner, &sub, "paid");
        vec![
            Self::event(&mut inner, "customer.subscription.created", sub),
            Self::event(&mut inner, "checkout.session.completed", completed),
            Self::event(&mut inner, "invoice.paid", invoice),
        ]
    }

    fn change(&self, sub_id: &str, kinds: &[&str], f: impl FnOnce(&mut Value)) -> Vec<Value> {
        let mut inner = self.lock();
        let Some(mut sub) = inner.subscriptions.get(sub_id).cloned() else {
            panic!("no subscription {sub_id}");
        };
        f(&mut sub);
        inner.subscriptions.insert(sub_id.to_owned(), sub.clone());
        kinds
            .iter()
            .map(|kind| {
                let object = if kind.starts_with("invoice.") {
                    let status = if *kind == "invoice.paid" {
                        "paid"
                    } else {
                        "open"
                    };
                    Self::invoice(&mut inner, &sub, status)
                } else {
                    sub.clone()
                };
                Self::event(&mut inner, kind, object)
            })
            .collect()
    }

    /// A renewal payment fails: the subscription goes past due.
    pub fn fail_renewal(&self, sub_id: &str) -> Vec<Value> {
        self.change(
            sub_id,
            &["invoice.payment_failed", "customer.subscription.updated"],
            |s| {
                s["status"] = json!("past_due");
            },
        )
    }

    /// A renewal is paid: the subscription is active for another period.
    pub fn pay_renewal(&self, sub_id: &str) -> Vec<Value> {
        self.change(
            sub_id,
            &["invoice.paid", "customer.subscription.updated"],
            |s| {
                s["status"] = json!("active");
                let end = s["items"]["data"][0]["current_period_end"]
                    .as_i64()
                    .unwrap_or_else(now)
                    + 30 * 86_400;
                s["items"]["data"][0]["current_period_end"] = json!(end);
            },
        )
    }

    /// A subscription made in Stripe's dashboard on `customer`, paid at
    /// once, with `metadata` as typed there: the events Stripe sends.
    pub fn dashboard_subscription(
        &self,
        customer: &str,
        price: &str,
        metadata: Value,
    ) -> Vec<Value> {
        let mut inner = self.lock();
        let sub_id = Self::id(&mut inner, "sub");
        let sub = subscription_object(&sub_id, customer, "active", price, metadata, None);
        inner.subscriptions.insert(sub_id, sub.clone());
        let invoice = Self::invoice(&mut inner, &sub, "paid");
        vec![
            Self::event(&mut inner, "customer.subscription.created", sub),
            Self::event(&mut inner, "invoice.paid", invoice),
        ]
    }

    /// Stripe gives up on the subscription (or it is cancelled): deleted.
    pub fn end_subscription(&self, sub_id: &str) -> Vec<Value> {
        self.change(sub_id, &["customer.subscription.deleted"], |s| {
            s["status"] = json!("canceled");
            s["ended_at"] = json!(now());
        })
    }

    /// A customer's charge (made on first use): what disputes and refunds
    /// are about.
    fn charge_of(inner: &mut Inner, customer: &str) -> String {
        // The latest: the payment a dispute or refund is usually about.
        if let Some((id, _)) = inner
            .charges
            .iter()
            .filter(|(_, c)| c["customer"] == customer)
            .max_by_key(|(_, c)| c["created"].as_i64())
        {
            return id.clone();
        }
        let id = Self::id(inner, "ch");
        let charge = charge_object(&id, &json!(customer), 999);
        inner.charges.insert(id.clone(), charge);
        id
    }

    /// The cardholder disputes the customer's charge: `charge.dispute.created`
    /// (the dispute names only the charge, as Stripe's does). Returns the
    /// dispute id and the events.
    pub fn dispute(&self, customer: &str) -> (String, Vec<Value>) {
        let charge = Self::charge_of(&mut self.lock(), customer);
        self.dispute_charge(&charge)
    }

    /// The cardholder disputes one charge.
    pub fn dispute_charge(&self, charge: &str) -> (String, Vec<Value>) {
        let mut inner = self.lock();
        let charge = charge.to_owned();
        if let Some(c) = inner.charges.get_mut(&charge) {
            c["disputed"] = json!(true);
        }
        let id = Self::id(&mut inner, "dp");
        let dispute = json!({
            "id": id, "object": "dispute", "amount": 999, "currency": "usd", "charge": charge,
            "reason": "fraudulent", "status": "needs_response", "created": now(), "livemode": false,
        });
        inner.disputes.insert(id.clone(), dispute.clone());
        let event = Self::event(&mut inner, "charge.dispute.created", dispute);
        (id, vec![event])
    }

    /// The dispute is decided: `charge.dispute.closed` with `won` or `lost`.
    pub fn close_dispute(&self, dispute: &str, won: bool) -> Vec<Value> {
        let mut inner = self.lock();
        let Some(mut d) = inner.disputes.get(dispute).cloned() else {
            panic!("no dispute {dispute}");
        };
        d["status"] = json!(if won { "won" } else { "lost" });
        inner.disputes.insert(dispute.to_owned(), d.clone());
        vec![Self::event(&mut inner, "charge.dispute.closed", d)]
    }

    /// The merchant refunds `amount` of the customer's latest charge (all
    /// of it when `None`): `charge.refunded`, which Stripe sends for
    /// partial refunds too.
    pub fn refund(&self, customer: &str, amount: Option<i64>) -> Vec<Value> {
        let charge = Self::charge_of(&mut self.lock(), customer);
        self.refund_charge(&charge, amount)
    }

    /// The customer's charges, oldest first.
    pub fn charges_of(&self, customer: &str) -> Vec<Value> {
        let mut charges: Vec<Value> = self
            .lock()
            .charges
            .values()
            .filter(|c| c["customer"] == customer)
            .cloned()
            .collect();
        charges.sort_by_key(|c| c["created"].as_i64());
        charges
    }

    /// Every subscription's next invoice gets `percent` off (a coupon):
    /// what the invoice preview shows.
    pub fn coupon(&self, percent: i64) {
        self.lock().coupon_percent_off = percent;
    }

    /// The subscription is gone from Stripe for good (deleted in a test
    /// mode reset, say): every read of it answers 404.
    pub fn forget_subscription(&self, id: &str) {
        self.lock().subscriptions.remove(id);
    }

    /// Stripe forgets the stored answers of idempotent requests (it may
    /// prune them after 24 hours): a retry runs again.
    pub fn forget_idempotency(&self) {
        self.lock().idempotency.clear();
    }

    /// The merchant refunds `amount` of one charge (all of it when `None`).
    pub fn refund_charge(&self, charge: &str, amount: Option<i64>) -> Vec<Value> {
        let mut inner = self.lock();
        let charge = charge.to_owned();
        let Some(mut c) = inner.charges.get(&charge).cloned() else {
            panic!("no charge {charge}");
        };
        let total = c["amount"].as_i64().unwrap_or_default();
        let refunded = amount.unwrap_or(total).min(total);
        c["amount_refunded"] = json!(refunded);
        c["refunded"] = json!(refunded == total);
        inner.charges.insert(charge, c.clone());
        vec![Self::event(&mut inner, "charge.refunded", c)]
    }

    /// Three days before a trial ends: `customer.subscription.trial_will_end`.
    pub fn trial_will_end(&self, sub_id: &str) -> Vec<Value> {
        self.change(sub_id, &["customer.subscription.trial_will_end"], |_| {})
    }

    /// The renewal needs the customer's authentication (3-D Secure):
    /// `invoice.payment_action_required` with the hosted invoice page.
    pub fn action_required(&self, sub_id: &str) -> Vec<Value> {
        let mut inner = self.lock();
        let Some(sub) = inner.subscriptions.get(sub_id).cloned() else {
            panic!("no subscription {sub_id}");
        };
        let mut invoice = Self::invoice(&mut inner, &sub, "open");
        let url = format!(
            "https://invoice.stripe.test/i/{}",
            invoice["id"].as_str().unwrap_or_default()
        );
        invoice["hosted_invoice_url"] = json!(url);
        vec![Self::event(
            &mut inner,
            "invoice.payment_action_required",
            invoice,
        )]
    }

    /// Signs and posts `event` to the gateway; marks it delivered on 200.
    pub async fn deliver(&self, gateway: &str, event: &Value) -> u16 {
        let body = event.to_string();
        let header = signature_header(&[&self.webhook_secret], now(), body.as_bytes());
        let (status, _) = crate::http::post_event(gateway, body.as_bytes(), Some(&header)).await;
        if status == 200 {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            for (e, delivered) in &mut self.lock().events {
                if e["id"] == id {
                    *delivered = true;
                }
            }
        }
        status
    }

    /// Delivers each event in order, asserting every one is accepted.
    pub async fn deliver_all(&self, gateway: &str, events: &[Value]) {
        for e in events {
            assert_eq!(
                self.deliver(gateway, e).await,
                200,
                "delivery of {}",
                e["type"]
            );
        }
    }
}

/// One page of a list: `limit` (default 10, at most 100) items after
/// `starting_after`, with `has_more`.
fn page(url: &str, all: Vec<&Value>, p: &Value) -> Reply {
    let limit = s(p, "/limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let start = s(p, "/starting_after")
        .and_then(|a| all.iter().position(|v| v["id"] == a).map(|i| i + 1))
        .unwrap_or(0);
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let has_more = start + data.len() < all.len();
    (
        StatusCode::OK,
        Json(json!({"object": "list", "url": url, "has_more": has_more, "data": data})),
    )
}

/// What one unit of `price` costs: its unit amount, or a tiered price's
/// first tier.
fn price_amount(price: &Value) -> i64 {
    price["unit_amount"]
        .as_i64()
        .or_else(|| {
            price
                .pointer("/tiers/0/unit_amount")
                .and_then(Value::as_i64)
        })
        .or_else(|| {
            price["unit_amount_decimal"]
                .as_str()
                .and_then(|d| d.parse::<f64>().ok())
                .map(|d| d.round() as i64)
        })
        .unwrap_or(999)
}

/// A session as Stripe shows it: line items and subscription data only
/// when expanded (they are kept here as they were asked for).
fn stripped_session(session: &Value) -> Value {
    let mut session = session.clone();
    if let Some(o) = session.as_object_mut() {
        o.remove("line_items");
        o.remove("subscription_data");
    }
    session
}

/// A succeeded charge with every field async-stripe requires.
fn charge_object(id: &str, customer: &Value, amount: i64) -> Value {
    json!({
        "id": id, "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": 0, "billing_details": {}, "captured": true, "created": now(),
        "currency": "usd", "customer": customer, "disputed": false, "livemode": false,
        "metadata": {}, "paid": true, "refunded": false, "status": "succeeded",
    })
}

/// A subscription with every field async-stripe requires.
/// A price as Stripe shows it. Its terms follow its id: `yearly` in it
/// bills 99.99 USD a year, `pass` or `lifetime` is a one-time 15.00 USD,
/// anything else 9.99 USD a month; `tiered` makes it tiered (5.00, then
/// 4.00 a unit), `decimal` fractional (12.496 USD).
pub fn price_object(id: &str) -> Value {
    let mut price = json!({"id": id, "object": "price", "active": true, "billing_scheme": "per_unit",
        "created": 1_700_000_000, "currency": "usd", "livemode": false, "metadata": {},
        "product": "prod_double", "tax_behavior": "unspecified"});
    let (amount, recurring) = if id.contains("yearly") {
        (9999, Some("year"))
    } else if id.contains("pass") || id.contains("lifetime") {
        (1500, None)
    } else {
        (999, Some("month"))
    };
    price["unit_amount"] = json!(amount);
    price["unit_amount_decimal"] = json!(amount.to_string());
    // A tiered price has no unit amount; its tiers come when expanded.
    if id.contains("tiered") {
        price["billing_scheme"] = json!("tiered");
        price["tiers_mode"] = json!("graduated");
        price["unit_amount"] = Value::Null;
        price["unit_amount_decimal"] = Value::Null;
        price["tiers"] = json!([
            {"up_to": 10, "unit_amount": 500, "unit_amount_decimal": "500", "flat_amount": null, "flat_amount_decimal": null},
            {"up_to": null, "unit_amount": 400, "unit_amount_decimal": "400", "flat_amount": null, "flat_amount_decimal": null},
        ]);
    }
    // A fractional price: only the decimal amount.
    if id.contains("decimal") {
        price["unit_amount"] = Value::Null;
        price["unit_amount_decimal"] = json!("1249.6");
    }
    match recurring {
        Some(interval) => {
            price["type"] = json!("recurring");
            price["recurring"] = json!({"interval": interval, "interval_count": 1,
                "usage_type": "licensed", "meter": null, "trial_period_days": null});
        }
        None => price["type"] = json!("one_time"),
    }
    price
}

fn subscription_object(
    id: &str,
    customer: &str,
    status: &str,
    price: &str,
    metadata: Value,
    trial_days: Option<i64>,
) -> Value {
    let t = now();
    let end = t + trial_days.map_or(30 * 86_400, |d| d * 86_400);
    let plan = json!({"id": price, "object": "plan", "active": true, "billing_scheme": "per_unit", "created": t,
                      "currency": "usd", "interval": "month", "interval_count": 1, "livemode": false, "usage_type": "licensed"});
    let price_object = price_object(price);
    let item = json!({
        "id": format!("si_{id}"), "object": "subscription_item", "created": t,
        "current_period_start": t, "current_period_end": end, "discounts": [], "metadata": {},
        "quantity": 1, "subscription": id, "plan": plan, "price": price_object,
    });
    let items = json!({"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={id}"), "data": [item]});
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status,
        "automatic_tax": {"enabled": false}, "billing_cycle_anchor": end,
        "billing_mode": {"type": "classic"}, "billing_schedules": [],
        "cancel_at_period_end": false, "collection_method": "charge_automatically",
        "created": t, "currency": "usd", "discounts": [],
        "invoice_settings": {"issuer": {"type": "self"}},
        "livemode": false, "metadata": if metadata.is_object() { metadata } else { json!({}) },
        "start_date": t, "trial_start": trial_days.map(|_| t), "trial_end": trial_days.map(|_| end), "items": items,
    })
}

/// Every route: the one path parameter (a subscription id) is read from
/// the path itself.
async fn handle(
    State(double): State<StripeDouble>,
    method: Method,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let path = uri.path().to_owned();
    let id = path
        .strip_prefix("/v1/subscriptions/")
        .or_else(|| path.strip_prefix("/v1/charges/"))
        .or_else(|| path.strip_prefix("/v1/prices/"))
        .or_else(|| path.strip_prefix("/v1/checkout/sessions/"))
        .map(|id| id.trim_end_matches("/expire"))
        .map(str::to_owned);
    dispatch(&double, method, path, id, query, headers, body).await
}

async fn dispatch(
    double: &StripeDouble,
    method: Method,
    path: String,
    id: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {}", double.secret_key) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided: sk_test_****",
            None,
        );
    }
    let write = method != Method::GET;
    if write {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "Invalid request: unsupported Content-Type",
                None,
            );
        }
    }
    let params = if write {
        parse_nested(&body)
    } else {
        parse_nested(query.unwrap_or_default().as_bytes())
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Stripe compares parameters, not bytes (field order may differ): the
    // parsed form, with sorted keys, is the fingerprint.
    let fingerprint = format!("{method} {path} {params}");
    let (failure, delay) = {
        let mut inner = double.lock();
        inner.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            params: params.clone(),
            idempotency_key: key.clone(),
        });
        if let (true, Some(k)) = (write, &key)
            && let Some((seen, status, reply)) = inner.idempotency.get(k).cloned()
        {
            if seen != fingerprint {
                return error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    None,
                );
            }
            return (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                Json(reply),
            );
        }
        let failure = match inner.failures.front() {
            Some((prefix, _)) if path.starts_with(prefix.as_str()) => {
                inner.failures.pop_front().map(|(_, s)| s)
            }
            _ => None,
        };
        let delay = match inner.delays.front() {
            Some((prefix, _)) if path.starts_with(prefix.as_str()) => {
                inner.delays.pop_front().map(|(_, d)| d)
            }
            _ => None,
        };
        (failure, delay)
    };
    if let Some(status) = failure {
        let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return if status == 429 {
            error(
                s,
                "invalid_request_error",
                Some("rate_limit"),
                "Too many requests",
                None,
            )
        } else {
            error(s, "api_error", None, "An unknown error occurred", None)
        };
    }
    let (status, reply) = double.respond(&method, &path, id.as_deref(), &params);
    // Results are stored once the endpoint ran (Stripe keeps 5xx too, not
    // requests refused before running).
    if let (true, Some(k)) = (write, key)
        && (status.is_success() || status.is_server_error())
    {
        double
            .lock()
            .idempotency
            .insert(k, (fingerprint, status.as_u16(), reply.0.clone()));
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    (status, reply)
}

impl StripeDouble {
    fn respond(&self, method: &Method, path: &str, id: Option<&str>, p: &Value) -> Reply {
        let mut inner = self.lock();
        let missing = |what: &str, id: &str| {
            error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such {what}: '{id}'"),
                Some("id"),
            )
        };
        match (method.as_str(), path, id) {
            ("POST", "/v1/customers", None) => {
                let cid = Self::id(&mut inner, "cus");
                let c = json!({"id": cid, "object": "customer", "created": now(), "livemode": false,
                               "metadata": p.get("metadata").cloned().unwrap_or(json!({})),
                               "description": p.get("description")});
                inner.customers.insert(cid, c.clone());
                (StatusCode::OK, Json(c))
            }
            ("POST", "/v1/checkout/sessions", None) => {
                if !matches!(s(p, "/mode"), Some("subscription" | "payment")) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Missing required param: mode.",
                        Some("mode"),
                    );
                }
                let Some(price) = s(p, "/line_items/0/price") else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Missing required param: line_items[0][price].",
                        Some("line_items[0][price]"),
                    );
                };
                if !self.prices.iter().any(|x| x == price) {
                    return missing("price", price);
                }
                // Stripe refuses a price whose kind does not fit the mode.
                let recurring = price_object(price).get("recurring").is_some();
                if recurring != (s(p, "/mode") == Some("subscription")) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        None,
                        "The price type does not match the Checkout Session mode.",
                        Some("line_items[0][price]"),
                    );
                }
                if s(p, "/mode") == Some("payment") && p.get("subscription_data").is_some() {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        None,
                        "subscription_data can only be used in subscription mode.",
                        Some("subscription_data"),
                    );
                }
                if s(p, "/success_url").is_none() {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Missing required param: success_url.",
                        Some("success_url"),
                    );
                }
                if let Some(c) = s(p, "/customer")
                    && !inner.customers.contains_key(c)
                {
                    return missing("customer", c);
                }
                let sid = Self::id(&mut inner, "cs");
                let mut session = p.clone();
                let extra = json!({
                    "id": sid, "object": "checkout.session", "automatic_tax": {"enabled": false},
                    "created": now(), "custom_fields": [], "custom_text": {}, "expires_at": now() + 86_400,
                    "livemode": false, "payment_method_types": ["card"], "payment_status": "unpaid",
                    "shipping_options": [], "status": "open", "subscription": null,
                    "url": format!("https://checkout.stripe.test/c/pay/{sid}"),
                    "allow_promotion_codes": s(p, "/allow_promotion_codes") == Some("true"),
                });
                if let (Some(o), Some(e)) = (session.as_object_mut(), extra.as_object()) {
                    for (k, v) in e {
                        o.insert(k.clone(), v.clone());
                    }
                }
                inner.sessions.insert(sid, session.clone());
                // Stripe leaves line items out unless expanded.
                (StatusCode::OK, Json(stripped_session(&session)))
            }
            ("POST", "/v1/billing_portal/sessions", None) => {
                let Some(customer) = s(p, "/customer") else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Missing required param: customer.",
                        Some("customer"),
                    );
                };
                if !inner.customers.contains_key(customer) {
                    return missing("customer", customer);
                }
                let id = Self::id(&mut inner, "bps");
                (
                    StatusCode::OK,
                    Json(json!({
                        "id": id, "object": "billing_portal.session", "configuration": "bpc_double",
                        "created": now(), "customer": customer, "livemode": false,
                        "return_url": p.get("return_url"), "url": format!("https://billing.stripe.test/p/session/{id}"),
                    })),
                )
            }
            ("GET", "/v1/checkout/sessions", None) => {
                let status = s(p, "/status");
                let all = inner
                    .sessions
                    .values()
                    .filter(|x| status.is_none_or(|st| x["status"] == st))
                    .map(stripped_session)
                    .collect::<Vec<_>>();
                page("/v1/checkout/sessions", all.iter().collect(), p)
            }
            ("GET", _, Some(id)) if path.starts_with("/v1/checkout/sessions/") => {
                match inner.sessions.get(id) {
                    Some(x) => (StatusCode::OK, Json(stripped_session(x))),
                    None => missing("checkout.session", id),
                }
            }
            ("POST", _, Some(id)) if path.starts_with("/v1/checkout/sessions/") => {
                let Some(mut session) = inner.sessions.get(id).cloned() else {
                    return missing("checkout.session", id);
                };
                if session["status"] != "open" {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("checkout_session_not_open"),
                        "Only Checkout Sessions with a status in [\"open\"] can be expired.",
                        None,
                    );
                }
                session["status"] = json!("expired");
                inner.sessions.insert(id.to_owned(), session.clone());
                Self::event(
                    &mut inner,
                    "checkout.session.expired",
                    stripped_session(&session),
                );
                (StatusCode::OK, Json(stripped_session(&session)))
            }
            ("POST", "/v1/invoices/create_preview", None) => {
                let Some(sub_id) = s(p, "/subscription") else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Missing required param: customer or subscription.",
                        None,
                    );
                };
                let Some(sub) = inner.subscriptions.get(sub_id).cloned() else {
                    return missing("subscription", sub_id);
                };
                let list = price_amount(&sub["items"]["data"][0]["price"]);
                let due = list * (100 - inner.coupon_percent_off) / 100;
                (
                    StatusCode::OK,
                    Json(json!({
                        "object": "invoice", "customer": sub["customer"], "subscription": sub_id,
                        "currency": "usd", "subtotal": list, "total": due, "amount_due": due,
                        "status": "draft", "created": now(),
                    })),
                )
            }
            ("POST", "/v1/refunds", None) => {
                let Some(intent) = s(p, "/payment_intent") else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        "Must provide either `charge` or `payment_intent`.",
                        None,
                    );
                };
                let Some((charge_id, charge)) = inner
                    .charges
                    .iter()
                    .find(|(_, c)| c["payment_intent"] == intent)
                    .map(|(k, v)| (k.clone(), v.clone()))
                else {
                    return missing("payment_intent", intent);
                };
                let amount = charge["amount"].as_i64().unwrap_or_default();
                if charge["amount_refunded"].as_i64() == Some(amount) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        Some("charge_already_refunded"),
                        &format!("Charge {charge_id} has already been refunded."),
                        None,
                    );
                }
                let mut refunded = charge.clone();
                refunded["amount_refunded"] = json!(amount);
                refunded["refunded"] = json!(true);
                inner.charges.insert(charge_id.clone(), refunded.clone());
                Self::event(&mut inner, "charge.refunded", refunded);
                let id = Self::id(&mut inner, "re");
                (
                    StatusCode::OK,
                    Json(json!({
                        "id": id, "object": "refund", "amount": amount, "charge": charge_id,
                        "created": now(), "currency": "usd", "metadata": {}, "payment_intent": intent,
                        "status": "succeeded",
                    })),
                )
            }
            ("GET", "/v1/invoice_payments", None) => {
                let intent = s(p, "/payment/payment_intent");
                let invoice = s(p, "/invoice");
                let expand = p
                    .get("expand")
                    .and_then(Value::as_object)
                    .is_some_and(|e| e.values().any(|v| v == "data.invoice"));
                let all: Vec<Value> = inner
                    .invoice_payments
                    .iter()
                    .filter(|x| intent.is_none_or(|i| x["payment"]["payment_intent"] == i))
                    .filter(|x| invoice.is_none_or(|i| x["invoice"] == i))
                    .map(|x| {
                        let mut x = x.clone();
                        if expand {
                            let id = x["invoice"].as_str().unwrap_or_default().to_owned();
                            x["invoice"] = inner.invoices.get(&id).cloned().unwrap_or(json!(id));
                        }
                        x
                    })
                    .collect();
                page("/v1/invoice_payments", all.iter().collect(), p)
            }
            ("GET", "/v1/subscriptions", None) => page(
                "/v1/subscriptions",
                inner.subscriptions.values().collect(),
                p,
            ),
            ("GET", "/v1/events", None) => {
                let only_failed = s(p, "/delivery_success") == Some("false");
                // Newest first, as Stripe lists them.
                let all = inner
                    .events
                    .iter()
                    .rev()
                    .filter(|(_, ok)| !only_failed || !ok)
                    .map(|(e, _)| e)
                    .collect();
                page("/v1/events", all, p)
            }
            ("GET", _, Some(id)) if path.starts_with("/v1/prices/") => {
                if self.prices.iter().any(|p| p == id) {
                    (StatusCode::OK, Json(price_object(id)))
                } else {
                    missing("price", id)
                }
            }
            ("GET", _, Some(id)) if path.starts_with("/v1/charges/") => {
                match inner.charges.get(id) {
                    Some(c) => (StatusCode::OK, Json(c.clone())),
                    None => missing("charge", id),
                }
            }
            (m, _, Some(id)) if path.starts_with("/v1/subscriptions/") => {
                let Some(mut sub) = inner.subscriptions.get(id).cloned() else {
                    return missing("subscription", id);
                };
                match m {
                    "GET" => (StatusCode::OK, Json(sub)),
                    "POST" => {
                        if let Some(c) = s(p, "/cancel_at_period_end") {
                            sub["cancel_at_period_end"] = json!(c == "true");
                        }
                        inner.subscriptions.insert(id.to_owned(), sub.clone());
                        Self::event(&mut inner, "customer.subscription.updated", sub.clone());
                        (StatusCode::OK, Json(sub))
                    }
                    // Stripe knows no cancel of a subscription that is over.
                    _ if sub["status"] == "canceled" => missing("subscription", id),
                    _ => {
                        sub["status"] = json!("canceled");
                        sub["ended_at"] = json!(now());
                        inner.subscriptions.insert(id.to_owned(), sub.clone());
                        Self::event(&mut inner, "customer.subscription.deleted", sub.clone());
                        (StatusCode::OK, Json(sub))
                    }
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                None,
                "Unrecognized request URL.",
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Nested keys become nested objects.
    #[test]
    fn nested_form() {
        let v = super::parse_nested(b"mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1&metadata[telegram_user_id]=42");
        assert_eq!(v["line_items"]["0"]["price"], "price_1");
        assert_eq!(v["metadata"]["telegram_user_id"], "42");
        assert_eq!(v["mode"], "subscription");
    }
}
