//! Cancellation safety: work dropped half way, as a caller's deadline or
//! a client that went away drops it, at every one of its await points,
//! followed by the retry (Stripe's redelivery, another worker taking the
//! lease over): every effect exactly once.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use billing_service::entitlement::State;
use billing_service::events::{DisputePolicy, EventApplier, RefundPolicy};
use billing_service::ledger::{Ledger, Terms};
use billing_service::notices::{self, Notice, NoticeKind, Notices};
use billing_service::plans::{self, Plans};
use billing_service::stripe_api::{CheckoutParams, StripeApi};
use bot_service::BotConfig;
use bot_service::delivery::outbox::Item;
use bot_service::handler::Handler;
use bot_service::worker::Worker;
use mesh_runtime::{Env, Secret};
use mesh_state::{ClaimResult, Claims, QueueConfig, Store};
use mesh_tests::cancel::{CancelAt, count_points};
use mesh_tests::product::{PREMIUM_CHAT, PRICES};
use mesh_tests::stripe_double::StripeDouble;
use serde_json::Value;

fn store(test: &str) -> Store {
    Store::redis(
        &mesh_tests::shared_redis_url(),
        &mesh_tests::unique_prefix(test),
    )
    .expect("store")
}

/// Billing in this process over a fresh prefix, reading Stripe from the double.
fn billing(stripe: &StripeDouble, store: &Store) -> (Ledger, EventApplier) {
    let plans =
        plans::load(Some(&mesh_tests::mesh::plans_file().display().to_string())).expect("plans");
    let terms = Terms {
        grace: 3 * 86_400,
        reminder_lead: 3 * 86_400,
        renewal_lead: 0,
        winback_after: 0,
        event_ttl: Duration::from_secs(4 * 86_400),
        plans: Plans::new(plans, vec![PREMIUM_CHAT]),
    };
    let notices = Notices::new(
        store.clone(),
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    let ledger = Ledger::new(store.clone(), notices, terms);
    let api = StripeApi::new(
        &Secret::new(stripe.secret_key.clone()),
        &stripe.url,
        Duration::from_secs(10),
    )
    .expect("stripe client");
    let applier = EventApplier::new(
        ledger.clone(),
        Some(api),
        DisputePolicy::Suspend,
        RefundPolicy::End,
    );
    (ledger, applier)
}

/// The events Stripe sends when `user` pays for the monthly plan.
async fn paid(stripe: &StripeDouble, user: i64) -> Vec<Vec<u8>> {
    let api = StripeApi::new(
        &Secret::new(stripe.secret_key.clone()),
        &stripe.url,
        Duration::from_secs(10),
    )
    .expect("stripe client");
    let customer = api.create_customer(user).await.expect("customer");
    let session = api
        .create_checkout(
            &CheckoutParams {
                telegram_user_id: user,
                customer: &customer,
                plan_id: "monthly",
                price_id: PRICES[0],
                trial_days: 0,
                one_time: None,
                success_url: "https://t.me/test_bot",
                cancel_url: "https://t.me/test_bot",
            },
            &format!("cancel-test-{user}"),
        )
        .await
        .expect("session");
    stripe
        .complete_checkout(&session.id)
        .iter()
        .map(|e: &Value| e.to_string().into_bytes())
        .collect()
}

/// Every notice queued, taken off the queue.
async fn drain_notices(store: &Store) -> Vec<Notice> {
    let config = QueueConfig {
        lease: Duration::from_secs(60),
        ..notices::CONFIG
    };
    let mut out = Vec::new();
    while let ClaimResult::Claimed(claim) = store.claim(notices::QUEUE, &config).await.unwrap() {
        out.push(serde_json::from_slice(&claim.item).expect("a notice"));
        assert!(store.ack(notices::QUEUE, &claim, None).await.unwrap());
    }
    out
}

/// A paid checkout's events, each cancelled at every await point of its
/// first application, then redelivered: one access grant, one welcome notice.
#[tokio::test]
async fn stripe_event_cancelled_at_every_await() {
    let stripe = StripeDouble::start(PRICES).await;
    // The points of each event's application, from a clean run.
    let points: Vec<usize> = {
        let store = store("cancel_billing_count");
        let (_, applier) = billing(&stripe, &store);
        let mut points = Vec::new();
        for event in paid(&stripe, 81_000_000).await {
            let (applied, n) = count_points(applier.apply(&event)).await;
            applied.expect("applied");
            points.push(n);
        }
        points
    };
    let mut runs = 0;
    let mut user = 81_000_001;
    for (e, &count) in points.iter().enumerate() {
        for at in 1..=count {
            let store = store("cancel_billing");
            let (ledger, applier) = billing(&stripe, &store);
            let events = paid(&stripe, user).await;
            for (i, event) in events.iter().enumerate() {
                if i == e {
                    let _ = CancelAt::new(applier.apply(event), at).await;
                }
                // Stripe's (re)delivery.
                applier.apply(event).await.expect("applied");
            }
            let notices = drain_notices(&store).await;
            let grants: Vec<&Notice> = notices
                .iter()
                .filter(|n| n.kind == NoticeKind::AccessGranted)
                .collect();
            assert_eq!(
                grants.len(),
                1,
                "event {e} cancelled at point {at}: {notices:?}"
            );
            assert_eq!(grants[0].chats, [PREMIUM_CHAT]);
            let (_, record) = ledger.read(user).await.unwrap();
            assert_eq!(record.shown.state, State::Active, "event {e} at {at}");
            runs += 1;
            user += 1;
        }
    }
    println!(
        "cancellation sweep (Stripe events): {points:?} await points per event, {runs} runs, one grant each"
    );
    assert!(runs >= 3);
}

/// A `/start` whose handling is dropped at every await point (the worker
/// dies or is cancelled), then taken over when the lease ends: one reply,
/// and the user registered with their language.
#[tokio::test]
async fn update_handling_cancelled_at_every_await() {
    let env = Env::from_pairs([
        ("BOT_UPDATE_LEASE_MS", "300"),
        ("BOT_METRICS_ADDR", "off"),
        // Billing is away: /start answers without plans (a read degrades).
        ("BILLING_SERVICE_URL", "http://127.0.0.1:9"),
    ]);
    let config = Arc::new(BotConfig::from_env(&env).expect("config"));
    let update = |user: i64| {
        mesh_tests::http::text_update(user, user, "/start")
            .to_string()
            .into_bytes()
    };
    let worker_on = |store: &Store| {
        let billing = bot_service::billing::BillingClient::new(&config.billing_url, None, None)
            .expect("client");
        let handler = Handler::new(config.clone(), billing, store.clone());
        Worker::standalone(config.clone(), store.clone(), handler)
    };
    let accept = async |store: &Store, user: i64| {
        let wake = tokio::sync::Notify::new();
        bot_service::intake::service::accept_update(
            store,
            &config.queue,
            config.username.as_deref(),
            &wake,
            None,
            &update(user),
            None,
        )
        .await
        .expect("accepted");
    };
    let claims = async |store: &Store| match store
        .claim_many(bot_service::keys::UPDATES, &config.queue, 16)
        .await
        .unwrap()
    {
        Claims::Claimed(c) => Some(c),
        Claims::Idle(_) => None,
    };
    let count = {
        let store = store("cancel_bot_count");
        accept(&store, 82_000_000).await;
        let worker = worker_on(&store);
        let c = claims(&store).await.expect("a claim");
        count_points(worker.process(c)).await.1
    };
    for at in 1..=count {
        let store = store("cancel_bot");
        let user = 82_000_001 + i64::try_from(at).unwrap_or_default();
        accept(&store, user).await;
        let worker = worker_on(&store);
        let first = claims(&store).await.expect("a claim");
        let _ = CancelAt::new(worker.process(first), at).await;
        // Another worker, once the lease ran out.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while store.pending(bot_service::keys::UPDATES).await.unwrap() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "never taken over");
            match claims(&store).await {
                Some(c) => worker.process(c).await,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert_eq!(
            store.pending(bot_service::keys::OUTBOX).await.unwrap(),
            1,
            "cancelled at point {at}: one reply queued"
        );
        let outbox = QueueConfig {
            lease: Duration::from_secs(60),
            ..config.outbox_queue
        };
        let ClaimResult::Claimed(reply) = store
            .claim(bot_service::keys::OUTBOX, &outbox)
            .await
            .unwrap()
        else {
            panic!("no reply");
        };
        let item: Item = serde_json::from_slice(&reply.item).unwrap();
        assert_eq!(item.action.chat(), user);
        // The same worker (and its memory of registry writes) took over:
        // a commit that never landed must not count as written.
        assert_eq!(
            store.sorted_len(bot_service::keys::USERS).await.unwrap(),
            1,
            "cancelled at point {at}: the user is registered"
        );
        assert_eq!(
            store.get(&bot_service::keys::lang(user)).await.unwrap(),
            Some(b"en".to_vec()),
            "cancelled at point {at}: their language is kept"
        );
    }
    println!("cancellation sweep (update handling): {count} await points, one reply each");
    assert!(count >= 2);
}
