//! Exactly-once effects under partial failure: every store command of
//! every money and bot flow, failed before it runs and failed with its reply
//! lost, with the sender retrying as Telegram or Stripe would. Each run
//! asserts that every effect of the flow happened exactly once.
//!
//! The mesh runs in one process against the shared Redis through a
//! [`FaultProxy`], with one worker and one sender and no idle polling, so
//! a flow issues the same commands every time; its leases are short (1 s),
//! so a claim whose reply was lost costs a second, not minutes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use mesh_proto::billing::v1::{CreateCheckoutSessionRequest, EntitlementState};
use mesh_state::Store;
use mesh_tests::fault_proxy::FaultProxy;
use mesh_tests::http::{callback_update, join_request_update, post_update, text_update};
use mesh_tests::product::{ADMIN, PREMIUM_CHAT, Product, url_buttons};
use mesh_tests::sweep::{quiet, sweep};
use serde_json::Value;

const QUEUES: &[&str] = &["{bot}:updates", "{bot}:outbox", "{billing}:notices"];

/// Update ids nobody else uses.
static UPDATE_ID: AtomicI64 = AtomicI64::new(900_000_000);

fn next_update() -> i64 {
    UPDATE_ID.fetch_add(1, Ordering::Relaxed)
}

/// A product under a fault proxy, and a direct store to watch its queues.
struct Rig {
    p: Product,
    proxy: FaultProxy,
    store: Store,
}

impl Rig {
    /// Sweeps a flow on this rig (settling means: every queue drained),
    /// asserting it tried exactly `points` failure points: a flow whose
    /// store commands change must say so here, and one that silently stops
    /// issuing commands fails.
    async fn sweep<T>(
        &self,
        name: &str,
        points: usize,
        setup: impl AsyncFn(u64) -> T,
        act: impl AsyncFn(&T),
        check: impl AsyncFn(&T, String),
    ) {
        let coverage = sweep(
            name,
            &self.proxy,
            setup,
            act,
            async || quiet(&self.store, QUEUES).await,
            check,
        )
        .await;
        assert_eq!(
            (coverage.points, coverage.fired),
            (points, points * 2),
            "{name}: failure points tried (update the count on purpose when the flow's commands change)"
        );
    }

    /// A subscribed user and the events Stripe sends when `change` happens
    /// to their subscription.
    async fn subscribed(
        &self,
        user: i64,
        change: impl Fn(&str) -> Vec<Value>,
    ) -> (i64, Vec<Value>) {
        self.p.subscribe(user).await;
        let sub = self.p.entitlement(user).await.stripe_subscription_id;
        (user, change(&sub))
    }
}

/// The product on the shared Redis through a fault proxy, tuned so a flow
/// is deterministic; and a direct store to watch its queues.
async fn product(test: &str) -> Rig {
    let upstream = mesh_tests::shared_redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = FaultProxy::start(&upstream).await;
    let vars = [
        ("REDIS_URL", proxy.url.clone()),
        ("BOT_UPDATE_LEASE_MS", "1000".to_owned()),
        ("BILLING_NOTICE_LEASE_MS", "1000".to_owned()),
        ("BOT_POLL_MS", "60000".to_owned()),
        ("BILLING_NOTICE_POLL_MS", "60000".to_owned()),
        ("BILLING_SWEEP_INTERVAL_SECS", "3600".to_owned()),
        // Gauges are sampled on a timer, not by a flow: a sample landing in
        // a flow's window would be a failure point only some runs reach.
        ("GAUGE_SAMPLE_SECS", "3600".to_owned()),
        ("BOT_WORKERS", "1".to_owned()),
        ("BOT_OUTBOX_WORKERS", "1".to_owned()),
        ("BOT_GLOBAL_SEND_INTERVAL_MS", "1".to_owned()),
        ("BOT_CHAT_SEND_INTERVAL_MS", "1".to_owned()),
        // One admin sends every `/grant` of a sweep: the flood limit stays
        // in the flow (its command is a failure point) but never bites.
        ("BOT_USER_RATE_PER_MIN", "60000".to_owned()),
        ("BOT_USER_BURST", "1000".to_owned()),
        (
            "PLANS_FILE",
            mesh_tests::mesh::plans_with(
                test,
                &format!(
                    "{}{}",
                    mesh_tests::mesh::LIFETIME_PLAN,
                    mesh_tests::mesh::PASS30_PLAN
                ),
            ),
        ),
    ];
    let p = Product::start(test, &vars).await;
    let store = Store::redis(&mesh_tests::shared_redis_url(), &p.prefix).expect("store");
    Rig { p, proxy, store }
}

