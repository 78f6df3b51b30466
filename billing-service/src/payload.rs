//! Reading Stripe event payloads.
//!
//! Payloads are read with small serde structs and JSON paths of just the
//! fields used, not async-stripe's generated types: those are tied to one
//! Stripe API version and reject payloads of another, while these fields
//! have been stable for years (both places a field moved between versions
//! are read).

use serde::Deserialize;
use serde_json::Value;

use crate::money::PriceTerms;
use crate::stripe_api::SubscriptionView;

/// The envelope of every Stripe event.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_...`.
    pub id: String,
    /// For example `invoice.paid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// The object the event is about.
    pub data: EventData,
}

/// `event.data`.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// The object as of the event.
    pub object: Value,
}

/// A string at a path of keys.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

/// An id field, given as an id or an expanded object.
pub fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// A positive Telegram user id written as text.
pub fn telegram_id(v: Option<&str>) -> Option<i64> {
    v?.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

/// The subscription an invoice belongs to (both API shapes).
pub fn invoice_subscription(invoice: &Value) -> Option<String> {
    id_of(invoice.get("subscription"))
        .or_else(|| id_of(invoice.pointer("/parent/subscription_details/subscription")))
}

/// A subscription as its event payload shows it (the dry-run source).
pub fn subscription(obj: &Value) -> Option<SubscriptionView> {
    let item = obj.pointer("/items/data/0");
    Some(SubscriptionView {
        id: id_of(obj.get("id"))?,
        customer: id_of(obj.get("customer")).unwrap_or_default(),
        status: str_at(obj, &["status"]).unwrap_or_default().to_owned(),
        cancel_at_period_end: obj
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        current_period_end: obj
            .get("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| {
                item.and_then(|i| i.get("current_period_end"))
                    .and_then(Value::as_i64)
            }),
        price_id: item
            .and_then(|i| str_at(i, &["price", "id"]))
            .map(str::to_owned),
        telegram_user_id: telegram_id(str_at(obj, &["metadata", "telegram_user_id"])),
        plan_id: str_at(obj, &["metadata", "plan_id"]).map(str::to_owned),
        created: obj
            .get("created")
            .and_then(Value::as_i64)
            .unwrap_or_default(),
        price: item.and_then(|i| i.get("price")).and_then(price),
        had_trial: obj.get("trial_start").is_some_and(|t| !t.is_null()),
        latest_invoice: id_of(obj.get("latest_invoice")),
    })
}

/// A Price object's terms (`unit_amount`, `currency`, `recurring`).
pub fn price(p: &Value) -> Option<PriceTerms> {
    let decimal = || {
        str_at(p, &["unit_amount_decimal"])
            .and_then(|d| d.parse::<f64>().ok())
            .map(|d| d.round() as i64)
    };
    Some(PriceTerms {
        amount: p
            .get("unit_amount")
            .and_then(Value::as_i64)
            .or_else(decimal)?,
        starting_at: false,
        currency: str_at(p, &["currency"])?.to_owned(),
        interval: str_at(p, &["recurring", "interval"]).map(str::to_owned),
        interval_count: p
            .pointer("/recurring/interval_count")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1),
    })
}

/// An integer field.
pub fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Both shapes of an invoice's subscription, expanded or not.
    #[test]
    fn invoice_subscriptions() {
        assert_eq!(
            invoice_subscription(&json!({"subscription": "sub_1"})).as_deref(),
            Some("sub_1")
        );
        assert_eq!(
            invoice_subscription(
                &json!({"parent": {"subscription_details": {"subscription": {"id": "sub_2"}}}})
            )
            .as_deref(),
            Some("sub_2")
        );
        assert_eq!(invoice_subscription(&json!({})), None);
    }

    /// Ids must be positive numbers.
    #[test]
    fn telegram_ids() {
        assert_eq!(telegram_id(Some(" 42 ")), Some(42));
        assert_eq!(telegram_id(Some("-1")), None);
        assert_eq!(telegram_id(Some("x")), None);
    }
}
