//! What an operator sells and how members get in, through the gateway,
//! the Bot API double and the Stripe double: prices in the user's
//! language, `/join` with earlier links revoked, a plan opening two chats
//! (granted and removed in both), a one-time 30-day plan that expires, the
//! command menus, and a broken message override stopping start-up.

use std::time::Duration;

use mesh_proto::billing::v1::{EntitlementState, ListPlansRequest};
use mesh_tests::http::{callback_update, join_request_update, text_update, text_update_in};
use mesh_tests::product::{
    ADMIN, PREMIUM_CHAT, Product, button_labels, callback_buttons, url_buttons,
};
use serde_json::{Value, json};

const SIGNALS: i64 = -100_111;
const LOUNGE: i64 = -100_222;

/// A plans file with a two-chat subscription and a one-time 30-day pass.
fn plans_file(test: &str) -> String {
    let path = std::env::temp_dir().join(format!("plans-{test}-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        format!(
            r#"
[[plans]]
id = "duo"
name = "Duo"
description = "Both rooms."
stripe_price_id = "price_monthly_placeholder"
chats = [{SIGNALS}, {LOUNGE}]

{pass30}
[[chats]]
id = {SIGNALS}
name = "Signals"
description = "Daily trade ideas."

[[chats]]
id = {LOUNGE}
name = "Lounge"
"#,
            pass30 = mesh_tests::mesh::PASS30_PLAN
        ),
    )
    .expect("plans file");
    path.display().to_string()
}

/// Waits until billing has read the plans' prices from Stripe.
async fn prices_loaded(p: &Product) {
    mesh_tests::eventually(
        Duration::from_secs(20),
        "prices read from Stripe",
        || async {
            let plans = p
                .billing()
                .list_plans(ListPlansRequest {})
                .await
                .ok()?
                .into_inner()
                .plans;
            plans.iter().all(|plan| plan.price.is_some()).then_some(())
        },
    )
    .await;
}

/// The last message to `chat` containing `needle`.
async fn message_with(p: &Product, chat: i64, needle: &str) -> String {
    p.wait_message(chat, needle).await["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Plans show amount, currency, interval and trial, in the user's language.
#[tokio::test]
async fn prices_in_the_users_language() {
    let p = Product::start("prices", &[]).await;
    prices_loaded(&p).await;
    p.post(&text_update(1, 701, "/plans")).await;
    let en = message_with(&p, 701, "Monthly").await;
    assert!(en.contains("Monthly: 9.99 USD per month"), "{en}");
    assert!(
        en.contains("Yearly: 99.99 USD per year, first 7 days free"),
        "{en}"
    );
    p.post(&text_update_in(2, 702, "/plans", "es")).await;
    let es = message_with(&p, 702, "Monthly").await;
    assert!(es.contains("Monthly: 9,99 USD al mes"), "{es}");
    assert!(
        es.contains("99,99 USD al año, los primeros 7 días gratis"),
        "{es}"
    );
    // The subscribe buttons carry the price too.
    p.post(&text_update_in(3, 702, "/subscribe", "es")).await;
    let buttons = button_labels(&p.wait_message(702, "Elige un plan").await);
    assert!(
        // Both rails: the card price and the Telegram Stars price.
        buttons
            .iter()
            .any(|b| b == "Monthly · 9,99 USD al mes o ⭐ 250 Stars cada 30 días"),
        "{buttons:?}"
    );
    p.stop().await;
}

/// Without payments configured, the plans file's price_display is shown.
#[tokio::test]
async fn dry_run_shows_the_display_price() {
    let p = Product::start("prices_dry", &[("STRIPE_SECRET_KEY", String::new())]).await;
    p.post(&text_update(1, 703, "/plans")).await;
    let text = message_with(&p, 703, "Monthly").await;
    assert!(text.contains("Monthly: 9.99 USD / month"), "{text}");
    p.stop().await;
}

/// `/join` gives an entitled user fresh links and revokes the earlier
/// ones; the button in `/status` does the same; anyone else gets plans.
#[tokio::test]
async fn join_revokes_earlier_links() {
    let p = Product::start("join", &[]).await;
    let user = 704;
    p.subscribe(user).await;
    let first = url_buttons(&p.wait_message(user, "Welcome to premium").await);
    assert_eq!(first.len(), 1);
    p.post(&text_update(10, user, "/join")).await;
    let second = url_buttons(&p.wait_message(user, "fresh invite").await);
    assert_ne!(first, second);
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the earlier link revoked once the new one is sent",
        || async { (p.telegram.link_revoked(&first[0]) == Some(true)).then_some(()) },
    )
    .await;
    assert_eq!(p.telegram.link_revoked(&second[0]), Some(false));
    // The button in /status.
    p.post(&text_update(11, user, "/status")).await;
    let status = p.wait_message(user, "State:").await;
    assert!(
        button_labels(&status)
            .iter()
            .any(|b| b == "Get my invite link")
    );
    assert!(callback_buttons(&status).iter().any(|b| b == "join"));
    p.post(&callback_update(12, user, "cbq-join", "join")).await;
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the second link revoked",
        || async { (p.telegram.link_revoked(&second[0]) == Some(true)).then_some(()) },
    )
    .await;
    // Someone without access gets the plans.
    p.post(&text_update(13, 705, "/join")).await;
    let offer = p.wait_message(705, "don't have access yet").await;
    assert!(!callback_buttons(&offer).is_empty());
    p.stop().await;
}

