//! Growth benchmark: costs that must stay flat as users grow. At 1k, 100k
//! and 1M users seeded in Redis (`REDIS_URL`) the way the services keep
//! them, it measures a send's blocked check, `GetStats` (billing-service
//! from `BIN_DIR`, pinned to `MESH_CPU`), the per-recipient cost of
//! queueing a broadcast (the one-process mesh, dry run) and Redis memory
//! per user; then Redis memory per remembered `update_id`, as bits and as
//! keys. Prints markdown table rows.

use std::time::{Duration, Instant};

use mesh_proto::billing::v1::GetStatsRequest;
use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_state::{NewItem, QueueConfig, Store};
use mesh_tests::http::{callback_update, post_update, text_update};
use mesh_tests::pinned;

const ADMIN: i64 = 4242;
const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];
/// Broadcast recipients timed (all of them below this many users).
const BROADCAST: u64 = 100_000;

/// A representative entitlement record (what billing stores per user).
fn record(user: u64) -> String {
    format!(
        r#"{{"user_id":{user},"customer_id":"cus_bench{user}","subscription":{{"id":"sub_bench{user}","status":"active","cancel_at_period_end":false,"period_end":1798761600,"plan_id":"monthly","past_due_since":null,"seen_ms":1796000000000,"created":1795000000,"revoked":false,"price":{{"amount":999,"currency":"usd","interval":"month","interval_count":1}}}},"grant":null,"purchase":null,"hold":null,"ever_paid":true,"trial_used":true,"shown":{{"state":"active","has_access":true,"until":1798761600,"renews":true,"plan_id":"monthly","chats":[-1001234567890],"paid_until":1798761600,"granted_until":null,"lifetime":false}},"updated_at":1796000000}}"#
    )
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<i64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

/// Seeds `n` users as bot-service and billing-service keep them.
async fn seed(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    n: u64,
) -> anyhow::Result<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let user = 1_000_000 + i;
            pipe.cmd("ZADD")
                .arg(format!("{prefix}:z:{{bot}}:users"))
                .arg(user)
                .arg(user)
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{prefix}:v:{{bot}}:lang:{user}"))
                .arg("en")
                .ignore();
            pipe.cmd("SADD")
                .arg(format!("{prefix}:s:{{billing}}:users"))
                .arg(user)
                .ignore();
            pipe.cmd("HSET")
                .arg(format!("{prefix}:r:{{billing}}:entitlement:{user}"))
                .arg("v")
                .arg(1)
                .arg("d")
                .arg(record(user))
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{prefix}:v:{{billing}}:customer:cus_bench{user}"))
                .arg(user)
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{prefix}:v:{{billing}}:customer_of:{user}"))
                .arg(format!("cus_bench{user}"))
                .ignore();
            if user % 20 == 0 {
                pipe.cmd("SADD")
                    .arg(format!("{prefix}:s:{{bot}}:blocked"))
                    .arg(user)
                    .ignore();
            }
        }
        pipe.query_async::<()>(conn).await?;
    }
    // The counters billing keeps with every change.
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:v:{{billing}}:count:state:active"))
        .arg(n)
        .query_async(conn)
        .await?;
    Ok(())
}

/// Every key matching `pattern`, by SCAN (the server keeps serving).
async fn keys_matching(
    conn: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> anyhow::Result<Vec<String>> {
    let (mut cursor, mut all) = (0u64, Vec::new());
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(conn)
            .await?;
        all.extend(keys);
        if next == 0 {
            return Ok(all);
        }
        cursor = next;
    }
}

