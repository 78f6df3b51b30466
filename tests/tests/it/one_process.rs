//! The one-process mode (`mesh all`): a `/start` posted to the gateway
//! reaches the Bot API double as a real `sendMessage`, with the plans that
//! bot-service fetched from billing-service over gRPC.

use std::time::Duration;

use mesh::Target;
use mesh_tests::http::{post_update, text_update};
use mesh_tests::mesh::RunningMesh;
use mesh_tests::telegram::TelegramDouble;
use serde_json::Value;

/// /start and /help answered through the Bot API, per chat in order.
#[tokio::test]
async fn start_reaches_the_bot_api() {
    let double = TelegramDouble::start().await;
    let mesh = RunningMesh::start(
        Target::All,
        &[
            ("TELEGRAM_BOT_TOKEN", double.token.clone()),
            ("TELEGRAM_API_URL", double.url.clone()),
        ],
    )
    .await;
    assert_eq!(
        post_update(&mesh.gateway, &text_update(1, 4242, "/start"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        post_update(&mesh.gateway, &text_update(2, 4242, "/help"), None)
            .await
            .0,
        200
    );
    let sent = mesh_tests::eventually(Duration::from_secs(10), "two replies", || async {
        let m = double.messages_to(4242);
        (m.len() == 2).then_some(m)
    })
    .await;
    let text = |v: &Value| v["text"].as_str().unwrap_or_default().to_owned();
    let welcome = text(&sent[0]);
    assert!(welcome.starts_with("Welcome, Ann!"), "{welcome}");
    assert!(
        welcome.contains("Monthly") && welcome.contains("Yearly"),
        "plans from billing: {welcome}"
    );
    assert!(
        text(&sent[1]).contains("/subscribe"),
        "help second, in update order"
    );
    assert_eq!(sent[0]["chat_id"], 4242);
    mesh.stop().await.unwrap();
}

/// Without a token nothing is sent (dry run), yet the update is accepted.
#[tokio::test]
async fn dry_run_sends_nothing() {
    let double = TelegramDouble::start().await;
    let mesh = RunningMesh::start(Target::All, &[("TELEGRAM_API_URL", double.url.clone())]).await;
    assert_eq!(
        post_update(&mesh.gateway, &text_update(1, 7, "/start"), None)
            .await
            .0,
        200
    );
    mesh.stop().await.unwrap();
    assert!(double.calls().is_empty());
}