/// Posts `update` until the gateway accepts it, as Telegram retries.
async fn deliver_update(p: &Product, update: &Value) {
    mesh_tests::eventually(Duration::from_secs(30), "the update accepted", || async {
        (post_update(&p.mesh.gateway, update, None).await.0 == 200).then_some(())
    })
    .await;
}

/// Delivers each event until the gateway accepts it, as Stripe retries.
async fn deliver_events(p: &Product, events: &[Value]) {
    for e in events {
        mesh_tests::eventually(Duration::from_secs(30), "the event accepted", || async {
            (p.stripe.deliver(&p.mesh.gateway, e).await == 200).then_some(())
        })
        .await;
    }
}

/// Successful Bot API calls of `method` matching `pred`.
fn calls(p: &Product, method: &str, pred: impl Fn(&Value) -> bool) -> usize {
    p.telegram
        .successful(method)
        .iter()
        .filter(|c| pred(&c.params))
        .count()
}

/// Messages to `chat` whose text contains `needle`.
fn messages(p: &Product, chat: i64, needle: &str) -> usize {
    calls(p, "sendMessage", |m| {
        m["chat_id"] == chat && m["text"].as_str().is_some_and(|t| t.contains(needle))
    })
}

fn invites(p: &Product, user: i64) -> usize {
    calls(p, "createChatInviteLink", |m| {
        m["chat_id"] == PREMIUM_CHAT && m["name"] == format!("tg{user}")
    })
}