/// A plan that opens two chats: both invited (the welcome says what each
/// is), a join request to either approved, and both closed when it ends.
#[tokio::test]
async fn two_chat_plan_granted_and_removed_in_both() {
    let plans = plans_file("duo");
    let p = Product::start("duo", &[("PLANS_FILE", plans)]).await;
    let user = 706;
    let session = p.checkout(user, "duo").await;
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let welcome = p.wait_message(user, "Welcome to premium").await;
    let text = welcome["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("2 chats")
            && text.contains("Signals: Daily trade ideas.")
            && text.contains("Lounge"),
        "{text}"
    );
    let links: Vec<Value> = p
        .telegram
        .successful("createChatInviteLink")
        .iter()
        .map(|c| c.params["chat_id"].clone())
        .collect();
    assert!(
        links.contains(&json!(SIGNALS)) && links.contains(&json!(LOUNGE)),
        "{links:?}"
    );
    assert_eq!(button_labels(&welcome), ["Join Lounge", "Join Signals"]);
    p.post(&join_request_update(20, LOUNGE, user)).await;
    p.wait_call("the join approved", |c| {
        c.ok && c.method == "approveChatJoinRequest" && c.params["chat_id"] == LOUNGE
    })
    .await;
    // The subscription ends: removed from both.
    let sub = p.entitlement(user).await.stripe_subscription_id;
    let ended = p.stripe.end_subscription(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &ended).await;
    for chat in [SIGNALS, LOUNGE] {
        p.wait_call("removed from the chat", |c| {
            c.ok && c.method == "banChatMember"
                && c.params["chat_id"] == chat
                && c.params["user_id"] == user
        })
        .await;
    }
    p.stop().await;
}

