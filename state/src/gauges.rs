//! Queue gauges: what [`QueueStats`] says, as Prometheus gauges labelled
//! by queue. Both services' queues report under the same names, so one
//! dashboard panel and one alert rule cover every queue.

use crate::QueueStats;

/// Registers the `# HELP` text of the queue gauges (and of the store's
/// one counter, which every process that has queues reports).
pub fn describe() {
    metrics::describe_counter!(
        "state_replica_ack_shortfall_total",
        "Durable writes fewer replicas than STORE_ACK_REPLICAS took within STORE_ACK_TIMEOUT_MS (answered 503), by what was written."
    );
    metrics::describe_gauge!(
        "mesh_queue_items",
        "Items queued or being worked on, per queue."
    );
    metrics::describe_gauge!(
        "mesh_queue_partitions",
        "Partitions (chats, users) with queued items, per queue."
    );
    metrics::describe_gauge!(
        "mesh_queue_oldest_age_seconds",
        metrics::Unit::Seconds,
        "How long the oldest queued item has waited (0 when the queue is empty)."
    );
    metrics::describe_gauge!(
        "mesh_queue_held_partitions",
        "Partitions a worker holds right now, per queue."
    );
    metrics::describe_gauge!(
        "mesh_queue_paused_partitions",
        "Partitions waiting out a delay (Telegram's retry_after, a send slot, a back-off), per queue."
    );
    metrics::describe_gauge!(
        "mesh_queue_longest_pause_seconds",
        metrics::Unit::Seconds,
        "The longest remaining delay among paused partitions, per queue."
    );
    metrics::describe_gauge!(
        "mesh_queue_dead_letters",
        "Dead letters kept for an operator to list and replay, per queue."
    );
}

/// Sets the gauges of `queue` (a short label: `updates`, `outbox`,
/// `notices`) from one sample.
pub fn record(queue: &'static str, stats: &QueueStats) {
    let set = |name: &'static str, value: f64| {
        metrics::gauge!(name, "queue" => queue).set(value);
    };
    set("mesh_queue_items", stats.items as f64);
    set("mesh_queue_partitions", stats.partitions as f64);
    set(
        "mesh_queue_oldest_age_seconds",
        stats.oldest_age.map_or(0.0, |a| a.as_secs_f64()),
    );
    set("mesh_queue_held_partitions", stats.held as f64);
    set("mesh_queue_paused_partitions", stats.paused as f64);
    set(
        "mesh_queue_longest_pause_seconds",
        stats.longest_pause.as_secs_f64(),
    );
    set("mesh_queue_dead_letters", stats.dead_letters as f64);
}
