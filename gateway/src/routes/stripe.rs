//! `POST /stripe-webhook`: verify the signature, check it is an event,
//! hand it to billing-service.

use axum::extract::{Request, State};
use axum::response::IntoResponse;
use mesh_proto::billing::v1::ApplyStripeEventRequest;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::{ApiError, from_upstream};
use crate::limiter::Authenticated;
use crate::routes::{body, status};
use crate::stripe_signature::{self, SignatureError};

#[derive(Deserialize)]
struct EventHead {
    id: String,
    object: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Checks that a verified payload is a Stripe event; returns its id and type.
pub fn parse_event(bytes: &[u8]) -> Result<(String, String), ApiError> {
    let not_event = ApiError::BadRequest("payload is not a Stripe event");
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(not_event);
    }
    let head: EventHead = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::BadRequest("payload is not a Stripe event"))?;
    if head.object != "event" || !head.id.starts_with("evt_") || head.kind.is_empty() {
        return Err(not_event);
    }
    Ok((head.id, head.kind))
}

/// Handles one delivery from Stripe.
pub async fn webhook(
    State(app): State<AppState>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let config = &app.config;
    if config.stripe_secrets.is_empty() {
        return Err(ApiError::Unavailable("Stripe webhooks are not configured"));
    }
    let (parts, body) = request.into_parts();
    let Some(header) = parts.headers.get("stripe-signature") else {
        return Err(ApiError::BadRequest("missing Stripe-Signature header"));
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::BadRequest("malformed Stripe-Signature header"))?
        .to_owned();
    let bytes = body::read_limited(
        &parts.headers,
        body,
        config.max_body_bytes,
        config.body_timeout,
    )
    .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    stripe_signature::verify(
        &header,
        &bytes,
        &config.stripe_secrets,
        config.stripe_tolerance,
        now,
    )
    .map_err(|e| {
        metrics::counter!("gateway_stripe_signature_rejected_total", "reason" => reason(e))
            .increment(1);
        ApiError::BadRequest(match e {
            SignatureError::Malformed => "malformed Stripe-Signature header",
            SignatureError::Mismatch => "signature does not match",
            SignatureError::OutsideTolerance => "timestamp outside the tolerance",
        })
    })?;
    if let Some(auth) = parts.extensions.get::<Authenticated>() {
        auth.mark();
    }
    let (event_id, event_type) = parse_event(&bytes)?;
    let span = tracing::Span::current();
    span.record("stripe.event_id", event_id.as_str());
    span.record("stripe.event_type", event_type.as_str());

    let request = app
        .upstreams
        .request(ApplyStripeEventRequest { event_json: bytes });
    let mut billing = app.upstreams.billing.clone();
    let call = mesh_telemetry::grpc_client_span!("billing.v1.BillingService", "ApplyStripeEvent");
    match mesh_telemetry::grpc::client_call(call, billing.apply_stripe_event(request)).await {
        Ok(response) => {
            let duplicate = response.into_inner().duplicate;
            metrics::counter!("gateway_stripe_events_total", "outcome" => if duplicate { "duplicate" } else { "applied" })
                .increment(1);
            Ok(status("success"))
        }
        Err(status) => Err(from_upstream("billing-service", &status)),
    }
}

fn reason(e: SignatureError) -> &'static str {
    match e {
        SignatureError::Malformed => "malformed",
        SignatureError::Mismatch => "mismatch",
        SignatureError::OutsideTolerance => "tolerance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only objects with `object: "event"`, an `evt_` id and a type are events.
    #[test]
    fn event_shapes() {
        let ok = br#"{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{}}}"#;
        assert_eq!(
            parse_event(ok).unwrap(),
            ("evt_1".into(), "invoice.paid".into())
        );
        for bad in [
            &br#"{"id":"cus_1","object":"customer","type":"x"}"#[..],
            br#"{"id":"evt_1","object":"event"}"#,
            br#"["evt_1"]"#,
            b"{",
        ] {
            assert!(parse_event(bad).is_err());
        }
    }
}
