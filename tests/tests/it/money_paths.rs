//! Money paths that must never strand a payer or keep a non-payer in,
//! each through the gateway, the Stripe double and the Bot API double.

use std::time::Duration;

use mesh_proto::billing::v1::{
    CancelSubscriptionRequest, CreateCheckoutSessionRequest, EntitlementState, ReconcileRequest,
};
use mesh_tests::http::{callback_update, text_update};
use mesh_tests::product::{ADMIN, Product, callback_buttons, url_buttons};
use mesh_tests::stripe::now;
use serde_json::{Value, json};

/// A signed event of another product on the same Stripe account.
fn foreign(kind: &str, object: Value) -> Value {
    json!({
        "id": format!("evt_foreign_{}", rand_suffix()), "object": "event", "type": kind,
        "created": now(), "data": {"object": object}, "livemode": false,
    })
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// The value of the counter line starting with `name` and containing
/// `label` (0 when absent).
async fn counter(p: &Product, name: &str, label: &str) -> u64 {
    let text = mesh_tests::http::client()
        .get(format!("{}/metrics", p.mesh.gateway))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Events of another product (a price not in the plans file, none of the
/// metadata billing sets; a client_reference_id alone) are acknowledged,
/// counted and change nothing.
#[tokio::test]
async fn other_products_are_ignored() {
    let p = Product::start("other_products", &[]).await;
    let ignored = async || {
        counter(
            &p,
            "billing_stripe_events_ignored_total",
            "reason=\"other_product\"",
        )
        .await
    };
    let before = ignored().await;
    let sub = json!({
        "id": "sub_foreign_1", "object": "subscription", "customer": "cus_foreign",
        "status": "active", "metadata": {}, "created": now(),
        "items": {"data": [{"price": {"id": "price_someone_else"}, "current_period_end": now() + 86_400}]},
    });
    let session = json!({
        "id": "cs_foreign_1", "object": "checkout.session", "mode": "payment",
        "client_reference_id": "5551", "customer": "cus_foreign", "payment_status": "paid",
        "metadata": {},
    });
    for event in [
        foreign("customer.subscription.created", sub),
        foreign("checkout.session.completed", session),
    ] {
        assert_eq!(p.stripe.deliver(&p.mesh.gateway, &event).await, 200);
        // A redelivery is a duplicate, also acknowledged.
        assert_eq!(p.stripe.deliver(&p.mesh.gateway, &event).await, 200);
    }
    assert_eq!(p.entitlement(5551).await.state(), EntitlementState::None);
    // Counted once each: the redeliveries are duplicates.
    assert_eq!(ignored().await - before, 2);
    p.stop().await;
}

/// One live subscription per user: /subscribe while active shows the status
/// and the portal; a second checkout is refused; double taps make one
/// Checkout session; a subscription set to cancel is resumed (a Resume
/// button), never doubled.
#[tokio::test]
async fn one_live_subscription_per_user() {
    let p = Product::start("one_live", &[]).await;
    let user = 5601;
    p.subscribe(user).await;
    p.post(&text_update(5_601_001, user, "/subscribe")).await;
    let status = p.wait_message(user, "State: active").await;
    assert!(
        url_buttons(&status)[0].contains("billing.stripe.test"),
        "{status}"
    );
    p.post(&callback_update(5_601_002, user, "q1", "sub:yearly"))
        .await;
    p.wait_message(user, "You already have access").await;

    // Double taps by a new user: one session, the same link twice.
    let fresh = 5602;
    let (tap_a, tap_b) = (
        callback_update(5_602_001, fresh, "qa", "sub:monthly"),
        callback_update(5_602_002, fresh, "qb", "sub:monthly"),
    );
    let (a, b) = tokio::join!(
        mesh_tests::http::post_update(&p.mesh.gateway, &tap_a, None),
        mesh_tests::http::post_update(&p.mesh.gateway, &tap_b, None),
    );
    assert_eq!((a.0, b.0), (200, 200));
    let links = mesh_tests::eventually(Duration::from_secs(10), "two pay buttons", || async {
        let links: Vec<String> = p
            .telegram
            .messages_to(fresh)
            .iter()
            .flat_map(url_buttons)
            // The card buttons (each offer has a Stars button too).
            .filter(|l| l.starts_with("https://checkout.stripe.test/"))
            .collect();
        (links.len() == 2).then_some(links)
    })
    .await;
    assert_eq!(links[0], links[1], "the same session");
    let sessions = p
        .stripe
        .sessions()
        .into_iter()
        .filter(|s| s["client_reference_id"].as_str() == Some(fresh.to_string().as_str()))
        .count();
    assert_eq!(sessions, 1);

    // Set to cancel at period end: resumed, not doubled.
    p.billing()
        .cancel_subscription(CancelSubscriptionRequest {
            telegram_user_id: user,
        })
        .await
        .unwrap();
    p.post(&text_update(5_601_003, user, "/subscribe")).await;
    let prompt = p.wait_message(user, "Resume it to keep your access").await;
    assert_eq!(callback_buttons(&prompt), ["resume"]);
    p.post(&callback_update(5_601_004, user, "q2", "sub:monthly"))
        .await;
    mesh_tests::eventually(
        Duration::from_secs(10),
        "a second resume prompt",
        || async {
            (p.telegram
                .messages_to(user)
                .iter()
                .filter(|m| m["text"].as_str().is_some_and(|t| t.contains("Resume it")))
                .count()
                == 2)
                .then_some(())
        },
    )
    .await;
    p.post(&callback_update(5_601_005, user, "q3", "resume"))
        .await;
    p.wait_message(user, "will renew again").await;
    let e = p.wait_state(user, EntitlementState::Active).await;
    assert!(!e.cancel_at_period_end);
    let sub = p.stripe.subscription(&e.stripe_subscription_id).unwrap();
    assert_eq!(sub["cancel_at_period_end"], false);
    let user_sessions = p
        .stripe
        .sessions()
        .into_iter()
        .filter(|s| s["client_reference_id"].as_str() == Some(user.to_string().as_str()))
        .count();
    assert_eq!(user_sessions, 1, "no second subscription");
    // The resumed user heard it once (no notice repeating the answer).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resumed = p
        .telegram
        .messages_to(user)
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("will renew again"))
        })
        .count();
    assert_eq!(resumed, 1);
    p.stop().await;
}

