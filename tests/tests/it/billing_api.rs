//! Every RPC of billing.v1 over real gRPC: success, the error codes other
//! services rely on, and the change stream.

use std::time::Duration;

use mesh::Target;
use mesh_proto::billing::v1::*;
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
use mesh_proto::bot::v1::{ListDeadLettersRequest, NoticeKind, NotifyEntitlementRequest};
use mesh_tests::mesh::RunningMesh;
use mesh_tests::product::Product;
use tonic::Code;

fn code<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(s) => s.code(),
    }
}

/// Each RPC answers, and each documented error code is produced.
#[tokio::test]
async fn every_rpc_and_its_errors() {
    let p = Product::start("billing_api", &[]).await;
    let mut b = p.billing();

    let plans = b
        .list_plans(ListPlansRequest {})
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert_eq!(
        plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["monthly", "yearly"]
    );
    assert_eq!(plans[1].trial_days, 7);

    assert_eq!(
        code(
            b.get_entitlement(GetEntitlementRequest {
                telegram_user_id: 0
            })
            .await
        ),
        Code::InvalidArgument
    );
    let none = p.entitlement(5001).await;
    assert_eq!(
        (none.state(), none.has_access),
        (EntitlementState::None, false)
    );

    assert_eq!(
        code(
            b.apply_stripe_event(ApplyStripeEventRequest {
                event_json: "not json".into()
            })
            .await
        ),
        Code::InvalidArgument
    );

    // The change stream, opened before anything changes.
    let mut stream = b
        .watch_entitlements(WatchEntitlementsRequest {
            after_cursor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let checkout = |plan: &str| CreateCheckoutSessionRequest {
        telegram_user_id: 5001,
        plan_id: plan.into(),
        request_id: "r1".into(),
    };
    assert_eq!(
        code(b.create_checkout_session(checkout("gold")).await),
        Code::NotFound
    );
    let session = b
        .create_checkout_session(checkout("monthly"))
        .await
        .unwrap()
        .into_inner();
    assert!(session.url.starts_with("https://checkout.stripe.test/"));
    assert!(session.expires_at.is_some());

    assert_eq!(
        code(
            b.create_portal_session(CreatePortalSessionRequest {
                telegram_user_id: 5999,
                request_id: String::new()
            })
            .await
        ),
        Code::NotFound
    );
    let portal = b
        .create_portal_session(CreatePortalSessionRequest {
            telegram_user_id: 5001,
            request_id: "p1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(portal.url.starts_with("https://billing.stripe.test/"));

    assert_eq!(
        code(
            b.cancel_subscription(CancelSubscriptionRequest {
                telegram_user_id: 5001
            })
            .await
        ),
        Code::FailedPrecondition
    );

    // Pay, and the stream sees the change.
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    let change = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a change within 10 s")
        .unwrap()
        .expect("stream open");
    assert_eq!(change.previous_state(), EntitlementState::None);
    assert_eq!(change.cause(), ChangeCause::StripeEvent);
    let e = change.entitlement.unwrap();
    assert_eq!(
        (e.telegram_user_id, e.state()),
        (5001, EntitlementState::Active)
    );
    assert!(!change.cursor.is_empty());

    assert_eq!(
        code(b.create_checkout_session(checkout("monthly")).await),
        Code::FailedPrecondition,
        "already subscribed"
    );

    let cancelled = b
        .cancel_subscription(CancelSubscriptionRequest {
            telegram_user_id: 5001,
        })
        .await
        .unwrap()
        .into_inner();
    let e = cancelled.entitlement.unwrap();
    assert_eq!(
        (e.state(), e.has_access, e.cancel_at_period_end),
        (EntitlementState::Canceled, true, true)
    );
    let update = p.stripe.requests_to(
        "POST",
        &format!("/v1/subscriptions/{}", e.stripe_subscription_id),
    );
    assert_eq!(update[0].params["cancel_at_period_end"], "true");
    assert!(update[0].idempotency_key.is_some());

    // Grants and revocations, with the audit trail.
    let grant = |days: u32, reason: &str, plan: &str| GrantEntitlementRequest {
        telegram_user_id: 5002,
        plan_id: plan.into(),
        days,
        reason: reason.into(),
        actor: "telegram:9000".into(),
        request_id: String::new(),
    };
    assert_eq!(
        code(b.grant_entitlement(grant(30, "", "monthly")).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(b.grant_entitlement(grant(0, "why", "monthly")).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code(b.grant_entitlement(grant(30, "why", "gold")).await),
        Code::NotFound
    );
    let granted = b
        .grant_entitlement(grant(30, "community prize", "monthly"))
        .await
        .unwrap()
        .into_inner();
    let g = granted.entitlement.unwrap();
    assert_eq!(
        (g.state(), g.has_access, g.cancel_at_period_end),
        (EntitlementState::Active, true, true)
    );
    assert_eq!(
        code(
            b.revoke_entitlement(RevokeEntitlementRequest {
                telegram_user_id: 5002,
                reason: String::new(),
                actor: "x".into(),
                grant_only: false,
            })
            .await
        ),
        Code::InvalidArgument
    );
    let revoked = b
        .revoke_entitlement(RevokeEntitlementRequest {
            telegram_user_id: 5002,
            reason: "abuse".into(),
            actor: "telegram:9000".into(),
            grant_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        revoked.entitlement.unwrap().state(),
        EntitlementState::Expired
    );
    let audit = b
        .list_audit_log(ListAuditLogRequest {
            telegram_user_id: 5002,
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(audit.len(), 2);
    assert_eq!(
        (
            audit[0].cause(),
            audit[0].reason.as_str(),
            audit[0].actor.as_str()
        ),
        (ChangeCause::AdminGrant, "community prize", "telegram:9000")
    );
    assert_eq!(
        (
            audit[1].cause(),
            audit[1].reason.as_str(),
            audit[1].to_state()
        ),
        (ChangeCause::AdminRevoke, "abuse", EntitlementState::Expired)
    );

    let stats = b.get_stats(GetStatsRequest {}).await.unwrap().into_inner();
    assert_eq!(
        (
            stats.known_users,
            stats.with_access,
            stats.churned_this_month
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.with_access_by_plan.get("monthly"), Some(&1));

    let reconciled = b.reconcile(ReconcileRequest {}).await.unwrap().into_inner();
    assert_eq!(reconciled.subscriptions_seen, 1);

    // An event whose delivery failed is recovered from Stripe's list.
    let lost = p.stripe.end_subscription(&e.stripe_subscription_id);
    assert_eq!(lost.len(), 1, "never delivered");
    let recovered = b
        .recover_events(RecoverEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        recovered.events_seen >= 1 && recovered.applied >= 1,
        "{recovered:?}"
    );
    assert_eq!(p.entitlement(5001).await.state(), EntitlementState::Expired);
    let again = b
        .recover_events(RecoverEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.applied, 0, "already applied events are recognised");
    p.stop().await;
}

/// Without STRIPE_SECRET_KEY, payment RPCs answer FAILED_PRECONDITION.
#[tokio::test]
async fn payments_not_configured() {
    let mesh = RunningMesh::start(Target::Billing, &[]).await;
    let mut b = billing_service_client::BillingServiceClient::new(
        mesh_proto::lazy_channel(&mesh.billing).unwrap(),
    );
    let checkout = b
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 1,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await;
    assert_eq!(code(checkout), Code::FailedPrecondition);
    assert_eq!(
        code(b.reconcile(ReconcileRequest {}).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code(b.recover_events(RecoverEventsRequest {}).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code(
            b.create_portal_session(CreatePortalSessionRequest {
                telegram_user_id: 1,
                request_id: String::new()
            })
            .await
        ),
        Code::FailedPrecondition
    );
    mesh.stop().await.unwrap();
}

/// Stripe 5xx and 429 are retried under the same idempotency key; when
/// Stripe stays down the caller gets UNAVAILABLE, and Stripe's input
/// errors are INVALID_ARGUMENT or NOT_FOUND, never INTERNAL.
#[tokio::test]
async fn stripe_failures_are_retried_and_mapped() {
    let p = Product::start("stripe_failures", &[]).await;
    let mut b = p.billing();
    let checkout = |user: i64, request: &str| CreateCheckoutSessionRequest {
        telegram_user_id: user,
        plan_id: "monthly".into(),
        request_id: request.into(),
    };
    p.stripe.fail_next("/v1/customers", 500);
    p.stripe.fail_next("/v1/checkout/sessions", 429);
    b.create_checkout_session(checkout(6001, "a"))
        .await
        .expect("retried to success");
    let customers = p.stripe.requests_to("POST", "/v1/customers");
    assert_eq!(customers.len(), 2);
    assert_eq!(customers[0].idempotency_key, customers[1].idempotency_key);
    let sessions = p.stripe.requests_to("POST", "/v1/checkout/sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].idempotency_key, sessions[1].idempotency_key);

    for _ in 0..3 {
        p.stripe.fail_next("/v1/checkout/sessions", 503);
    }
    assert_eq!(
        code(b.create_checkout_session(checkout(6002, "b")).await),
        Code::Unavailable
    );

    p.stop().await;
}

/// Stripe's input errors reach callers as NOT_FOUND / INVALID_ARGUMENT,
/// never INTERNAL: here a plan whose price Stripe does not sell.
#[tokio::test]
async fn stripe_input_errors_are_not_internal() {
    let plans = std::env::temp_dir().join(format!(
        "plans-{}.toml",
        mesh_tests::unique_prefix("bad_price")
    ));
    std::fs::write(
        &plans,
        "[[plans]]\nid = \"ghost\"\nname = \"Ghost\"\ndescription = \"A price Stripe never heard of\"\nstripe_price_id = \"price_unknown\"\n",
    )
    .unwrap();
    let p = Product::start("bad_price", &[("PLANS_FILE", plans.display().to_string())]).await;
    let status = p
        .billing()
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 6101,
            plan_id: "ghost".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains("price_unknown"));
    p.stop().await;
    let _ = std::fs::remove_file(plans);
}

/// With BILLING_API_TOKEN and BILLING_ADMIN_TOKEN set, callers without a
/// token are refused (UNAUTHENTICATED), the API token does not open admin
/// RPCs (PERMISSION_DENIED), and the mesh's own callers (gateway, bot)
/// present theirs. With BOT_API_TOKEN set, bot.v1 refuses every other
/// caller (a forged AccessEnded is UNAUTHENTICATED), while the gateway's
/// updates and billing's notices still go through.
#[tokio::test]
async fn internal_callers_present_tokens() {
    let p = Product::start(
        "billing_auth",
        &[
            ("BILLING_API_TOKEN", "api-token-123".into()),
            ("BILLING_ADMIN_TOKEN", "admin-token-456".into()),
            ("BOT_API_TOKEN", "bot-token-789".into()),
        ],
    )
    .await;
    // bot.v1: a forged notice without (or with a wrong) token is refused.
    let bot_with = |token: Option<&'static str>| {
        let channel = mesh_proto::lazy_channel(&p.mesh.bot).unwrap();
        BotServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            if let Some(t) = token {
                r.metadata_mut()
                    .insert("authorization", format!("Bearer {t}").parse().unwrap());
            }
            Ok(r)
        })
    };
    let forged = || NotifyEntitlementRequest {
        notice_id: "forged-1".into(),
        telegram_user_id: 5304,
        kind: NoticeKind::AccessEnded.into(),
        ..Default::default()
    };
    for token in [None, Some("bot-token-78"), Some("api-token-123")] {
        assert_eq!(
            code(bot_with(token).notify_entitlement(forged()).await),
            Code::Unauthenticated,
            "{token:?}"
        );
    }
    assert_eq!(
        code(
            bot_with(None)
                .list_dead_letters(ListDeadLettersRequest::default())
                .await
        ),
        Code::Unauthenticated
    );
    bot_with(Some("bot-token-789"))
        .list_dead_letters(ListDeadLettersRequest::default())
        .await
        .expect("the bot token calls");
    // Health stays open (probes carry no token).
    tonic_health::pb::health_client::HealthClient::new(
        mesh_proto::lazy_channel(&p.mesh.bot).unwrap(),
    )
    .check(tonic_health::pb::HealthCheckRequest {
        service: "bot.v1.BotService".into(),
    })
    .await
    .expect("health needs no token");
    let with = |token: &'static str| {
        let channel = mesh_proto::lazy_channel(&p.mesh.billing).unwrap();
        billing_service_client::BillingServiceClient::with_interceptor(
            channel,
            move |mut r: tonic::Request<()>| {
                r.metadata_mut()
                    .insert("authorization", format!("Bearer {token}").parse().unwrap());
                Ok(r)
            },
        )
    };
    let get = || GetEntitlementRequest {
        telegram_user_id: 5301,
    };
    let grant = || GrantEntitlementRequest {
        telegram_user_id: 5301,
        plan_id: "monthly".into(),
        days: 3,
        reason: "test".into(),
        actor: "telegram:1".into(),
        request_id: String::new(),
    };
    assert_eq!(
        code(p.billing().get_entitlement(get()).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(with("wrong").get_entitlement(get()).await),
        Code::Unauthenticated
    );
    with("api-token-123")
        .get_entitlement(get())
        .await
        .expect("the API token calls");
    assert_eq!(
        code(with("api-token-123").grant_entitlement(grant()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(with("api-token-123").reconcile(ReconcileRequest {}).await),
        Code::PermissionDenied
    );
    // A Stars payment is Telegram's word relayed by bot-service: an API
    // caller can neither make one up nor refund one.
    let stars = mesh_proto::billing::v1::ApplyStarsPaymentRequest {
        telegram_user_id: 5301,
        telegram_payment_charge_id: "stxMadeUp".into(),
        currency: "XTR".into(),
        total_amount: 250,
        ..Default::default()
    };
    assert_eq!(
        code(with("api-token-123").apply_stars_payment(stars).await),
        Code::PermissionDenied
    );
    let refund = mesh_proto::billing::v1::RefundStarsPaymentRequest {
        telegram_user_id: 5301,
        reason: "test".into(),
        actor: "telegram:1".into(),
        ..Default::default()
    };
    assert_eq!(
        code(with("api-token-123").refund_stars_payment(refund).await),
        Code::PermissionDenied
    );
    with("admin-token-456")
        .grant_entitlement(grant())
        .await
        .expect("the admin token grants");

    // The gateway (API token) applies Stripe events; the bot (admin token)
    // runs an admin's /grant.
    let session = with("api-token-123")
        .create_checkout_session(CreateCheckoutSessionRequest {
            telegram_user_id: 5302,
            plan_id: "monthly".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let events = p.stripe.complete_checkout(&session.session_id);
    p.stripe.deliver_all(&p.mesh.gateway, &events).await;
    p.post(&mesh_tests::http::text_update(
        1,
        mesh_tests::product::ADMIN,
        "/grant 5303 monthly 5",
    ))
    .await;
    p.wait_message(mesh_tests::product::ADMIN, "5303 has monthly")
        .await;
    let active = with("api-token-123")
        .get_entitlement(GetEntitlementRequest {
            telegram_user_id: 5302,
        })
        .await
        .unwrap()
        .into_inner()
        .entitlement
        .unwrap();
    assert_eq!(active.state(), EntitlementState::Active);
    // The welcome reached the user: billing presented the bot token.
    p.wait_message(5302, "Welcome to premium").await;
    assert!(
        p.telegram.messages_to(5304).is_empty(),
        "nothing forged got through"
    );
    p.stop().await;
}

/// Resuming the change stream from a cursor the log no longer keeps is
/// OUT_OF_RANGE (`CURSOR_TRIMMED`), not a silent gap; a cursor still kept
/// resumes; something that is not a cursor is INVALID_ARGUMENT.
#[tokio::test]
async fn trimmed_cursor_is_out_of_range() {
    let p = Product::start("watch_trimmed", &[]).await;
    // The change log as billing writes it, capped small here so it trims.
    let store =
        mesh_state::Store::redis(&mesh_tests::shared_redis_url(), &p.prefix).expect("store");
    let first = store
        .log_append("{billing}:changes", b"{}", 10)
        .await
        .unwrap();
    for _ in 0..250 {
        store
            .log_append("{billing}:changes", b"{}", 10)
            .await
            .unwrap();
    }
    let kept = store
        .log_first_id("{billing}:changes")
        .await
        .unwrap()
        .unwrap();
    let watch = |cursor: String| {
        let mut b = p.billing();
        async move {
            b.watch_entitlements(WatchEntitlementsRequest {
                after_cursor: cursor,
            })
            .await
        }
    };
    let refused = watch(first).await.expect_err("trimmed");
    assert_eq!(refused.code(), Code::OutOfRange);
    assert_eq!(
        mesh_proto::refusal::BillingRefusal::of(&refused),
        Some(mesh_proto::refusal::BillingRefusal::CursorTrimmed)
    );
    assert!(watch(kept).await.is_ok());
    assert_eq!(code(watch("yesterday".into()).await), Code::InvalidArgument);
    p.stop().await;
}
