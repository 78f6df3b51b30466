//! Telegram Stars, the second payment rail, through the gateway and the
//! Bot API double: the offer on both rails, pre-checkout answers, a first
//! payment and a renewal, refunds, cancel and resume, expiry, one
//! entitlement across rails, a forged payment, and reconcile from
//! Telegram's own transactions.

use std::time::{Duration, Instant};

use mesh_proto::billing::v1::{
    ApplyStarsPaymentRequest, CreateCheckoutSessionRequest, CreateStarsInvoiceRequest,
    EntitlementState, GetStatsRequest, Rail, ReconcileRequest, SweepRequest,
};
use mesh_tests::http::{callback_update, text_update, text_update_in};
use mesh_tests::mesh::{STARS_PLANS, plans_with};
use mesh_tests::product::{ADMIN, Product, url_buttons};
use mesh_tests::stripe::now;
use serde_json::Value;

/// A product selling the repository's plans (monthly on both rails) and
/// two Stars-only passes.
async fn product(test: &str, extra: &[(&str, String)]) -> Product {
    let mut vars = vec![("PLANS_FILE", plans_with(test, STARS_PLANS))];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    Product::start(test, &vars).await
}

/// The user taps `plan`; returns the offer message once it is sent.
async fn tap(p: &Product, update_id: i64, user: i64, plan: &str) -> Value {
    let query = format!("cbq-{update_id}");
    p.post(&callback_update(
        update_id,
        user,
        &query,
        &format!("sub:{plan}"),
    ))
    .await;
    p.wait_call("the offer", |c| {
        c.ok && c.method == "sendMessage"
            && c.params["chat_id"] == user
            && c.params["reply_markup"].to_string().contains("$invoice")
    })
    .await
    .params
}

/// The Stars invoice link of an offer.
fn stars_link(offer: &Value) -> String {
    url_buttons(offer)
        .into_iter()
        .find(|u| u.contains("$invoice"))
        .expect("a Stars button")
}

/// Posts a pre-checkout query for `link` as `user`; returns Telegram's
/// record of the answer.
async fn pre_checkout(p: &Product, link: &str, user: i64) -> Value {
    let update = p.telegram.pre_checkout_update(link, user).expect("invoice");
    let id = update["pre_checkout_query"]["id"]
        .as_str()
        .expect("query id")
        .to_owned();
    p.post(&update).await;
    // Answered before the gateway's 200: no waiting.
    p.telegram
        .pre_checkout_answer(&id)
        .expect("answered at acceptance")
}

/// Pays `link` as `user` (payment `n`) at `date` and delivers the
/// `successful_payment` update; returns the charge id.
async fn pay(p: &Product, link: &str, user: i64, n: u32, date: i64) -> String {
    let update = p.telegram.pay_stars(link, user, n, date).expect("invoice");
    p.post(&update).await;
    update["message"]["successful_payment"]["telegram_payment_charge_id"]
        .as_str()
        .expect("charge id")
        .to_owned()
}