/// A reconcile whose listing was asked for before an event's read never
/// overwrites what that read found, however late its answer comes.
#[tokio::test]
async fn reconcile_never_overwrites_newer_state() {
    let p = Product::start("reconcile_order", &[]).await;
    let user = 5701;
    p.subscribe(user).await;
    let sub = p.entitlement(user).await.stripe_subscription_id;
    // The listing is read as it stands now, then answered 1.5 s later.
    p.stripe
        .delay_next("/v1/subscriptions", Duration::from_millis(1500));
    let mut billing = p.billing();
    let reconcile = tokio::spawn(async move { billing.reconcile(ReconcileRequest {}).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = p.stripe.end_subscription(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::Expired).await;
    let outcome = reconcile.await.unwrap().unwrap().into_inner();
    assert_eq!(outcome.entitlements_updated, 0, "{outcome:?}");
    assert_eq!(p.entitlement(user).await.state(), EntitlementState::Expired);
    p.stop().await;
}

/// The dispute policy `suspend` (default): a dispute suspends access and
/// tells the admins; won, access comes back; lost, the subscription ends.
/// The refund policy `end` (default): a full refund ends access, a partial
/// one changes nothing.
#[tokio::test]
async fn disputes_suspend_and_refunds_end_access() {
    let p = Product::start("disputes", &[]).await;
    let (won, lost, refunded) = (5801, 5802, 5803);
    for user in [won, lost, refunded] {
        p.subscribe(user).await;
        p.wait_message(user, "Welcome to premium").await;
    }
    let product = p;
    let p = &product;
    let customer = |user: i64| async move { p.entitlement(user).await.stripe_customer_id };

    let (dispute, events) = p.stripe.dispute(&customer(won).await);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let e = p.wait_state(won, EntitlementState::Suspended).await;
    assert!(!e.has_access && e.chats.is_empty());
    p.wait_message(won, "suspended while a dispute").await;
    p.wait_call("the removal", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == won
    })
    .await;
    p.wait_message(ADMIN, &format!("user {won}: dispute {dispute} (opened)"))
        .await;
    let events = p.stripe.close_dispute(&dispute, true);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(won, EntitlementState::Active).await;
    mesh_tests::eventually(Duration::from_secs(10), "a new invite", || async {
        (p.invites(won) == 2).then_some(())
    })
    .await;
    p.wait_message(ADMIN, "won").await;

    let (dispute, events) = p.stripe.dispute(&customer(lost).await);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(lost, EntitlementState::Suspended).await;
    let events = p.stripe.close_dispute(&dispute, false);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let e = p.wait_state(lost, EntitlementState::Expired).await;
    let sub = p.stripe.subscription(&e.stripe_subscription_id).unwrap();
    assert_eq!(sub["status"], "canceled", "billing stops too");

    let events = p.stripe.refund(&customer(refunded).await, Some(100));
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        p.entitlement(refunded).await.state(),
        EntitlementState::Active,
        "partial"
    );
    let events = p.stripe.refund(&customer(refunded).await, None);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let e = p.wait_state(refunded, EntitlementState::Expired).await;
    p.wait_message(refunded, "your payment was refunded").await;
    p.wait_call("the removal", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == refunded
    })
    .await;
    let sub = p.stripe.subscription(&e.stripe_subscription_id).unwrap();
    assert_eq!(sub["status"], "canceled");
    product.stop().await;
}

