//! Local development without a public URL: `getUpdates` long polling
//! feeding the same path as webhooks, and the webhook management commands.

use std::process::Command;
use std::time::Duration;

use mesh::Target;
use mesh_tests::http::text_update;
use mesh_tests::mesh::RunningMesh;
use mesh_tests::telegram::TelegramDouble;

/// Polled updates are handled like webhook ones, each once, with the
/// offset confirming what was queued.
#[tokio::test]
async fn polling_feeds_the_same_path() {
    let double = TelegramDouble::start().await;
    let mesh = RunningMesh::start(
        Target::All,
        &[
            ("TELEGRAM_BOT_TOKEN", double.token.clone()),
            ("TELEGRAM_API_URL", double.url.clone()),
            ("TELEGRAM_POLLING", "true".into()),
            ("BOT_CHAT_SEND_INTERVAL_MS", "50".into()),
        ],
    )
    .await;
    double.push_update(text_update(700, 61, "/help"));
    double.push_update(text_update(701, 62, "/start"));
    mesh_tests::eventually(Duration::from_secs(10), "both replies", || async {
        (double.messages_to(61).len() == 1 && double.messages_to(62).len() == 1).then_some(())
    })
    .await;
    double.push_update(text_update(702, 61, "/plans"));
    mesh_tests::eventually(Duration::from_secs(10), "the third reply", || async {
        (double.messages_to(61).len() == 2).then_some(())
    })
    .await;
    let polls = double.successful("getUpdates");
    let last = polls.last().unwrap();
    assert!(
        last.params["offset"].as_i64().unwrap() >= 702,
        "offset confirms handled updates: {:?}",
        last.params
    );
    let allowed = last.params["allowed_updates"].as_array().unwrap();
    for kind in [
        "message",
        "callback_query",
        "chat_member",
        "chat_join_request",
    ] {
        assert!(allowed.iter().any(|a| a == kind), "{kind} requested");
    }
    assert!(last.params["timeout"].as_i64().unwrap() > 0, "long polling");
    mesh.stop().await.unwrap();
    assert_eq!(double.messages_to(61).len(), 2, "nothing handled twice");
}

/// Runs `bot-service webhook ...` on the blocking pool, so the double
/// (served by this test's runtime) keeps answering.
async fn webhook(double: &TelegramDouble, args: &[&str], with_token: bool) -> std::process::Output {
    let mut command = Command::new(mesh_tests::process::bin("bot-service"));
    command
        .env_clear()
        .arg("webhook")
        .args(args)
        .env("TELEGRAM_API_URL", &double.url)
        .env("TELEGRAM_WEBHOOK_SECRET", "hook_secret-1");
    if with_token {
        command.env("TELEGRAM_BOT_TOKEN", &double.token);
    }
    tokio::task::spawn_blocking(move || command.output().expect("run bot-service webhook"))
        .await
        .expect("join")
}

/// set (URL, secret, allowed_updates with chat_member and
/// chat_join_request, max_connections, drop_pending_updates), info
/// (pending count and last error), delete.
#[tokio::test]
async fn webhook_commands() {
    let double = TelegramDouble::start().await;
    double.push_update(text_update(1, 1, "old"));
    let out = webhook(
        &double,
        &[
            "set",
            "https://bot.example.com/telegram-webhook",
            "--max-connections",
            "50",
            "--drop-pending-updates",
        ],
        true,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set = double.successful("setWebhook");
    let p = &set[0].params;
    assert_eq!(p["url"], "https://bot.example.com/telegram-webhook");
    assert_eq!(p["secret_token"], "hook_secret-1");
    assert_eq!(p["max_connections"], 50);
    assert_eq!(p["drop_pending_updates"], true);
    let allowed: Vec<&str> = p["allowed_updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for kind in [
        "message",
        "callback_query",
        "chat_member",
        "chat_join_request",
        "my_chat_member",
    ] {
        assert!(allowed.contains(&kind), "{kind} in {allowed:?}");
    }

    double.push_update(text_update(2, 1, "new"));
    let out = webhook(&double, &["info"], true).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("url: https://bot.example.com/telegram-webhook"),
        "{text}"
    );
    assert!(text.contains("pending_update_count: 1"), "{text}");
    assert!(
        text.contains("last_error: Wrong response from the webhook"),
        "{text}"
    );

    let out = webhook(&double, &["delete"], true).await;
    assert!(out.status.success());
    assert_eq!(double.successful("deleteWebhook").len(), 1);

    let out = webhook(&double, &["set", "http://insecure.example.com"], true).await;
    assert!(!out.status.success(), "Telegram refuses non-HTTPS webhooks");
    let out = webhook(&double, &["info"], false).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TELEGRAM_BOT_TOKEN"));
    let out = webhook(
        &double,
        &["set", "https://x.example.com", "--max-connections", "500"],
        true,
    )
    .await;
    assert!(!out.status.success());
}
