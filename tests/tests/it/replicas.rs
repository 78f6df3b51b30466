//! Two gateway replicas, each in front of its own bot-service replica, all
//! sharing one Redis: the same `update_id` delivered to both takes effect
//! once.

use std::time::Duration;

use mesh::Target;
use mesh_tests::http::{post_update, text_update};
use mesh_tests::mesh::RunningMesh;
use mesh_tests::telegram::TelegramDouble;

/// One update, delivered to two gateways at once and again later, is answered once.
#[tokio::test]
async fn duplicate_across_replicas_takes_effect_once() {
    let double = TelegramDouble::start().await;
    let shared = [
        ("REDIS_URL", mesh_tests::shared_redis_url()),
        ("REDIS_KEY_PREFIX", mesh_tests::unique_prefix("replicas")),
        ("TELEGRAM_BOT_TOKEN", double.token.clone()),
        ("TELEGRAM_API_URL", double.url.clone()),
    ];
    let billing = RunningMesh::start(Target::Billing, &shared).await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut vars = shared.to_vec();
        vars.push(("BILLING_SERVICE_URL", billing.billing.clone()));
        let bot = RunningMesh::start(Target::Bot, &vars).await;
        vars.push(("BOT_SERVICE_URL", bot.bot.clone()));
        let gateway = RunningMesh::start(Target::Gateway, &vars).await;
        replicas.push((gateway, bot));
    }
    let update = text_update(900_001, 8080, "/help");
    let (a, b) = tokio::join!(
        post_update(&replicas[0].0.gateway, &update, None),
        post_update(&replicas[1].0.gateway, &update, None)
    );
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(
        post_update(&replicas[1].0.gateway, &update, None).await.0,
        200
    );
    // A later update of the same chat: once it is answered, everything
    // queued before it in that chat has been handled.
    assert_eq!(
        post_update(
            &replicas[0].0.gateway,
            &text_update(900_002, 8080, "/start"),
            None
        )
        .await
        .0,
        200
    );
    let sent = mesh_tests::eventually(Duration::from_secs(10), "the marker reply", || async {
        let m = double.messages_to(8080);
        m.iter()
            .any(|v| v["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
            .then_some(m)
    })
    .await;
    let helps = sent
        .iter()
        .filter(|v| v["text"].as_str().is_some_and(|t| t.starts_with("Here is")))
        .count();
    assert_eq!(helps, 1, "{sent:?}");
    assert_eq!(sent.len(), 2, "the /help came first, once; then the /start");
    for (gateway, bot) in replicas {
        gateway.stop().await.unwrap();
        bot.stop().await.unwrap();
    }
    billing.stop().await.unwrap();
}