/// A one-time 30-day plan: Checkout in payment mode with the days in its
/// metadata; access from the payment's time, ended by the sweeper 30 days
/// later (the payment here was made 30 days less a few seconds ago).
#[tokio::test]
async fn one_time_plan_expires() {
    let plans = plans_file("pass");
    let chat = PREMIUM_CHAT; // the plan names no chats
    let p = Product::start(
        "pass",
        &[
            ("PLANS_FILE", plans),
            ("BILLING_SWEEP_INTERVAL_SECS", "1".into()),
        ],
    )
    .await;
    let user = 707;
    let session = p.checkout(user, "pass30").await;
    let stored = p
        .stripe
        .sessions()
        .into_iter()
        .find(|s| s["id"] == session.session_id)
        .expect("session");
    assert_eq!(stored["mode"], "payment");
    assert_eq!(stored["metadata"]["duration_days"], "30");
    assert!(stored.get("subscription_data").is_none());
    let paid = p
        .stripe
        .complete_payment(&session.session_id, 30 * 86_400 - 8);
    p.stripe
        .deliver_all(&p.mesh.gateway, std::slice::from_ref(&paid))
        .await;
    let e = p.wait_state(user, EntitlementState::Active).await;
    let end = e.current_period_end.expect("an end").seconds;
    assert_eq!(end, paid["created"].as_i64().unwrap() + 30 * 86_400);
    assert!(!e.lifetime && e.has_access);
    p.wait_message(user, "Welcome to premium").await;
    // Delivered again (Stripe retries): nothing more.
    assert_eq!(p.stripe.deliver(&p.mesh.gateway, &paid).await, 200);
    p.wait_state(user, EntitlementState::Expired).await;
    p.wait_call("removed when it ran out", |c| {
        c.ok && c.method == "banChatMember"
            && c.params["chat_id"] == chat
            && c.params["user_id"] == user
    })
    .await;
    p.wait_message(user, "has ended").await;
    p.stop().await;
}

/// The command menus: every language, and the admins' own, with the admin
/// commands, in their chat.
#[tokio::test]
async fn command_menus_are_set() {
    let p = Product::start("commands", &[]).await;
    let default = json!({"type": "default"});
    let names = |menu: &Value| -> Vec<String> {
        menu.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["command"].as_str().map(str::to_owned))
            .collect()
    };
    let english = mesh_tests::eventually(Duration::from_secs(10), "the default menu", || async {
        p.telegram.commands(&default, "")
    })
    .await;
    assert_eq!(
        names(&english),
        [
            "start",
            "plans",
            "subscribe",
            "join",
            "status",
            "portal",
            "cancel",
            "help"
        ]
    );
    for (language, join) in [
        ("es", "Enlaces de invitación nuevos"),
        ("ru", "Новые ссылки-приглашения"),
        ("pt", "Novos links de convite"),
        ("de", "Neue Einladungslinks"),
        ("fr", "De nouveaux liens d'invitation"),
    ] {
        let menu = mesh_tests::eventually(Duration::from_secs(10), "a language's menu", || async {
            p.telegram.commands(&default, language)
        })
        .await;
        assert_eq!(menu[3]["description"], join, "{language}");
    }
    let admin = mesh_tests::eventually(Duration::from_secs(10), "the admin's menu", || async {
        p.telegram
            .commands(&json!({"type": "chat", "chat_id": ADMIN}), "")
    })
    .await;
    assert!(names(&admin).ends_with(&[
        "stats".into(),
        "user".into(),
        "grant".into(),
        "revoke".into(),
        "refund".into(),
        "broadcast".into(),
        "broadcast_cancel".into()
    ]));
    p.stop().await;
}