/// The other policies: `notify` tells the admins and leaves access alone;
/// `keep` ignores refunds.
#[tokio::test]
async fn lenient_policies_keep_access() {
    let p = Product::start(
        "lenient",
        &[
            ("BILLING_DISPUTE_POLICY", "notify".to_owned()),
            ("BILLING_REFUND_POLICY", "keep".to_owned()),
        ],
    )
    .await;
    let user = 5901;
    p.subscribe(user).await;
    let customer = p.entitlement(user).await.stripe_customer_id;
    let (dispute, events) = p.stripe.dispute(&customer);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_message(ADMIN, &format!("dispute {dispute}")).await;
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.refund(&customer, None))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = p.entitlement(user).await;
    assert_eq!((e.state(), e.has_access), (EntitlementState::Active, true));
    assert_eq!(p.successful_for("banChatMember", user).len(), 0);
    p.stop().await;
}

/// A grant only ever adds time past the paid end; revoking just the grant
/// restores the paid state; nobody is removed along the way.
#[tokio::test]
async fn grants_extend_and_revoking_one_restores_the_paid_state() {
    let p = Product::start("grants", &[]).await;
    let user = 6001;
    p.subscribe(user).await;
    p.billing()
        .cancel_subscription(CancelSubscriptionRequest {
            telegram_user_id: user,
        })
        .await
        .unwrap();
    let paid = p.wait_state(user, EntitlementState::Canceled).await;
    let paid_end = paid.current_period_end.unwrap().seconds;
    let grant = async |days: u32, id: i64| {
        p.post(&text_update(
            id,
            ADMIN,
            &format!("/grant {user} monthly {days}"),
        ))
        .await;
        p.wait_message(ADMIN, &format!("{user} has monthly")).await;
    };
    grant(10, 6_001_001).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = p.entitlement(user).await;
    assert_eq!(
        e.current_period_end.unwrap().seconds,
        paid_end,
        "a shorter grant never shortens"
    );
    grant(60, 6_001_002).await;
    let e = mesh_tests::eventually(Duration::from_secs(10), "the longer grant", || async {
        let e = p.entitlement(user).await;
        (e.current_period_end.unwrap().seconds > paid_end + 30 * 86_400).then_some(e)
    })
    .await;
    assert!(e.has_access);
    assert!(
        e.granted_until.unwrap().seconds > now() + 69 * 86_400,
        "grants add up: {e:?}"
    );
    p.post(&text_update(
        6_001_003,
        ADMIN,
        &format!("/revoke {user} grant goodwill over"),
    ))
    .await;
    p.wait_message(ADMIN, &format!("{user} no longer has access"))
        .await;
    let e = mesh_tests::eventually(Duration::from_secs(10), "the paid state back", || async {
        let e = p.entitlement(user).await;
        (e.current_period_end.unwrap().seconds == paid_end).then_some(e)
    })
    .await;
    assert_eq!(
        (e.state(), e.has_access),
        (EntitlementState::Canceled, true)
    );
    assert_eq!(
        p.successful_for("banChatMember", user).len(),
        0,
        "never removed"
    );
    p.stop().await;
}