/// The offer has both rails; the invoice is what Telegram requires of
/// Stars; the plans show the Stars price; the pre-checkout query is
/// answered ok for the invoice's own user, refused otherwise, in the
/// payer's language; the first payment welcomes with invites, a renewal
/// extends without a new invite, and each charge takes effect once.
#[tokio::test]
async fn offer_pay_renew_once() {
    let p = product("stars_offer", &[]).await;
    let user = 7101;
    p.post(&text_update(1, user, "/plans")).await;
    p.wait_message(user, "⭐ 250 Stars per 30 days").await;
    let offer = tap(&p, 2, user, "monthly").await;
    let buttons = url_buttons(&offer);
    assert_eq!(buttons.len(), 2, "{offer}");
    assert!(
        buttons[0].starts_with("https://checkout.stripe.test/"),
        "{buttons:?}"
    );
    assert!(offer["text"].as_str().unwrap().contains("Telegram Stars"));
    let link = stars_link(&offer);
    let made = p
        .telegram
        .successful("createInvoiceLink")
        .pop()
        .expect("createInvoiceLink")
        .params;
    assert_eq!(made["currency"], "XTR");
    assert_eq!(made["subscription_period"], 2_592_000);
    assert!(
        made.get("provider_token").is_none_or(Value::is_null),
        "{made}"
    );
    assert_eq!(made["prices"].as_array().map(Vec::len), Some(1));
    assert_eq!(made["prices"][0]["amount"], 250);
    assert!(made["payload"].as_str().unwrap().len() <= 128);

    // Someone else opening the user's link is refused, in their language.
    let update = p.telegram.pre_checkout_update(&link, 7102).unwrap();
    let mut update = update;
    update["pre_checkout_query"]["from"]["language_code"] = "de".into();
    let id = update["pre_checkout_query"]["id"]
        .as_str()
        .expect("query id")
        .to_owned();
    p.post(&update).await;
    let refused = p.telegram.pre_checkout_answer(&id).expect("answered");
    assert_eq!(refused["ok"], false);
    assert!(
        refused["error_message"]
            .as_str()
            .unwrap()
            .contains("Rechnung"),
        "{refused}"
    );
    // The wrong amount is refused too.
    let mut cheaper = p.telegram.pre_checkout_update(&link, user).unwrap();
    cheaper["pre_checkout_query"]["total_amount"] = 1.into();
    let id = cheaper["pre_checkout_query"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.post(&cheaper).await;
    assert_eq!(p.telegram.pre_checkout_answer(&id).unwrap()["ok"], false);
    assert_eq!(pre_checkout(&p, &link, user).await["ok"], true);
    let lifetime = p
        .billing_as(None)
        .create_stars_invoice(CreateStarsInvoiceRequest {
            telegram_user_id: user,
            plan_id: "starlife".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .url;

    let paid_at = now();
    let charge = pay(&p, &link, user, 1, paid_at).await;
    let e = p.wait_state(user, EntitlementState::Active).await;
    assert_eq!(e.rail(), Rail::Stars);
    assert_eq!(e.stars_subscription_charge_id, charge);
    assert_eq!(e.current_period_end.unwrap().seconds, paid_at + 2_592_000);
    p.wait_message(user, "Welcome to premium").await;
    assert_eq!(p.invites(user), 1);
    // Anything more on top of the live subscription is refused at
    // pre-checkout (a link made before it was paid).
    assert_eq!(pre_checkout(&p, &lifetime, user).await["ok"], false);

    // The renewal extends quietly; its delivery twice counts once.
    let renewal = p
        .telegram
        .pay_stars(&link, user, 2, paid_at + 2_592_000)
        .unwrap();
    p.post(&renewal).await;
    let mut again = renewal.clone();
    again["update_id"] = (renewal["update_id"].as_i64().unwrap() + 1000).into();
    p.post(&again).await;
    mesh_tests::eventually(Duration::from_secs(10), "extended", || async {
        let e = p.entitlement(user).await;
        (e.current_period_end.unwrap().seconds == paid_at + 2 * 2_592_000).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(p.invites(user), 1, "a renewal sends no invite");
    let stats = p
        .billing_as(None)
        .get_stats(GetStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.stars_monthly, 250);
    assert_eq!(stats.stars_last_30_days, 500, "two payments, once each");
    p.post(&text_update(3, user, "/status")).await;
    p.wait_message(user, "Paid with: Telegram Stars").await;
    p.post(&text_update(4, user, "/portal")).await;
    p.wait_message(user, "Telegram's settings").await;
    p.stop().await;
}

/// A refund (Telegram's `refunded_payment`, or an admin's `/refund`)
/// ends what that payment bought: removal from the chats; an admin's
/// refund is made at Telegram once however often the command is handled.
#[tokio::test]
async fn refunds_end_what_they_bought() {
    let p = product("stars_refund", &[]).await;
    let (a, b) = (7201, 7202);
    let link_a = stars_link(&tap(&p, 1, a, "monthly").await);
    let charge_a = pay(&p, &link_a, a, 1, now()).await;
    p.wait_state(a, EntitlementState::Active).await;
    let refund = p.telegram.refund_update(&charge_a).unwrap();
    p.post(&refund).await;
    p.wait_state(a, EntitlementState::Expired).await;
    p.wait_call("a removed", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == a
    })
    .await;
    assert_eq!(
        p.successful_for("editUserStarSubscription", a).len(),
        1,
        "its renewals stopped"
    );

    // The one-time pass, refunded by the admin.
    let link_b = stars_link(&tap(&p, 2, b, "starpass").await);
    let made = p
        .telegram
        .invoices()
        .into_iter()
        .find(|(l, _)| *l == link_b)
        .unwrap()
        .1;
    assert_eq!(made.period, None, "a one-time plan is not a subscription");
    assert_eq!(pre_checkout(&p, &link_b, b).await["ok"], true);
    let charge_b = pay(&p, &link_b, b, 1, now()).await;
    let e = p.wait_state(b, EntitlementState::Active).await;
    assert_eq!(e.rail(), Rail::Stars);
    p.post(&text_update(3, ADMIN, &format!("/refund {b}")))
        .await;
    p.wait_message(ADMIN, &format!("Refunded 100 Stars to user {b}"))
        .await;
    p.wait_state(b, EntitlementState::Expired).await;
    p.post(&text_update(4, ADMIN, &format!("/refund {b}")))
        .await;
    p.wait_message(ADMIN, &format!("charge {charge_b}")).await;
    let refunds: Vec<Value> = p.successful_for("refundStarPayment", b);
    assert_eq!(refunds.len(), 1, "refunded once: {refunds:?}");
    assert!(p.telegram.charge(&charge_b).unwrap().refunded);
    p.post(&text_update(5, ADMIN, "/refund 7299")).await;
    p.wait_message(ADMIN, "no Telegram Stars payment").await;
    p.stop().await;
}

/// `/cancel` of a Stars subscription stops its renewals at Telegram;
/// access lasts to the period's end; resume re-enables them; a Stars
/// subscription not renewed by its expiry ends like a Stripe one.
#[tokio::test]
async fn cancel_resume_and_expiry() {
    let p = product(
        "stars_cancel",
        &[("BILLING_PAST_DUE_GRACE_SECS", "1".to_owned())],
    )
    .await;
    let user = 7301;
    let link = stars_link(&tap(&p, 1, user, "monthly").await);
    let paid_at = now();
    let charge = pay(&p, &link, user, 1, paid_at).await;
    p.wait_state(user, EntitlementState::Active).await;
    p.post(&text_update(2, user, "/cancel")).await;
    p.wait_message(user, "Cancel").await;
    p.post(&callback_update(3, user, "cbq-3", "cancel:yes"))
        .await;
    let until = chrono_date(paid_at + 2_592_000);
    p.wait_message(user, &format!("cancelled. You keep access until {until}"))
        .await;
    let edits = p.successful_for("editUserStarSubscription", user);
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["is_canceled"], true);
    assert_eq!(edits[0]["telegram_payment_charge_id"], charge.as_str());
    let e = p.wait_state(user, EntitlementState::Canceled).await;
    assert!(e.has_access);
    p.post(&callback_update(4, user, "cbq-4", "resume")).await;
    p.wait_message(user, "will renew again").await;
    let edits = p.successful_for("editUserStarSubscription", user);
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[1]["is_canceled"], false);
    p.wait_state(user, EntitlementState::Active).await;

    // Another user's period ends in two seconds and no renewal comes.
    let late = 7302;
    let link = stars_link(&tap(&p, 5, late, "monthly").await);
    pay(&p, &link, late, 1, now() - 2_592_000 + 2).await;
    p.wait_state(late, EntitlementState::Active).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut billing = p.billing_as(None);
    billing.sweep(SweepRequest {}).await.unwrap();
    billing.sweep(SweepRequest {}).await.unwrap();
    p.wait_state(late, EntitlementState::Expired).await;
    p.wait_call("removed", |c| {
        c.ok && c.method == "banChatMember" && c.params["user_id"] == late
    })
    .await;
    p.wait_message(late, "ended").await;
    p.stop().await;
}

fn chrono_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// One live subscription per user across rails: a card subscriber gets
/// their status, not a Stars invoice, and a Stars link of theirs is
/// refused at pre-checkout; a Stars subscriber gets no Checkout; a Stars
/// subscription paid anyway (a second tab) is refunded, its renewals
/// stopped, and the user told.
#[tokio::test]
async fn one_entitlement_across_rails() {
    let p = product("stars_one", &[]).await;
    let card = 7401;
    let early = stars_link(&tap(&p, 1, card, "monthly").await);
    p.subscribe(card).await;
    let before = p.telegram.successful("createInvoiceLink").len();
    p.post(&callback_update(2, card, "cbq-2", "sub:monthly"))
        .await;
    p.wait_message(card, "already").await;
    assert_eq!(p.telegram.successful("createInvoiceLink").len(), before);
    assert_eq!(pre_checkout(&p, &early, card).await["ok"], false);
    // Paid anyway: refunded and stopped; the card subscription stands.
    let charge = pay(&p, &early, card, 1, now()).await;
    p.wait_message(card, "refunded").await;
    let refunds = p.successful_for("refundStarPayment", card);
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["telegram_payment_charge_id"], charge.as_str());
    assert_eq!(p.successful_for("editUserStarSubscription", card).len(), 1);
    let e = p.entitlement(card).await;
    assert_eq!(
        (e.state(), e.rail()),
        (EntitlementState::Active, Rail::Stripe)
    );

    let stars = 7402;
    let link = stars_link(&tap(&p, 3, stars, "monthly").await);
    pay(&p, &link, stars, 1, now()).await;
    p.wait_state(stars, EntitlementState::Active).await;
    let refused = p
        .billing_as(None)
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: stars,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        mesh_proto::refusal::BillingRefusal::of(&refused),
        Some(mesh_proto::refusal::BillingRefusal::AlreadySubscribed)
    );
    p.post(&text_update(4, stars, "/subscribe")).await;
    p.wait_message(stars, "Paid with: Telegram Stars").await;
    p.stop().await;
}

