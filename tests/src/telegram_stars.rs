//! The Bot API double's Telegram Stars: invoice links, pre-checkout
//! answers, refunds, subscriptions' renewals and the transaction list,
//! with Telegram's validation (XTR takes no provider token and exactly one
//! price; only `createInvoiceLink` takes `subscription_period`, only
//! 2592000, at most 10000 Stars; a refusal needs an `error_message`; a
//! charge is refunded once). Tests play the user: they open a pre-checkout
//! query on a link, pay it, and get the updates Telegram would send.

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// One invoice link made.
#[derive(Debug, Clone)]
pub struct Invoice {
    /// Its payload.
    pub payload: String,
    /// Its title.
    pub title: String,
    /// Stars.
    pub amount: u64,
    /// `subscription_period`, when a subscription.
    pub period: Option<i64>,
}

/// One charge a user paid.
#[derive(Debug, Clone)]
pub struct Charge {
    /// Who paid.
    pub user: i64,
    /// The invoice's payload.
    pub payload: String,
    /// Stars.
    pub amount: u64,
    /// Refunded.
    pub refunded: bool,
    /// A subscription's charge: renewals stop when cancelled.
    pub subscription: bool,
    /// Renewals stopped by the bot.
    pub canceled_by_bot: bool,
    /// How often the bot changed that (asking for what is already so
    /// changes nothing, as at Telegram).
    pub renewal_changes: u32,
}

/// The Stars side of the double's state.
#[derive(Default)]
pub struct Stars {
    /// link -> invoice.
    pub invoices: HashMap<String, Invoice>,
    /// charge id -> charge.
    pub charges: HashMap<String, Charge>,
    /// The transactions, oldest first, as `getStarTransactions` lists them.
    pub transactions: Vec<Value>,
    /// Pre-checkout query ids answered.
    pub answered: HashMap<String, Value>,
    next: u64,
}

pub(crate) const METHODS: &[&str] = &[
    "createInvoiceLink",
    "answerPreCheckoutQuery",
    "refundStarPayment",
    "editUserStarSubscription",
    "getStarTransactions",
];

type Reply = (StatusCode, Json<Value>);

fn bad(description: &str) -> Reply {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {description}")}),
        ),
    )
}

/// A JSON parameter that may arrive JSON-encoded in a string (form bodies).
fn json_param(params: &Value, key: &str) -> Option<Value> {
    match params.get(key)? {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    }
}