async fn wipe(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> anyhow::Result<()> {
    for keys in keys_matching(conn, &format!("{prefix}*"))
        .await?
        .chunks(10_000)
    {
        let _: () = redis::cmd("UNLINK").arg(keys).query_async(conn).await?;
    }
    Ok(())
}

/// One size's measurements: (send µs, stats ms, broadcast µs per recipient, bytes per user).
async fn measure(
    size: u64,
    redis: &str,
    bin_dir: &str,
    cpu: &str,
    plans: &str,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let prefix = format!("bench-growth-{size}-{}", std::process::id());
    let client = redis::Client::open(redis)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let before = used_memory(&mut conn).await?;
    seed(&mut conn, &prefix, size).await?;
    let per_user = (used_memory(&mut conn).await? - before) as f64 / size as f64;

    // A send's blocked check.
    let store = Store::redis(redis, &prefix)?;
    let checks = 5_000u64;
    let started = Instant::now();
    for i in 0..checks {
        let user = 1_000_000 + (i * 7919) % size;
        store
            .set_contains("{bot}:blocked", &user.to_string())
            .await?;
    }
    let send_us = started.elapsed().as_secs_f64() * 1e6 / checks as f64;

    // GetStats against billing-service.
    let port = mesh_tests::free_port();
    let env = vec![
        ("REDIS_URL", redis.to_owned()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
        ("BILLING_SERVICE_ADDR", format!("127.0.0.1:{port}")),
        ("BILLING_METRICS_ADDR", "off".to_owned()),
        ("PLANS_FILE", plans.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let billing = pinned::spawn(bin_dir, "billing-service", &[], cpu, &env, None)?;
    let mut client = BillingServiceClient::new(mesh_proto::lazy_channel(&format!(
        "http://127.0.0.1:{port}"
    ))?);
    mesh_tests::eventually(Duration::from_secs(20), "billing-service", || {
        let mut c = client.clone();
        async move { c.get_stats(GetStatsRequest {}).await.ok().map(|_| ()) }
    })
    .await;
    let calls = 50u32;
    let started = Instant::now();
    for _ in 0..calls {
        client.get_stats(GetStatsRequest {}).await?;
    }
    let stats_ms = started.elapsed().as_secs_f64() * 1e3 / f64::from(calls);
    drop(billing);

    // Queueing a broadcast (a dry run: the outbox only logs).
    let port = mesh_tests::free_port();
    let env = vec![
        ("REDIS_URL", redis.to_owned()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
        ("GATEWAY_ADDR", format!("127.0.0.1:{port}")),
        (
            "BOT_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        ),
        (
            "BILLING_SERVICE_URL",
            format!("http://127.0.0.1:{}", mesh_tests::free_port()),
        ),
        ("BOT_METRICS_ADDR", "off".to_owned()),
        ("BILLING_METRICS_ADDR", "off".to_owned()),
        ("ADMIN_USER_IDS", ADMIN.to_string()),
        ("PLANS_FILE", plans.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
        ("TELEGRAM_WEBHOOK_SECRET", "benchsecret".to_owned()),
    ];
    let mesh = pinned::spawn(bin_dir, "mesh", &["all"], cpu, &env, None)?;
    let gateway = format!("http://127.0.0.1:{port}");
    mesh_tests::http::wait_ready(&gateway).await;
    post_update(
        &gateway,
        &text_update(9_999, ADMIN, "/broadcast growth"),
        Some("benchsecret"),
    )
    .await;
    post_update(
        &gateway,
        &callback_update(10_000, ADMIN, "q-growth", "bcast:send"),
        Some("benchsecret"),
    )
    .await;
    // Timed from the first step's recipients to the last wanted, polled
    // finely: start-up and the first claim are not per-recipient costs, and
    // would swamp the 1k figure.
    let want = size.min(BROADCAST);
    let queued = || {
        let store = store.clone();
        async move {
            let total = store
                .get("{bot}:broadcast:u9999:total")
                .await
                .ok()
                .flatten()?;
            String::from_utf8(total).ok()?.parse::<u64>().ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let (first, started) = loop {
        if let Some(n) = queued().await.filter(|n| *n > 0) {
            break (n, Instant::now());
        }
        anyhow::ensure!(Instant::now() < deadline, "the broadcast never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    while queued().await.unwrap_or(0) < want {
        anyhow::ensure!(Instant::now() < deadline, "the broadcast stalled");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let broadcast_us = started.elapsed().as_secs_f64() * 1e6 / (want - first).max(1) as f64;
    drop(mesh);
    wipe(&mut conn, &prefix).await?;
    Ok((send_us, stats_ms, broadcast_us, per_user))
}

/// Bytes per remembered id: 1M update ids as bits, and 100k ids as keys.
async fn dedup_memory(redis: &str) -> anyhow::Result<(f64, f64)> {
    let prefix = format!("bench-dedup-{}", std::process::id());
    let store = Store::redis(redis, &prefix)?;
    let client = redis::Client::open(redis)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let span = tracing::Span::none();
    let enqueue = |config: QueueConfig, from: u64, count: u64| {
        let store = store.clone();
        let span = span.clone();
        async move {
            let ids: Vec<String> = (from..from + count).map(|i| i.to_string()).collect();
            for batch in ids.chunks(500) {
                let items: Vec<NewItem<'_>> = batch
                    .iter()
                    .map(|id| NewItem {
                        id,
                        partition: "p",
                        item: b"",
                        remember_only: true,
                        parent: &span,
                    })
                    .collect();
                store.enqueue_many("dedup", &config, &items).await?;
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    let bits_config = QueueConfig {
        sequence_ids: true,
        ..QueueConfig::default()
    };
    enqueue(bits_config, 500_000_000, 1_000_000).await?;
    let mut bits = 0i64;
    for key in keys_matching(&mut conn, &format!("{prefix}*:bits:*")).await? {
        let usage: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        bits += usage.unwrap_or(0);
    }
    let key_config = QueueConfig::default();
    enqueue(key_config, 0, 100_000).await?;
    let mut sampled = 0i64;
    for i in 0..1000u64 {
        let key = format!("{prefix}:{{{prefix}:q:dedup}}:seen:{}", i * 100);
        let usage: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        sampled += usage.unwrap_or(0);
    }
    wipe(&mut conn, &prefix).await?;
    Ok((bits as f64 / 1_000_000.0, sampled as f64 / 1000.0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let bin_dir = std::env::var("BIN_DIR")?;
    let redis = std::env::var("REDIS_URL")?;
    let cpu = std::env::var("MESH_CPU").unwrap_or_else(|_| "0".into());
    let plans = std::env::var("PLANS_FILE")?;
    let mut rows = Vec::new();
    for size in SIZES {
        let m = measure(size, &redis, &bin_dir, &cpu, &plans).await?;
        eprintln!(
            "{size} users: send {:.1} µs, stats {:.2} ms, broadcast {:.1} µs/recipient, {:.0} B/user",
            m.0, m.1, m.2, m.3
        );
        rows.push(m);
    }
    let spread = |f: fn(&(f64, f64, f64, f64)) -> f64| {
        let values: Vec<f64> = rows.iter().map(f).collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        hi / lo
    };
    let cells = |f: fn(&(f64, f64, f64, f64)) -> f64, unit: &str, digits: usize| {
        SIZES
            .iter()
            .zip(&rows)
            .map(|(s, r)| format!("{}: {:.*} {unit}", label(*s), digits, f(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| Growth: a send's blocked check (SISMEMBER) | {} | {:.2}x from 1k to 1M | within 2x |",
        cells(|r| r.0, "µs", 1),
        spread(|r| r.0)
    );
    println!(
        "| Growth: `/stats` (GetStats, counters) | {} | {:.2}x | within 2x |",
        cells(|r| r.1, "ms", 2),
        spread(|r| r.1)
    );
    println!(
        "| Growth: queueing a broadcast, per recipient (up to 100k recipients) | {} | {:.2}x | within 2x |",
        cells(|r| r.2, "µs", 1),
        spread(|r| r.2)
    );
    println!(
        "| Redis memory per user (bot registry, language, billing record and indexes) | {} | | |",
        cells(|r| r.3, "B", 0)
    );
    let (bits, keys) = dedup_memory(&redis).await?;
    println!(
        "| Redis memory per remembered `update_id` | {bits:.3} B as bits (1M ids); {keys:.0} B as a key per id (earlier) | {:.0}x less | <= 2 B |",
        keys / bits
    );
    Ok(())
}

fn label(size: u64) -> &'static str {
    match size {
        1_000 => "1k",
        100_000 => "100k",
        _ => "1M",
    }
}
