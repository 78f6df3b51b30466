//! The billing product end to end: Stripe's side played by the Stripe
//! double, every webhook through the real gateway, and what bot-service
//! does at each step checked at the Bot API double.

use std::time::Duration;

use mesh_proto::billing::v1::{CreateCheckoutSessionRequest, EntitlementState, ReconcileRequest};
use mesh_tests::http::{callback_update, text_update};
use mesh_tests::product::{PREMIUM_CHAT, Product, callback_buttons, url_buttons};
use serde_json::Value;

/// Subscribe through the bot, then checkout -> active (invite) -> payment
/// failed -> past_due (portal link) -> paid -> active -> deleted -> expired
/// (removed from the premium chat and told why).
#[tokio::test]
async fn full_lifecycle_through_the_gateway() {
    let p = Product::start("lifecycle", &[]).await;
    let user = 1001;

    p.post(&text_update(1, user, "/subscribe")).await;
    let choose = p.wait_message(user, "Choose a plan").await;
    assert_eq!(callback_buttons(&choose), vec!["sub:monthly", "sub:yearly"]);

    p.post(&callback_update(2, user, "cbq-2", "sub:monthly"))
        .await;
    p.wait_call("the tap answered", |c| {
        c.method == "answerCallbackQuery" && c.params["callback_query_id"] == "cbq-2"
    })
    .await;
    let pay = p.wait_message(user, "pay securely").await;
    let sessions = p.stripe.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    // The card button, and the monthly plan's Telegram Stars button.
    let buttons = url_buttons(&pay);
    assert_eq!(buttons[0], session["url"].as_str().unwrap());
    assert!(
        buttons[1].starts_with("https://t.me/$invoice"),
        "{buttons:?}"
    );
    assert_eq!(session["client_reference_id"], user.to_string());
    assert_eq!(
        session["line_items"]["0"]["price"],
        "price_monthly_placeholder"
    );
    assert_eq!(session["metadata"]["plan_id"], "monthly");
    assert_eq!(session["allow_promotion_codes"], true);
    assert!(
        session["success_url"]
            .as_str()
            .unwrap()
            .starts_with("https://t.me/test_bot?start=paid")
    );
    let customer_calls = p.stripe.requests_to("POST", "/v1/customers");
    assert_eq!(customer_calls.len(), 1);
    assert_eq!(
        customer_calls[0].params["metadata"]["telegram_user_id"],
        user.to_string()
    );
    assert!(customer_calls[0].idempotency_key.is_some());

    // Paid.
    let events = p.stripe.complete_checkout(session["id"].as_str().unwrap());
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let active = p.wait_state(user, EntitlementState::Active).await;
    assert!(active.has_access);
    assert_eq!(active.plan_id, "monthly");
    let invite = p
        .wait_call("an invite link", |c| {
            c.method == "createChatInviteLink" && c.params["chat_id"] == PREMIUM_CHAT
        })
        .await;
    assert_eq!(invite.params["member_limit"], 1);
    assert!(invite.params["expire_date"].as_i64().is_some());
    let welcome = p.wait_message(user, "Welcome to premium").await;
    assert!(url_buttons(&welcome)[0].starts_with("https://t.me/+invite"));
    let sub = active.stripe_subscription_id.clone();

    // A renewal fails: past due, with a portal link.
    let events = p.stripe.fail_renewal(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let past_due = p.wait_state(user, EntitlementState::PastDue).await;
    assert!(past_due.has_access, "grace period");
    let failed = p.wait_message(user, "didn't go through").await;
    assert!(url_buttons(&failed)[0].starts_with("https://billing.stripe.test/p/session/"));
    assert_eq!(
        p.stripe
            .requests_to("POST", "/v1/billing_portal/sessions")
            .len(),
        1
    );

    // Paid after all.
    let events = p.stripe.pay_renewal(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::Active).await;
    p.wait_message(user, "payment went through").await;

    // Stripe ends the subscription: expired, removed from the chat, told why.
    let events = p.stripe.end_subscription(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let expired = p.wait_state(user, EntitlementState::Expired).await;
    assert!(!expired.has_access);
    p.wait_call("the ban", |c| {
        c.method == "banChatMember"
            && c.params["user_id"] == user
            && c.params["chat_id"] == PREMIUM_CHAT
    })
    .await;
    let unban = p
        .wait_call("the unban", |c| {
            c.method == "unbanChatMember" && c.params["user_id"] == user
        })
        .await;
    assert_eq!(unban.params["only_if_banned"], true);
    p.wait_message(user, "has ended").await;
    // Each notice acted on once, in order.
    let texts: Vec<String> = p
        .telegram
        .messages_to(user)
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect();
    let order = [
        "Choose a plan",
        "pay securely",
        "Welcome to premium",
        "didn't go through",
        "payment went through",
        "has ended",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|needle| {
            texts
                .iter()
                .position(|t| t.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {texts:?}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{texts:?}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("Welcome to premium"))
            .count(),
        1
    );
    p.stop().await;
}

async fn checkout(p: &Product, user: i64) -> String {
    p.billing()
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: user,
            plan_id: "monthly".into(),
            request_id: format!("req-{user}"),
        })
        .await
        .expect("checkout")
        .into_inner()
        .session_id
}

/// The same events delivered shuffled and duplicated end in the same
/// entitlement as delivered in order.
#[tokio::test]
async fn shuffled_and_duplicated_events_converge() {
    let p = Product::start("shuffled", &[]).await;
    let mut finals = Vec::new();
    for (user, shuffle) in [(2001, false), (2002, true)] {
        let session = checkout(&p, user).await;
        let mut events = p.stripe.complete_checkout(&session);
        let sub = p
            .stripe
            .sessions()
            .iter()
            .find(|s| s["id"] == session.as_str())
            .unwrap()["subscription"]
            .as_str()
            .unwrap()
            .to_owned();
        events.extend(p.stripe.fail_renewal(&sub));
        events.extend(p.stripe.pay_renewal(&sub));
        if shuffle {
            let mut shuffled: Vec<Value> = events.iter().rev().cloned().collect();
            shuffled.extend(events.iter().step_by(2).cloned());
            shuffled.swap(0, 3);
            events = shuffled;
        }
        p.stripe.deliver_all(&p.mesh.gateway, &events).await;
        let e = p.wait_state(user, EntitlementState::Active).await;
        finals.push((
            e.state,
            e.has_access,
            e.plan_id,
            e.cancel_at_period_end,
            e.current_period_end.map(|t| t.seconds).is_some(),
        ));
    }
    assert_eq!(finals[0], finals[1]);
    p.stop().await;
}

/// A Checkout call whose response is lost to a timeout is retried under
/// the same idempotency key: one session at Stripe, one URL for the caller.
#[tokio::test]
async fn checkout_retried_after_timeout_creates_one_session() {
    let p = Product::start("checkout_timeout", &[("STRIPE_TIMEOUT_MS", "300".into())]).await;
    p.stripe
        .delay_next("/v1/checkout/sessions", Duration::from_millis(1200));
    let first = checkout(&p, 3001).await;
    let calls = p.stripe.requests_to("POST", "/v1/checkout/sessions");
    assert_eq!(
        calls.len(),
        2,
        "the first attempt timed out and was retried"
    );
    assert!(calls[0].idempotency_key.is_some());
    assert_eq!(calls[0].idempotency_key, calls[1].idempotency_key);
    assert_eq!(p.stripe.sessions().len(), 1);
    // The caller retrying with the same request id gets the same session.
    assert_eq!(checkout(&p, 3001).await, first);
    assert_eq!(p.stripe.sessions().len(), 1);
    p.stop().await;
}

/// Reconcile rebuilds every entitlement from Stripe after this test's
/// keys are wiped from Redis.
#[tokio::test]
async fn reconcile_rebuilds_after_wipe() {
    let p = Product::start("reconcile", &[]).await;
    for user in [4001, 4002] {
        let session = checkout(&p, user).await;
        let events = p.stripe.complete_checkout(&session);
        p.stripe.deliver_all(&p.mesh.gateway, &events).await;
        p.wait_state(user, EntitlementState::Active).await;
    }
    p.wipe().await;
    assert_eq!(p.entitlement(4001).await.state(), EntitlementState::None);

    let outcome = p
        .billing()
        .reconcile(ReconcileRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            outcome.subscriptions_seen,
            outcome.entitlements_updated,
            outcome.unmatched
        ),
        (2, 2, 0)
    );
    for user in [4001, 4002] {
        let e = p.entitlement(user).await;
        assert_eq!(
            (e.state(), e.has_access, e.plan_id.as_str()),
            (EntitlementState::Active, true, "monthly")
        );
    }
    // Safe to run again: nothing changes.
    let again = p
        .billing()
        .reconcile(ReconcileRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.entitlements_updated, 0);
    p.stop().await;
}

/// Access that lapsed (a failed renewal past its grace period) is ended
/// by the sweeper without any event, and the member is removed.
#[tokio::test]
async fn lapsed_access_is_swept() {
    let p = Product::start(
        "swept",
        &[
            // Past due must last long enough for a poll on a loaded
            // machine to see it (with 1 s, a full suite run missed it).
            ("BILLING_PAST_DUE_GRACE_SECS", "3".into()),
            ("BILLING_SWEEP_INTERVAL_SECS", "1".into()),
        ],
    )
    .await;
    let user = 4501;
    let session = checkout(&p, user).await;
    let events = p.stripe.complete_checkout(&session);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let active = p.wait_state(user, EntitlementState::Active).await;
    let events = p.stripe.fail_renewal(&active.stripe_subscription_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::PastDue).await;
    // No more events: the grace runs out and the sweeper acts.
    let expired = p.wait_state(user, EntitlementState::Expired).await;
    assert!(!expired.has_access);
    p.wait_call("removal", |c| {
        c.method == "banChatMember" && c.params["user_id"] == user
    })
    .await;
    p.wait_message(user, "payment could not be collected").await;
    p.stop().await;
}
