//! End-to-end and broadcast benchmark. Starts the Bot API double in this
//! process and the mesh (`BIN_DIR`, pinned with `taskset` to `MESH_CPU`)
//! against it, on Redis (`REDIS_URL`):
//! - three processes, send limits off (what is measured is the pipeline,
//!   not Telegram's pacing): `/start` at 200/s across 50 private chats for
//!   10 s, post -> `sendMessage` receipt at the double (p50/p99); with
//!   `ACK_REPLICAS_TOO=1` (REDIS_URL has a replica) the same again with
//!   `STORE_ACK_REPLICAS=1`, the cost of a replica's acknowledgement;
//! - on the same processes, 5,000 `/start`s from 5,000 users queued as
//!   fast as they are taken, then 200 pre-checkout queries for a Stars
//!   invoice: each one's answer time (it is answered at acceptance, before
//!   the gateway's 200), p50/p99 against Telegram's 10 s;
//! - the one-process mesh with Telegram's real limits: 1,000 users seeded
//!   in the registry, an admin broadcast to them (drafted and confirmed),
//!   the achieved rate and the busiest one-second window.
//!
//! Prints markdown table rows.

use std::time::{Duration, Instant};

use mesh_state::{Store, Tx};
use mesh_tests::http::{callback_update, post_update, text_update};
use mesh_tests::pinned::{self, Pinned};
use mesh_tests::telegram::TelegramDouble;

