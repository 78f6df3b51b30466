//! Every metric the gateway exports, described once (`# HELP`).

/// Registers the `# HELP` text of every gateway metric.
pub fn describe() {
    metrics::describe_counter!(
        "gateway_http_requests_total",
        "HTTP requests answered, by route (the matched route, `unmatched` otherwise) and status."
    );
    metrics::describe_histogram!(
        "gateway_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response, by route."
    );
    metrics::describe_counter!(
        "gateway_telegram_updates_total",
        "Telegram updates received, by outcome (accepted, duplicate)."
    );
    metrics::describe_histogram!(
        "gateway_accept_batch_size",
        "Updates per AcceptUpdates call (concurrent webhook calls share one)."
    );
    metrics::describe_counter!(
        "gateway_stripe_events_total",
        "Stripe events passed to billing, by outcome (applied, duplicate)."
    );
    metrics::describe_counter!(
        "gateway_stripe_signature_rejected_total",
        "Stripe webhook calls refused, by reason (missing, malformed, too old, mismatch)."
    );
    metrics::describe_counter!(
        "gateway_rate_limited_total",
        "Requests refused with 429 by the per-address limiter, by route."
    );
}
