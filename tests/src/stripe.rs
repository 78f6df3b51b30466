//! Signing webhook events as Stripe does, written independently of the
//! gateway's verifier so the two check each other.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The hex `v1` signature of `payload` at `t` under `secret`.
pub fn v1(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// A `Stripe-Signature` header with one `v1` per secret (as during a roll).
pub fn signature_header(secrets: &[&str], t: i64, payload: &[u8]) -> String {
    let mut header = format!("t={t}");
    for s in secrets {
        header.push_str(&format!(",v1={}", v1(s, t, payload)));
    }
    header
}

/// A Stripe event envelope around `object`.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
}

/// A subscription object as Stripe sends it in events.
pub fn subscription(
    id: &str,
    customer: &str,
    user: i64,
    status: &str,
    period_end: i64,
    price: &str,
) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": false,
        "current_period_end": period_end,
        "metadata": {"telegram_user_id": user.to_string()},
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price}, "current_period_end": period_end}]},
    })
}
