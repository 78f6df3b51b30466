//! End-to-end and broadcast benchmark: starts the Bot API double in this
//! process and the one-process mesh (`MESH_BIN`, pinned with `taskset` to
//! `MESH_CPU`) against it, then
//! - posts `/start` from distinct private chats at 20/s for 10 s and
//!   measures post -> `sendMessage` receipt at the double (p50/p99);
//! - seeds 1,000 users in Redis (`REDIS_URL`), has the admin broadcast to
//!   them, and measures the achieved rate and the busiest one-second window.
//!
//! Prints markdown table rows.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mesh_tests::http::{post_update, text_update};
use mesh_tests::telegram::TelegramDouble;

const ADMIN: i64 = 4242;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let mesh_bin = std::env::var("MESH_BIN")?;
    let redis = std::env::var("REDIS_URL")?;
    let cpu = std::env::var("MESH_CPU").unwrap_or_else(|_| "0".into());
    let prefix = format!("bench-{}", std::process::id());
    let port = mesh_tests::free_port();
    let double = TelegramDouble::start().await;
    let mut child = Command::new("taskset")
        .args(["-c", &cpu, &mesh_bin, "all"])
        .env("GATEWAY_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "BOT_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        )
        .env(
            "BILLING_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        )
        .env("BOT_METRICS_ADDR", "off")
        .env("BILLING_METRICS_ADDR", "off")
        .env("REDIS_URL", &redis)
        .env("REDIS_KEY_PREFIX", &prefix)
        .env("TELEGRAM_BOT_TOKEN", &double.token)
        .env("TELEGRAM_API_URL", &double.url)
        .env("ADMIN_USER_IDS", ADMIN.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let gateway = format!("http://127.0.0.1:{port}");
    mesh_tests::http::wait_ready(&gateway).await;

    // End to end: /start at 20 per second from distinct chats.
    let mut sent = Vec::new();
    let start = Instant::now();
    for i in 0..200i64 {
        let due = start + Duration::from_millis(50 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        let chat = 500_000 + i;
        let at = Instant::now();
        let (status, _) =
            post_update(&gateway, &text_update(1_000 + i, chat, "/start"), None).await;
        anyhow::ensure!(status == 200, "webhook answered {status}");
        sent.push((chat, at));
    }
    mesh_tests::eventually(Duration::from_secs(30), "all /start replies", || async {
        (double.successful("sendMessage").len() >= sent.len()).then_some(())
    })
    .await;
    let calls = double.successful("sendMessage");
    let mut delays: Vec<Duration> = sent
        .iter()
        .filter_map(|(chat, at)| {
            calls
                .iter()
                .find(|c| c.params["chat_id"] == *chat)
                .map(|c| c.at - *at)
        })
        .collect();
    delays.sort();
    println!(
        "| End to end: `/start` at 20/s -> `sendMessage` at the Bot API double | p50 {:.1} ms, p99 {:.1} ms | | p99 <= 25 ms |",
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3
    );

    // Broadcast to 1,000 users seeded in the registry.
    let client = redis::Client::open(redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let users: Vec<i64> = (0..1000).map(|i| 700_000 + i).collect();
    let _: () = redis::cmd("SADD")
        .arg(format!("{prefix}:s:bot:users"))
        .arg(&users)
        .query_async(&mut conn)
        .await?;
    let (status, _) = post_update(
        &gateway,
        &text_update(9_999, ADMIN, "/broadcast bench broadcast"),
        None,
    )
    .await;
    anyhow::ensure!(status == 200, "broadcast answered {status}");
    mesh_tests::eventually(Duration::from_secs(120), "the broadcast", || async {
        let n = double
            .successful("sendMessage")
            .iter()
            .filter(|c| c.params["text"] == "bench broadcast")
            .count();
        (n >= 1000).then_some(())
    })
    .await;
    let times: Vec<Instant> = double
        .successful("sendMessage")
        .iter()
        .filter(|c| c.params["text"] == "bench broadcast")
        .map(|c| c.at)
        .collect();
    let span = *times.last().unwrap_or(&start) - *times.first().unwrap_or(&start);
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
    let _ = child.kill();
    let _ = child.wait();
    let _: () = redis::cmd("EVAL")
        .arg("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end")
        .arg(0)
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    Ok(())
}
