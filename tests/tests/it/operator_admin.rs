//! What admins get, through the gateway and the doubles: broadcasts that
//! reach only their segment (previewed, confirmed, cancellable), a copied
//! photo broadcast, `/stats` from counters (members by state, MRR, new
//! and churned, conversion), `/user`, lifecycle messages, and the members
//! export.

use std::time::Duration;

use mesh_proto::billing::v1::{EntitlementState, GetStatsRequest};
use mesh_tests::http::{callback_update, text_update};
use mesh_tests::product::{ADMIN, Product, callback_buttons};
use mesh_tests::telegram::Failure;
use serde_json::json;

/// Product with fast sends and a quick sweeper.
async fn product(test: &str, extra: &[(&str, String)]) -> Product {
    let mut env = vec![("BILLING_SWEEP_INTERVAL_SECS", "1".to_owned())];
    env.extend(extra.iter().cloned());
    Product::start(test, &env).await
}

/// `user` starts a trial of the yearly plan (7 days free).
async fn trial(p: &Product, user: i64) {
    let session = p.checkout(user, "yearly").await;
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::Trialing).await;
}

/// Texts sent to `chat`.
fn texts_to(p: &Product, chat: i64) -> Vec<String> {
    p.telegram
        .messages_to(chat)
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `chat` got `n` messages containing `needle`.
async fn wait_count(p: &Product, chat: i64, needle: &str, n: usize) {
    mesh_tests::eventually(Duration::from_secs(15), needle, || async {
        (texts_to(p, chat)
            .iter()
            .filter(|t| t.contains(needle))
            .count()
            >= n)
            .then_some(())
    })
    .await;
}

/// The admin confirms the draft shown last.
async fn confirm(p: &Product, update_id: i64) {
    let prompt = p.wait_message(ADMIN, "Send it?").await;
    assert_eq!(callback_buttons(&prompt), ["bcast:send", "bcast:discard"]);
    p.post(&callback_update(
        update_id,
        ADMIN,
        &format!("cbq-{update_id}"),
        "bcast:send",
    ))
    .await;
    p.wait_message(ADMIN, "Broadcast started").await;
}

/// A segment's broadcast reaches exactly that segment.
#[tokio::test]
async fn segments_reach_only_their_segment() {
    let p = product("segments", &[]).await;
    let (active, never_paid, trialing) = (801, 802, 803);
    p.subscribe(active).await;
    p.post(&text_update(1, never_paid, "/start")).await;
    p.post(&text_update(2, active, "/start")).await;
    p.post(&text_update(3, trialing, "/start")).await;
    trial(&p, trialing).await;

    p.post(&text_update(10, ADMIN, "/broadcast active Hello members"))
        .await;
    // The preview is exactly what recipients get.
    p.wait_message(ADMIN, "Hello members").await;
    confirm(&p, 11).await;
    p.wait_message(active, "Hello members").await;
    p.wait_message(ADMIN, "1/1 processed").await;

    p.post(&text_update(
        12,
        ADMIN,
        "/broadcast never_paid Come and see",
    ))
    .await;
    confirm(&p, 13).await;
    p.wait_message(never_paid, "Come and see").await;
    p.wait_message(ADMIN, "2/2 processed").await; // the admin never paid either

    p.post(&text_update(
        14,
        ADMIN,
        "/broadcast trialing Enjoying the trial?",
    ))
    .await;
    confirm(&p, 15).await;
    p.wait_message(trialing, "Enjoying the trial?").await;
    p.wait_message(ADMIN, "1/1 processed").await;

    let got = |user| texts_to(&p, user);
    assert!(
        !got(never_paid)
            .iter()
            .any(|t| t == "Hello members" || t == "Enjoying the trial?")
    );
    assert!(
        !got(trialing)
            .iter()
            .any(|t| t == "Hello members" || t == "Come and see")
    );
    assert!(
        !got(active)
            .iter()
            .any(|t| t == "Come and see" || t == "Enjoying the trial?")
    );
    // A discarded draft sends nothing.
    p.post(&text_update(16, ADMIN, "/broadcast Never mind"))
        .await;
    p.wait_message(ADMIN, "Send it?").await;
    p.post(&callback_update(17, ADMIN, "cbq-17", "bcast:discard"))
        .await;
    p.wait_message(ADMIN, "discarded").await;
    p.post(&callback_update(18, ADMIN, "cbq-18", "bcast:send"))
        .await;
    p.wait_message(ADMIN, "expired").await;
    assert!(!got(active).iter().any(|t| t == "Never mind"));
    p.stop().await;
}

/// `/broadcast` as a reply copies that message (a photo) to everyone;
/// `/broadcast_cancel` stops what is still queued.
#[tokio::test]
async fn copied_photo_broadcast_and_cancel() {
    let p = product("copy", &[]).await;
    for (i, user) in [811, 812].into_iter().enumerate() {
        p.post(&text_update(1 + i as i64, user, "/start")).await;
    }
    let reply = json!({
        "update_id": 20,
        "message": {
            "message_id": 21, "date": 1_700_000_000, "text": "/broadcast",
            "chat": {"id": ADMIN, "type": "private", "first_name": "Admin"},
            "from": {"id": ADMIN, "is_bot": false, "first_name": "Admin", "language_code": "en"},
            "reply_to_message": {
                "message_id": 77, "date": 1_700_000_000,
                "chat": {"id": ADMIN, "type": "private", "first_name": "Admin"},
                "from": {"id": ADMIN, "is_bot": false, "first_name": "Admin"},
                "photo": [{"file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90}],
                "caption": "New *season*",
            },
        }
    });
    p.post(&reply).await;
    let copied_to = |user: i64| {
        p.telegram.successful("copyMessage").iter().any(|c| {
            c.params["chat_id"] == user
                && c.params["from_chat_id"] == ADMIN
                && c.params["message_id"] == 77
        })
    };
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the preview copied to the admin",
        || async { copied_to(ADMIN).then_some(()) },
    )
    .await;
    confirm(&p, 22).await;
    for user in [811, 812] {
        mesh_tests::eventually(Duration::from_secs(10), "the photo copied", || async {
            copied_to(user).then_some(())
        })
        .await;
    }
    // Done (the report that finishes a job also retires it).
    wait_count(&p, ADMIN, "3/3 processed", 1).await;

    // A broadcast held up by Telegram (one recipient must wait) is cancelled:
    // that recipient never gets it.
    p.telegram.fail_next(812, Failure::TooManyRequests(3));
    p.post(&text_update(30, ADMIN, "/broadcast Last call"))
        .await;
    confirm(&p, 31).await;
    p.wait_message(811, "Last call").await;
    p.post(&text_update(32, ADMIN, "/broadcast_cancel")).await;
    p.wait_message(ADMIN, "Cancelling 1 broadcast").await;
    // The held-up message is skipped when its turn comes (3 s later); the
    // job then reports everything processed.
    wait_count(&p, ADMIN, "3/3 processed", 2).await;
    assert!(!texts_to(&p, 812).iter().any(|t| t == "Last call"));
    p.stop().await;
}

/// `/stats` reads counters kept as things happen: members by state,
/// recurring revenue (trials excluded), joined and left, conversion.
#[tokio::test]
async fn stats_from_counters() {
    let p = product("stats", &[]).await;
    p.subscribe(821).await;
    p.subscribe(822).await;
    trial(&p, 823).await;
    // A session started and never paid.
    p.checkout(824, "monthly").await;
    let stats = p
        .billing()
        .get_stats(GetStatsRequest {})
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(stats.mrr.len(), 1);
    assert_eq!(
        (stats.mrr[0].currency.as_str(), stats.mrr[0].monthly_amount),
        ("usd", 1998.0)
    );
    assert_eq!(stats.by_state.get("active"), Some(&2));
    assert_eq!(stats.by_state.get("trialing"), Some(&1));
    assert_eq!(
        (
            stats.new_last_30_days,
            stats.churned_last_30_days,
            stats.checkouts_started_last_30_days,
            stats.checkouts_completed_last_30_days
        ),
        (3, 0, 4, 3)
    );
    // One leaves: revenue and churn follow.
    let sub = p.entitlement(822).await.stripe_subscription_id;
    let ended = p.stripe.end_subscription(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &ended).await;
    p.wait_state(822, EntitlementState::Expired).await;
    p.post(&text_update(40, ADMIN, "/stats")).await;
    let text = p.wait_message(ADMIN, "Monthly recurring revenue").await["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("Monthly recurring revenue: 9.99 USD"),
        "{text}"
    );
    assert!(text.contains("Active 1, trial 1"), "{text}");
    assert!(
        text.contains("Last 30 days: 3 joined, 1 left; checkout 3 of 4 completed (75%)"),
        "{text}"
    );
    p.stop().await;
}

/// `/user` shows where a user stands and their recent history.
#[tokio::test]
async fn user_lookup() {
    let p = product("user", &[]).await;
    p.subscribe(831).await;
    p.post(&text_update(1, ADMIN, "/user 831")).await;
    let text = p.wait_message(ADMIN, "User 831").await["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("User 831: active") && text.contains("Plan: monthly"),
        "{text}"
    );
    assert!(text.contains("none → active (stripe:"), "{text}");
    p.post(&text_update(2, ADMIN, "/user")).await;
    p.wait_message(ADMIN, "Usage: /user <user id>").await;
    p.stop().await;
}

/// The opt-in renewal reminder (with the amount) and the win-back message
/// after access ends (with plan buttons for a fresh Checkout).
#[tokio::test]
async fn renewal_reminder_and_win_back() {
    let p = product(
        "lifecycle",
        &[
            // Due at once: a month's period is inside 31 days.
            ("BILLING_RENEWAL_REMINDER_DAYS", "31".into()),
            // About three seconds after access ends.
            ("BILLING_WINBACK_DAYS", "0.00004".into()),
        ],
    )
    .await;
    let user = 841;
    // A 20 % coupon on the next invoice: the reminder quotes what Stripe's
    // invoice preview will charge, not the list price.
    p.stripe.coupon(20);
    p.subscribe(user).await;
    let reminder = p.wait_message(user, "renews on").await;
    assert!(
        reminder["text"]
            .as_str()
            .unwrap_or_default()
            .contains("for 7.99 USD"),
        "{reminder}"
    );
    let sub = p.entitlement(user).await.stripe_subscription_id;
    let ended = p.stripe.end_subscription(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &ended).await;
    p.wait_message(user, "has ended").await;
    let win_back = p.wait_message(user, "We miss you").await;
    assert!(
        callback_buttons(&win_back).contains(&"sub:monthly".to_owned()),
        "{win_back}"
    );
    // Once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = texts_to(&p, user)
        .iter()
        .filter(|t| t.contains("We miss you"))
        .count();
    assert_eq!(count, 1);
    p.stop().await;
}

/// `mesh export-members` writes every member as CSV.
#[tokio::test]
async fn members_export() {
    let p = product("export", &[]).await;
    p.subscribe(851).await;
    trial(&p, 852).await;
    // The mesh runs on this test's runtime: the command waits elsewhere.
    let billing = p.mesh.billing.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(mesh_tests::process::bin("mesh"))
            .arg("export-members")
            .env_clear()
            .env("BILLING_SERVICE_URL", billing)
            .output()
    })
    .await
    .expect("join")
    .expect("export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("telegram_user_id,state,has_access,plan_id"));
    assert!(
        rows.iter()
            .any(|r| r.starts_with("851,active,true,\"monthly\"")),
        "{csv}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("852,trialing,true,\"yearly\"")),
        "{csv}"
    );
    p.stop().await;
}
