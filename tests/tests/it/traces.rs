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
    s.attr(key)
}

const STATUS_ERROR: i32 = 2;

/// The semantic conventions every span of the mesh follows: a version on
/// the resource; Redis calls as client spans with `db.system.name` and
/// nothing that could carry a password; no deprecated `db.system`.
fn conventions(spans: &[SpanRecord]) {
    for s in spans {
        assert_eq!(
            s.resource_attr("service.version"),
            Some(env!("CARGO_PKG_VERSION")),
            "{} {}",
            s.service,
            s.name
        );
        assert!(
            s.attr("db.system").is_none(),
            "deprecated db.system on {}",
            s.name
        );
        for (k, v) in &s.attributes {
            assert!(!v.contains("redis://"), "{k}={v} on {}", s.name);
        }
        if s.attr("db.system.name").is_some() {
            assert_eq!(s.attr("db.system.name"), Some("redis"));
            assert_eq!(s.kind, CLIENT, "{} is a client span", s.name);
            assert!(s.attr("db.operation.name").is_some());
        }
        if s.attr("rpc.system") == Some("grpc") {
            let code = s.attr("rpc.grpc.status_code");
            assert!(
                code.is_some(),
                "{} {} records its status code",
                s.service,
                s.name
            );
            if s.kind == CLIENT && code != Some("0") {
                assert_eq!(s.status, STATUS_ERROR, "{} failed: error status", s.name);
            }
        }
    }
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
    for span in [
        accept_client,
        accept_server,
        checkout_client,
        checkout_server,
    ] {
        assert_eq!(
            attr(span, "rpc.grpc.status_code"),
            Some("0"),
            "{}",
            span.name
        );
        assert_ne!(span.status, STATUS_ERROR);
    }
    let enqueue = tap
        .iter()
        .find(|s| s.service == "bot-service" && s.name == "state.enqueue")
        .expect("Redis operations in the trace");
    assert_eq!(attr(enqueue, "db.system.name"), Some("redis"));
    assert_eq!(attr(enqueue, "db.operation.name"), Some("EVALSHA"));
    assert_eq!(enqueue.kind, CLIENT);
    conventions(&tap);
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
    conventions(&event);

    // A call that fails: Stripe answers 500 to every attempt, billing says
    // UNAVAILABLE, the gateway 503. Each span on the way shows the error.
    for _ in 0..3 {
        stripe.fail_next("/v1/subscriptions", 500);
    }
    assert_eq!(stripe.deliver(&mesh.gateway_url, &events[1]).await, 503);
    let failed = trace_with(&receiver, "the failed event's trace", |t| {
        t.iter().any(|s| {
            s.name == "billing.v1.BillingService/ApplyStripeEvent"
                && s.kind == SERVER
                && s.attr("rpc.grpc.status_code") == Some("14")
        }) && t.iter().any(|s| s.name == "POST /stripe-webhook")
    })
    .await;
    let server = find(
        &failed,
        "billing-service",
        "billing.v1.BillingService/ApplyStripeEvent",
        Some(SERVER),
    );
    assert_eq!(server.status, STATUS_ERROR);
    let client = find(
        &failed,
        "gateway",
        "billing.v1.BillingService/ApplyStripeEvent",
        Some(CLIENT),
    );
    assert_eq!(attr(client, "rpc.grpc.status_code"), Some("14"));
    assert_eq!(client.status, STATUS_ERROR);
    let http = find(&failed, "gateway", "POST /stripe-webhook", Some(SERVER));
    assert_eq!(attr(http, "http.response.status_code"), Some("503"));
    assert_eq!(http.status, STATUS_ERROR);
    conventions(&failed);

    // An unknown path: one fixed span name, no route, the path truncated.
    let long = "x".repeat(500);
    let r = mesh_tests::http::client()
        .get(format!("{}/wp-admin/{long}", mesh.gateway_url))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 404);
    let stray = trace_with(&receiver, "the 404's trace", |t| {
        t.iter()
            .any(|s| s.attr("http.response.status_code") == Some("404"))
    })
    .await;
    let span = stray
        .iter()
        .find(|s| s.attr("http.response.status_code") == Some("404"))
        .expect("the 404 span");
    assert_eq!(span.name, "GET", "unmatched paths share one name");
    assert!(span.attr("http.route").is_none());
    assert!(span.attr("url.path").is_some_and(|p| p.len() <= 256));
}

/// The one-process mode with its in-process store: traces as usual, but no
/// database spans, since there is no database to call.
#[tokio::test]
async fn in_memory_store_makes_no_database_spans() {
    let test = "traces-memory";
    let telegram = TelegramDouble::start().await;
    let receiver = OtlpReceiver::start().await;
    let port = |_: ()| format!("http://127.0.0.1:{}", mesh_tests::free_port());
    let env = [
        ("TELEGRAM_BOT_TOKEN", telegram.token.clone()),
        ("TELEGRAM_API_URL", telegram.url.clone()),
        ("GATEWAY_ADDR", "127.0.0.1:0".into()),
        ("BOT_SERVICE_URL", port(())),
        ("BILLING_SERVICE_URL", port(())),
        ("BOT_METRICS_ADDR", "off".into()),
        ("BILLING_METRICS_ADDR", "off".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ];
    let mesh = mesh_tests::process::Process::spawn(test, "mesh", "mesh", &env);
    let gateway = format!("http://127.0.0.1:{}", mesh.port("gateway listening").await);
    mesh_tests::http::wait_ready(&gateway).await;
    let (status, _) = mesh_tests::http::post_update(
        &gateway,
        &mesh_tests::http::text_update(1, 95, "/start"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let trace = trace_with(&receiver, "the /start trace", |t| {
        t.iter().any(|s| s.name == "POST /telegram-webhook")
            && t.iter().any(|s| s.name == "sendMessage")
    })
    .await;
    assert!(
        trace.iter().all(|s| s.attr("db.system.name").is_none()),
        "no database spans: {:?}",
        trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    conventions(&trace);
    assert!(
        mesh.output().contains("REDIS_URL is not set"),
        "the in-process store is announced"
    );
}
