//! Faults and secrets across real processes.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{
    CreateCheckoutSessionRequest, EntitlementState, GetEntitlementRequest,
};
use mesh_tests::http::{post_event, post_update, text_update};
use mesh_tests::process::MeshProcesses;
use mesh_tests::product::PRICES;
use mesh_tests::stripe::{now, signature_header};
use mesh_tests::stripe_double::StripeDouble;
use mesh_tests::telegram::TelegramDouble;

const WEBHOOK_SECRET: &str = "tg-webhook-secret_MARKER1";
const API_TOKEN: &str = "billing-api-token-MARKER2";
const ADMIN_TOKEN: &str = "billing-admin-token-MARKER3";

fn env(
    test: &str,
    telegram: &TelegramDouble,
    stripe: &StripeDouble,
) -> Vec<(&'static str, String)> {
    let mut env = mesh_tests::base_env(test, telegram);
    env.extend(stripe.env());
    env.extend([
        ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ("BILLING_API_TOKEN", API_TOKEN.into()),
        ("BILLING_ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ("PREMIUM_CHAT_ID", "-1001".into()),
        ("LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info,gateway=debug,bot_service=debug,billing_service=debug,mesh_state=debug,mesh_telemetry=debug".into()),
    ]);
    env
}

async fn billing(
    url: &str,
) -> BillingServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        mesh_tests::product::Bearer,
    >,
> {
    let channel = mesh_proto::lazy_channel(url).unwrap();
    BillingServiceClient::with_interceptor(
        channel,
        mesh_tests::product::Bearer::new(Some(ADMIN_TOKEN)),
    )
}

/// billing-service down while Stripe delivers: 503s (so Stripe retries),
/// and after it is back the retried deliveries land and the entitlement
/// ends right. Meanwhile the gateway stays ready (200 `degraded`, so no
/// pod leaves the Service) and Telegram updates are accepted and answered.
#[tokio::test]
async fn billing_down_while_stripe_delivers() {
    let test = "billing_down";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut mesh = MeshProcesses::start(test, &env(test, &telegram, &stripe)).await;
    let billing_url = mesh.billing_url.clone();
    let session = billing(&billing_url)
        .await
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 77,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let events = stripe.complete_checkout(&session.session_id);
    mesh.billing.kill();
    for e in &events {
        assert_eq!(
            stripe.deliver(&mesh.gateway_url, e).await,
            503,
            "not accepted while billing is down"
        );
    }
    let ready = mesh_tests::eventually(Duration::from_secs(10), "a degraded /ready", || async {
        let r = mesh_tests::http::client()
            .get(format!("{}/ready", mesh.gateway_url))
            .send()
            .await
            .ok()?;
        let code = r.status().as_u16();
        let body: serde_json::Value = r.json().await.ok()?;
        (body["status"] == "degraded").then_some((code, body))
    })
    .await;
    assert_eq!(ready.0, 200, "Telegram intake goes on: {}", ready.1);
    assert_eq!(ready.1["services"]["billing"], "unavailable");
    assert_eq!(ready.1["services"]["bot"], "ok");
    let (status, _) = post_update(
        &mesh.gateway_url,
        &text_update(7_700_001, 7701, "/help"),
        Some(WEBHOOK_SECRET),
    )
    .await;
    assert_eq!(status, 200, "updates accepted while billing is down");
    mesh_tests::eventually(Duration::from_secs(10), "the answer", || async {
        (!telegram.messages_to(7701).is_empty()).then_some(())
    })
    .await;
    mesh.billing.restart();
    // Stripe's retries, until each is accepted.
    for e in &events {
        mesh_tests::eventually(
            Duration::from_secs(20),
            "a retried delivery accepted",
            || async { (stripe.deliver(&mesh.gateway_url, e).await == 200).then_some(()) },
        )
        .await;
    }
    let entitlement = mesh_tests::eventually(Duration::from_secs(10), "access", || async {
        let mut b = billing(&billing_url).await;
        let e = b
            .get_entitlement(GetEntitlementRequest {
                telegram_user_id: 77,
            })
            .await
            .ok()?
            .into_inner()
            .entitlement?;
        (e.state() == EntitlementState::Active).then_some(e)
    })
    .await;
    assert!(entitlement.has_access);
    mesh_tests::eventually(Duration::from_secs(10), "the invite", || async {
        telegram.successful("createChatInviteLink").first().cloned()
    })
    .await;
}

/// Tokens and secrets never appear in any log line of any process, nor in
/// any error body, whatever traffic (good and bad) went through.
#[tokio::test]
async fn secrets_never_logged() {
    let test = "secrets";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut mesh = MeshProcesses::start(test, &env(test, &telegram, &stripe)).await;
    let g = mesh.gateway_url.clone();
    let mut bodies = Vec::new();
    bodies.push(
        post_update(&g, &text_update(1, 88, "/start"), Some("wrong-secret"))
            .await
            .1
            .to_string(),
    );
    bodies.push(
        post_update(&g, &text_update(2, 88, "/start"), Some(WEBHOOK_SECRET))
            .await
            .1
            .to_string(),
    );
    bodies.push(
        post_update(&g, &text_update(3, 88, "/subscribe"), Some(WEBHOOK_SECRET))
            .await
            .1
            .to_string(),
    );
    let body = br#"{"id":"evt_x","object":"event","type":"invoice.paid","created":1,"data":{"object":{}}}"#;
    bodies.push(post_event(&g, body, Some("t=1,v1=00")).await.1.to_string());
    let good = signature_header(&[&stripe.webhook_secret], now(), body);
    bodies.push(post_event(&g, body, Some(&good)).await.1.to_string());
    let mut b = billing(&mesh.billing_url).await;
    b.create_checkout_session(CreateCheckoutSessionRequest {
        telegram_user_id: 88,
        plan_id: "monthly".into(),
        request_id: String::new(),
    })
    .await
    .unwrap();
    // A Stripe failure and a Telegram failure, so error paths log too.
    stripe.fail_next("/v1/customers", 401);
    let _ = b
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 89,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await;
    telegram.fail_next(88, mesh_tests::telegram::Failure::ServerError);
    bodies.push(
        post_update(&g, &text_update(4, 88, "/help"), Some(WEBHOOK_SECRET))
            .await
            .1
            .to_string(),
    );
    mesh_tests::eventually(Duration::from_secs(15), "the replies", || async {
        (telegram.messages_to(88).len() >= 3).then_some(())
    })
    .await;
    for p in [&mut mesh.gateway, &mut mesh.bot, &mut mesh.billing] {
        assert!(
            p.terminate(Duration::from_secs(10)).await,
            "{} drains",
            p.name
        );
    }
    let secrets = [
        telegram.token.as_str(),
        telegram.token.split(':').nth(1).unwrap_or_default(),
        WEBHOOK_SECRET,
        stripe.secret_key.as_str(),
        stripe.webhook_secret.as_str(),
        API_TOKEN,
        ADMIN_TOKEN,
    ];
    for p in [&mesh.gateway, &mesh.bot, &mesh.billing] {
        let log = p.output();
        assert!(log.lines().count() > 5, "{} logged something", p.name);
        for s in secrets {
            assert!(
                !log.contains(s),
                "{} logged a secret ({} chars)",
                p.name,
                s.len()
            );
        }
    }
    for body in &bodies {
        for s in secrets {
            assert!(!body.contains(s), "an answer contained a secret: {body}");
        }
    }
}

/// Sends each chat's updates the way Telegram does: one at a time, the
/// next only after a 2xx, retrying on anything else.
async fn telegram_sender(gateway: String, chat: i64, first_id: i64, texts: Vec<&'static str>) {
    for (i, text) in texts.into_iter().enumerate() {
        let update = text_update(first_id + i as i64, chat, text);
        loop {
            if post_update(&gateway, &update, Some(WEBHOOK_SECRET)).await.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The command each reply to `chat` answers, in the order Telegram took
/// them. With `killed_at`, a reply Telegram took in the instant before
/// bot-service was SIGKILLed and that came again after it counts once:
/// Telegram answered, the process died before recording the send, and the
/// Bot API has no idempotency key to tell a resend apart. At most one such
/// reply per chat (a chat has one send in flight) is forgiven, nothing else.
fn replies_in_order(
    telegram: &TelegramDouble,
    chat: i64,
    killed_at: Option<Instant>,
) -> Vec<&'static str> {
    let calls: Vec<_> = telegram
        .successful("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"].as_i64() == Some(chat))
        .collect();
    let command = |text: &str| {
        if text.starts_with("Here is what I can do") {
            "/help"
        } else if text.starts_with("Plans:") {
            "/plans"
        } else {
            "?"
        }
    };
    let mut forgiven = 0;
    let mut out = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let resent = i > 0
            && calls[i - 1].params["text"] == call.params["text"]
            && killed_at.is_some_and(|kill| {
                calls[i - 1].at <= kill
                    && kill.duration_since(calls[i - 1].at) < Duration::from_millis(300)
                    && call.at > kill
            });
        if resent && forgiven == 0 {
            forgiven += 1;
            eprintln!("chat {chat}: a reply taken just before the kill was sent again after it");
            continue;
        }
        out.push(command(call.params["text"].as_str().unwrap_or_default()));
    }
    out
}

/// Telegram-like senders for several chats, each sending `texts` in order.
struct ChatStream {
    chats: Vec<i64>,
    texts: Vec<&'static str>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl ChatStream {
    /// Starts `count` chats from `first_chat`, update ids from `id_base`.
    fn start(
        gateway: &str,
        first_chat: i64,
        count: i64,
        id_base: i64,
        texts: Vec<&'static str>,
    ) -> Self {
        let chats: Vec<i64> = (0..count).map(|i| first_chat + i).collect();
        let senders = chats
            .iter()
            .enumerate()
            .map(|(i, chat)| {
                tokio::spawn(telegram_sender(
                    gateway.to_owned(),
                    *chat,
                    id_base * (i as i64 + 1),
                    texts.clone(),
                ))
            })
            .collect();
        Self {
            chats,
            texts,
            senders,
        }
    }

    /// Waits for every sender (each update acknowledged), then asserts each
    /// chat got one reply per update, in order.
    /// `killed_at`: when bot-service was SIGKILLed, if it was (see
    /// [`replies_in_order`]).
    async fn finish_and_check(self, telegram: &TelegramDouble, killed_at: Option<Instant>) {
        for s in self.senders {
            s.await.unwrap();
        }
        let (chats, texts) = (&self.chats, &self.texts);
        mesh_tests::eventually(Duration::from_secs(30), "every reply", || async {
            chats
                .iter()
                .all(|c| telegram.messages_to(*c).len() >= texts.len())
                .then_some(())
        })
        .await;
        // Give a duplicate the chance to show up.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        for chat in chats {
            assert_eq!(
                &replies_in_order(telegram, *chat, killed_at),
                texts,
                "chat {chat}: once each, in order"
            );
        }
    }
}