const ADMIN: i64 = 4242;
/// Deliveries carry it, as Telegram's do (unauthenticated ones would meet
/// the per-address limit).
const SECRET: &str = "benchsecret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Starts `binary` pinned to `cpu` with `env`, its log in /tmp.
fn spawn(
    bin_dir: &str,
    binary: &str,
    args: &[&str],
    cpu: &str,
    env: &[(&str, String)],
) -> std::io::Result<Pinned> {
    let log = format!("/tmp/bench-e2e-{binary}.log");
    pinned::spawn(bin_dir, binary, args, cpu, env, Some(&log))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let bin_dir = std::env::var("BIN_DIR")?;
    let redis = std::env::var("REDIS_URL")?;
    let cpu = std::env::var("MESH_CPU").unwrap_or_else(|_| "0".into());
    let double = TelegramDouble::start().await;
    let base = |prefix: &str| {
        vec![
            ("REDIS_URL", redis.clone()),
            ("REDIS_KEY_PREFIX", prefix.to_owned()),
            ("TELEGRAM_BOT_TOKEN", double.token.clone()),
            ("TELEGRAM_API_URL", double.url.clone()),
            ("TELEGRAM_BOT_USERNAME", "bench_bot".to_owned()),
            ("ADMIN_USER_IDS", ADMIN.to_string()),
            ("BOT_METRICS_ADDR", "off".to_owned()),
            ("BILLING_METRICS_ADDR", "off".to_owned()),
            (
                "RUST_LOG",
                std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            ),
            ("TELEGRAM_WEBHOOK_SECRET", SECRET.to_owned()),
        ]
    };

    // 1. End to end, three processes, limits off; again with each durable
    // write acknowledged by a replica when the bench runs one
    // (`ACK_REPLICAS_TOO=1`: the Redis at REDIS_URL has a replica).
    let mut acks = vec![0u32];
    if std::env::var("ACK_REPLICAS_TOO").is_ok_and(|v| v == "1") {
        acks.push(1);
    }
    for ack in acks {
        let pass = i64::from(ack);
        let prefix = format!("bench-e2e-{}-{ack}", std::process::id());
        let (gw, bot, billing) = (
            mesh_tests::free_port(),
            mesh_tests::free_port(),
            mesh_tests::free_port(),
        );
        let mut env = base(&prefix);
        env.extend([
            ("GATEWAY_ADDR", format!("127.0.0.1:{gw}")),
            ("BOT_SERVICE_ADDR", format!("127.0.0.1:{bot}")),
            ("BILLING_SERVICE_ADDR", format!("127.0.0.1:{billing}")),
            ("BOT_SERVICE_URL", format!("http://127.0.0.1:{bot}")),
            ("BILLING_SERVICE_URL", format!("http://127.0.0.1:{billing}")),
            ("BOT_GLOBAL_SEND_INTERVAL_MS", "0".to_owned()),
            ("BOT_CHAT_SEND_INTERVAL_MS", "0".to_owned()),
            ("BOT_USER_RATE_PER_MIN", "0".to_owned()),
            ("STORE_ACK_REPLICAS", ack.to_string()),
        ]);
        let children = vec![
            spawn(&bin_dir, "billing-service", &[], &cpu, &env)?,
            spawn(&bin_dir, "bot-service", &[], &cpu, &env)?,
            spawn(&bin_dir, "gateway", &[], &cpu, &env)?,
        ];
        let gateway = format!("http://127.0.0.1:{gw}");
        mesh_tests::http::wait_ready(&gateway).await;
        // Warm the plan cache and the connections.
        let warm = 499_999 - pass;
        let (status, _) = post_update(
            &gateway,
            &text_update(1 + pass, warm, "/start"),
            Some(SECRET),
        )
        .await;
        anyhow::ensure!(status == 200, "webhook answered {status}");
        mesh_tests::eventually(Duration::from_secs(10), "the warm-up reply", || async {
            (!double.messages_to(warm).is_empty()).then_some(())
        })
        .await;
        let first_chat = 500_000 + 1_000 * pass;
        let chats = first_chat..first_chat + 50;
        let mut sent = Vec::new();
        let mut posts: Vec<tokio::task::JoinHandle<u16>> = Vec::new();
        let start = Instant::now();
        for i in 0..2000i64 {
            let due = start + Duration::from_micros(5_000 * i as u64);
            tokio::time::sleep_until(due.into()).await;
            let chat = first_chat + i % 50;
            let at = Instant::now();
            let gateway = gateway.clone();
            sent.push((i, chat, at));
            let id = 10_000 + 100_000 * pass + i;
            posts.push(tokio::spawn(async move {
                let update = text_update(id, chat, &format!("/start e2e{i}"));
                post_update(&gateway, &update, Some(SECRET)).await.0
            }));
        }
        for post in posts {
            let status = post.await?;
            anyhow::ensure!(status == 200, "webhook answered {status}");
        }
        let replies_here = || {
            double
                .successful("sendMessage")
                .into_iter()
                .filter(|c| {
                    c.params["chat_id"]
                        .as_i64()
                        .is_some_and(|c| chats.contains(&c))
                })
                .collect::<Vec<_>>()
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while replies_here().len() < sent.len() {
            if Instant::now() > deadline {
                let calls = double.calls();
                anyhow::bail!(
                    "{} of {} replies after 60 s ({} calls, {} failed)",
                    replies_here().len(),
                    sent.len(),
                    calls.len(),
                    calls.iter().filter(|c| !c.ok).count()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let calls = replies_here();
        // Each reply is the welcome of one `/start` in its chat, in order: the
        // n-th reply to a chat answers its n-th `/start`.
        let mut delays = Vec::new();
        for chat in chats.clone() {
            let replies: Vec<Instant> = calls
                .iter()
                .filter(|c| c.params["chat_id"] == chat)
                .map(|c| c.at)
                .collect();
            let posts: Vec<Instant> = sent
                .iter()
                .filter(|(_, c, _)| *c == chat)
                .map(|(_, _, at)| *at)
                .collect();
            for (post, reply) in posts.iter().zip(replies) {
                delays.push(reply.saturating_duration_since(*post));
            }
        }
        delays.sort();
        let (setting, target) = match ack {
            0 => ("", "p99 <= 10 ms"),
            _ => (
                ", `STORE_ACK_REPLICAS=1` with a replica on loopback",
                "p99 <= 12 ms",
            ),
        };
        println!(
            "| End to end: `/start` at 200/s across 50 chats -> `sendMessage` at the Bot API double (three processes, Redis, send limits off{setting}) | p50 {:.1} ms, p99 {:.1} ms | | {target} |",
            percentile(&delays, 0.5).as_secs_f64() * 1e3,
            percentile(&delays, 0.99).as_secs_f64() * 1e3
        );
        if ack == 0 {
            pre_checkout_under_backlog(&double, &gateway, &format!("http://127.0.0.1:{billing}"))
                .await?;
        }
        drop(children);
    }

    // 2. Broadcast to 1,000 users with Telegram's limits, one process.
    let prefix = format!("bench-bcast-{}", std::process::id());
    let store = Store::redis(&redis, &prefix)?;
    let mut tx = Tx::new();
    for user in 700_000..701_000i64 {
        tx.schedule("{bot}:users", &user.to_string(), user);
    }
    store.commit(&tx).await?;
    let port = mesh_tests::free_port();
    let mut env = base(&prefix);
    env.extend([
        ("GATEWAY_ADDR", format!("127.0.0.1:{port}")),
        (
            "BOT_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        ),
        (
            "BILLING_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        ),
    ]);
    let child = spawn(&bin_dir, "mesh", &["all"], &cpu, &env)?;
    let gateway = format!("http://127.0.0.1:{port}");
    mesh_tests::http::wait_ready(&gateway).await;
    let draft = text_update(9_999, ADMIN, "/broadcast bench broadcast");
    let (status, _) = post_update(&gateway, &draft, Some(SECRET)).await;
    anyhow::ensure!(status == 200, "broadcast answered {status}");
    let (status, _) = post_update(
        &gateway,
        &callback_update(10_000, ADMIN, "q-bench", "bcast:send"),
        Some(SECRET),
    )
    .await;
    anyhow::ensure!(status == 200, "confirmation answered {status}");
    let is_broadcast = |c: &mesh_tests::telegram::Call| {
        c.params["text"] == "bench broadcast" && c.params["chat_id"] != ADMIN
    };
    mesh_tests::eventually(Duration::from_secs(120), "the broadcast", || async {
        let n = double
            .successful("sendMessage")
            .iter()
            .filter(|c| is_broadcast(c))
            .count();
        (n >= 1000).then_some(())
    })
    .await;
    let times: Vec<Instant> = double
        .successful("sendMessage")
        .iter()
        .filter(|c| is_broadcast(c))
        .map(|c| c.at)
        .collect();
    let now = Instant::now();
    let span = *times.last().unwrap_or(&now) - *times.first().unwrap_or(&now);
    let rate = (times.len() as f64 - 1.0) / span.as_secs_f64();
    let busiest = times
        .iter()
        .map(|s| {
            times
                .iter()
                .filter(|t| **t >= *s && **t < *s + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    println!(
        "| Broadcast: 1,000 recipients through the outbox | {rate:.1} msg/s, busiest 1 s window {busiest} | | >= 29 msg/s, never > 30 in a second |"
    );
    drop(child);
    Ok(())
}

/// Section 1b: pre-checkout answers while the queues are deep.
async fn pre_checkout_under_backlog(
    double: &TelegramDouble,
    gateway: &str,
    billing: &str,
) -> anyhow::Result<()> {
    use mesh_proto::billing::v1::CreateStarsInvoiceRequest;
    use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
    let mut client = BillingServiceClient::new(mesh_proto::lazy_channel(billing)?);
    let payer = 899_999;
    let link = client
        .create_stars_invoice(CreateStarsInvoiceRequest {
            telegram_user_id: payer,
            plan_id: "monthly".into(),
        })
        .await?
        .into_inner()
        .url;
    let post_all = |updates: Vec<serde_json::Value>| {
        let gateway = gateway.to_owned();
        async move {
            let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
            let mut tasks = tokio::task::JoinSet::new();
            for update in updates {
                let (gateway, gate) = (gateway.clone(), gate.clone());
                tasks.spawn(async move {
                    let _permit = gate.acquire_owned().await;
                    let at = Instant::now();
                    let status = post_update(&gateway, &update, Some(SECRET)).await.0;
                    (status, at.elapsed())
                });
            }
            tasks.join_all().await
        }
    };
    let backlog = (0..5000i64)
        .map(|i| text_update(100_000 + i, 900_000 + i, "/start"))
        .collect();
    for (status, _) in post_all(backlog).await {
        anyhow::ensure!(status == 200, "webhook answered {status}");
    }
    let queries = (0..200)
        .map(|_| {
            double
                .pre_checkout_update(&link, payer)
                .ok_or_else(|| anyhow::anyhow!("no invoice {link}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let answers = post_all(queries).await;
    let replies = double.successful("sendMessage").len();
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    anyhow::ensure!(
        answers.iter().all(|(s, _)| *s == 200),
        "a pre-checkout query was refused by the gateway"
    );
    anyhow::ensure!(
        double.successful("answerPreCheckoutQuery").len() == 200,
        "not every query was answered"
    );
    times.sort();
    println!(
        "| Pre-checkout: 200 queries while 5,000 `/start`s wait in the queues ({} of 5,000 answered by then; three processes, Redis) | p50 {:.1} ms, p99 {:.1} ms | | each < 10 s (Telegram's limit) |",
        replies.saturating_sub(2001),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
    Ok(())
}
