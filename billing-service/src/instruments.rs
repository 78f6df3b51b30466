//! Every metric billing-service exports, described once (`# HELP`), and
//! the gauges sampled from the shared store.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::entitlement::State;
use crate::error::BillingError;
use crate::ledger::{Ledger, keys};
use crate::notices;

/// Registers the `# HELP` text of every billing-service metric.
pub fn describe() {
    mesh_state::gauges::describe();
    metrics::describe_counter!(
        "billing_stripe_events_total",
        "Stripe events received, by outcome (applied, duplicate, ignored, unknown_type)."
    );
    metrics::describe_counter!(
        "billing_stars_payments_total",
        "Telegram Stars payments and refunds applied, by kind (payment, refund) and outcome (applied, duplicate, not_ours)."
    );
    metrics::describe_counter!(
        "billing_stars_refunds_total",
        "Stars refunds an admin made (refundStarPayment)."
    );
    metrics::describe_counter!(
        "billing_stripe_events_ignored_total",
        "Stripe events acknowledged without effect, by reason (another product, not a subscription, ...)."
    );
    metrics::describe_histogram!(
        "billing_stripe_request_seconds",
        metrics::Unit::Seconds,
        "Stripe API calls, by operation and outcome."
    );
    metrics::describe_counter!(
        "billing_duplicate_subscriptions_total",
        "Second subscriptions that completed while one was open (paid in another tab): cancelled and refunded."
    );
    metrics::describe_counter!(
        "billing_customer_conflicts_total",
        "Stripe events refused because they would give a customer that belongs to one Telegram user to another."
    );
    metrics::describe_counter!(
        "billing_sweep_errors_total",
        "Users the sweeper could not look at (counted, logged and tried again later; the pass goes on), by step."
    );
    metrics::describe_counter!(
        "billing_checkouts_started_total",
        "Stripe Checkout sessions created."
    );
    metrics::describe_counter!(
        "billing_entitlement_changes_total",
        "Entitlement state changes, by the state entered."
    );
    metrics::describe_counter!(
        "billing_transition_conflicts_total",
        "Entitlement changes retried because another writer changed the record first."
    );
    metrics::describe_counter!(
        "billing_notices_delivered_total",
        "Entitlement notices bot-service accepted."
    );
    metrics::describe_counter!(
        "billing_unauthorized_calls_total",
        "billing.v1 calls refused for a missing or wrong bearer token."
    );
    metrics::describe_gauge!(
        "billing_entitlements",
        "Users per entitlement state (kept by every change, read from counters)."
    );
    metrics::describe_gauge!(
        "billing_entitlements_with_access",
        "Users with access, per plan (\"\" for a plan no longer configured)."
    );
    metrics::describe_gauge!("billing_known_users", "Users billing has a record for.");
}

/// Samples the entitlement counters and the notice queue every
/// `every` (`GAUGE_SAMPLE_SECS`) until `shutdown`.
pub fn spawn_sampler(
    ledger: Ledger,
    every: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    mesh_telemetry::metrics::spawn_sampler(every, shutdown, move || {
        let ledger = ledger.clone();
        async move { sample(&ledger).await }
    })
}

async fn sample(ledger: &Ledger) -> Result<(), BillingError> {
    let store = ledger.store();
    mesh_state::gauges::record("notices", &store.queue_stats(notices::QUEUE).await?);
    for state in State::COUNTED {
        let n = ledger.counter(&keys::state_count(state.name())).await?;
        metrics::gauge!("billing_entitlements", "state" => state.name()).set(n as f64);
    }
    let plans = ledger.terms().plans.all().iter().map(|p| p.id.clone());
    for plan in plans.chain([String::new()]) {
        let n = ledger.counter(&keys::plan_count(&plan)).await?;
        metrics::gauge!("billing_entitlements_with_access", "plan" => plan).set(n as f64);
    }
    metrics::gauge!("billing_known_users").set(store.set_len(keys::USERS).await? as f64);
    Ok(())
}