fn int(params: &Value, key: &str) -> Option<i64> {
    let v = params.get(key)?;
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn flag(params: &Value, key: &str) -> Option<bool> {
    let v = params.get(key)?;
    v.as_bool()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn text<'a>(params: &'a Value, key: &str) -> &'a str {
    params.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The user object Telegram puts in updates and transactions.
pub fn user(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Payer", "language_code": "en"})
}

impl Stars {
    /// Answers a Stars method, or `None` for another method.
    pub(crate) fn respond(&mut self, method: &str, params: &Value) -> Option<Reply> {
        let result = match method {
            "createInvoiceLink" => self.create_invoice_link(params),
            "answerPreCheckoutQuery" => self.answer(params),
            "refundStarPayment" => self.refund(params),
            "editUserStarSubscription" => self.edit_subscription(params),
            "getStarTransactions" => self.transactions(params),
            _ => return None,
        };
        Some(match result {
            Ok(result) => (StatusCode::OK, Json(json!({"ok": true, "result": result}))),
            Err(reply) => reply,
        })
    }

    fn create_invoice_link(&mut self, params: &Value) -> Result<Value, Reply> {
        let title = text(params, "title");
        let description = text(params, "description");
        let payload = text(params, "payload");
        if !(1..=32).contains(&title.chars().count()) {
            return Err(bad("TITLE_INVALID"));
        }
        if !(1..=255).contains(&description.chars().count()) {
            return Err(bad("DESCRIPTION_INVALID"));
        }
        if !(1..=128).contains(&payload.len()) {
            return Err(bad("PAYLOAD_INVALID"));
        }
        let currency = text(params, "currency");
        let prices = json_param(params, "prices")
            .and_then(|p| p.as_array().cloned())
            .unwrap_or_default();
        let period = int(params, "subscription_period");
        if currency == "XTR" {
            if !text(params, "provider_token").is_empty() {
                return Err(bad("PROVIDER_TOKEN_INVALID: XTR takes no provider token"));
            }
            if prices.len() != 1 {
                return Err(bad(
                    "CURRENCY_TOTAL_AMOUNT_INVALID: XTR takes exactly one price",
                ));
            }
        } else if period.is_some() {
            return Err(bad(
                "SUBSCRIPTION_PERIOD_INVALID: subscriptions are paid in XTR",
            ));
        }
        let amount = prices
            .first()
            .and_then(|p| p.get("amount"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if amount == 0 {
            return Err(bad("CURRENCY_TOTAL_AMOUNT_INVALID"));
        }
        if let Some(p) = period {
            if p != 2_592_000 {
                return Err(bad("SUBSCRIPTION_PERIOD_INVALID"));
            }
            if amount > 10_000 {
                return Err(bad("SUBSCRIPTION_PRICE_INVALID"));
            }
        }
        self.next += 1;
        let link = format!("https://t.me/$invoice{}", self.next);
        self.invoices.insert(
            link.clone(),
            Invoice {
                payload: payload.to_owned(),
                title: title.to_owned(),
                amount,
                period,
            },
        );
        Ok(json!(link))
    }

    fn answer(&mut self, params: &Value) -> Result<Value, Reply> {
        let id = text(params, "pre_checkout_query_id").to_owned();
        let Some(ok) = flag(params, "ok") else {
            return Err(bad("parameter \"ok\" is required"));
        };
        if id.is_empty() {
            return Err(bad("QUERY_ID_INVALID"));
        }
        if !ok && text(params, "error_message").is_empty() {
            return Err(bad(
                "ERROR_MESSAGE_EMPTY: an error_message is required when ok is false",
            ));
        }
        if self.answered.contains_key(&id) {
            return Err(bad(
                "QUERY_ID_INVALID: query is too old or already answered",
            ));
        }
        self.answered.insert(id, params.clone());
        Ok(json!(true))
    }

    fn refund(&mut self, params: &Value) -> Result<Value, Reply> {
        let (Some(user), charge) = (
            int(params, "user_id"),
            text(params, "telegram_payment_charge_id"),
        ) else {
            return Err(bad("USER_ID_INVALID"));
        };
        let Some(c) = self.charges.get_mut(charge).filter(|c| c.user == user) else {
            return Err(bad("CHARGE_NOT_FOUND"));
        };
        if c.refunded {
            return Err(bad("CHARGE_ALREADY_REFUNDED"));
        }
        c.refunded = true;
        let (amount, payload) = (c.amount, c.payload.clone());
        self.transactions.push(json!({
            "id": charge, "amount": amount, "date": 1_700_000_000,
            "receiver": {"type": "user", "user": user_json(user), "transaction_type": "invoice_payment", "invoice_payload": payload},
        }));
        Ok(json!(true))
    }

    fn edit_subscription(&mut self, params: &Value) -> Result<Value, Reply> {
        let user = int(params, "user_id");
        let charge = text(params, "telegram_payment_charge_id");
        let Some(canceled) = flag(params, "is_canceled") else {
            return Err(bad("parameter \"is_canceled\" is required"));
        };
        let Some(c) = self
            .charges
            .get_mut(charge)
            .filter(|c| Some(c.user) == user && c.subscription)
        else {
            return Err(bad("CHARGE_ID_INVALID"));
        };
        // Only a subscription the bot cancelled may be re-enabled by it.
        if !canceled && !c.canceled_by_bot {
            return Err(bad("SUBSCRIPTION_NOT_CANCELED_BY_BOT"));
        }
        if c.canceled_by_bot != canceled {
            c.renewal_changes += 1;
        }
        c.canceled_by_bot = canceled;
        Ok(json!(true))
    }

    fn transactions(&self, params: &Value) -> Result<Value, Reply> {
        let offset = usize::try_from(int(params, "offset").unwrap_or(0)).unwrap_or(0);
        let limit = int(params, "limit").unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(bad("LIMIT_INVALID"));
        }
        let page: Vec<Value> = self
            .transactions
            .iter()
            .skip(offset)
            .take(usize::try_from(limit).unwrap_or(100))
            .cloned()
            .collect();
        Ok(json!({"transactions": page}))
    }

    /// A user pays `link` (its `n`th payment: renewals of a subscription
    /// have `n` > 1) at `date`: the charge is recorded with its incoming
    /// transaction, and the `successful_payment` message is returned.
    pub fn pay(&mut self, link: &str, user: i64, n: u32, date: i64) -> Option<Value> {
        let invoice = self.invoices.get(link)?.clone();
        self.next += 1;
        let charge = format!("stxCharge{}", self.next);
        self.charges.insert(
            charge.clone(),
            Charge {
                user,
                payload: invoice.payload.clone(),
                amount: invoice.amount,
                refunded: false,
                subscription: invoice.period.is_some(),
                canceled_by_bot: false,
                renewal_changes: 0,
            },
        );
        let mut source = json!({"type": "user", "user": user_json(user), "transaction_type": "invoice_payment", "invoice_payload": invoice.payload});
        let mut payment = json!({
            "currency": "XTR",
            "total_amount": invoice.amount,
            "invoice_payload": invoice.payload,
            "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": "",
        });
        if let Some(period) = invoice.period {
            source["subscription_period"] = json!(period);
            payment["subscription_expiration_date"] = json!(date + period);
            payment["is_recurring"] = json!(true);
            if n == 1 {
                payment["is_first_recurring"] = json!(true);
            }
        }
        self.transactions
            .push(json!({"id": charge, "amount": invoice.amount, "date": date, "source": source}));
        Some(payment)
    }
}

fn user_json(id: i64) -> Value {
    user(id)
}