/// The sweeper asks Stripe before removing anyone with a subscription: a
/// renewal whose webhook was lost keeps its access; a subscription that
/// ended without its webhook is ended.
#[tokio::test]
async fn the_sweeper_asks_stripe_first() {
    let p = Product::start(
        "sweeper_asks",
        &[("BILLING_SWEEP_INTERVAL_SECS", "1".to_owned())],
    )
    .await;
    let (renewed, ended) = (6101, 6102);
    for user in [renewed, ended] {
        p.subscribe(user).await;
    }
    let product = p;
    let p = &product;
    let sub = |user: i64| async move { p.entitlement(user).await.stripe_subscription_id };
    let before = p.entitlement(renewed).await.paid_until.unwrap().seconds;
    // Stripe moves on; the webhooks never arrive.
    let _lost = p.stripe.pay_renewal(&sub(renewed).await);
    let _lost = p.stripe.end_subscription(&sub(ended).await);
    // Their next look falls due now.
    let client = redis::Client::open(mesh_tests::shared_redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for user in [renewed, ended] {
        let _: () = redis::cmd("ZADD")
            .arg(format!("{}:z:{{billing}}:expiry", p.prefix))
            .arg(0)
            .arg(user)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    p.wait_state(ended, EntitlementState::Expired).await;
    p.wait_message(ended, "has ended").await;
    let e = mesh_tests::eventually(Duration::from_secs(10), "the renewal read", || async {
        let e = p.entitlement(renewed).await;
        (e.paid_until.unwrap().seconds > before).then_some(e)
    })
    .await;
    assert_eq!((e.state(), e.has_access), (EntitlementState::Active, true));
    assert_eq!(p.successful_for("banChatMember", renewed).len(), 0);
    product.stop().await;
}

/// One trial per Telegram user: a second checkout offers none.
#[tokio::test]
async fn one_trial_per_user() {
    let p = Product::start("one_trial", &[]).await;
    let user = 6201;
    let checkout = async |p: &Product| {
        p.billing()
            .create_checkout_session(CreateCheckoutSessionRequest {
                telegram_user_id: user,
                plan_id: "yearly".into(),
                request_id: String::new(),
            })
            .await
            .expect("checkout")
            .into_inner()
            .session_id
    };
    let first = checkout(&p).await;
    let events = p.stripe.complete_checkout(&first);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let e = p.wait_state(user, EntitlementState::Trialing).await;
    assert!(e.trial_used);
    let events = p.stripe.end_subscription(&e.stripe_subscription_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::Expired).await;
    let second = checkout(&p).await;
    let sessions = p.stripe.sessions();
    let params = |id: &str| sessions.iter().find(|s| s["id"] == id).cloned().unwrap();
    assert_eq!(
        params(&first)["subscription_data"]["trial_period_days"],
        "7"
    );
    assert!(
        params(&second)["subscription_data"]
            .get("trial_period_days")
            .is_none(),
        "no second trial: {}",
        params(&second)
    );
    let events = p.stripe.complete_checkout(&second);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_state(user, EntitlementState::Active).await;
    p.stop().await;
}

/// trial_will_end says when the trial converts (or that access ends, for a
/// cancelled trial); an authentication request sends the hosted invoice.
#[tokio::test]
async fn trial_ending_and_payment_authentication() {
    let p = Product::start("trial_sca", &[]).await;
    let (converts, ends) = (6301, 6302);
    for user in [converts, ends] {
        let session = p
            .billing()
            .create_checkout_session(CreateCheckoutSessionRequest {
                telegram_user_id: user,
                plan_id: "yearly".into(),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .session_id;
        let events = p.stripe.complete_checkout(&session);
        p.stripe.deliver_all(&p.mesh.gateway, &events).await;
        p.wait_state(user, EntitlementState::Trialing).await;
    }
    p.billing()
        .cancel_subscription(CancelSubscriptionRequest {
            telegram_user_id: ends,
        })
        .await
        .unwrap();
    for user in [converts, ends] {
        let sub = p.entitlement(user).await.stripe_subscription_id;
        let events = p.stripe.trial_will_end(&sub);
        p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    }
    p.wait_message(converts, "your paid subscription starts then")
        .await;
    let ending = p.wait_message(ends, "Your free trial ends on").await;
    assert!(
        !ending["text"]
            .as_str()
            .unwrap()
            .contains("paid subscription starts")
    );
    let sub = p.entitlement(converts).await.stripe_subscription_id;
    let events = p.stripe.action_required(&sub);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let asked = p.wait_message(converts, "confirm your payment").await;
    assert!(url_buttons(&asked)[0].starts_with("https://invoice.stripe.test/i/in_"));
    p.stop().await;
}

/// A reminder never announces an end that has passed: a one-day grant
/// (inside the three-day lead) is reminded of at once, with tomorrow's date.
#[tokio::test]
async fn reminders_carry_future_dates() {
    let p = Product::start(
        "reminder_dates",
        &[("BILLING_SWEEP_INTERVAL_SECS", "1".to_owned())],
    )
    .await;
    let user = 6401;
    p.post(&text_update(
        6_401_001,
        ADMIN,
        &format!("/grant {user} monthly 1"),
    ))
    .await;
    let reminder = p.wait_message(user, "Heads up: your access ends on").await;
    let text = reminder["text"].as_str().unwrap();
    let date = text
        .split("ends on ")
        .nth(1)
        .and_then(|r| r.get(..10))
        .unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(date > today.as_str(), "{date} must be after {today}");
    p.stop().await;
}

/// Plans for the ledger tests: the repository's (monthly, and yearly with
/// a trial) and a lifetime pass.
fn ledger_plans(test: &str) -> String {
    mesh_tests::mesh::plans_with(test, mesh_tests::mesh::LIFETIME_PLAN)
}

/// Access is a ledger of what each payment bought: a refund of an old
/// subscription's invoice, or a lost dispute over it, leaves a lifetime
/// pass bought since alone; the pass's own refund ends the pass.
#[tokio::test]
async fn refunds_and_disputes_end_only_what_their_payment_bought() {
    let p = Product::start(
        "ledger_refunds",
        &[("PLANS_FILE", ledger_plans("ledger_refunds"))],
    )
    .await;
    let user = 6101;
    p.subscribe(user).await;
    let e = p.entitlement(user).await;
    let (customer, monthly) = (e.stripe_customer_id, e.stripe_subscription_id);
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.end_subscription(&monthly))
        .await;
    p.wait_state(user, EntitlementState::Expired).await;
    p.wait_call("removed when the month ended", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == user
    })
    .await;
    let session = p.checkout(user, "lifetime").await;
    let paid = p.stripe.complete_payment(&session.session_id, 0);
    p.stripe
        .deliver_all(&p.mesh.gateway, std::slice::from_ref(&paid))
        .await;
    let e = p.wait_state(user, EntitlementState::Active).await;
    assert!(e.lifetime, "{e:?}");
    let charges = p.stripe.charges_of(&customer);
    assert_eq!(charges.len(), 2, "the monthly invoice's and the pass's");
    let (old, pass) = (
        charges[0]["id"].as_str().unwrap().to_owned(),
        charges[1]["id"].as_str().unwrap().to_owned(),
    );
    let removals = p.successful_for("banChatMember", user).len();

    // Last month's invoice refunded, then disputed and lost: the pass stays.
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.refund_charge(&old, None))
        .await;
    let (dispute, events) = p.stripe.dispute_charge(&old);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.close_dispute(&dispute, false))
        .await;
    p.wait_message(ADMIN, &format!("dispute {dispute} (closed)"))
        .await;
    let e = p.entitlement(user).await;
    assert_eq!(
        (e.state(), e.has_access, e.lifetime),
        (EntitlementState::Active, true, true),
        "an old payment's refund and dispute end nothing bought since"
    );
    assert_eq!(p.successful_for("banChatMember", user).len(), removals);

    // The pass's own refund ends the pass.
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.refund_charge(&pass, None))
        .await;
    p.wait_state(user, EntitlementState::Expired).await;
    p.wait_message(user, "your payment was refunded").await;
    p.stop().await;
}

