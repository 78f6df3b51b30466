//! The bot as a Telegram user sees it: real update JSON through the
//! gateway, replies checked at the Bot API double (methods and key
//! parameters).

use std::time::Duration;

use mesh_proto::billing::v1::EntitlementState;
use mesh_tests::http::{
    callback_update, chat_member_update, group_update, join_request_update, text_update,
};
use mesh_tests::product::{ADMIN, PREMIUM_CHAT, Product, callback_buttons};
use serde_json::{Value, json};

fn spanish(update_id: i64, user: i64, text: &str) -> Value {
    let mut u = text_update(update_id, user, text);
    u["message"]["from"]["language_code"] = json!("es-ES");
    u
}

/// /start (also with the Checkout deep links), /help, /plans, /status,
/// /portal, unknown input, a second language, and groups.
#[tokio::test]
async fn commands() {
    let p = Product::start("commands", &[]).await;
    let u = 7001;
    p.post(&text_update(1, u, "/start")).await;
    let welcome = p.wait_message(u, "Welcome, Ann!").await;
    assert!(welcome["text"].as_str().unwrap().contains("Monthly"));
    p.post(&text_update(2, u, "/start paid")).await;
    p.wait_message(u, "Your payment is being confirmed").await;
    p.post(&text_update(3, u, "/help")).await;
    let help = p.wait_message(u, "Here is what I can do").await;
    assert!(
        !help["text"].as_str().unwrap().contains("/broadcast"),
        "no admin commands for users"
    );
    p.post(&text_update(4, u, "/plans")).await;
    p.wait_message(u, "Plans:\n• Monthly").await;
    p.post(&text_update(5, u, "/status")).await;
    p.wait_message(u, "You don't have a subscription yet").await;
    p.post(&text_update(6, u, "hello there")).await;
    p.wait_message(u, "didn't understand").await;
    p.post(&spanish(7, u, "/help")).await;
    p.wait_message(u, "Esto es lo que puedo hacer").await;

    // Groups: quiet unless a command names this bot.
    let group = -500;
    p.post(&group_update(8, group, u, "/help")).await;
    p.post(&group_update(9, group, u, "hello everyone")).await;
    p.post(&group_update(10, group, u, "/help@test_bot")).await;
    p.wait_message(group, "Here is what I can do").await;
    assert_eq!(p.telegram.messages_to(group).len(), 1);

    // A subscriber's status and portal.
    p.subscribe(u).await;
    p.post(&text_update(11, u, "/status")).await;
    p.wait_message(u, "State: active").await;
    p.post(&text_update(12, u, "/portal")).await;
    let portal = p.wait_message(u, "Manage your payment method").await;
    assert!(
        mesh_tests::product::url_buttons(&portal)[0].starts_with("https://billing.stripe.test/")
    );
    p.stop().await;
}

/// /cancel asks first (state in the shared store), then cancels at period
/// end through billing; every callback query is answered.
#[tokio::test]
async fn cancel_dialogue() {
    let p = Product::start("cancel", &[]).await;
    let u = 7101;
    p.subscribe(u).await;
    p.post(&text_update(1, u, "/cancel")).await;
    let ask = p.wait_message(u, "Cancel your subscription?").await;
    assert_eq!(callback_buttons(&ask), vec!["cancel:yes", "cancel:no"]);
    p.post(&callback_update(2, u, "cb-no", "cancel:no")).await;
    p.wait_message(u, "stays as it is").await;
    assert_eq!(p.entitlement(u).await.state(), EntitlementState::Active);

    p.post(&text_update(3, u, "/cancel")).await;
    p.post(&callback_update(4, u, "cb-yes", "cancel:yes")).await;
    p.wait_message(u, "Your subscription is cancelled").await;
    let e = p.entitlement(u).await;
    assert_eq!(
        (e.state(), e.has_access),
        (EntitlementState::Canceled, true)
    );
    // The confirmation was used up.
    p.post(&callback_update(5, u, "cb-again", "cancel:yes"))
        .await;
    p.wait_message(u, "confirmation has expired").await;
    for id in ["cb-no", "cb-yes", "cb-again"] {
        p.wait_call(id, |c| {
            c.method == "answerCallbackQuery" && c.params["callback_query_id"] == id
        })
        .await;
    }
    p.stop().await;
}

