//! What Prometheus scrapes from the three processes: every family with
//! `# HELP` and `# TYPE`, the queue and entitlement gauges telling the
//! truth about a paused chat and a paying user, gRPC server metrics by
//! method and code, and the process's own metrics.

use std::time::Duration;

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{ApplyStripeEventRequest, CreateCheckoutSessionRequest};
use mesh_tests::http::{group_update, post_update, text_update};
use mesh_tests::process::MeshProcesses;
use mesh_tests::product::PRICES;
use mesh_tests::stripe_double::StripeDouble;
use mesh_tests::telegram::{Failure, TelegramDouble};

/// One scrape, in the Prometheus text format.
struct Scrape(String);

impl Scrape {
    async fn of(url: &str) -> Self {
        let r = mesh_tests::http::client()
            .get(url)
            .send()
            .await
            .expect("scrape");
        assert_eq!(r.status().as_u16(), 200);
        Self(r.text().await.expect("text"))
    }

    /// The value of the first sample of `name` carrying every label in `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| rest.rsplit(' ').next()?.parse().ok())?
        })
    }

    /// Every family has its `# HELP` and `# TYPE` lines.
    fn described(&self, who: &str) {
        let families: Vec<&str> = self
            .0
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        assert!(families.len() > 5, "{who}: {}", self.0);
        for family in families {
            assert!(
                self.0.contains(&format!("# HELP {family} ")),
                "{who}: no # HELP for {family}"
            );
        }
    }
}