/// One subscription per user, with access or not: past due beyond its
/// grace (no access), a second Checkout is refused, so Stripe's later
/// retry of the first invoice can't charge the user twice.
#[tokio::test]
async fn no_second_subscription_while_one_is_past_due() {
    let p = Product::start(
        "ledger_past_due",
        &[("BILLING_PAST_DUE_GRACE_SECS", "0".to_owned())],
    )
    .await;
    let user = 6201;
    p.subscribe(user).await;
    let sub = p.entitlement(user).await.stripe_subscription_id;
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.fail_renewal(&sub))
        .await;
    let e = p.wait_state(user, EntitlementState::Expired).await;
    assert!(!e.has_access);
    for plan in ["monthly", "yearly"] {
        let refused = p
            .billing()
            .create_checkout_session(CreateCheckoutSessionRequest {
                telegram_user_id: user,
                plan_id: plan.into(),
                request_id: String::new(),
            })
            .await
            .expect_err("a second subscription");
        assert_eq!(
            refused.code(),
            tonic::Code::FailedPrecondition,
            "{refused:?}"
        );
    }
    let sessions = p
        .stripe
        .sessions()
        .into_iter()
        .filter(|s| s["client_reference_id"].as_str() == Some(user.to_string().as_str()))
        .count();
    assert_eq!(sessions, 1, "only the first Checkout");
    p.stop().await;
}

/// Only what Stripe confirms grants access: correctly signed events (or
/// ApplyStripeEvent calls) about a subscription, an invoice or a Checkout
/// session Stripe doesn't know grant nothing, lifetime metadata included.
#[tokio::test]
async fn objects_stripe_does_not_know_grant_nothing() {
    let p = Product::start(
        "ledger_forged",
        &[("PLANS_FILE", ledger_plans("ledger_forged"))],
    )
    .await;
    let (a, b, c) = (6301, 6302, 6303);
    let end = now() + 30 * 86_400;
    let forged_sub = json!({
        "id": "sub_forged_6301", "object": "subscription", "customer": "cus_forged",
        "status": "active", "metadata": {"telegram_user_id": a.to_string(), "plan_id": "monthly"},
        "created": now(), "cancel_at_period_end": false,
        "items": {"data": [{"price": {"id": "price_monthly_placeholder"}, "current_period_end": end}]},
    });
    let event = mesh_tests::stripe::event(
        "evt_forged_sub_6301",
        "customer.subscription.created",
        now(),
        forged_sub,
    );
    assert_eq!(p.stripe.deliver(&p.mesh.gateway, &event).await, 200);
    // A real customer's forged invoice for a subscription Stripe doesn't know.
    let _ = p.checkout(b, "monthly").await;
    let customer = p
        .stripe
        .sessions()
        .into_iter()
        .find(|s| s["client_reference_id"].as_str() == Some(b.to_string().as_str()))
        .and_then(|s| s["customer"].as_str().map(str::to_owned))
        .expect("b's customer");
    let invoice = json!({
        "id": "in_forged_6302", "object": "invoice", "customer": customer,
        "subscription": "sub_forged_6302", "status": "paid",
    });
    let event = mesh_tests::stripe::event("evt_forged_in_6302", "invoice.paid", now(), invoice);
    assert_eq!(p.stripe.deliver(&p.mesh.gateway, &event).await, 200);
    // A lifetime purchase that was never paid, through the internal API.
    let session = json!({
        "id": "cs_forged_6303", "object": "checkout.session", "mode": "payment",
        "payment_status": "paid", "customer": "cus_forged_c", "payment_intent": "pi_forged",
        "metadata": {"telegram_user_id": c.to_string(), "plan_id": "lifetime", "duration_days": "0"},
    });
    let event = mesh_tests::stripe::event(
        "evt_forged_cs_6303",
        "checkout.session.completed",
        now(),
        session,
    );
    p.billing()
        .apply_stripe_event(mesh_proto::billing::v1::ApplyStripeEventRequest {
            event_json: event.to_string().into_bytes().into(),
        })
        .await
        .expect("acknowledged");
    for user in [a, b, c] {
        let e = p.entitlement(user).await;
        assert!(!e.has_access, "user {user}: {e:?}");
        assert_eq!(e.state(), EntitlementState::None, "user {user}");
    }
    let unknown = counter(
        &p,
        "billing_stripe_events_ignored_total",
        "reason=\"unknown_to_stripe\"",
    )
    .await;
    assert_eq!(unknown, 3);
    p.stop().await;
}

