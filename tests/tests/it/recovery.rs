//! Recovery in seconds: a bot-service replica killed under load hands its
//! chats to the other within one lease (default 4 s, so within 5 s), and a
//! handler slower than the lease keeps its chat (its worker renews) and
//! runs once.

use std::time::{Duration, Instant};

use mesh_tests::http::{callback_update, post_update, text_update};
use mesh_tests::process::{MeshProcesses, Process};
use mesh_tests::product::PRICES;
use mesh_tests::stripe_double::StripeDouble;
use mesh_tests::telegram::TelegramDouble;

const CHECKOUT: &str = "/v1/checkout/sessions";

fn env(
    test: &str,
    telegram: &TelegramDouble,
    stripe: &StripeDouble,
) -> Vec<(&'static str, String)> {
    let mut env = mesh_tests::base_env(test, telegram);
    env.extend(stripe.env());
    env.extend([
        ("STRIPE_TIMEOUT_MS", "30000".to_owned()),
        ("PREMIUM_CHAT_ID", "-1001".to_owned()),
        ("BOT_CHAT_SEND_INTERVAL_MS", "20".to_owned()),
        ("TELEGRAM_BOT_USERNAME", "test_bot".to_owned()),
    ]);
    env
}

/// Posts until accepted, as Telegram does.
async fn deliver(gateway: &str, update: &serde_json::Value) {
    mesh_tests::eventually(Duration::from_secs(20), "the update accepted", || async {
        (post_update(gateway, update, None).await.0 == 200).then_some(())
    })
    .await;
}

/// When the pay button reached `user` (None: not yet).
fn paid_prompt(telegram: &TelegramDouble, user: i64) -> Vec<Instant> {
    telegram
        .calls()
        .into_iter()
        .filter(|c| {
            c.ok && c.method == "sendMessage"
                && c.params["chat_id"] == user
                && c.params["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("pay securely"))
        })
        .map(|c| c.at)
        .collect()
}

fn checkouts_for(stripe: &StripeDouble, user: i64) -> usize {
    stripe
        .requests_to("POST", CHECKOUT)
        .iter()
        .filter(|r| r.params["client_reference_id"].as_str() == Some(user.to_string().as_str()))
        .count()
}

/// How late the Bot API double may stamp a call made before the kill.
const STAMPED_LATE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn killed_replica_hands_over_within_a_lease_and_slow_handlers_run_once() {
    let test = "recovery";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let vars = env(test, &telegram, &stripe);
    // The default lease: this is what operators get.
    assert!(vars.iter().all(|(k, _)| *k != "BOT_UPDATE_LEASE_MS"));
    let mut mesh = MeshProcesses::start(test, &vars).await;
    let gateway = mesh.gateway_url.clone();

    // Load: chats asking for /help all along.
    let load: Vec<i64> = (0..8).map(|i| 64_100 + i).collect();
    let mut next_id = 5_000_000;
    for chat in &load {
        next_id += 1;
        deliver(&gateway, &text_update(next_id, *chat, "/help")).await;
    }
    // Five chats whose handlers wait on a slow Stripe: the first replica's
    // workers (woken by its own accepts) hold them when it is killed.
    let held: Vec<i64> = (0..5).map(|i| 64_200 + i).collect();
    for _ in &held {
        stripe.delay_next(CHECKOUT, Duration::from_secs(20));
    }
    for user in &held {
        next_id += 1;
        deliver(
            &gateway,
            &callback_update(next_id, *user, &format!("q{user}"), "sub:monthly"),
        )
        .await;
    }
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the slow checkouts started",
        || async {
            held.iter()
                .all(|u| checkouts_for(&stripe, *u) == 1)
                .then_some(())
        },
    )
    .await;
    for chat in &load {
        next_id += 1;
        deliver(&gateway, &text_update(next_id, *chat, "/help")).await;
    }
    // A second replica on the same store, started once the first holds
    // the slow chats; then the first dies where it stands.
    let mut second_env = vars.clone();
    second_env.extend([
        ("BOT_SERVICE_ADDR", "127.0.0.1:0".to_owned()),
        ("BILLING_SERVICE_URL", mesh.billing_url.clone()),
        (
            "PLANS_FILE",
            mesh_tests::mesh::plans_file().display().to_string(),
        ),
    ]);
    let second = Process::spawn(test, "bot-service-2", "bot-service", &second_env);
    second.port("bot-service listening").await;
    mesh.bot.kill();
    let killed = Instant::now();
    mesh_tests::eventually(
        Duration::from_secs(15),
        "the held chats answered",
        || async {
            held.iter()
                .all(|u| !paid_prompt(&telegram, *u).is_empty())
                .then_some(())
        },
    )
    .await;
    for user in &held {
        let at = paid_prompt(&telegram, *user)[0];
        let after = at.duration_since(killed);
        assert!(
            after < Duration::from_secs(5),
            "chat {user} answered {after:?} after the kill (default lease 4 s)"
        );
    }

    // A handler slower than the lease (8 s against 4 s), on the survivor:
    // its worker renews, nobody else starts it, it runs once.
    mesh.bot.restart();
    mesh_tests::http::wait_ready(&gateway).await;
    let slow = 64_300;
    stripe.delay_next(CHECKOUT, Duration::from_secs(8));
    next_id += 1;
    deliver(
        &gateway,
        &callback_update(next_id, slow, &format!("q{slow}"), "sub:monthly"),
    )
    .await;
    mesh_tests::eventually(
        Duration::from_secs(20),
        "the slow handler's answer",
        || async { (!paid_prompt(&telegram, slow).is_empty()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(checkouts_for(&stripe, slow), 1, "the slow handler ran once");
    assert_eq!(paid_prompt(&telegram, slow).len(), 1);
    for user in &held {
        assert_eq!(
            paid_prompt(&telegram, *user).len(),
            1,
            "chat {user}: one answer"
        );
    }
    for chat in &load {
        let sent: Vec<Instant> = telegram
            .successful("sendMessage")
            .into_iter()
            .filter(|c| c.params["chat_id"] == *chat)
            .map(|c| c.at)
            .collect();
        // The one documented exception (docs/guarantees.md): a Bot API call
        // Telegram answered in the instant before the SIGKILL, before the
        // sender could record it, is sent again by the chat's next worker.
        // At most once per chat, and only of a message sent before the kill.
        let repeats = sent.len().saturating_sub(2);
        assert!(
            sent.len() >= 2 && repeats <= 1,
            "chat {chat}: both /help answered once ({} sent)",
            sent.len()
        );
        // The double stamps a call when it handles it, and on this test's
        // one thread a call made just before the kill is handled (stamped)
        // once the kill has returned: "before the kill" allows for that.
        if repeats == 1 {
            assert!(
                sent.iter().any(|at| *at <= killed + STAMPED_LATE),
                "chat {chat}: a repeat only of a message sent before the kill"
            );
        }
    }
    drop(second);
}
