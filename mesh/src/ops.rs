//! Operator commands: one-shot calls to a running mesh (or to Telegram),
//! made for a terminal or a CronJob. Each reads the same environment as
//! the services; bad configuration exits 2 with one line.

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{ExportMembersRequest, ReconcileRequest, RecoverEventsRequest};
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
pub fn webhook(command: bot_service::intake::webhook::Command) -> anyhow::Result<()> {
    let env = Env::from_process();
    let config = config_or_exit(bot_service::BotConfig::from_env(&env));
    let secret = env.secret("TELEGRAM_WEBHOOK_SECRET");
    runtime()?.block_on(bot_service::intake::webhook::run(
        command,
        &config,
        secret.as_ref(),
    ))
}

/// A one-shot call to billing-service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingOp {
    /// Rebuild entitlements from Stripe.
    Reconcile,
    /// Replay events whose delivery failed.
    Recover,
    /// Every member as CSV on stdout.
    ExportMembers,
}

/// The CSV header of `export-members`.
const MEMBERS_HEADER: &str = "telegram_user_id,state,has_access,plan_id,access_until,lifetime,renews,paid_until,granted_until,trial_used,ever_paid,stripe_customer_id,stripe_subscription_id,rail,stars_subscription_charge_id";

/// One member as a CSV row (times as unix seconds, empty when unknown).
fn member_row(m: &mesh_proto::billing::v1::Member) -> String {
    let e = m.entitlement.clone().unwrap_or_default();
    let time =
        |t: Option<mesh_proto::Timestamp>| t.map(|t| t.seconds.to_string()).unwrap_or_default();
    // Ids and plan ids hold no commas or quotes; quote anyway, as CSV allows.
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let state = e
        .state()
        .as_str_name()
        .trim_start_matches("ENTITLEMENT_STATE_")
        .to_ascii_lowercase();
    [
        e.telegram_user_id.to_string(),
        state,
        e.has_access.to_string(),
        quote(&e.plan_id),
        time(e.current_period_end),
        e.lifetime.to_string(),
        (!e.cancel_at_period_end).to_string(),
        time(e.paid_until),
        time(e.granted_until),
        e.trial_used.to_string(),
        m.ever_paid.to_string(),
        quote(&e.stripe_customer_id),
        quote(&e.stripe_subscription_id),
        e.rail()
            .as_str_name()
            .trim_start_matches("RAIL_")
            .to_ascii_lowercase(),
        quote(&e.stars_subscription_charge_id),
    ]
    .join(",")
}

/// `reconcile` / `recover` / `export-members`: asks billing-service (at
/// `BILLING_SERVICE_URL`) to rebuild entitlements from Stripe, to replay
/// events whose delivery failed, or for every member. Safe at any time;
/// made for a CronJob or a terminal.
pub fn billing(op: BillingOp) -> anyhow::Result<()> {
    let env = Env::from_process();
    runtime()?.block_on(async move {
        let channel = channel(&env, "BILLING_SERVICE_URL", "http://127.0.0.1:50052")?;
        let token = env
            .secret("BILLING_ADMIN_TOKEN")
            .or_else(|| env.secret("BILLING_API_TOKEN"));
        let credentials = GrpcTracePropagation::with_bearer(token.as_ref().map(|t| t.expose()));
        let mut client = BillingServiceClient::with_interceptor(channel, credentials);
        if op == BillingOp::ExportMembers {
            let mut request = tonic::Request::new(ExportMembersRequest {});
            request.set_timeout(LONG_CALL);
            let mut members = client.export_members(request).await?.into_inner();
            println!("{MEMBERS_HEADER}");
            let mut count = 0u64;
            while let Some(member) = members.message().await? {
                println!("{}", member_row(&member));
                count += 1;
            }
            eprintln!("exported {count} members");
        } else if op == BillingOp::Reconcile {
            let mut request = tonic::Request::new(ReconcileRequest {});
            request.set_timeout(LONG_CALL);
            let r = client.reconcile(request).await?.into_inner();
            println!(
                "reconciled: Stripe: {} subscriptions seen, {} entitlements updated, {} unmatched; Telegram Stars: {} transactions seen, {} users updated",
                r.subscriptions_seen,
                r.entitlements_updated,
                r.unmatched,
                r.stars_transactions_seen,
                r.stars_users_updated
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
