//! The outbox under Telegram's rules: 429 pauses one chat while others
//! flow, 403 stops writing to a user, the send rate stays within the
//! limits (measured from the Bot API double's receipt times), and messages
//! queued before a restart are sent after it, each once.

use std::time::{Duration, Instant};

use mesh_tests::http::{post_update, text_update};
use mesh_tests::process::MeshProcesses;
use mesh_tests::product::{ADMIN, Product};
use mesh_tests::telegram::{Failure, TelegramDouble};

/// A 429 with retry_after makes that chat wait; other chats keep flowing.
#[tokio::test]
async fn retry_after_pauses_only_that_chat() {
    let p = Product::start("retry_after", &[]).await;
    let (a, b) = (8001, 8002);
    p.telegram.fail_next(a, Failure::TooManyRequests(2));
    let started = Instant::now();
    p.post(&text_update(1, a, "/help")).await;
    p.wait_call("the 429", |c| !c.ok).await;
    p.post(&text_update(2, b, "/help")).await;
    p.wait_message(b, "Here is what I can do").await;
    let b_at = started.elapsed();
    p.wait_message(a, "Here is what I can do").await;
    let a_at = started.elapsed();
    assert!(
        b_at < Duration::from_millis(1500),
        "chat B was not held up: {b_at:?}"
    );
    assert!(
        a_at >= Duration::from_secs(2),
        "chat A waited retry_after: {a_at:?}"
    );
    p.stop().await;
}

/// A 403 "blocked" is not retried and nothing more is sent to that user;
/// writing to the bot again unblocks them.
#[tokio::test]
async fn blocked_user_is_not_written_to() {
    let p = Product::start("blocked", &[]).await;
    let u = 8101;
    p.telegram.fail_next(u, Failure::Blocked);
    p.post(&text_update(1, u, "/help")).await;
    p.wait_call("the 403", |c| !c.ok && c.params["chat_id"] == u)
        .await;
    // An admin broadcast skips the blocked user but reaches the admin.
    p.broadcast(20, "news").await;
    p.wait_message(ADMIN, "Broadcast: ").await;
    let attempts = p
        .telegram
        .calls()
        .iter()
        .filter(|c| c.params["chat_id"] == u)
        .count();
    assert_eq!(attempts, 1, "one failed attempt, no retry, no broadcast");
    // The user writes again: they unblocked the bot.
    p.post(&text_update(3, u, "/help")).await;
    p.wait_message(u, "Here is what I can do").await;
    p.stop().await;
}

/// With Telegram's real limits: no chat gets more than one message a
/// second, and a broadcast never exceeds 30 messages in any one-second
/// window while keeping close to it.
#[tokio::test]
async fn send_rates_within_limits() {
    let p = Product::start(
        "rates",
        &[
            ("BOT_CHAT_SEND_INTERVAL_MS", "1000".into()),
            ("BOT_USER_RATE_PER_MIN", "0".into()),
        ],
    )
    .await;
    // One chat, three replies: at least a second apart.
    for i in 1..=3 {
        p.post(&text_update(i, 8201, "/help")).await;
    }
    // 90 users who wrote to the bot, then a broadcast to all of them.
    for u in 0..90 {
        p.post(&text_update(100 + u, 9100 + u, "hi")).await;
    }
    p.broadcast(500, "Big news").await;
    mesh_tests::eventually(
        Duration::from_secs(30),
        "the broadcast and the replies to finish",
        || async {
            let n = p
                .telegram
                .successful("sendMessage")
                .iter()
                .filter(|c| c.params["text"] == "Big news")
                .count();
            (n >= 90 && p.telegram.messages_to(8201).len() >= 3).then_some(())
        },
    )
    .await;
    let sends = p.telegram.successful("sendMessage");
    let one_chat: Vec<Instant> = sends
        .iter()
        .filter(|c| c.params["chat_id"] == 8201)
        .map(|c| c.at)
        .collect();
    assert_eq!(
        one_chat.len(),
        3,
        "{:?}",
        p.telegram
            .calls()
            .iter()
            .filter(|c| c.params["chat_id"] == 8201)
            .collect::<Vec<_>>()
    );
    for w in one_chat.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(950),
            "per-chat spacing {:?}",
            w[1] - w[0]
        );
    }
    let times: Vec<Instant> = sends.iter().map(|c| c.at).collect();
    let busiest = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t < *start + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 30,
        "at most 30 messages in any second, saw {busiest}"
    );
    let broadcast: Vec<Instant> = sends
        .iter()
        .filter(|c| c.params["text"] == "Big news")
        .map(|c| c.at)
        .collect();
    let span = *broadcast.last().unwrap() - *broadcast.first().unwrap();
    let rate = (broadcast.len() - 1) as f64 / span.as_secs_f64();
    eprintln!(
        "broadcast: {} messages at {rate:.1}/s; busiest 1 s window: {busiest}",
        broadcast.len()
    );
    assert!((20.0..=30.5).contains(&rate), "broadcast rate {rate:.1}/s");
    p.stop().await;
}

/// Messages still queued when bot-service is stopped are sent after it
/// restarts, each exactly once.
#[tokio::test]
async fn queued_messages_survive_a_restart_once() {
    let test = "outbox_restart";
    let double = TelegramDouble::start().await;
    let env = vec![
        ("REDIS_URL", mesh_tests::shared_redis_url()),
        ("REDIS_KEY_PREFIX", mesh_tests::unique_prefix(test)),
        ("BOT_METRICS_ADDR", "off".into()),
        ("BILLING_METRICS_ADDR", "off".into()),
        ("TELEGRAM_BOT_TOKEN", double.token.clone()),
        ("TELEGRAM_API_URL", double.url.clone()),
        ("BOT_UPDATE_LEASE_MS", "1000".into()),
    ];
    let mut mesh = MeshProcesses::start(test, &env).await;
    let gateway = mesh.gateway_url.clone();
    let bot = &mut mesh.bot;
    // Five different replies to one chat: the 1/s limit queues them.
    let user = 8301;
    for (i, cmd) in ["/help", "/plans", "/start", "/status", "what?"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            post_update(&gateway, &text_update(i as i64 + 1, user, cmd), None)
                .await
                .0,
            200
        );
    }
    mesh_tests::eventually(Duration::from_secs(10), "the first reply", || async {
        (!double.messages_to(user).is_empty()).then_some(())
    })
    .await;
    assert!(bot.terminate(Duration::from_secs(10)).await, "clean drain");
    let before = double.messages_to(user).len();
    assert!(
        before < 5,
        "some replies were still queued at the stop ({before} sent)"
    );
    bot.restart();
    let sent = mesh_tests::eventually(Duration::from_secs(20), "all five replies", || async {
        let m = double.messages_to(user);
        (m.len() >= 5).then_some(m)
    })
    .await;
    // Give a duplicate the chance to show up, then count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_after = double.messages_to(user);
    assert_eq!(sent_after.len(), 5, "each reply exactly once: {sent:?}");
    let mut texts: Vec<&str> = sent_after
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 5);
}
