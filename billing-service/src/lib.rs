//! Billing: plans, entitlements and Stripe events behind `billing.v1`.
//!
//! Stripe is the system of record. [`events`] turns verified Stripe events
//! ([`payload`] reads them) into transitions of the [`entitlement`] kept in
//! the shared store, each `event.id` once, through the [`ledger`]: the one
//! place entitlements change, committing the record with its audit entry,
//! change-log entry, counters, schedules for the [`sweeper`] and
//! [`notices`] to bot-service in one atomic step. [`stripe_api`] calls
//! Stripe; [`stars`] is the second rail, Telegram Stars, on the same
//! ledger; [`plans`] loads the plans file; [`service`] is the gRPC API,
//! with [`account`] (what users do) and [`admin`] (what admins do).

pub mod account;
pub mod admin;
pub mod clock;
pub mod config;
pub mod counters;
pub mod entitlement;
pub mod error;
pub mod events;
pub mod instruments;
pub mod ledger;
pub mod lifecycle;
pub mod members;
pub mod money;
pub mod notices;
pub mod payload;
pub mod plans;
pub mod prices;
pub mod purchase;
pub mod service;
pub mod stars;
pub mod stripe_api;
pub mod subscription;
pub mod sweeper;
pub mod writes;

pub use config::BillingConfig;
use mesh_proto::billing::v1::billing_service_server::BillingServiceServer;
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The name under which health is reported.
pub const SERVICE_NAME: &str = "billing.v1.BillingService";

/// Serves billing.v1 until `shutdown` fires; calls in flight finish first.
pub async fn run(
    config: BillingConfig,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    instruments::describe();
    let readiness = mesh_telemetry::metrics::Readiness::default();
    if let Some(addr) = config.metrics_listen {
        let bound =
            mesh_telemetry::metrics::spawn_server(addr, readiness.clone(), shutdown.clone())
                .await?;
        tracing::info!(%bound, "billing-service metrics listening");
    }
    let stripe = match &config.stripe_secret_key {
        Some(key) => Some(stripe_api::StripeApi::new(
            key,
            &config.stripe_api_base,
            config.stripe_timeout,
        )?),
        None => {
            tracing::warn!("STRIPE_SECRET_KEY is not set: payments are not configured");
            None
        }
    };
    if config.api_token.is_none() {
        tracing::warn!(
            "BILLING_API_TOKEN is not set: any caller that can reach billing-service may call it"
        );
    }
    let terms = ledger::Terms {
        grace: i64::try_from(config.past_due_grace.as_secs()).unwrap_or(i64::MAX / 4),
        reminder_lead: i64::try_from(config.reminder_lead.as_secs()).unwrap_or(0),
        renewal_lead: i64::try_from(config.renewal_lead.as_secs()).unwrap_or(0),
        winback_after: i64::try_from(config.winback_after.as_secs()).unwrap_or(0),
        event_ttl: config.event_dedup_ttl,
        plans: config.plans.clone(),
    };
    let notices = notices::Notices::new(store.clone(), config.notice_lease, config.notice_poll);
    let delivery = notices.spawn_delivery(
        &config.bot_url,
        config.bot_token.as_ref().map(|t| t.expose()),
        config.grpc_tls.as_ref(),
        shutdown.clone(),
    )?;
    let stars = match &config.telegram_token {
        Some(token) => Some(stars::StarsApi::new(
            token,
            &config.telegram_api_url,
            config.stripe_timeout,
        )?),
        None => {
            tracing::warn!("TELEGRAM_BOT_TOKEN is not set: Telegram Stars is not offered");
            None
        }
    };
    let ledger = ledger::Ledger::new(store.clone(), notices, terms).with_stars(stars);
    let events = events::EventApplier::new(
        ledger.clone(),
        stripe.clone(),
        config.disputes,
        config.refunds,
    );
    let sweeper = sweeper::Sweeper {
        ledger: ledger.clone(),
        stripe: stripe.clone(),
    };
    let sweeping = tokio::spawn(sweeper.run(config.sweep_interval, shutdown.clone()));
    let sampler = instruments::spawn_sampler(ledger.clone(), config.gauge_sample, shutdown.clone());
    let prices = prices::Prices::default();
    let pricing = stripe.clone().map(|stripe| {
        prices.spawn_refresh(
            stripe,
            config.plans.clone(),
            config.price_refresh,
            shutdown.clone(),
        )
    });
    let service = service::Billing::new(
        config.clone(),
        ledger,
        events,
        stripe,
        prices,
        shutdown.clone(),
    );
    tracing::info!(addr = %listener.local_addr()?, plans = config.plans.len(), store = ?store.backend(), "billing-service listening");
    let probe_store = store.clone();
    let served = mesh_proto::serving::serve(
        listener,
        mesh_proto::serving::Service {
            name: SERVICE_NAME,
            descriptor: mesh_proto::billing::v1::FILE_DESCRIPTOR_SET,
            routes: tonic::service::Routes::new(BillingServiceServer::new(service)),
            probe: move || {
                let store = probe_store.clone();
                async move { store.ping().await.is_ok() }
            },
            readiness,
        },
        config.grpc_tls.as_ref(),
        mesh_telemetry::grpc_server_span,
        shutdown.clone(),
    )
    .await;
    let _ = sweeping.await;
    let _ = sampler.await;
    if let Some(pricing) = pricing {
        let _ = pricing.await;
    }
    let _ = delivery.await;
    tracing::info!("billing-service stopped");
    served.map_err(|e| anyhow::anyhow!("billing-service gRPC server: {e}"))
}
