//! One trace per webhook across the three processes, asserted at an OTLP
//! receiver: for a `/subscribe` tap (gateway -> bot-service -> billing ->
//! Stripe, and the Bot API calls) and for a Stripe event (gateway ->
//! billing -> Stripe).

use std::time::Duration;

use mesh_tests::http::callback_update;
use mesh_tests::otlp::{OtlpReceiver, SpanRecord};
use mesh_tests::process::MeshProcesses;
use mesh_tests::product::PRICES;
use mesh_tests::stripe_double::StripeDouble;
use mesh_tests::telegram::TelegramDouble;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn attr<'a>(s: &'a SpanRecord, key: &str) -> Option<&'a str> {
    s.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn find<'a>(
    spans: &'a [SpanRecord],
    service: &str,
    name: &str,
    kind: Option<i32>,
) -> &'a SpanRecord {
    spans
        .iter()
        .find(|s| s.service == service && s.name == name && kind.is_none_or(|k| s.kind == k))
        .unwrap_or_else(|| {
            panic!(
                "{service} {name} in {:#?}",
                spans
                    .iter()
                    .map(|s| (&s.service, &s.name))
                    .collect::<Vec<_>>()
            )
        })
}

/// Walks parent links from `span` up; true when `ancestor` is on the way.
fn descends(spans: &[SpanRecord], span: &SpanRecord, ancestor: &SpanRecord) -> bool {
    let mut current = span;
    for _ in 0..64 {
        if current.parent_span_id == ancestor.span_id {
            return true;
        }
        match spans.iter().find(|s| s.span_id == current.parent_span_id) {
            Some(p) => current = p,
            None => return false,
        }
    }
    false
}

async fn trace_with(
    receiver: &OtlpReceiver,
    what: &str,
    pred: impl Fn(&[SpanRecord]) -> bool,
) -> Vec<SpanRecord> {
    mesh_tests::eventually(Duration::from_secs(20), what, || async {
        let all = receiver.spans();
        let mut ids: Vec<&str> = all.iter().map(|s| s.trace_id.as_str()).collect();
        ids.dedup();
        ids.into_iter().find_map(|id| {
            let trace: Vec<SpanRecord> = all.iter().filter(|s| s.trace_id == id).cloned().collect();
            pred(&trace).then_some(trace)
        })
    })
    .await
}

/// A `/subscribe` tap and a Stripe event, each one trace with correct parent
/// links, semantic attributes, and the Redis and outgoing HTTP calls inside.
#[tokio::test]
async fn subscribe_tap_and_stripe_event_are_one_trace_each() {
    let test = "traces";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let receiver = OtlpReceiver::start().await;
    let mut env = mesh_tests::base_env(test, &telegram);
    env.extend(stripe.env());
    env.extend([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]);
    let mesh = MeshProcesses::start(test, &env).await;

    // The tap.
    let (status, _) = mesh_tests::http::post_update(
        &mesh.gateway_url,
        &callback_update(1, 93, "cbq-93", "sub:monthly"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let tap = trace_with(&receiver, "the tap's trace", |t| {
        let has = |svc: &str, name: &str| t.iter().any(|s| s.service == svc && s.name == name);
        has("gateway", "POST /telegram-webhook")
            && has(
                "billing-service",
                "billing.v1.BillingService/CreateCheckoutSession",
            )
            && t.iter()
                .filter(|s| s.service == "billing-service" && s.name == "stripe.request")
                .count()
                >= 2
            && has("bot-service", "answerCallbackQuery")
            && has("bot-service", "sendMessage")
    })
    .await;
    let http = find(&tap, "gateway", "POST /telegram-webhook", Some(SERVER));
    assert_eq!(http.parent_span_id, "", "the webhook starts the trace");
    assert_eq!(attr(http, "http.request.method"), Some("POST"));
    assert_eq!(attr(http, "http.route"), Some("/telegram-webhook"));
    assert_eq!(attr(http, "http.response.status_code"), Some("200"));
    let accept_client = find(
        &tap,
        "gateway",
        "bot.v1.BotService/AcceptUpdates",
        Some(CLIENT),
    );
    let accept_server = find(
        &tap,
        "bot-service",
        "bot.v1.BotService/AcceptUpdates",
        Some(SERVER),
    );
    assert_eq!(accept_server.parent_span_id, accept_client.span_id);
    assert_eq!(attr(accept_server, "rpc.system"), Some("grpc"));
    assert_eq!(
        attr(accept_server, "rpc.service"),
        Some("bot.v1.BotService")
    );
    let checkout_client = find(
        &tap,
        "bot-service",
        "billing.v1.BillingService/CreateCheckoutSession",
        Some(CLIENT),
    );
    let checkout_server = find(
        &tap,
        "billing-service",
        "billing.v1.BillingService/CreateCheckoutSession",
        Some(SERVER),
    );
    assert_eq!(checkout_server.parent_span_id, checkout_client.span_id);
    assert!(
        descends(&tap, checkout_client, accept_server),
        "the worker continues the accepting call's trace"
    );
    for s in tap.iter().filter(|s| s.name == "stripe.request") {
        assert!(
            descends(&tap, s, checkout_server),
            "Stripe calls inside billing's span"
        );
        assert_eq!(s.kind, CLIENT);
    }
    let send = find(&tap, "bot-service", "sendMessage", Some(CLIENT));
    assert_eq!(attr(send, "http.request.method"), Some("POST"));
    assert!(
        tap.iter()
            .any(|s| s.service == "bot-service" && s.name == "state.enqueue"),
        "Redis operations in the trace"
    );
    assert!(
        tap.iter()
            .any(|s| s.service == "billing-service" && s.name.starts_with("state."))
    );

    // A Stripe event.
    let session = stripe.sessions().into_iter().next().expect("a session");
    let events = stripe.complete_checkout(session["id"].as_str().unwrap());
    stripe.deliver_all(&mesh.gateway_url, &events[..1]).await;
    let event = trace_with(&receiver, "the event's trace", |t| {
        t.iter()
            .any(|s| s.service == "gateway" && s.name == "POST /stripe-webhook")
            && t.iter()
                .any(|s| s.service == "billing-service" && s.name == "stripe.request")
    })
    .await;
    let webhook = find(&event, "gateway", "POST /stripe-webhook", Some(SERVER));
    assert_eq!(
        attr(webhook, "stripe.event_type"),
        Some("customer.subscription.created")
    );
    let apply_client = find(
        &event,
        "gateway",
        "billing.v1.BillingService/ApplyStripeEvent",
        Some(CLIENT),
    );
    let apply_server = find(
        &event,
        "billing-service",
        "billing.v1.BillingService/ApplyStripeEvent",
        Some(SERVER),
    );
    assert_eq!(apply_server.parent_span_id, apply_client.span_id);
    let reread = find(&event, "billing-service", "stripe.request", Some(CLIENT));
    assert_eq!(
        attr(reread, "stripe.operation"),
        Some("subscriptions.retrieve")
    );
    assert!(descends(&event, reread, apply_server));
}
