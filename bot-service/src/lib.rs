//! The bot service: Telegram updates in, Bot API calls out.
//!
//! - [`intake`]: the gateway calls `AcceptUpdates` (many webhooks'
//!   updates per call under load, one atomic store write), which stores
//!   each update in the shared store's per-chat queue (de-duplicated by
//!   `update_id`) and returns; group chatter is only remembered, a
//!   pre-checkout query answered on the spot.
//! - [`worker`]s lease lanes of chats in batches, a chat's updates in
//!   order and different chats in parallel; a crashed one's chats move on
//!   within a lease. Billing's entitlement notices and broadcast steps join
//!   the same queue.
//! - The [`handler`] decides what to do and returns [`effects`] (replies,
//!   dialogue state, registry changes), which the worker commits with the
//!   item's acknowledgement in one atomic step.
//! - [`delivery`]: the outbox sends through teloxide (or, in a dry run,
//!   logs) within Telegram's limits.
//! - `admin`: broadcasts as jobs, dead letters, the bot's rights in its
//!   chats, the command menus.
//!
//! [`messages`] holds every text (Fluent); [`keys`] every store key.

mod admin;
pub mod billing;
mod callback;
pub mod config;
pub mod delivery;
pub mod effects;
pub mod error;
pub mod handler;
mod instruments;
pub mod intake;
pub mod keys;
pub mod messages;
mod pricing;
mod retry;
pub mod worker;

use std::sync::Arc;

pub use config::BotConfig;
use mesh_proto::bot::v1::bot_service_server::BotServiceServer;
use mesh_state::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::{menus, rights};
use crate::delivery::{outbox, pacing, telegram};
use crate::intake::{polling, precheckout, service};

/// The name under which health is reported.
pub const SERVICE_NAME: &str = "bot.v1.BotService";

/// Runs the gRPC server and the update workers until `shutdown` fires;
/// then stops accepting, lets workers finish the items in hand, and returns.
pub async fn run(
    config: BotConfig,
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
        tracing::info!(%bound, "bot-service metrics listening");
    }
    if config.api_token.is_none() {
        tracing::warn!(
            "BOT_API_TOKEN is not set: any caller that can reach bot-service may call it"
        );
    }
    let mut config = config;
    let telegram = telegram::Telegram::new(&config)?;
    if config.username.is_none()
        && let Some(bot) = telegram.bot()
    {
        config.username = whoami(bot).await;
    }
    let config = Arc::new(config);
    let billing = billing::BillingClient::new(
        &config.billing_url,
        config.billing_token.as_ref().map(|t| t.expose()),
        config.grpc_tls.as_ref(),
    )?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    let limits = pacing::Limits {
        global: config.global_send_interval,
        chat: config.chat_send_interval,
        ..pacing::Limits::default()
    };
    let outbox = outbox::Outbox::new(
        store.clone(),
        config.outbox_queue,
        limits,
        config.max_attempts,
        outbox_wake.clone(),
        config.poll_interval,
    );
    let poller = match (config.polling, telegram.bot()) {
        (true, Some(bot)) => Some(tokio::spawn(polling::run(
            bot.clone(),
            store.clone(),
            config.queue,
            config.username.clone(),
            wake.clone(),
            shutdown.clone(),
        ))),
        (true, None) => {
            tracing::warn!("TELEGRAM_POLLING is set but there is no token: nothing to poll");
            None
        }
        (false, _) => None,
    };
    let menus = telegram.bot().map(|bot| {
        menus::spawn(
            bot.clone(),
            config.messages.clone(),
            store.clone(),
            config.admin_ids.clone(),
            shutdown.clone(),
        )
    });
    let rights = telegram.bot().map(|bot| {
        rights::spawn(
            bot.clone(),
            billing.clone(),
            store.clone(),
            config.clone(),
            shutdown.clone(),
        )
    });
    let pre_checkout =
        precheckout::PreCheckout::new(billing.clone(), telegram.clone(), config.messages.clone());
    let senders = outbox.spawn(config.outbox_workers, telegram, shutdown.clone());
    let handler = handler::Handler::new(config.clone(), billing, store.clone());
    let workers = worker::spawn_pool(
        &config,
        store.clone(),
        handler,
        wake.clone(),
        outbox_wake.clone(),
        shutdown.clone(),
    );

    let sampler = instruments::spawn_sampler(store.clone(), config.gauge_sample, shutdown.clone());
    let service = service::Bot::new(
        store.clone(),
        config.queue,
        config.username.clone(),
        wake,
        outbox_wake,
    )
    .with_pre_checkout(pre_checkout);
    let auth = mesh_proto::serving::RequireBearer::new(
        config.api_token.clone(),
        "bot_unauthorized_calls_total",
    );
    tracing::info!(addr = %listener.local_addr()?, store = ?store.backend(), workers = config.workers, "bot-service listening");
    let probe_store = store.clone();
    let served = mesh_proto::serving::serve(
        listener,
        mesh_proto::serving::Service {
            name: SERVICE_NAME,
            descriptor: mesh_proto::bot::v1::FILE_DESCRIPTOR_SET,
            routes: tonic::service::Routes::new(BotServiceServer::with_interceptor(service, auth)),
            probe: move || {
                let store = probe_store.clone();
                async move { store.ping().await.is_ok() }
            },
            readiness,
        },
        config.grpc_tls.as_ref(),
        server_span,
        shutdown.clone(),
    )
    .await;
    for task in workers
        .into_iter()
        .chain(senders)
        .chain(poller)
        .chain(menus)
        .chain(rights)
        .chain([sampler])
    {
        let _ = task.await;
    }
    tracing::info!("bot-service stopped");
    served.map_err(|e| anyhow::anyhow!("bot-service gRPC server: {e}"))
}

/// The server span of a call, except for AcceptUpdates: each update it
/// carries gets its own server span in its own webhook's trace, and a span
/// for the call itself would only start a stray trace per batch.
fn server_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    if request.uri().path() == "/bot.v1.BotService/AcceptUpdates" {
        return tracing::Span::none();
    }
    mesh_telemetry::grpc_server_span(request)
}

/// Asks Telegram for the bot's username (needed to tell commands addressed
/// to this bot in groups); a failure only means groups are ignored.
async fn whoami(bot: &teloxide_core::Bot) -> Option<String> {
    use teloxide_core::requests::Requester;
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        bot.get_me().into_future(),
    )
    .await
    {
        Ok(Ok(me)) => me.username.clone(),
        _ => {
            tracing::warn!(
                "cannot ask Telegram for the bot's username (set TELEGRAM_BOT_USERNAME); group commands are ignored"
            );
            None
        }
    }
}