/// A payment whose payload billing did not make grants nothing: the user
/// is told it can't be placed, the admins are alerted.
#[tokio::test]
async fn forged_payment_grants_nothing() {
    let p = product("stars_forged", &[]).await;
    let user = 7501;
    let link = stars_link(&tap(&p, 1, user, "monthly").await);
    let mut update = p.telegram.pay_stars(&link, user, 1, now()).unwrap();
    let payment = &mut update["message"]["successful_payment"];
    let forged = payment["invoice_payload"]
        .as_str()
        .unwrap()
        .replacen("monthly", "starlife", 1);
    payment["invoice_payload"] = forged.into();
    p.post(&update).await;
    p.wait_message(user, "doesn't match").await;
    p.wait_message(ADMIN, "names no invoice").await;
    assert!(!p.entitlement(user).await.has_access);
    // Straight to billing with another user's payload: nothing either.
    let answer = p
        .billing_as(None)
        .apply_stars_payment(ApplyStarsPaymentRequest {
            telegram_user_id: 7502,
            telegram_payment_charge_id: "stxForged".into(),
            invoice_payload: update["message"]["successful_payment"]["invoice_payload"]
                .as_str()
                .unwrap()
                .to_owned(),
            currency: "XTR".into(),
            total_amount: 250,
            ..ApplyStarsPaymentRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.recognised && !answer.entitlement.unwrap().has_access);
    p.stop().await;
}

/// Reconcile rebuilds Stars subscribers from `getStarTransactions` (paged
/// by 100) after the store is wiped; a refunded payment does not come back.
#[tokio::test]
async fn reconcile_rebuilds_from_transactions() {
    let p = product("stars_reconcile", &[]).await;
    let mut billing = p.billing_as(None);
    // 130 payers, made through billing's own invoices (more than a page).
    let mut links = Vec::new();
    for user in 8000..8130 {
        let invoice = billing
            .create_stars_invoice(CreateStarsInvoiceRequest {
                telegram_user_id: user,
                plan_id: if user % 2 == 0 { "monthly" } else { "starlife" }.into(),
            })
            .await
            .unwrap()
            .into_inner();
        links.push((user, invoice.url));
    }
    let paid_at = now();
    let mut charges = Vec::new();
    for (user, link) in &links {
        let update = p.telegram.pay_stars(link, *user, 1, paid_at).unwrap();
        charges.push(
            update["message"]["successful_payment"]["telegram_payment_charge_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // One of them is refunded at Telegram (the bot never hears of it).
    let _ = p.telegram.refund_update(&charges[2]);
    p.post(&text_update(1, 8000, "/start")).await;
    p.wait_message(8000, "Welcome").await;
    p.wipe().await;
    let done = billing
        .reconcile(ReconcileRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(done.stars_transactions_seen > 130, "{done:?}");
    assert!(done.stars_users_updated >= 129, "{done:?}");
    let sub = p.entitlement(8000).await;
    assert_eq!((sub.has_access, sub.rail()), (true, Rail::Stars));
    assert_eq!(sub.current_period_end.unwrap().seconds, paid_at + 2_592_000);
    assert!(!sub.stars_subscription_charge_id.is_empty());
    let life = p.entitlement(8001).await;
    assert!(life.has_access && life.lifetime);
    let gone = p.entitlement(8002).await;
    assert!(
        !gone.has_access,
        "a refunded payment does not come back: {gone:?}"
    );
    p.stop().await;
}

/// 200 pre-checkout queries while 5,000 updates wait in the queues: each
/// is answered within Telegram's 10 s (the answer is made at acceptance,
/// behind nothing queued). Prints the p99.
#[tokio::test]
async fn pre_checkout_while_queues_are_deep() {
    let p = product(
        "stars_deep",
        &[
            ("BOT_WORKERS", "2".to_owned()),
            ("BOT_CHAT_SEND_INTERVAL_MS", "1000".to_owned()),
            // These deliveries carry no secret, so the per-address limiter
            // would count them (Telegram's carry one and are not limited):
            // 5,200 from one address in a few seconds is what it refuses.
            ("GATEWAY_RATE_LIMIT_RPS", "0".to_owned()),
        ],
    )
    .await;
    let offer = tap(&p, 1, 7601, "monthly").await;
    let link = stars_link(&offer);
    let gateway = p.mesh.gateway.clone();
    let client = mesh_tests::http::client();
    let backlog: Vec<Value> = (0..5000i64)
        .map(|i| text_update_in(10 + i, 20_000 + i, "/start", "en"))
        .collect();
    for (status, _) in post_all(&client, &gateway, backlog, 64).await {
        assert_eq!(status, 200);
    }
    let queries: Vec<Value> = (0..200)
        .map(|_| p.telegram.pre_checkout_update(&link, 7601).unwrap())
        .collect();
    let answered = post_all(&client, &gateway, queries, 50).await;
    let refused: Vec<_> = answered
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let mut latencies: Vec<Duration> = answered.into_iter().map(|(_, took)| took).collect();
    let handled = p.telegram.successful("sendMessage").len();
    assert!(
        handled < 4000,
        "the queues were deep: {handled} replies sent already"
    );
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    println!("pre-checkout p99 with 5000 updates queued: {p99:?}");
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(10)));
    assert_eq!(p.telegram.successful("answerPreCheckoutQuery").len(), 200);
    p.stop().await;
}

/// Posts `updates` to the gateway, `at_once` at a time; each one's status
/// and how long its answer took.
async fn post_all(
    client: &reqwest::Client,
    gateway: &str,
    updates: Vec<Value>,
    at_once: usize,
) -> Vec<(u16, Duration)> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(at_once));
    let mut tasks = tokio::task::JoinSet::new();
    for update in updates {
        let (client, url, gate) = (
            client.clone(),
            format!("{gateway}/telegram-webhook"),
            gate.clone(),
        );
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore");
            let started = Instant::now();
            let status = client
                .post(url)
                .json(&update)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            (status, started.elapsed())
        });
    }
    tasks.join_all().await
}