/// A customer belongs to the first Telegram user linked to it: a
/// subscription made in the dashboard on A's customer naming B in its
/// metadata gives B nothing, leaves A's link alone, and the admins hear.
#[tokio::test]
async fn a_customer_belongs_to_its_first_user() {
    let p = Product::start("ledger_owner", &[]).await;
    let (a, b) = (6401, 6402);
    p.subscribe(a).await;
    let customer = p.entitlement(a).await.stripe_customer_id;
    let events = p.stripe.dashboard_subscription(
        &customer,
        "price_monthly_placeholder",
        json!({"telegram_user_id": b.to_string()}),
    );
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.wait_message(ADMIN, &format!("which belongs to user {a}"))
        .await;
    assert_eq!(p.entitlement(b).await.state(), EntitlementState::None);
    // A's invoices still reach A: a full refund of A's latest charge is A's.
    let e = p.entitlement(a).await;
    assert_eq!(
        (e.state(), e.stripe_customer_id.as_str()),
        (EntitlementState::Active, customer.as_str())
    );
    assert_eq!(counter(&p, "billing_customer_conflicts_total", "").await, 1);
    p.stop().await;
}

/// A cancel at Stripe that an earlier try already made (its stored answer
/// pruned, so Stripe now answers "No such subscription") counts as done:
/// the refund applies, access ends, and the retry is not answered 503.
#[tokio::test]
async fn a_cancel_already_made_counts_as_done() {
    let p = Product::start("ledger_cancel_twice", &[]).await;
    let user = 6501;
    p.subscribe(user).await;
    let e = p.entitlement(user).await;
    // The earlier try's cancel landed at Stripe; its answer never did.
    let _deleted = p.stripe.end_subscription(&e.stripe_subscription_id);
    p.stripe.forget_idempotency();
    let refund = p.stripe.refund(&e.stripe_customer_id, None);
    p.stripe.deliver_all(&p.mesh.gateway, &refund).await;
    p.wait_state(user, EntitlementState::Expired).await;
    p.wait_message(user, "your payment was refunded").await;
    p.stop().await;
}

/// One user's persistent error doesn't stall the sweeper: a corrupt record
/// due first is counted and passed over, and a pass that ran out after it
/// still ends.
#[tokio::test]
async fn the_sweeper_goes_on_past_a_bad_record() {
    let p = Product::start(
        "ledger_sweep_on",
        &[
            ("PLANS_FILE", ledger_plans("ledger_sweep_on")),
            ("BILLING_SWEEP_INTERVAL_SECS", "1".into()),
        ],
    )
    .await;
    let store = mesh_state::Store::redis(&mesh_tests::shared_redis_url(), &p.prefix).unwrap();
    let bad = 6601;
    let mut tx = mesh_state::Tx::new();
    tx.put_record(
        &billing_service::ledger::keys::record(bad),
        1,
        b"{not json".to_vec(),
    );
    tx.schedule(billing_service::ledger::keys::EXPIRY, &bad.to_string(), 1);
    store.commit(&tx).await.unwrap();
    // A grant of one day, ended by the sweeper once it runs out; the bad
    // record is due long before it.
    let user = 6602;
    p.billing()
        .grant_entitlement(mesh_proto::billing::v1::GrantEntitlementRequest {
            telegram_user_id: user,
            plan_id: "monthly".into(),
            days: 1,
            actor: "test".into(),
            reason: "sweeper test".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    p.wait_state(user, EntitlementState::Active).await;
    let mut tx = mesh_state::Tx::new();
    tx.schedule(billing_service::ledger::keys::EXPIRY, &user.to_string(), 2);
    store.commit(&tx).await.unwrap();
    // Due now: the look finds the grant still running and files it again
    // for its end, which is what the pass reaching it proves.
    mesh_tests::eventually(
        Duration::from_secs(10),
        "the sweeper passed the bad record",
        || async {
            let errors = counter(&p, "billing_sweep_errors_total", "step=\"expiry\"").await;
            let due = store
                .due(billing_service::ledger::keys::EXPIRY, 10, 10)
                .await
                .unwrap();
            (errors >= 1 && !due.contains(&user.to_string())).then_some(())
        },
    )
    .await;
    p.stop().await;
}

/// A second browser tab: choosing another plan expires the first plan's
/// open session; a second subscription that completes anyway (paid in the
/// other tab before the expiry) is cancelled at once and its payment
/// refunded, the user and the admins are told, and Stripe's redelivery
/// changes nothing more. The first subscription stands.
#[tokio::test]
async fn a_second_tab_never_makes_a_second_subscription() {
    let p = Product::start("ledger_second_tab", &[]).await;
    // Taps Monthly, then Yearly, pays neither: the first session expires.
    let idle = 6701;
    let first = p.checkout(idle, "monthly").await;
    let _second = p.checkout(idle, "yearly").await;
    let stored = p
        .stripe
        .sessions()
        .into_iter()
        .find(|s| s["id"] == first.session_id)
        .expect("session");
    assert_eq!(stored["status"], "expired");

    // Pays Monthly in one tab; before its events arrive, opens and pays
    // Yearly in another.
    let user = 6702;
    let monthly = p.checkout(user, "monthly").await;
    let paid_first = p.stripe.complete_checkout(&monthly.session_id);
    let yearly = p.checkout(user, "yearly").await;
    let paid_second = p.stripe.complete_checkout(&yearly.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &paid_first).await;
    let kept = p
        .wait_state(user, EntitlementState::Active)
        .await
        .stripe_subscription_id;
    p.stripe.deliver_all(&p.mesh.gateway, &paid_second).await;
    p.wait_message(user, "its payment refunded").await;
    p.wait_message(ADMIN, "a second subscription").await;
    // Stripe delivers the second tab's events again: nothing more.
    p.stripe.deliver_all(&p.mesh.gateway, &paid_second).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = p.entitlement(user).await;
    assert_eq!(
        (e.state(), e.stripe_subscription_id.as_str()),
        (EntitlementState::Active, kept.as_str())
    );
    let second = p
        .stripe
        .sessions()
        .into_iter()
        .find(|s| s["id"] == yearly.session_id)
        .and_then(|s| s["subscription"].as_str().map(str::to_owned))
        .expect("the second subscription");
    assert_eq!(
        p.stripe.subscription(&second).unwrap()["status"],
        "canceled"
    );
    assert_eq!(p.stripe.subscription(&kept).unwrap()["status"], "active");
    let refunds = p.stripe.requests_to("POST", "/v1/refunds");
    let keys: std::collections::HashSet<_> =
        refunds.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), 1, "one refund: {refunds:?}");
    let refunded: Vec<Value> = p
        .stripe
        .charges_of(&e.stripe_customer_id)
        .into_iter()
        .filter(|c| c["refunded"] == true)
        .collect();
    assert_eq!(
        refunded.len(),
        1,
        "{:?}",
        p.stripe.charges_of(&e.stripe_customer_id)
    );
    let told = p
        .telegram
        .messages_to(user)
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("its payment refunded"))
        })
        .count();
    assert_eq!(told, 1);
    p.stop().await;
}

