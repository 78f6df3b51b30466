//! The real binaries as separate processes: a bot-service killed after
//! accepting an update still handles it after a restart, and one webhook
//! is one trace across gateway, bot-service and billing-service.

use std::time::Duration;

use mesh_tests::http::{post_update, text_update};
use mesh_tests::otlp::OtlpReceiver;
use mesh_tests::process::MeshProcesses;
use mesh_tests::telegram::TelegramDouble;

fn common_env(test: &str, double: &TelegramDouble) -> Vec<(&'static str, String)> {
    let mut env = mesh_tests::base_env(test, double);
    env.push(("RUST_LOG", "info".into()));
    env
}

/// SIGKILL to bot-service while it is handling an accepted update; after a
/// restart the update is handled, and the Bot API sees exactly one reply.
#[tokio::test]
async fn killed_bot_service_handles_accepted_update_after_restart() {
    let test = "killed_bot_service";
    let double = TelegramDouble::start().await;
    let mut env = common_env(test, &double);
    env.push(("BOT_UPDATE_LEASE_MS", "1000".into()));
    let mut mesh = MeshProcesses::start(test, &env).await;
    let gateway = mesh.gateway_url.clone();
    let bot = &mut mesh.bot;

    // The first sendMessage to this chat hangs, so the worker is mid-call
    // when the process dies: nothing reaches Telegram from it.
    double.delay_next(777, Duration::from_secs(30));
    assert_eq!(
        post_update(&gateway, &text_update(5, 777, "/help"), None)
            .await
            .0,
        200
    );
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the worker's call to arrive",
        || async {
            double
                .started()
                .iter()
                .any(|(m, c)| m == "sendMessage" && *c == Some(777))
                .then_some(())
        },
    )
    .await;
    bot.kill();
    assert!(
        double.messages_to(777).is_empty(),
        "the killed worker's call never completed"
    );

    bot.restart();
    let sent = mesh_tests::eventually(
        Duration::from_secs(20),
        "the reply after restart",
        || async {
            let m = double.messages_to(777);
            (!m.is_empty()).then_some(m)
        },
    )
    .await;
    assert!(
        sent[0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Here is"))
    );
    // A marker behind it in the same chat proves nothing else is queued.
    assert_eq!(
        post_update(&gateway, &text_update(6, 777, "/start"), None)
            .await
            .0,
        200
    );
    let sent = mesh_tests::eventually(Duration::from_secs(10), "marker reply", || async {
        let m = double.messages_to(777);
        (m.len() >= 2).then_some(m)
    })
    .await;
    assert_eq!(sent.len(), 2, "{sent:?}");
}

/// One /start: spans from gateway, bot-service and billing-service share
/// one trace id, joined parent to child across the gRPC hops.
#[tokio::test]
async fn one_webhook_is_one_trace_across_processes() {
    let test = "one_trace";
    let double = TelegramDouble::start().await;
    let receiver = OtlpReceiver::start().await;
    let mut env = common_env(test, &double);
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()));
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "100".into()));
    env.push(("LOG_FORMAT", "json".into()));
    // The gateway's per-request line is at debug.
    env.retain(|(k, _)| *k != "RUST_LOG");
    env.push(("RUST_LOG", "info,gateway=debug".into()));
    env.retain(|(k, _)| *k != "BOT_METRICS_ADDR");
    env.push(("BOT_METRICS_ADDR", "127.0.0.1:0".into()));
    let mesh = MeshProcesses::start(test, &env).await;
    let gateway = mesh.gateway_url.clone();
    let bot_metrics = mesh.bot.port("metrics listening").await;
    let MeshProcesses {
        mut billing,
        mut bot,
        gateway: mut gateway_proc,
        ..
    } = mesh;

    assert_eq!(
        post_update(&gateway, &text_update(1, 55, "/start"), None)
            .await
            .0,
        200
    );
    let webhook = mesh_tests::eventually(
        Duration::from_secs(20),
        "the gateway's webhook span",
        || async {
            receiver
                .spans()
                .into_iter()
                .find(|s| s.service == "gateway" && s.name == "POST /telegram-webhook")
        },
    )
    .await;
    let trace = webhook.trace_id.clone();
    let spans = mesh_tests::eventually(
        Duration::from_secs(20),
        "spans of all three services",
        || async {
            let spans: Vec<_> = receiver
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace)
                .collect();
            let has =
                |svc: &str, name: &str| spans.iter().any(|s| s.service == svc && s.name == name);
            (has("gateway", "bot.v1.BotService/AcceptUpdates")
                && has("bot-service", "bot.v1.BotService/AcceptUpdates")
                && has("bot-service", "billing.v1.BillingService/ListPlans")
                && has("billing-service", "billing.v1.BillingService/ListPlans")
                && has("bot-service", "sendMessage"))
            .then_some(spans)
        },
    )
    .await;
    let find = |svc: &str, name: &str, kind: i32| {
        spans
            .iter()
            .find(|s| s.service == svc && s.name == name && s.kind == kind)
            .unwrap_or_else(|| panic!("{svc} {name} kind {kind} in {spans:#?}"))
    };
    const SERVER: i32 = 2;
    const CLIENT: i32 = 3;
    let gw_client = find("gateway", "bot.v1.BotService/AcceptUpdates", CLIENT);
    let bot_server = find("bot-service", "bot.v1.BotService/AcceptUpdates", SERVER);
    assert_eq!(
        bot_server.parent_span_id, gw_client.span_id,
        "bot server span is the gateway call's child"
    );
    let bot_client = find("bot-service", "billing.v1.BillingService/ListPlans", CLIENT);
    let billing_server = find(
        "billing-service",
        "billing.v1.BillingService/ListPlans",
        SERVER,
    );
    assert_eq!(billing_server.parent_span_id, bot_client.span_id);
    assert!(
        bot_server
            .attributes
            .iter()
            .any(|(k, v)| k == "rpc.system" && v == "grpc"),
        "{:?}",
        bot_server.attributes
    );
    assert!(
        spans.iter().any(|s| s.name.starts_with("state.")),
        "store operations are in the trace"
    );
    // Logs carry the trace id.
    let gateway_log = gateway_proc.output();
    let line = gateway_log
        .lines()
        .find(|l| l.contains("answered") && l.contains("/telegram-webhook"))
        .unwrap_or_else(|| panic!("a request line in {gateway_log}"));
    assert!(
        line.contains(&format!("\"trace_id\":\"{trace}\"")),
        "gateway log line carries trace id {trace}: {line}"
    );

    // Each service serves Prometheus metrics on its own port, the gateway on /metrics.
    let metrics = |url: String| async move {
        let response = mesh_tests::http::client()
            .get(url)
            .send()
            .await
            .expect("metrics");
        response.text().await.expect("text")
    };
    let bot_text = metrics(format!("http://127.0.0.1:{bot_metrics}/metrics")).await;
    assert!(
        bot_text.contains("bot_updates_accepted_total"),
        "{bot_text}"
    );
    let gateway_text = metrics(format!("{gateway}/metrics")).await;
    assert!(
        gateway_text.contains("gateway_http_requests_total"),
        "{gateway_text}"
    );

    // SIGTERM: each process drains and exits cleanly.
    for p in [&mut gateway_proc, &mut bot, &mut billing] {
        assert!(
            p.terminate(Duration::from_secs(10)).await,
            "{} exits 0 on SIGTERM",
            p.name
        );
    }
}
