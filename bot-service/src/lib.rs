//! The bot service: Telegram updates in, Bot API calls out.
//!
//! The gateway calls [`service`]'s `AcceptUpdate`, which stores the update
//! in the shared store's per-chat queue (de-duplicated by `update_id`) and
//! returns; [`worker`]s lease one chat at a time, so a chat's updates are
//! handled in order and different chats in parallel, and a crash only
//! delays an update (its lease expires and another worker takes it).
//! [`handler`] decides what to answer; [`telegram`] sends it (or, in a dry
//! run, logs it); [`messages`] holds every user-facing text.

pub mod billing;
pub mod config;
pub mod envelope;
pub mod error;
pub mod handler;
pub mod messages;
pub mod partition;
pub mod service;
pub mod telegram;
pub mod worker;

use std::sync::Arc;

use mesh_proto::bot::v1::bot_service_server::BotServiceServer;
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::BotConfig;

/// The name under which health is reported.
pub const SERVICE_NAME: &str = "bot.v1.BotService";

/// Runs the gRPC server and the update workers until `shutdown` fires;
/// then stops accepting, lets workers finish the update in hand, and returns.
pub async fn run(
    config: BotConfig,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(addr) = config.metrics_listen {
        let bound = mesh_telemetry::metrics::spawn_server(addr, shutdown.clone()).await?;
        tracing::info!(%bound, "bot-service metrics listening");
    }
    let telegram = telegram::Telegram::new(&config)?;
    let billing = billing::BillingClient::new(&config.billing_url)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let handler = handler::Handler::new(telegram, billing);
    let workers = worker::spawn_pool(
        &config,
        store.clone(),
        handler,
        wake.clone(),
        shutdown.clone(),
    );

    let service = service::Bot::new(store.clone(), config.queue, wake);
    tracing::info!(addr = %listener.local_addr()?, store = ?store.backend(), workers = config.workers, "bot-service listening");
    let probe_store = store.clone();
    let served = mesh_proto::serving::serve(
        listener,
        mesh_proto::serving::Service {
            name: SERVICE_NAME,
            descriptor: mesh_proto::bot::v1::FILE_DESCRIPTOR_SET,
            routes: tonic::service::Routes::new(BotServiceServer::new(service)),
            probe: move || {
                let store = probe_store.clone();
                async move { store.ping().await.is_ok() }
            },
        },
        mesh_telemetry::grpc_server_span,
        shutdown.clone(),
    )
    .await;
    for worker in workers {
        let _ = worker.await;
    }
    tracing::info!("bot-service stopped");
    served.map_err(|e| anyhow::anyhow!("bot-service gRPC server: {e}"))
}