/// Reconcile rebuilds everything that grants access after the store is
/// wiped: one-time purchases (from Stripe's Checkout sessions), trial use
/// (a trial subscription long ended still counts: no second trial), and
/// every subscription of a user. Grants live only in the ledger: a wipe
/// loses them (the operating docs say to back the store up).
#[tokio::test]
async fn reconcile_rebuilds_purchases_trials_and_subscriptions() {
    let p = Product::start(
        "ledger_reconcile",
        &[("PLANS_FILE", ledger_plans("ledger_reconcile"))],
    )
    .await;
    let (pass, trial, paying) = (6801, 6802, 6803);
    let session = p.checkout(pass, "lifetime").await;
    let paid = p.stripe.complete_payment(&session.session_id, 0);
    p.stripe
        .deliver_all(&p.mesh.gateway, std::slice::from_ref(&paid))
        .await;
    p.wait_state(pass, EntitlementState::Active).await;
    let session = p.checkout(trial, "yearly").await;
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let sub = p
        .wait_state(trial, EntitlementState::Trialing)
        .await
        .stripe_subscription_id;
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.end_subscription(&sub))
        .await;
    p.wait_state(trial, EntitlementState::Expired).await;
    p.subscribe(paying).await;
    p.billing()
        .grant_entitlement(mesh_proto::billing::v1::GrantEntitlementRequest {
            telegram_user_id: paying,
            plan_id: "monthly".into(),
            days: 90,
            actor: "test".into(),
            reason: "goodwill".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();

    p.wipe().await;
    assert_eq!(p.entitlement(pass).await.state(), EntitlementState::None);

    let outcome = p
        .billing()
        .reconcile(ReconcileRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcome.entitlements_updated, 3, "{outcome:?}");
    let e = p.entitlement(pass).await;
    assert!(e.has_access && e.lifetime, "the pass is back: {e:?}");
    let e = p.entitlement(trial).await;
    assert_eq!(e.state(), EntitlementState::Expired);
    assert!(e.trial_used, "an ended trial still counts");
    let again = p.checkout(trial, "yearly").await;
    let stored = p
        .stripe
        .sessions()
        .into_iter()
        .find(|s| s["id"] == again.session_id)
        .expect("session");
    assert!(
        stored["subscription_data"]["trial_period_days"].is_null(),
        "no second trial: {stored}"
    );
    let e = p.entitlement(paying).await;
    assert_eq!(e.state(), EntitlementState::Active);
    assert!(e.granted_until.is_none(), "a wipe loses grants: {e:?}");
    p.stop().await;
}

/// libfaketime's preload library (Debian's `faketime`, which the test
/// command installs).
fn faketime_library() -> String {
    std::fs::read_dir("/usr/lib")
        .expect("/usr/lib")
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime (apt-get install faketime)")
        .display()
        .to_string()
}

/// Two billing replicas whose clocks differ by a minute share one store:
/// one subscription's events read on the fast one, then its deletion read
/// on the slow one, end as Stripe ends: the store's clock orders the
/// reads, not each replica's.
#[tokio::test]
async fn two_replicas_with_different_clocks_order_reads_alike() {
    let test = "ledger_two_clocks";
    let p = Product::start(test, &[]).await;
    let mut env = vec![
        ("REDIS_URL", mesh_tests::shared_redis_url()),
        ("REDIS_KEY_PREFIX", p.prefix.clone()),
        ("BILLING_SERVICE_ADDR", "127.0.0.1:0".to_owned()),
        ("BILLING_METRICS_ADDR", "off".to_owned()),
        ("BOT_SERVICE_URL", p.mesh.bot.clone()),
        (
            "PREMIUM_CHAT_ID",
            mesh_tests::product::PREMIUM_CHAT.to_string(),
        ),
        ("TELEGRAM_BOT_USERNAME", "test_bot".to_owned()),
        (
            "PLANS_FILE",
            mesh_tests::mesh::plans_file().display().to_string(),
        ),
        ("LD_PRELOAD", faketime_library()),
        ("FAKETIME", "+60s".to_owned()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_owned()),
    ];
    env.extend(p.stripe.env());
    let fast = mesh_tests::process::Process::spawn(test, "billing-fast", "billing-service", &env);
    let port = fast.port("billing-service listening").await;
    let fast_billing = mesh_proto::billing::v1::billing_service_client::BillingServiceClient::new(
        mesh_proto::lazy_channel(&format!("http://127.0.0.1:{port}")).expect("channel"),
    );
    let user = 6901;
    let session = p.checkout(user, "monthly").await;
    for event in p.stripe.complete_checkout(&session.session_id) {
        mesh_tests::eventually(Duration::from_secs(10), "the fast replica applies", || {
            let mut client = fast_billing.clone();
            let body = event.to_string().into_bytes();
            async move {
                client
                    .apply_stripe_event(mesh_proto::billing::v1::ApplyStripeEventRequest {
                        event_json: body.into(),
                    })
                    .await
                    .ok()
            }
        })
        .await;
    }
    let sub = p
        .wait_state(user, EntitlementState::Active)
        .await
        .stripe_subscription_id;
    // Deleted at Stripe a moment later; the slow replica (the gateway's)
    // reads it.
    p.stripe
        .deliver_all(&p.mesh.gateway, &p.stripe.end_subscription(&sub))
        .await;
    p.wait_state(user, EntitlementState::Expired).await;
    drop(fast);
    p.stop().await;
}

/// The sweeper treats a subscription that once existed and that Stripe
/// now answers 404 for as gone: access ends, rather than being kept on the
/// record's own word for ever.
#[tokio::test]
async fn the_sweeper_ends_a_subscription_stripe_no_longer_knows() {
    let p = Product::start(
        "ledger_sweep_gone",
        &[("BILLING_SWEEP_INTERVAL_SECS", "1".into())],
    )
    .await;
    let user = 7001;
    p.subscribe(user).await;
    let sub = p.entitlement(user).await.stripe_subscription_id;
    p.stripe.forget_subscription(&sub);
    let store = mesh_state::Store::redis(&mesh_tests::shared_redis_url(), &p.prefix).unwrap();
    let mut tx = mesh_state::Tx::new();
    tx.schedule(billing_service::ledger::keys::EXPIRY, &user.to_string(), 1);
    store.commit(&tx).await.unwrap();
    p.wait_state(user, EntitlementState::Expired).await;
    p.wait_call("removed", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == user
    })
    .await;
    p.stop().await;
}

