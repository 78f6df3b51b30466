//! Store keys the ledger maintains.

/// Every user billing has a record for.
pub const USERS: &str = "{billing}:users";
/// When each user's access next needs a look (the sweeper's schedule).
pub const EXPIRY: &str = "{billing}:expiry";
/// When each user whose access ends without renewal is due a reminder.
pub const REMINDERS: &str = "{billing}:reminders";
/// The change log streamed by WatchEntitlements.
pub const CHANGES: &str = "{billing}:changes";
/// A user's entitlement record.
pub fn record(user: i64) -> String {
    format!("{{billing}}:entitlement:{user}")
}
/// A user's audit trail.
pub fn audit(user: i64) -> String {
    format!("{{billing}}:audit:{user}")
}
/// Users whose access ended in a month (`YYYY-MM`).
pub fn churned(month: &str) -> String {
    format!("{{billing}}:churned:{month}")
}
/// An applied Stripe event.
pub fn event(id: &str) -> String {
    format!("{{billing}}:event:{id}")
}
/// The Telegram user of a Stripe customer.
pub fn customer(customer: &str) -> String {
    format!("{{billing}}:customer:{customer}")
}
/// The Stripe customer of a Telegram user.
pub fn customer_of(user: i64) -> String {
    format!("{{billing}}:customer_of:{user}")
}
/// How many users are in a state.
pub fn state_count(state: &str) -> String {
    format!("{{billing}}:count:state:{state}")
}
/// How many users have access through a plan.
pub fn plan_count(plan: &str) -> String {
    format!("{{billing}}:count:plan:{plan}")
}
/// The open Checkout session of a user and plan.
pub fn checkout(user: i64, plan: &str) -> String {
    format!("{{billing}}:checkout:{user}:{plan}")
}
