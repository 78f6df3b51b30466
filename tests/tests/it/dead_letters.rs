//! Dead letters: each carries its reason, is counted and listed, and is
//! replayed by the `mesh dead-letters` command or the bot.v1 RPC. What
//! waits on another service backs off for minutes instead of giving up; a
//! call that only waited for its send slot has not used an attempt.

use std::time::Duration;

use mesh_proto::billing::v1::GrantEntitlementRequest;
use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
use mesh_proto::bot::v1::{ListDeadLettersRequest, ReplayDeadLettersRequest};
use mesh_tests::http::{join_request_update, post_update, text_update};
use mesh_tests::process::MeshProcesses;
use mesh_tests::product::{PRICES, Product};
use mesh_tests::stripe_double::StripeDouble;
use mesh_tests::telegram::{Failure, TelegramDouble};
use serde_json::json;

fn bot(p: &Product) -> BotServiceClient<tonic::transport::Channel> {
    BotServiceClient::new(mesh_proto::lazy_channel(&p.mesh.bot).expect("channel"))
}

/// Runs `mesh` with `args` against the product's bot-service; its stdout.
async fn mesh_cli(p: &Product, args: &[&str]) -> String {
    let bin = mesh_tests::process::bin("mesh");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let url = p.mesh.bot.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(args)
            .env_clear()
            .env("BOT_SERVICE_URL", url)
            .output()
            .expect("run mesh")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "mesh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An update this version cannot read, and a call Telegram keeps failing:
/// both dead letters, with their reasons, listed by the RPC and the CLI;
/// the call replayed by the CLI goes out once; a replayed update that still
/// can't be read comes back as a dead letter.
#[tokio::test]
async fn listed_counted_and_replayed() {
    // One attempt: teloxide waits 10 s after a 5xx before it answers.
    let p = Product::start("dead_letters", &[("BOT_MAX_ATTEMPTS", "1".to_owned())]).await;
    // No message_id, no date: not a Telegram update this version reads.
    let unreadable = json!({"update_id": 8_100_001, "message": {"chat": {"id": 8101, "type": "private"}, "text": "/help"}});
    p.post(&unreadable).await;
    let chat = 8102;
    p.telegram.fail_next(chat, Failure::ServerError);
    p.post(&text_update(8_100_002, chat, "/help")).await;
    let listed = mesh_tests::eventually(Duration::from_secs(30), "two dead letters", || async {
        let r = bot(&p)
            .list_dead_letters(ListDeadLettersRequest {
                queue: String::new(),
                limit: 10,
            })
            .await
            .ok()?
            .into_inner();
        (r.dead_letters.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(listed.totals.get("updates"), Some(&1));
    assert_eq!(listed.totals.get("outbox"), Some(&1));
    let update = listed
        .dead_letters
        .iter()
        .find(|d| d.queue == "updates")
        .unwrap();
    assert!(update.reason.contains("unreadable update"), "{update:?}");
    assert_eq!(update.summary, "update 8100001");
    let call = listed
        .dead_letters
        .iter()
        .find(|d| d.queue == "outbox")
        .unwrap();
    assert!(call.reason.contains("gave up after 1 attempt)"), "{call:?}");
    assert_eq!(call.summary, format!("sendMessage to chat {chat}"));
    assert_eq!(call.partition, format!("chat:{chat}"));
    assert!(p.telegram.messages_to(chat).is_empty());

    // The CLI lists them too, then replays the call: it goes out, once.
    let out = mesh_cli(&p, &["dead-letters", "list"]).await;
    assert!(out.contains("outbox: 1 dead letters"), "{out}");
    assert!(out.contains("unreadable update"), "{out}");
    let out = mesh_cli(
        &p,
        &[
            "dead-letters",
            "replay",
            "--queue",
            "outbox",
            "--id",
            &call.id,
        ],
    )
    .await;
    assert!(out.contains("replayed 1"), "{out}");
    p.wait_message(chat, "Here is what I can do").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(p.telegram.messages_to(chat).len(), 1, "replayed once");

    // Replaying every update (the RPC without ids): still unreadable, so
    // it is set aside again, with a new id.
    let r = bot(&p)
        .replay_dead_letters(ReplayDeadLettersRequest {
            queue: "updates".into(),
            ids: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.replayed, 1);
    let again = mesh_tests::eventually(Duration::from_secs(10), "dead again", || async {
        let r = bot(&p)
            .list_dead_letters(ListDeadLettersRequest {
                queue: "updates".into(),
                limit: 10,
            })
            .await
            .ok()?
            .into_inner();
        (r.dead_letters.len() == 1 && r.dead_letters[0].id != update.id).then_some(r)
    })
    .await;
    assert_eq!(again.totals.get("outbox"), None, "only the asked queue");
    let unknown = bot(&p)
        .replay_dead_letters(ReplayDeadLettersRequest {
            queue: "elsewhere".into(),
            ids: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    p.stop().await;
}

/// Three replies to one chat, whose send limit is one a second, with a
/// single attempt allowed: waiting for the slot is not an attempt, so all
/// three go out and nothing is given up.
#[tokio::test]
async fn waiting_for_a_send_slot_is_not_an_attempt() {
    let p = Product::start(
        "slot_wait",
        &[
            ("BOT_MAX_ATTEMPTS", "1".to_owned()),
            ("BOT_CHAT_SEND_INTERVAL_MS", "1000".to_owned()),
        ],
    )
    .await;
    let chat = 8201;
    for i in 0..3 {
        p.post(&text_update(8_200_000 + i, chat, "/help")).await;
    }
    mesh_tests::eventually(Duration::from_secs(15), "three replies", || async {
        (p.telegram.messages_to(chat).len() == 3).then_some(())
    })
    .await;
    let dead = bot(&p)
        .list_dead_letters(ListDeadLettersRequest {
            queue: String::new(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(dead.dead_letters.is_empty(), "{:?}", dead.dead_letters);
    p.stop().await;
}

/// A join request while billing is away: it backs off (for minutes if it
/// must) instead of being given up after a few quick tries, and is
/// approved once billing is back.
#[tokio::test]
async fn join_request_waits_for_billing() {
    let test = "join_waits";
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut env = mesh_tests::base_env(test, &telegram);
    env.extend([
        ("PREMIUM_CHAT_ID", "-1001".to_owned()),
        ("ADMIN_USER_IDS", "8300".to_owned()),
    ]);
    env.extend(stripe.env());
    let mut mesh = MeshProcesses::start(test, &env).await;
    let user = 8301;
    let mut billing =
        BillingServiceClient::new(mesh_proto::lazy_channel(&mesh.billing_url).unwrap());
    billing
        .grant_entitlement(GrantEntitlementRequest {
            telegram_user_id: user,
            plan_id: "monthly".into(),
            days: 30,
            reason: "test".into(),
            actor: "telegram:8300".into(),
            request_id: String::new(),
        })
        .await
        .expect("granted");
    mesh.billing.kill();
    // An entitled user's join request: approved, but only once billing
    // says who may enter.
    let (status, _) = post_update(
        &mesh.gateway_url,
        &join_request_update(8_300_001, -1001, user),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Longer than a handful of quick retries would last.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(telegram.successful("approveChatJoinRequest").is_empty());
    assert!(telegram.successful("declineChatJoinRequest").is_empty());
    mesh.billing.restart();
    mesh_tests::eventually(Duration::from_secs(30), "the approval", || async {
        (!telegram.successful("approveChatJoinRequest").is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(telegram.successful("approveChatJoinRequest").len(), 1);
    assert!(telegram.successful("declineChatJoinRequest").is_empty());
}

/// The chat gate fails closed for every plan chat, not only
/// `PREMIUM_CHAT_ID`: with billing away before bot-service ever learned
/// the plans, a stranger who joins a plan chat and another's join request
/// wait (nothing approved, nothing dropped); once billing answers, the
/// stranger is removed and the request declined.
#[tokio::test]
async fn plan_chats_stay_gated_while_billing_is_away() {
    let test = "gate_closed";
    let (vip, stranger, asker) = (-1_002_i64, 8401, 8402);
    let plans = std::env::temp_dir().join(format!("plans-{test}-{}.toml", std::process::id()));
    std::fs::write(
        &plans,
        format!(
            "[[plans]]\nid = \"monthly\"\nname = \"Monthly\"\ndescription = \"D\"\nstripe_price_id = \"price_monthly_placeholder\"\nchats = [{vip}]\n"
        ),
    )
    .expect("plans file");
    let telegram = TelegramDouble::start().await;
    let stripe = StripeDouble::start(PRICES).await;
    let mut env = mesh_tests::base_env(test, &telegram);
    env.extend([
        ("PREMIUM_CHAT_ID", "-1001".to_owned()),
        ("ADMIN_USER_IDS", "8400".to_owned()),
        ("PLANS_FILE", plans.display().to_string()),
    ]);
    env.extend(stripe.env());
    let mut mesh = MeshProcesses::start(test, &env).await;
    mesh.billing.kill();
    for update in [
        mesh_tests::http::chat_member_update(8_400_001, vip, stranger, "left", "member"),
        join_request_update(8_400_002, vip, asker),
    ] {
        let (status, _) = post_update(&mesh.gateway_url, &update, None).await;
        assert_eq!(status, 200);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for method in [
        "banChatMember",
        "approveChatJoinRequest",
        "declineChatJoinRequest",
    ] {
        assert!(
            telegram.successful(method).is_empty(),
            "{method} while billing is away"
        );
    }
    mesh.billing.restart();
    mesh_tests::eventually(Duration::from_secs(60), "the gate decides", || async {
        let removed = telegram
            .successful("banChatMember")
            .iter()
            .any(|c| c.params["chat_id"] == vip && c.params["user_id"] == stranger);
        let declined = telegram
            .successful("declineChatJoinRequest")
            .iter()
            .any(|c| c.params["chat_id"] == vip && c.params["user_id"] == asker);
        (removed && declined).then_some(())
    })
    .await;
    assert!(telegram.successful("approveChatJoinRequest").is_empty());
}