/// A broken override in MESSAGES_DIR stops start-up, naming the file and
/// the line, with exit code 2.
#[test]
fn broken_override_stops_startup() {
    let dir = std::env::temp_dir().join(format!("ftl-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("de.ftl"),
        "greeting = Hallo { $name }!\n\nunknown = { }\n",
    )
    .expect("write");
    let out = std::process::Command::new(mesh_tests::process::bin("mesh"))
        .env_clear()
        .env("MESSAGES_DIR", &dir)
        .env("GATEWAY_ADDR", "127.0.0.1:0")
        .output()
        .expect("run mesh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("MESSAGES_DIR") && stderr.contains("de.ftl") && stderr.contains("line 3"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Invites chat by chat: in a two-chat plan where the bot lost the right to
/// make links in one chat, the admins are told (bot-service checks its own
/// rights), the paying user still gets the other chat's link (not a dead
/// letter and nothing), and a later `/join` revokes only the earlier link
/// of the chat whose new link was made.
#[tokio::test]
async fn one_chat_without_rights_does_not_hold_back_the_others() {
    let plans = plans_file("duo_rights");
    let p = Product::start(
        "duo_rights",
        &[
            ("PLANS_FILE", plans),
            ("BOT_RIGHTS_CHECK_SECS", "1".to_owned()),
        ],
    )
    .await;
    p.telegram.take_invite_rights(LOUNGE);
    // bot-service finds out by itself (getChatMember on itself) and tells
    // the admins, once however often it checks.
    p.wait_message(
        ADMIN,
        &format!("lacks rights in chat {LOUNGE}: can_invite_users"),
    )
    .await;
    // ... and says so in the readiness detail, still ready.
    let ready = mesh_tests::eventually(Duration::from_secs(10), "the rights in /ready", || async {
        let ready: Value = mesh_tests::http::client()
            .get(format!("{}/ready", p.mesh.gateway))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (ready["services"]["chat_rights"] == format!("missing in {LOUNGE}: can_invite_users"))
            .then_some(ready)
    })
    .await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let user = 708;
    let session = p.checkout(user, "duo").await;
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let welcome = p.wait_message(user, "Welcome to premium").await;
    assert_eq!(button_labels(&welcome), ["Join Signals"]);
    let first = url_buttons(&welcome);
    p.post(&text_update(30, user, "/join")).await;
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the signals link revoked",
        || async { (p.telegram.link_revoked(&first[0]) == Some(true)).then_some(()) },
    )
    .await;
    let made: Vec<Value> = p
        .telegram
        .successful("createChatInviteLink")
        .iter()
        .map(|c| c.params["chat_id"].clone())
        .collect();
    assert_eq!(made, [json!(SIGNALS), json!(SIGNALS)]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let told = p
        .telegram
        .messages_to(ADMIN)
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("lacks rights"))
        })
        .count();
    assert_eq!(told, 1, "once a day, however often it checks");
    p.stop().await;
}

/// Amounts as Stripe defines them: a tiered price (no unit amount) is
/// shown from its lowest tier, a fractional one rounded to the cent;
/// neither as "0.00"; a tiered subscription's revenue is what its invoice
/// charged.
#[tokio::test]
async fn tiered_and_fractional_prices() {
    let path = std::env::temp_dir().join(format!("plans-tiers-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        r#"
[[plans]]
id = "team"
name = "Team"
description = "Per seat."
stripe_price_id = "price_tiered_placeholder"

[[plans]]
id = "metered"
name = "Metered"
description = "Fractional."
stripe_price_id = "price_decimal_placeholder"
"#,
    )
    .expect("plans file");
    let p = Product::start(
        "prices_tiers",
        &[("PLANS_FILE", path.display().to_string())],
    )
    .await;
    let text = mesh_tests::eventually(Duration::from_secs(20), "priced plans", || async {
        p.post(&text_update(mesh_tests::stripe::now(), 709, "/plans"))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        p.telegram
            .messages_to(709)
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .find(|t| t.contains("Team: from"))
    })
    .await;
    assert!(text.contains("Team: from 4.00 USD per month"), "{text}");
    assert!(text.contains("Metered: 12.50 USD per month"), "{text}");
    assert!(!text.contains("0.00"), "{text}");
    // Revenue of a tiered subscription: what its invoice charged.
    let session = p.checkout(710, "team").await;
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(710, EntitlementState::Active).await;
    let stats = p
        .billing()
        .get_stats(mesh_proto::billing::v1::GetStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    let usd: Vec<f64> = stats
        .mrr
        .iter()
        .filter(|r| r.currency == "usd")
        .map(|r| r.monthly_amount)
        .collect();
    assert_eq!(usd, [500.0], "{stats:?}");
    p.stop().await;
}