#[tokio::test]
async fn gauges_grpc_and_process_metrics_with_help() {
    let test = "metrics";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut env = mesh_tests::base_env(test, &telegram);
    env.retain(|(k, _)| !k.ends_with("_METRICS_ADDR"));
    env.extend(stripe.env());
    env.extend([
        ("GATEWAY_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("BOT_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("BILLING_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("BOT_CHAT_SEND_INTERVAL_MS", "50".to_owned()),
    ]);
    let mesh = MeshProcesses::start(test, &env).await;
    let port = |p: u16| format!("http://127.0.0.1:{p}/metrics");
    let gateway_metrics = port(mesh.gateway.port("metrics listening").await);
    let bot_metrics = port(mesh.bot.port("metrics listening").await);
    let billing_metrics = port(mesh.billing.port("metrics listening").await);

    // A paying user.
    let mut billing =
        BillingServiceClient::new(mesh_proto::lazy_channel(&mesh.billing_url).expect("channel"));
    let session = billing
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 96,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await
        .expect("checkout")
        .into_inner();
    let events = stripe.complete_checkout(&session.session_id);
    stripe.deliver_all(&mesh.gateway_url, &events).await;
    // A chat Telegram tells to wait a minute: its reply stays in the outbox.
    telegram.fail_next(97, Failure::TooManyRequests(60));
    let (status, _) = post_update(&mesh.gateway_url, &text_update(1, 97, "/start"), None).await;
    assert_eq!(status, 200);
    // Group chatter, sent twice: remembered, never queued.
    for _ in 0..2 {
        let (status, _) =
            post_update(&mesh.gateway_url, &group_update(2, -500, 98, "hello"), None).await;
        assert_eq!(status, 200);
    }
    // A call billing refuses.
    let refused = billing
        .apply_stripe_event(ApplyStripeEventRequest {
            event_json: b"not json".to_vec().into(),
        })
        .await
        .expect_err("not an event");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    // Gauges are sampled every few seconds, one family after another, so a
    // scrape may fall between two of them: wait for all that are asserted.
    let bot = mesh_tests::eventually(
        Duration::from_secs(20),
        "the outbox gauges to show the paused chat, the registry its user",
        || async {
            let s = Scrape::of(&bot_metrics).await;
            let outbox = |name: &str| s.value(name, &[("queue", "outbox")]).unwrap_or(0.0);
            (outbox("mesh_queue_paused_partitions") >= 1.0
                && outbox("mesh_queue_items") >= 1.0
                && outbox("mesh_queue_oldest_age_seconds") > 0.0
                && outbox("mesh_queue_longest_pause_seconds") > 30.0
                && s.value("bot_known_users", &[]).is_some_and(|n| n >= 1.0))
            .then_some(s)
        },
    )
    .await;
    for gauge in [
        "mesh_queue_items",
        "mesh_queue_partitions",
        "mesh_queue_oldest_age_seconds",
        "mesh_queue_held_partitions",
        "mesh_queue_dead_letters",
    ] {
        assert!(
            bot.value(gauge, &[("queue", "updates")]).is_some(),
            "{gauge}"
        );
    }
    assert_eq!(bot.value("bot_blocked_users", &[]), Some(0.0));
    assert_eq!(bot.value("bot_updates_chatter_total", &[]), Some(1.0));
    assert!(bot.value("bot_known_users", &[]).is_some_and(|n| n >= 1.0));
    assert!(
        bot.value(
            "grpc_server_requests_total",
            &[
                ("service", "bot.v1.BotService"),
                ("method", "AcceptUpdates"),
                ("code", "OK")
            ]
        )
        .is_some_and(|n| n >= 1.0)
    );

    let billing_scrape = mesh_tests::eventually(
        Duration::from_secs(20),
        "billing's gauges to count the paying user",
        || async {
            let s = Scrape::of(&billing_metrics).await;
            (s.value("billing_entitlements", &[("state", "active")]) == Some(1.0)
                && s.value("billing_entitlements_with_access", &[("plan", "monthly")]) == Some(1.0))
            .then_some(s)
        },
    )
    .await;
    assert_eq!(
        billing_scrape.value("billing_entitlements_with_access", &[("plan", "monthly")]),
        Some(1.0)
    );
    assert!(
        billing_scrape
            .value("mesh_queue_items", &[("queue", "notices")])
            .is_some()
    );
    let calls = |method: &str, code: &str| {
        billing_scrape.value(
            "grpc_server_requests_total",
            &[
                ("service", "billing.v1.BillingService"),
                ("method", method),
                ("code", code),
            ],
        )
    };
    assert_eq!(calls("CreateCheckoutSession", "OK"), Some(1.0));
    assert_eq!(calls("ApplyStripeEvent", "INVALID_ARGUMENT"), Some(1.0));
    assert!(calls("ApplyStripeEvent", "OK").is_some_and(|n| n >= 3.0));
    assert!(
        billing_scrape
            .value(
                "grpc_server_request_duration_seconds_count",
                &[("method", "CreateCheckoutSession")]
            )
            .is_some_and(|n| n >= 1.0)
    );

    let gateway = Scrape::of(&gateway_metrics).await;
    assert!(
        gateway
            .value(
                "gateway_http_requests_total",
                &[("route", "/telegram-webhook"), ("status", "200")]
            )
            .is_some_and(|n| n >= 1.0)
    );
    let on_main_port = Scrape::of(&format!("{}/metrics", mesh.gateway_url)).await;
    assert!(on_main_port.0.contains("gateway_http_requests_total"));

    // CPU time can round to 0 for an idle gateway; memory and fds can't.
    for (who, scrape) in [
        ("gateway", &gateway),
        ("bot-service", &bot),
        ("billing-service", &billing_scrape),
    ] {
        for process in ["process_resident_memory_bytes", "process_open_fds"] {
            assert!(
                scrape.value(process, &[]).is_some_and(|v| v > 0.0),
                "{who}: {process}"
            );
        }
    }
    for (who, scrape) in [
        ("gateway", &gateway),
        ("bot-service", &bot),
        ("billing-service", &billing_scrape),
    ] {
        scrape.described(who);
        for process in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ] {
            assert!(scrape.value(process, &[]).is_some(), "{who}: {process}");
        }
    }
}
