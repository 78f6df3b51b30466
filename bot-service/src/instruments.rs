//! Every metric bot-service exports, described once (`# HELP`), and the
//! gauges sampled from the shared store.

use std::time::Duration;

use mesh_state::Store;
use tokio_util::sync::CancellationToken;

use crate::keys;

/// Registers the `# HELP` text of every bot-service metric.
pub fn describe() {
    mesh_state::gauges::describe();
    metrics::describe_gauge!(
        "bot_chat_rights_missing",
        "Rights the bot lacks in a plan chat (0 when it has all it needs), by chat: checked at start-up and every 30 minutes."
    );
    metrics::describe_histogram!(
        "bot_pre_checkout_seconds",
        metrics::Unit::Seconds,
        "Time to answer a pre_checkout_query at acceptance (billing's check and answerPreCheckoutQuery); Telegram fails the payment after 10 s."
    );
    metrics::describe_counter!(
        "bot_pre_checkout_total",
        "Pre-checkout queries answered at acceptance, by answer (ok, refused)."
    );
    metrics::describe_counter!(
        "bot_invite_refusals_total",
        "Invite links Telegram refused for one plan chat (the bot lacks a right there); the user's other chats were still invited."
    );
    metrics::describe_counter!(
        "bot_updates_accepted_total",
        "Updates and notices accepted over AcceptUpdates, by whether they were duplicates."
    );
    metrics::describe_counter!(
        "bot_updates_chatter_total",
        "New updates accepted as group chatter: remembered as seen, never queued."
    );
    metrics::describe_counter!(
        "bot_notices_accepted_total",
        "Entitlement notices accepted from billing, by kind."
    );
    metrics::describe_histogram!(
        "bot_update_handle_seconds",
        metrics::Unit::Seconds,
        "Time to handle one queued item, from claim to decision."
    );
    metrics::describe_counter!(
        "bot_updates_failed_total",
        "Queued items whose handling failed, by kind (transient: retried; permanent and gave_up: dead letters)."
    );
    metrics::describe_counter!(
        "bot_flood_limited_total",
        "Messages from users over the per-user flood limit."
    );
    metrics::describe_counter!(
        "bot_telegram_calls_total",
        "Bot API calls, by method and outcome (ok, retry_after, blocked, transient, permanent)."
    );
    metrics::describe_counter!(
        "bot_unauthorized_calls_total",
        "bot.v1 calls refused for a missing or wrong bearer token."
    );
    metrics::describe_gauge!(
        "bot_blocked_users",
        "Users who blocked the bot (nothing is sent to them)."
    );
    metrics::describe_gauge!("bot_known_users", "Users who have written to the bot.");
}

/// Samples the update queue, the outbox and the user registry every
/// `every` (`GAUGE_SAMPLE_SECS`) until `shutdown`.
pub fn spawn_sampler(
    store: Store,
    every: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    mesh_telemetry::metrics::spawn_sampler(every, shutdown, move || {
        let store = store.clone();
        async move { sample(&store).await }
    })
}

async fn sample(store: &Store) -> Result<(), mesh_state::StoreError> {
    let updates = store.queue_stats(keys::UPDATES).await?;
    mesh_state::gauges::record("updates", &updates);
    let outbox = store.queue_stats(keys::OUTBOX).await?;
    mesh_state::gauges::record("outbox", &outbox);
    metrics::gauge!("bot_blocked_users").set(store.set_len(keys::BLOCKED).await? as f64);
    metrics::gauge!("bot_known_users").set(store.sorted_len(keys::USERS).await? as f64);
    Ok(())
}