/// Join requests approved for the entitled, declined for strangers; a
/// stranger who got in is removed; an entitled member is left alone.
#[tokio::test]
async fn premium_chat_gate() {
    let p = Product::start("gate", &[]).await;
    let (member, stranger) = (7201, 7202);
    p.subscribe(member).await;
    p.post(&join_request_update(1, PREMIUM_CHAT, member)).await;
    p.wait_call("approval", |c| {
        c.method == "approveChatJoinRequest" && c.params["user_id"] == member
    })
    .await;
    p.post(&join_request_update(2, PREMIUM_CHAT, stranger))
        .await;
    p.wait_call("decline", |c| {
        c.method == "declineChatJoinRequest" && c.params["user_id"] == stranger
    })
    .await;
    p.wait_message(stranger, "you need an active subscription")
        .await;

    p.post(&chat_member_update(
        3,
        PREMIUM_CHAT,
        stranger,
        "left",
        "member",
    ))
    .await;
    p.wait_call("stranger banned", |c| {
        c.method == "banChatMember" && c.params["user_id"] == stranger
    })
    .await;
    p.wait_call("and unbanned", |c| {
        c.method == "unbanChatMember" && c.params["user_id"] == stranger
    })
    .await;
    p.wait_message(stranger, "You were removed").await;

    p.post(&chat_member_update(
        4,
        PREMIUM_CHAT,
        member,
        "left",
        "member",
    ))
    .await;
    // A later update in the member's chat: once answered, update 4 was handled.
    p.post(&text_update(5, member, "/help")).await;
    p.wait_message(member, "Here is what I can do").await;
    assert!(
        !p.telegram
            .calls()
            .iter()
            .any(|c| c.method == "banChatMember" && c.params["user_id"] == member)
    );
    // Other chats' membership is none of the bot's business.
    p.post(&chat_member_update(6, -999, stranger, "left", "member"))
        .await;
    p.stop().await;
}

/// Admin commands work for ADMIN_USER_IDS and are refused (as unknown
/// commands) to everyone else.
#[tokio::test]
async fn admin_commands() {
    let p = Product::start("admin", &[]).await;
    let user = 7301;
    for (i, cmd) in [
        "/stats",
        "/grant 7302 monthly 30",
        "/revoke 7302",
        "/broadcast hi",
    ]
    .iter()
    .enumerate()
    {
        p.post(&text_update(i as i64 + 1, user, cmd)).await;
    }
    p.post(&text_update(10, user, "/help")).await;
    p.wait_message(user, "Here is what I can do").await;
    let texts: Vec<String> = p
        .telegram
        .messages_to(user)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("didn't understand"))
            .count(),
        4,
        "{texts:?}"
    );
    assert_eq!(
        p.entitlement(7302).await.state(),
        EntitlementState::None,
        "no grant happened"
    );

    p.post(&text_update(20, ADMIN, "/help")).await;
    p.wait_message(ADMIN, "/broadcast").await;
    p.post(&text_update(
        21,
        ADMIN,
        "/grant 7302 monthly 30 giveaway winner",
    ))
    .await;
    p.wait_message(ADMIN, "7302 has monthly until").await;
    p.wait_state(7302, EntitlementState::Active).await;
    p.wait_call("grant invite", |c| c.method == "createChatInviteLink")
        .await;
    let audit = p
        .billing()
        .list_audit_log(mesh_proto::billing::v1::ListAuditLogRequest {
            telegram_user_id: 7302,
            limit: 5,
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].reason.as_str()),
        ("telegram:9000", "giveaway winner")
    );
    p.post(&text_update(22, ADMIN, "/stats")).await;
    p.wait_message(ADMIN, "With access: 1").await;
    p.post(&text_update(23, ADMIN, "/revoke 7302 testing"))
        .await;
    p.wait_message(ADMIN, "7302 no longer has access").await;
    p.wait_state(7302, EntitlementState::Expired).await;
    p.wait_call("revoked member removed", |c| {
        c.method == "banChatMember" && c.params["user_id"] == 7302
    })
    .await;
    p.post(&text_update(24, ADMIN, "/grant nonsense")).await;
    p.wait_message(ADMIN, "Usage: /grant").await;
    p.stop().await;
}

/// A flooding user is told once to slow down, then ignored.
#[tokio::test]
async fn flood_limit() {
    let p = Product::start(
        "flood",
        &[
            ("BOT_USER_RATE_PER_MIN", "2".into()),
            ("BOT_USER_BURST", "2".into()),
        ],
    )
    .await;
    let u = 7401;
    for i in 1..=6 {
        p.post(&text_update(i, u, "/help")).await;
    }
    p.wait_message(u, "slow down").await;
    // Let the outbox drain what was queued.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let texts: Vec<String> = p
        .telegram
        .messages_to(u)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("Here is what I can do"))
            .count(),
        2,
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| t.contains("slow down")).count(),
        1,
        "{texts:?}"
    );
    p.stop().await;
}

/// A non-renewing plan (here a one-day grant) is reminded of before it
/// ends, once.
#[tokio::test]
async fn reminder_before_a_non_renewing_end() {
    let p = Product::start(
        "reminder",
        &[
            ("BILLING_REMINDER_DAYS", "2".into()),
            ("BILLING_SWEEP_INTERVAL_SECS", "1".into()),
        ],
    )
    .await;
    p.post(&text_update(1, ADMIN, "/grant 7501 monthly 1 trial day"))
        .await;
    p.wait_state(7501, EntitlementState::Active).await;
    p.wait_message(7501, "Heads up: your access ends on").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let reminders = p
        .telegram
        .messages_to(7501)
        .iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.contains("Heads up")))
        .count();
    assert_eq!(reminders, 1, "one reminder, not one per sweep");
    p.stop().await;
}