/// The Bot API double refuses what Telegram refuses, so a test passing
/// against it means something: XTR with a provider token or two prices, a
/// subscription period other than 30 days or over 10000 Stars, a refusal
/// without its message, a charge refunded twice, a page over 100.
#[tokio::test]
async fn the_double_validates_stars_calls() {
    let double = mesh_tests::telegram::TelegramDouble::start().await;
    let client = mesh_tests::http::client();
    let call = |method: &str, body: Value| {
        let request = client
            .post(format!("{}/bot{}/{method}", double.url, double.token))
            .json(&body);
        async move { mesh_tests::http::send(request).await }
    };
    let invoice = |extra: Value| {
        let mut body = serde_json::json!({
            "title": "Monthly", "description": "D", "payload": "p", "currency": "XTR",
            "prices": [{"label": "Monthly", "amount": 250}],
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let (status, link) = call(
        "createInvoiceLink",
        invoice(serde_json::json!({"subscription_period": 2_592_000})),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    for (bad, why) in [
        (
            serde_json::json!({"provider_token": "284685063:TEST"}),
            "a provider token",
        ),
        (
            serde_json::json!({"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 1}]}),
            "two prices",
        ),
        (
            serde_json::json!({"subscription_period": 86_400}),
            "a day's period",
        ),
        (
            serde_json::json!({"subscription_period": 2_592_000, "prices": [{"label": "a", "amount": 10_001}]}),
            "over 10000",
        ),
        (
            serde_json::json!({"payload": "x".repeat(129)}),
            "a long payload",
        ),
    ] {
        let (status, body) = call("createInvoiceLink", invoice(bad)).await;
        assert_eq!(
            (status, body["ok"].clone()),
            (400, false.into()),
            "{why}: {body}"
        );
    }
    let (status, _) = call(
        "answerPreCheckoutQuery",
        serde_json::json!({"pre_checkout_query_id": "q1", "ok": false}),
    )
    .await;
    assert_eq!(status, 400, "a refusal needs its message");
    let (status, _) = call(
        "answerPreCheckoutQuery",
        serde_json::json!({"pre_checkout_query_id": "q1", "ok": true}),
    )
    .await;
    assert_eq!(status, 200);
    let link = link["result"].as_str().unwrap().to_owned();
    let update = double.pay_stars(&link, 5, 1, 1_700_000_000).unwrap();
    let charge = update["message"]["successful_payment"]["telegram_payment_charge_id"].clone();
    let refund = serde_json::json!({"user_id": 5, "telegram_payment_charge_id": charge});
    assert_eq!(call("refundStarPayment", refund.clone()).await.0, 200);
    let (status, body) = call("refundStarPayment", refund).await;
    assert_eq!(status, 400);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("CHARGE_ALREADY_REFUNDED")
    );
    let (status, _) = call(
        "getStarTransactions",
        serde_json::json!({"offset": 0, "limit": 101}),
    )
    .await;
    assert_eq!(status, 400);
    let (_, page) = call(
        "getStarTransactions",
        serde_json::json!({"offset": 1, "limit": 100}),
    )
    .await;
    assert_eq!(
        page["result"]["transactions"][0]["receiver"]["type"], "user",
        "the refund, outgoing, by the payment's id"
    );
    assert_eq!(page["result"]["transactions"][0]["id"], charge);
}