/// bot-service SIGKILLed while updates from many chats stream in, then
/// restarted: every update handled exactly once, each chat in update_id
/// order.
#[tokio::test]
async fn bot_killed_under_a_stream_of_chats() {
    let test = "bot_killed_stream";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut vars = env(test, &telegram, &stripe);
    vars.push(("BOT_UPDATE_LEASE_MS", "1000".into()));
    vars.push(("BOT_CHAT_SEND_INTERVAL_MS", "20".into()));
    let mut mesh = MeshProcesses::start(test, &vars).await;
    let texts = vec!["/help", "/plans", "/help", "/plans", "/help", "/plans"];
    let stream = ChatStream::start(&mesh.gateway_url, 61_000, 12, 1_000, texts);
    mesh_tests::eventually(Duration::from_secs(10), "some replies", || async {
        (telegram.successful("sendMessage").len() >= 10).then_some(())
    })
    .await;
    let killed_at = Instant::now();
    mesh.bot.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    mesh.bot.restart();
    stream.finish_and_check(&telegram, Some(killed_at)).await;
}

/// Two gateway replicas; one is killed mid-traffic: the other carries on,
/// and the same update sent to both takes effect once.
#[tokio::test]
async fn gateway_replica_killed() {
    let test = "gateway_killed";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut vars = env(test, &telegram, &stripe);
    vars.push(("BOT_CHAT_SEND_INTERVAL_MS", "20".into()));
    let mesh = MeshProcesses::start(test, &vars).await;
    let mut second_env = vars.clone();
    second_env.extend([
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        (
            "BOT_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh.bot_port),
        ),
        ("BILLING_SERVICE_URL", mesh.billing_url.clone()),
    ]);
    let mut second = mesh_tests::process::Process::spawn(test, "gateway-2", "gateway", &second_env);
    let second_url = format!(
        "http://127.0.0.1:{}",
        second.port("gateway listening").await
    );
    let first_url = mesh.gateway_url.clone();
    // The same updates to both replicas, as Telegram's retries might.
    for i in 0..10 {
        let u = text_update(70_000 + i, 62_000 + i, "/help");
        let (a, b) = tokio::join!(
            post_update(&first_url, &u, Some(WEBHOOK_SECRET)),
            post_update(&second_url, &u, Some(WEBHOOK_SECRET))
        );
        assert_eq!((a.0, b.0), (200, 200));
    }
    second.kill();
    for i in 10..20 {
        let u = text_update(70_000 + i, 62_000 + i, "/help");
        assert_eq!(
            post_update(&second_url, &u, Some(WEBHOOK_SECRET)).await.0,
            0,
            "the killed replica is gone"
        );
        assert_eq!(
            post_update(&first_url, &u, Some(WEBHOOK_SECRET)).await.0,
            200
        );
    }
    mesh_tests::eventually(Duration::from_secs(20), "every reply", || async {
        (0..20)
            .all(|i| !telegram.messages_to(62_000 + i).is_empty())
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    for i in 0..20 {
        assert_eq!(
            telegram.messages_to(62_000 + i).len(),
            1,
            "chat {}: once",
            62_000 + i
        );
    }
}

/// SIGTERM to each service in turn while a Telegram-like sender streams
/// updates: each drains and exits 0, is started again, and every update
/// the gateway acknowledged is handled exactly once, in order per chat.
#[tokio::test]
async fn sigterm_each_service_under_traffic() {
    let test = "sigterm_traffic";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut vars = env(test, &telegram, &stripe);
    vars.push(("BOT_CHAT_SEND_INTERVAL_MS", "20".into()));
    let mut mesh = MeshProcesses::start(test, &vars).await;
    let texts = vec![
        "/help", "/plans", "/help", "/plans", "/help", "/plans", "/help", "/plans",
    ];
    let stream = ChatStream::start(&mesh.gateway_url, 63_000, 8, 10_000, texts);
    for name in ["bot-service", "billing-service"] {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let p = if name == "bot-service" {
            &mut mesh.bot
        } else {
            &mut mesh.billing
        };
        assert!(
            p.terminate(Duration::from_secs(10)).await,
            "{name} drains and exits 0 on SIGTERM"
        );
        p.restart();
    }
    stream.finish_and_check(&telegram, None).await;
    // The gateway too: it stops taking requests and exits cleanly.
    assert!(mesh.gateway.terminate(Duration::from_secs(10)).await);
}

/// Redis stopped and started under traffic, with the services as separate
/// processes: 503s and an unready /ready meanwhile, then recovery without
/// restarting any service, nothing lost or doubled.
#[tokio::test]
async fn redis_restart_under_traffic_across_processes() {
    let test = "redis_restart_processes";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut redis = mesh_tests::redis_server::RedisServer::start().await;
    let mut vars = env(test, &telegram, &stripe);
    vars.retain(|(k, _)| *k != "REDIS_URL");
    vars.push(("REDIS_URL", redis.url()));
    vars.push(("BOT_CHAT_SEND_INTERVAL_MS", "20".into()));
    // Work finished while Redis was down is acknowledged once it is back,
    // within the lease (longer than the outage), so nothing runs twice.
    vars.push(("BOT_UPDATE_LEASE_MS", "10000".into()));
    let mesh = MeshProcesses::start(test, &vars).await;
    let texts = vec![
        "/help", "/plans", "/help", "/plans", "/help", "/plans", "/help", "/plans", "/help",
        "/plans",
    ];
    let stream = ChatStream::start(&mesh.gateway_url, 64_000, 6, 20_000, texts);
    tokio::time::sleep(Duration::from_millis(150)).await;
    redis.stop();
    let ready = format!("{}/ready", mesh.gateway_url);
    let r = mesh_tests::http::client().get(&ready).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503, "unready while Redis is down");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.start_again().await;
    stream.finish_and_check(&telegram, None).await;
    mesh_tests::eventually(Duration::from_secs(20), "ready again", || {
        let ready = ready.clone();
        async move {
            (mesh_tests::http::client()
                .get(ready)
                .send()
                .await
                .ok()?
                .status()
                .as_u16()
                == 200)
                .then_some(())
        }
    })
    .await;
}