/// A Stripe write is decided with the change and made after it: a refund
/// whose cancellation Stripe can't take right now still ends access at
/// once (503, so Stripe retries), and the retry makes the cancellation,
/// once.
#[tokio::test]
async fn a_cancel_stripe_refused_is_made_by_the_retry() {
    let p = Product::start("ledger_cancel_retry", &[]).await;
    let user = 7101;
    p.subscribe(user).await;
    let e = p.entitlement(user).await;
    let path = format!("/v1/subscriptions/{}", e.stripe_subscription_id);
    for _ in 0..3 {
        p.stripe.fail_next(&path, 500);
    }
    let refund = p.stripe.refund(&e.stripe_customer_id, None);
    assert_eq!(p.stripe.deliver(&p.mesh.gateway, &refund[0]).await, 503);
    assert_eq!(
        p.entitlement(user).await.state(),
        EntitlementState::Expired,
        "decided and committed before the write"
    );
    assert_eq!(
        p.stripe.subscription(&e.stripe_subscription_id).unwrap()["status"],
        "active"
    );
    // Stripe's retry of the same event makes the pending cancellation.
    assert_eq!(p.stripe.deliver(&p.mesh.gateway, &refund[0]).await, 200);
    assert_eq!(
        p.stripe.subscription(&e.stripe_subscription_id).unwrap()["status"],
        "canceled"
    );
    p.wait_message(user, "your payment was refunded").await;
    p.stop().await;
}
