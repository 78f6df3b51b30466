//! Redis stopped under a running mesh: webhooks answer 503 (so Telegram
//! retries) and /ready says why; Redis back: both recover with no restart,
//! and everything accepted is handled exactly once.

use std::time::Duration;

use mesh::Target;
use mesh_tests::http::{client, post_update, text_update, wait_ready};
use mesh_tests::mesh::RunningMesh;
use mesh_tests::redis_server::RedisServer;
use mesh_tests::telegram::TelegramDouble;
use serde_json::Value;

async fn ready(gateway: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{gateway}/ready"))
        .send()
        .await
        .expect("ready");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// 503 and an unready /ready during the outage; full recovery after it.
#[tokio::test]
async fn redis_outage_and_recovery() {
    let mut redis = RedisServer::start().await;
    let double = TelegramDouble::start().await;
    let mesh = RunningMesh::start(
        Target::All,
        &[
            ("REDIS_URL", redis.url()),
            ("REDIS_KEY_PREFIX", "outage".to_owned()),
            ("TELEGRAM_BOT_TOKEN", double.token.clone()),
            ("TELEGRAM_API_URL", double.url.clone()),
        ],
    )
    .await;
    let g = mesh.gateway.clone();
    assert_eq!(
        post_update(&g, &text_update(1, 31, "/help"), None).await.0,
        200
    );
    mesh_tests::eventually(Duration::from_secs(10), "first reply", || async {
        (double.messages_to(31).len() == 1).then_some(())
    })
    .await;
    assert_eq!(ready(&g).await.0, 200);

    redis.stop();
    let (status, body) = post_update(&g, &text_update(2, 31, "/help"), None).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = ready(&g).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unhealthy");
    assert_ne!(body["services"]["redis"], "ok", "{body}");

    redis.start_again().await;
    // Telegram's retries: the same update until it is accepted.
    mesh_tests::eventually(
        Duration::from_secs(20),
        "update 2 accepted after recovery",
        || {
            let g = g.clone();
            async move {
                (post_update(&g, &text_update(2, 31, "/help"), None).await.0 == 200).then_some(())
            }
        },
    )
    .await;
    mesh_tests::eventually(Duration::from_secs(20), "/ready recovered", || {
        let g = g.clone();
        async move { (ready(&g).await.0 == 200).then_some(()) }
    })
    .await;
    mesh_tests::eventually(Duration::from_secs(10), "second reply", || async {
        (double.messages_to(31).len() == 2).then_some(())
    })
    .await;
    // A duplicate of the retried update has no further effect.
    assert_eq!(
        post_update(&g, &text_update(2, 31, "/help"), None).await.0,
        200
    );
    assert_eq!(
        post_update(&g, &text_update(3, 31, "/start"), None).await.0,
        200
    );
    let sent = mesh_tests::eventually(Duration::from_secs(10), "marker reply", || async {
        let m = double.messages_to(31);
        (m.len() >= 3).then_some(m)
    })
    .await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    mesh.stop().await.unwrap();
}

/// `/ready` says what an acknowledged update survives, as Redis is set up
/// right now: an append-only file, or nothing at all (a default Debian
/// install keeps nothing); the in-process store says so too. A detail,
/// never a reason to leave the Service.
#[tokio::test]
async fn ready_says_what_redis_keeps() {
    let redis = RedisServer::start().await;
    let mesh = RunningMesh::start(
        Target::All,
        &[
            ("REDIS_URL", redis.url()),
            ("REDIS_KEY_PREFIX", "durability".to_owned()),
        ],
    )
    .await;
    // Read once every process answers its health check: the detail is
    // there from the first probe, but the status only once all are up.
    wait_ready(&mesh.gateway).await;
    let (status, body) = ready(&mesh.gateway).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"]["durability"], "AOF, appendfsync always");
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query_async(&mut conn)
        .await
        .expect("CONFIG SET");
    let (status, body) = ready(&mesh.gateway).await;
    assert_eq!(status, 200, "kept nothing is said, not failed: {body}");
    let said = body["services"]["durability"].as_str().unwrap_or_default();
    assert!(said.starts_with("nothing"), "{said}");
    mesh.stop().await.unwrap();

    let memory = RunningMesh::start(Target::All, &[]).await;
    wait_ready(&memory.gateway).await;
    let (_, body) = ready(&memory.gateway).await;
    let said = body["services"]["durability"].as_str().unwrap_or_default();
    assert!(said.starts_with("in-process"), "{said}");
    memory.stop().await.unwrap();
}
