//! Billing: plans, entitlements and Stripe events behind `billing.v1`.
//!
//! Stripe is the system of record. [`events`] turns verified Stripe events
//! into changes of the [`entitlement`] projection kept in the shared store,
//! each `event.id` once and never letting an older event overwrite newer
//! state. [`plans`] loads the plans file; [`service`] is the gRPC API.

pub mod config;
pub mod entitlement;
pub mod error;
pub mod events;
pub mod plans;
pub mod service;

use mesh_proto::billing::v1::billing_service_server::BillingServiceServer;
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::BillingConfig;

/// The name under which health is reported.
pub const SERVICE_NAME: &str = "billing.v1.BillingService";

/// Serves billing.v1 until `shutdown` fires; calls in flight finish first.
pub async fn run(
    config: BillingConfig,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(addr) = config.metrics_listen {
        let bound = mesh_telemetry::metrics::spawn_server(addr, shutdown.clone()).await?;
        tracing::info!(%bound, "billing-service metrics listening");
    }
    if config.stripe_secret_key.is_none() {
        tracing::warn!("STRIPE_SECRET_KEY is not set: payments are not configured");
    }
    let service = service::Billing::new(config.clone(), store.clone());
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
        },
        mesh_telemetry::grpc_server_span,
        shutdown.clone(),
    )
    .await;
    tracing::info!("billing-service stopped");
    served.map_err(|e| anyhow::anyhow!("billing-service gRPC server: {e}"))
}
