//! Operator commands: one-shot calls to a running mesh (or to Telegram),
//! made for a terminal or a CronJob. Each reads the same environment as
//! the services; bad configuration exits 2 with one line.

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{ReconcileRequest, RecoverEventsRequest};
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
use mesh_proto::bot::v1::{ListDeadLettersRequest, ReplayDeadLettersRequest};
use mesh_runtime::{ConfigError, Env};
use mesh_telemetry::GrpcTracePropagation;

use crate::cli::DeadLetterCommand;

/// How long a one-shot call may take (a reconcile of many subscriptions).
const LONG_CALL: std::time::Duration = std::time::Duration::from_secs(600);

/// Prints a configuration error and exits 2.
fn config_or_exit<T>(value: Result<T, ConfigError>) -> T {
    value.unwrap_or_else(|e| {
        eprintln!("configuration error: {e}");
        std::process::exit(2);
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// A channel to the service at `url_var`, presenting `token`.
fn channel(env: &Env, url_var: &str, default: &str) -> anyhow::Result<tonic::transport::Channel> {
    let url = config_or_exit(env.url_or(url_var, default));
    let tls = config_or_exit(mesh_proto::GrpcTls::from_env(env));
    Ok(mesh_proto::channel(&url, tls.as_ref())?)
}

/// `webhook set|info|delete`, with the bot's configuration.
pub fn webhook(command: bot_service::webhook::Command) -> anyhow::Result<()> {
    let env = Env::from_process();
    let config = config_or_exit(bot_service::BotConfig::from_env(&env));
    let secret = env.secret("TELEGRAM_WEBHOOK_SECRET");
    runtime()?.block_on(bot_service::webhook::run(command, &config, secret.as_ref()))
}

/// `reconcile` / `recover`: asks billing-service (at
/// `BILLING_SERVICE_URL`) to rebuild entitlements from Stripe, or to replay
/// events whose delivery failed. Safe at any time; made for a CronJob.
pub fn billing(reconcile: bool) -> anyhow::Result<()> {
    let env = Env::from_process();
    runtime()?.block_on(async move {
        let channel = channel(&env, "BILLING_SERVICE_URL", "http://127.0.0.1:50052")?;
        let token = env
            .secret("BILLING_ADMIN_TOKEN")
            .or_else(|| env.secret("BILLING_API_TOKEN"));
        let credentials = GrpcTracePropagation::with_bearer(token.as_ref().map(|t| t.expose()));
        let mut client = BillingServiceClient::with_interceptor(channel, credentials);
        if reconcile {
            let mut request = tonic::Request::new(ReconcileRequest {});
            request.set_timeout(LONG_CALL);
            let r = client.reconcile(request).await?.into_inner();
            println!(
                "reconciled: {} subscriptions seen, {} entitlements updated, {} unmatched",
                r.subscriptions_seen, r.entitlements_updated, r.unmatched
            );
        } else {
            let mut request = tonic::Request::new(RecoverEventsRequest {});
            request.set_timeout(LONG_CALL);
            let r = client.recover_events(request).await?.into_inner();
            println!(
                "recovered: {} events seen, {} applied, {} already applied",
                r.events_seen, r.applied, r.duplicates
            );
        }
        Ok(())
    })
}

/// `dead-letters list|replay`: asks bot-service (at `BOT_SERVICE_URL`,
/// presenting `BOT_API_TOKEN`).
pub fn dead_letters(command: DeadLetterCommand) -> anyhow::Result<()> {
    let env = Env::from_process();
    runtime()?.block_on(async move {
        let channel = channel(&env, "BOT_SERVICE_URL", "http://127.0.0.1:50051")?;
        let token = env.secret("BOT_API_TOKEN");
        let credentials = GrpcTracePropagation::with_bearer(token.as_ref().map(|t| t.expose()));
        let mut client = BotServiceClient::with_interceptor(channel, credentials);
        match command {
            DeadLetterCommand::List { queue, limit } => {
                let r = client
                    .list_dead_letters(ListDeadLettersRequest {
                        queue: queue.unwrap_or_default(),
                        limit,
                    })
                    .await?
                    .into_inner();
                let mut totals: Vec<_> = r.totals.into_iter().collect();
                totals.sort();
                for (queue, n) in totals {
                    println!("{queue}: {n} dead letters");
                }
                for d in r.dead_letters {
                    let at = d.at.map_or(0, |t| t.seconds);
                    println!(
                        "{}\t{}\t{}\tattempts={}\tat={}\t{}\t{}",
                        d.queue, d.id, d.partition, d.attempts, at, d.summary, d.reason
                    );
                }
            }
            DeadLetterCommand::Replay { queue, ids, all } => {
                let ids = if all { Vec::new() } else { ids };
                let r = client
                    .replay_dead_letters(ReplayDeadLettersRequest {
                        queue: queue.clone(),
                        ids,
                    })
                    .await?
                    .into_inner();
                println!("replayed {} dead letters of {queue}", r.replayed);
            }
        }
        Ok(())
    })
}