/// A paid checkout: the three events Stripe sends; the user gets one
/// invite and one welcome.
#[tokio::test]
async fn sweep_paid_checkout_to_invite() {
    let rig = product("sweep_checkout").await;
    let p = &rig.p;
    rig.sweep(
        "paid checkout -> invite",
        34,
        async |n| {
            let user = 71_000_000 + i64::try_from(n).unwrap_or_default();
            let session = p
                .billing()
                .create_checkout_session(CreateCheckoutSessionRequest {
                    telegram_user_id: user,
                    plan_id: "monthly".into(),
                    request_id: String::new(),
                })
                .await
                .expect("checkout")
                .into_inner();
            (user, p.stripe.complete_checkout(&session.session_id))
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            assert_eq!(invites(p, *user), 1, "{run}: invites");
            assert_eq!(
                messages(p, *user, "Welcome to premium"),
                1,
                "{run}: welcomes"
            );
            assert_eq!(
                p.entitlement(*user).await.state(),
                EntitlementState::Active,
                "{run}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// `/start`: one welcome.
#[tokio::test]
async fn sweep_start_to_reply() {
    let rig = product("sweep_start").await;
    let p = &rig.p;
    rig.sweep(
        "/start -> reply",
        12,
        async |n| {
            let user = 72_000_000 + i64::try_from(n).unwrap_or_default();
            (user, text_update(next_update(), user, "/start"))
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            assert_eq!(messages(p, *user, "Welcome, Ann!"), 1, "{run}: replies");
        },
    )
    .await;
    rig.p.stop().await;
}

/// A subscription deleted at Stripe: one removal, one message.
#[tokio::test]
async fn sweep_subscription_deleted_to_removal() {
    let rig = product("sweep_deleted").await;
    let p = &rig.p;
    rig.sweep(
        "subscription deleted -> removal and message",
        24,
        async |n| {
            let user = 73_000_000 + i64::try_from(n).unwrap_or_default();
            rig.subscribed(user, |sub| p.stripe.end_subscription(sub))
                .await
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            let unbans = calls(p, "unbanChatMember", |m| m["user_id"] == *user);
            assert_eq!((bans, unbans), (1, 1), "{run}: removals");
            assert_eq!(messages(p, *user, "has ended"), 1, "{run}: messages");
            assert_eq!(
                p.entitlement(*user).await.state(),
                EntitlementState::Expired,
                "{run}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A renewal that fails: one message with the portal.
#[tokio::test]
async fn sweep_payment_failed_to_notice() {
    let rig = product("sweep_failed").await;
    let p = &rig.p;
    rig.sweep(
        "payment failed -> notice",
        28,
        async |n| {
            let user = 74_000_000 + i64::try_from(n).unwrap_or_default();
            rig.subscribed(user, |sub| p.stripe.fail_renewal(sub)).await
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            assert_eq!(messages(p, *user, "didn't go through"), 1, "{run}: notices");
            assert_eq!(
                p.entitlement(*user).await.state(),
                EntitlementState::PastDue,
                "{run}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// An admin's `/grant`: one grant (not two), one invite, one answer.
#[tokio::test]
async fn sweep_admin_grant_to_invite() {
    let rig = product("sweep_grant").await;
    let p = &rig.p;
    rig.sweep(
        "admin /grant -> invite",
        28,
        async |n| {
            let user = 75_000_000 + i64::try_from(n).unwrap_or_default();
            let update = text_update(next_update(), ADMIN, &format!("/grant {user} monthly 30"));
            (user, update)
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            assert_eq!(invites(p, *user), 1, "{run}: invites");
            assert_eq!(
                messages(p, *user, "Welcome to premium"),
                1,
                "{run}: welcomes"
            );
            assert_eq!(
                messages(p, ADMIN, &format!("{user} has monthly")),
                1,
                "{run}: answers to the admin"
            );
            let e = p.entitlement(*user).await;
            let days =
                (e.granted_until.map_or(0, |t| t.seconds) - mesh_tests::stripe::now()) / 86_400;
            assert!(
                (29..=30).contains(&days),
                "{run}: granted once, not twice ({days} days)"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A paying user's join request: one approval.
#[tokio::test]
async fn sweep_join_request_to_approval() {
    let rig = product("sweep_join").await;
    let p = &rig.p;
    rig.sweep(
        "join request -> approval",
        10,
        async |n| {
            let user = 76_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            (user, join_request_update(next_update(), PREMIUM_CHAT, user))
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            let approvals = calls(p, "approveChatJoinRequest", |m| m["user_id"] == *user);
            assert_eq!(approvals, 1, "{run}: approvals");
            let declines = calls(p, "declineChatJoinRequest", |m| m["user_id"] == *user);
            assert_eq!(declines, 0, "{run}: declines");
        },
    )
    .await;
    rig.p.stop().await;
}

/// `/cancel`, confirmed: one cancellation at Stripe, one message.
#[tokio::test]
async fn sweep_cancel_confirmed() {
    let rig = product("sweep_cancel").await;
    let p = &rig.p;
    rig.sweep(
        "/cancel confirmed -> cancellation and message",
        23,
        async |n| {
            let user = 77_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            p.post(&text_update(next_update(), user, "/cancel")).await;
            p.wait_message(user, "Cancel your subscription?").await;
            let query = format!("q{user}");
            (
                user,
                callback_update(next_update(), user, &query, "cancel:yes"),
            )
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            assert_eq!(messages(p, *user, "cancelled"), 1, "{run}: messages");
            let answered = calls(p, "answerCallbackQuery", |m| {
                m["callback_query_id"] == format!("q{user}")
            });
            assert_eq!(answered, 1, "{run}: answers");
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Canceled, "{run}");
            let updates: std::collections::HashSet<Option<String>> = p
                .stripe
                .requests_to(
                    "POST",
                    &format!("/v1/subscriptions/{}", e.stripe_subscription_id),
                )
                .into_iter()
                .map(|r| r.idempotency_key)
                .collect();
            assert_eq!(
                updates.len(),
                1,
                "{run}: one cancellation at Stripe: {updates:?}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A full refund of the paid invoice: the subscription cancelled at Stripe
/// once, one removal, one message.
#[tokio::test]
async fn sweep_refund_to_removal() {
    let rig = product("sweep_refund").await;
    let p = &rig.p;
    rig.sweep(
        "full refund -> removal and message",
        27,
        async |n| {
            let user = 78_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            let e = p.entitlement(user).await;
            (user, p.stripe.refund(&e.stripe_customer_id, None))
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            assert_eq!(bans, 1, "{run}: removals");
            assert_eq!(
                messages(p, *user, "your payment was refunded"),
                1,
                "{run}: messages"
            );
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Expired, "{run}");
            let sub = p.stripe.subscription(&e.stripe_subscription_id).unwrap();
            assert_eq!(sub["status"], "canceled", "{run}: cancelled at Stripe");
        },
    )
    .await;
    rig.p.stop().await;
}

/// A dispute opened: access held back (one removal, one message to the
/// user, one alert to the admins).
#[tokio::test]
async fn sweep_dispute_to_suspension() {
    let rig = product("sweep_dispute").await;
    let p = &rig.p;
    rig.sweep(
        "dispute -> suspension",
        36,
        async |n| {
            let user = 79_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            let e = p.entitlement(user).await;
            let (dispute, events) = p.stripe.dispute(&e.stripe_customer_id);
            (user, dispute, events)
        },
        async |(_, _, events)| deliver_events(p, events).await,
        async |(user, dispute, _), run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            assert_eq!(bans, 1, "{run}: removals");
            assert_eq!(
                messages(p, *user, "suspended while a dispute"),
                1,
                "{run}: messages"
            );
            assert_eq!(messages(p, ADMIN, dispute), 1, "{run}: admin alerts");
            assert_eq!(
                p.entitlement(*user).await.state(),
                EntitlementState::Suspended,
                "{run}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A lifetime pass paid (Checkout in payment mode): one invite, one
/// welcome, access for life.
#[tokio::test]
async fn sweep_one_time_purchase_to_invite() {
    let rig = product("sweep_purchase").await;
    let p = &rig.p;
    rig.sweep(
        "one-time purchase -> invite",
        20,
        async |n| {
            let user = 80_000_000 + i64::try_from(n).unwrap_or_default();
            let session = p.checkout(user, "lifetime").await;
            (
                user,
                vec![p.stripe.complete_payment(&session.session_id, 0)],
            )
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            assert_eq!(invites(p, *user), 1, "{run}: invites");
            assert_eq!(
                messages(p, *user, "Welcome to premium"),
                1,
                "{run}: welcomes"
            );
            let e = p.entitlement(*user).await;
            assert!(e.has_access && e.lifetime, "{run}: {e:?}");
        },
    )
    .await;
    rig.p.stop().await;
}

/// `/join` by a paying user: one fresh link, the earlier one revoked once.
#[tokio::test]
async fn sweep_join_to_fresh_link() {
    let rig = product("sweep_join_link").await;
    let p = &rig.p;
    rig.sweep(
        "/join -> fresh link",
        14,
        async |n| {
            let user = 81_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            p.wait_message(user, "Welcome to premium").await;
            (user, text_update(next_update(), user, "/join"))
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            assert_eq!(invites(p, *user), 2, "{run}: the welcome's and one more");
            let sent: Vec<Value> = p.telegram.messages_to(*user);
            let links: Vec<String> = sent.iter().flat_map(url_buttons).collect();
            assert_eq!(links.len(), 2, "{run}: one answer with a link: {links:?}");
            assert_eq!(
                p.telegram.link_revoked(&links[0]),
                Some(true),
                "{run}: the earlier link revoked"
            );
            assert_eq!(p.telegram.link_revoked(&links[1]), Some(false), "{run}");
        },
    )
    .await;
    rig.p.stop().await;
}

/// An admin's `/revoke`: the subscription cancelled at Stripe, one
/// removal, one message, one answer.
#[tokio::test]
async fn sweep_admin_revoke_to_removal() {
    let rig = product("sweep_revoke").await;
    let p = &rig.p;
    rig.sweep(
        "admin /revoke -> removal",
        35,
        async |n| {
            let user = 82_000_000 + i64::try_from(n).unwrap_or_default();
            p.subscribe(user).await;
            let update = text_update(next_update(), ADMIN, &format!("/revoke {user}"));
            (user, update)
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            assert_eq!(bans, 1, "{run}: removals");
            assert_eq!(
                messages(p, *user, "revoked by an administrator"),
                1,
                "{run}: messages"
            );
            assert_eq!(
                messages(p, ADMIN, &format!("{user} no longer has access")),
                1,
                "{run}: answers"
            );
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Expired, "{run}");
            let sub = p.stripe.subscription(&e.stripe_subscription_id).unwrap();
            assert_eq!(sub["status"], "canceled", "{run}: cancelled at Stripe");
        },
    )
    .await;
    rig.p.stop().await;
}

/// Two tabs, both paid: the second subscription is cancelled and its
/// payment refunded once, the user told once, the first stands.
#[tokio::test]
async fn sweep_double_checkout_to_one_subscription() {
    let rig = product("sweep_double").await;
    let p = &rig.p;
    rig.sweep(
        "double checkout -> one live subscription",
        53,
        async |n| {
            let user = 83_000_000 + i64::try_from(n).unwrap_or_default();
            let monthly = p.checkout(user, "monthly").await;
            let first = p.stripe.complete_checkout(&monthly.session_id);
            let yearly = p.checkout(user, "yearly").await;
            let second = p.stripe.complete_checkout(&yearly.session_id);
            deliver_events(p, &first).await;
            p.wait_state(user, EntitlementState::Active).await;
            (user, second)
        },
        async |(_, events)| deliver_events(p, events).await,
        async |(user, _), run| {
            assert_eq!(
                messages(p, *user, "its payment refunded"),
                1,
                "{run}: told once"
            );
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Active, "{run}");
            let live = p
                .stripe
                .sessions()
                .into_iter()
                .filter(|s| s["client_reference_id"].as_str() == Some(user.to_string().as_str()))
                .filter_map(|s| s["subscription"].as_str().map(str::to_owned))
                .filter(|id| {
                    p.stripe
                        .subscription(id)
                        .is_some_and(|s| s["status"] == "active")
                })
                .count();
            assert_eq!(live, 1, "{run}: one live subscription");
            let refunds: std::collections::HashSet<_> = p
                .stripe
                .requests_to("POST", "/v1/refunds")
                .into_iter()
                .filter(|r| r.idempotency_key.is_some())
                .map(|r| r.params["payment_intent"].clone())
                .collect();
            let charges = p.stripe.charges_of(&e.stripe_customer_id);
            let refunded = charges.iter().filter(|c| c["refunded"] == true).count();
            assert_eq!(
                refunded, 1,
                "{run}: one refund ({refunds:?}) of {} in {charges:?}",
                e.stripe_customer_id
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A 30-day pass that ran out, found by the sweeper's pass (run through
/// `Sweep`, as a scheduler would, again until it reports no failure): one
/// removal, one message.
#[tokio::test]
async fn sweep_lapse_to_removal() {
    let rig = product("sweep_lapse").await;
    let p = &rig.p;
    rig.sweep(
        "lapse found by the sweeper -> removal",
        28,
        async |n| {
            let user = 84_000_000 + i64::try_from(n).unwrap_or_default();
            let session = p.checkout(user, "pass30").await;
            // Paid 30 days less a few seconds ago: it runs out in a few
            // seconds, time enough for the welcome on a busy machine.
            let paid = p
                .stripe
                .complete_payment(&session.session_id, 30 * 86_400 - 4);
            let end = paid["created"].as_i64().unwrap_or_default() + 30 * 86_400;
            deliver_events(p, &[paid]).await;
            p.wait_message(user, "Welcome to premium").await;
            while mesh_tests::stripe::now() <= end {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            user
        },
        async |_| {
            mesh_tests::eventually(Duration::from_secs(30), "a clean sweep", || async {
                let pass = p
                    .billing()
                    .sweep(mesh_proto::billing::v1::SweepRequest {})
                    .await
                    .ok()?
                    .into_inner();
                (pass.failures == 0).then_some(())
            })
            .await;
        },
        async |user, run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            assert_eq!(bans, 1, "{run}: removals");
            assert_eq!(messages(p, *user, "has ended"), 1, "{run}: messages");
            assert_eq!(
                p.entitlement(*user).await.state(),
                EntitlementState::Expired,
                "{run}"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A user with a Stars invoice link for the monthly plan (its first
/// payment made at Telegram, the `successful_payment` update not yet
/// delivered).
async fn stars_paid(p: &Product, user: i64) -> (String, Value) {
    let invoice = p
        .billing()
        .create_stars_invoice(mesh_proto::billing::v1::CreateStarsInvoiceRequest {
            telegram_user_id: user,
            plan_id: "monthly".into(),
        })
        .await
        .expect("Stars invoice")
        .into_inner();
    let update = p
        .telegram
        .pay_stars(&invoice.url, user, 1, mesh_tests::stripe::now())
        .expect("paid");
    (invoice.url, update)
}

/// A Stars subscriber: paid and active.
async fn stars_subscriber(p: &Product, user: i64) -> (String, String) {
    let (link, update) = stars_paid(p, user).await;
    p.post(&update).await;
    p.wait_state(user, EntitlementState::Active).await;
    let charge = update["message"]["successful_payment"]["telegram_payment_charge_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (link, charge)
}

/// A first Stars payment: one invite, one welcome.
#[tokio::test]
async fn sweep_stars_payment_to_invite() {
    let rig = product("sweep_stars_paid").await;
    let p = &rig.p;
    rig.sweep(
        "Stars payment -> invite",
        24,
        async |n| {
            let user = 84_000_000 + i64::try_from(n).unwrap_or_default();
            (user, stars_paid(p, user).await.1)
        },
        async |(_, update)| deliver_update(p, update).await,
        async |(user, _), run| {
            assert_eq!(invites(p, *user), 1, "{run}: invites");
            assert_eq!(
                messages(p, *user, "Welcome to premium"),
                1,
                "{run}: welcomes"
            );
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Active, "{run}");
            assert_eq!(e.rail(), mesh_proto::billing::v1::Rail::Stars, "{run}");
        },
    )
    .await;
    rig.p.stop().await;
}

/// A Stars renewal: the period extended once, no second invite or welcome.
#[tokio::test]
async fn sweep_stars_renewal_to_extension() {
    let rig = product("sweep_stars_renewal").await;
    let p = &rig.p;
    rig.sweep(
        "Stars renewal -> extension",
        8,
        async |n| {
            let user = 85_000_000 + i64::try_from(n).unwrap_or_default();
            let (link, _) = stars_subscriber(p, user).await;
            let end = p
                .entitlement(user)
                .await
                .current_period_end
                .map_or(0, |t| t.seconds);
            let renewal = p.telegram.pay_stars(&link, user, 2, end).expect("renewal");
            (user, end, renewal)
        },
        async |(_, _, update)| deliver_update(p, update).await,
        async |(user, end, _), run| {
            let e = p.entitlement(*user).await;
            assert_eq!(
                e.current_period_end.map_or(0, |t| t.seconds),
                end + 2_592_000,
                "{run}: extended once"
            );
            assert_eq!(invites(p, *user), 1, "{run}: no second invite");
            assert_eq!(
                messages(p, *user, "Welcome to premium"),
                1,
                "{run}: no second welcome"
            );
        },
    )
    .await;
    rig.p.stop().await;
}

/// A Stars refund: one removal, one message, the renewals stopped at
/// Telegram once.
#[tokio::test]
async fn sweep_stars_refund_to_removal() {
    let rig = product("sweep_stars_refund").await;
    let p = &rig.p;
    rig.sweep(
        "Stars refund -> removal",
        30,
        async |n| {
            let user = 86_000_000 + i64::try_from(n).unwrap_or_default();
            let (_, charge) = stars_subscriber(p, user).await;
            let refund = p.telegram.refund_update(&charge).expect("refund");
            (user, charge, refund)
        },
        async |(_, _, update)| deliver_update(p, update).await,
        async |(user, charge, _), run| {
            let bans = calls(p, "banChatMember", |m| m["user_id"] == *user);
            assert_eq!(bans, 1, "{run}: removals");
            assert_eq!(
                messages(p, *user, "your payment was refunded"),
                1,
                "{run}: messages"
            );
            let stopped = p.telegram.charge(charge).expect("charge");
            assert!(stopped.canceled_by_bot, "{run}: renewals stopped");
            assert_eq!(stopped.renewal_changes, 1, "{run}: stopped once");
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Expired, "{run}");
        },
    )
    .await;
    rig.p.stop().await;
}

/// `/cancel` of a Stars subscription, confirmed: `editUserStarSubscription`
/// once, one answer.
#[tokio::test]
async fn sweep_stars_cancel_confirmed() {
    let rig = product("sweep_stars_cancel").await;
    let p = &rig.p;
    rig.sweep(
        "Stars /cancel -> editUserStarSubscription",
        23,
        async |n| {
            let user = 87_000_000 + i64::try_from(n).unwrap_or_default();
            let (_, charge) = stars_subscriber(p, user).await;
            p.post(&text_update(next_update(), user, "/cancel")).await;
            p.wait_message(user, "Cancel your subscription?").await;
            let query = format!("q{user}");
            (
                user,
                charge,
                callback_update(next_update(), user, &query, "cancel:yes"),
            )
        },
        async |(_, _, update)| deliver_update(p, update).await,
        async |(user, charge, _), run| {
            assert_eq!(
                messages(p, *user, "is cancelled"),
                1,
                "{run}: messages {:?}",
                p.telegram.messages_to(*user)
            );
            // Telegram takes no idempotency key: a retry may ask again for
            // what is already so, which changes nothing there.
            let stopped = p.telegram.charge(charge).expect("charge");
            assert!(stopped.canceled_by_bot, "{run}: renewals stopped");
            assert_eq!(stopped.renewal_changes, 1, "{run}: stopped once");
            let e = p.entitlement(*user).await;
            assert_eq!(e.state(), EntitlementState::Canceled, "{run}");
        },
    )
    .await;
    rig.p.stop().await;
}
