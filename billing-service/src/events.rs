//! Applying verified Stripe events to entitlements.
//!
//! Event payloads are read with small serde structs of just the fields used,
//! not async-stripe's generated types: those are tied to one Stripe API
//! version and fail on payloads of another, while these fields have been
//! stable for years (both places a field moved between versions are read:
//! `current_period_end`, and an invoice's subscription).

use std::time::Duration;

use mesh_state::Store;
use serde::Deserialize;
use serde_json::Value;

use crate::entitlement::{self, Record, State};
use crate::error::BillingError;
use crate::plans::PlanSpec;

/// The envelope of every Stripe event.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_...`.
    pub id: String,
    /// For example `invoice.paid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// The object the event is about.
    pub data: EventData,
}

/// `event.data`.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// The object as of the event.
    pub object: Value,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// Seen before; nothing done.
    pub duplicate: bool,
    /// Billing acts on this type.
    pub recognised: bool,
}

/// Event types billing acts on.
pub const RECOGNISED: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

/// Applies events; cheap to clone.
#[derive(Clone)]
pub struct EventApplier {
    store: Store,
    plans: Vec<PlanSpec>,
    dedup_ttl: Duration,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn i64_at(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_i64)
}

/// `customer` is an id, or an expanded object with one.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn telegram_id(v: Option<&str>) -> Option<i64> {
    v?.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

impl EventApplier {
    /// An applier writing to `store`.
    pub fn new(store: Store, plans: Vec<PlanSpec>, dedup_ttl: Duration) -> Self {
        Self {
            store,
            plans,
            dedup_ttl,
        }
    }

    /// Applies one event's JSON, at most once per `event.id`.
    pub async fn apply(&self, payload: &[u8]) -> Result<Applied, BillingError> {
        let event: Event = serde_json::from_slice(payload)
            .map_err(|e| BillingError::InvalidArgument(format!("not a Stripe event: {e}")))?;
        if !event.id.starts_with("evt_") {
            return Err(BillingError::InvalidArgument(
                "event id must start with evt_".into(),
            ));
        }
        let recognised = RECOGNISED.contains(&event.kind.as_str());
        let applied = |duplicate| Applied {
            event_id: event.id.clone(),
            event_type: event.kind.clone(),
            duplicate,
            recognised,
        };
        // Claim the event id briefly, apply, then remember it for the retry
        // window. A concurrent delivery of the same id sees the claim and is
        // told to retry (not "duplicate"): if this attempt fails, the retry
        // is what applies it.
        let mark = format!("billing:event:{}", event.id);
        if !self
            .store
            .set_if_absent(&mark, b"applying", Duration::from_secs(60))
            .await?
        {
            return match self.store.get(&mark).await?.as_deref() {
                Some(b"done") => {
                    metrics::counter!("billing_stripe_events_total", "outcome" => "duplicate")
                        .increment(1);
                    Ok(applied(true))
                }
                _ => Err(BillingError::InFlight(event.id.clone())),
            };
        }
        let result = if recognised {
            self.apply_recognised(&event).await
        } else {
            Ok(())
        };
        match result {
            Ok(()) => {
                self.store.set(&mark, b"done", Some(self.dedup_ttl)).await?;
                let outcome = if recognised {
                    "applied"
                } else {
                    "unknown_type"
                };
                metrics::counter!("billing_stripe_events_total", "outcome" => outcome).increment(1);
                if !recognised {
                    tracing::info!(event_type = %event.kind, "Stripe event type not handled; acknowledged");
                }
                Ok(applied(false))
            }
            Err(e) => {
                // Best effort: if this fails too, the claim expires in 60 s.
                let _ = self.store.delete(&mark).await;
                Err(e)
            }
        }
    }

    async fn apply_recognised(&self, event: &Event) -> Result<(), BillingError> {
        let obj = &event.data.object;
        match event.kind.as_str() {
            "checkout.session.completed" => {
                let user = telegram_id(str_at(obj, &["client_reference_id"]))
                    .or_else(|| telegram_id(str_at(obj, &["metadata", "telegram_user_id"])));
                let Some(user) = user else {
                    tracing::warn!(event_id = %event.id, "checkout session without a Telegram user; ignored");
                    return Ok(());
                };
                let customer = id_of(obj.get("customer"));
                let subscription = id_of(obj.get("subscription"));
                self.link(customer.as_deref(), subscription.as_deref(), user)
                    .await?;
                let paid = matches!(
                    str_at(obj, &["payment_status"]),
                    Some("paid" | "no_payment_required")
                );
                let plan = str_at(obj, &["metadata", "plan_id"]).map(str::to_owned);
                self.update(user, event.created, |r| {
                    r.customer_id = customer.clone().or(r.customer_id.take());
                    r.subscription_id = subscription.clone().or(r.subscription_id.take());
                    r.plan_id = plan.clone().or(r.plan_id.take());
                    if paid && matches!(r.state, State::None | State::Expired) {
                        r.state = State::Active;
                    }
                })
                .await
            }
            kind if kind.starts_with("customer.subscription.") => {
                let subscription = id_of(obj.get("id"));
                let customer = id_of(obj.get("customer"));
                let user = match telegram_id(str_at(obj, &["metadata", "telegram_user_id"])) {
                    Some(u) => Some(u),
                    None => {
                        self.user_for(customer.as_deref(), subscription.as_deref())
                            .await?
                    }
                };
                let Some(user) = user else {
                    tracing::warn!(event_id = %event.id, "subscription of an unknown user; reconcile will pick it up");
                    return Ok(());
                };
                self.link(customer.as_deref(), subscription.as_deref(), user)
                    .await?;
                let cancel = obj
                    .get("cancel_at_period_end")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let status = str_at(obj, &["status"]).unwrap_or("");
                let state = if kind == "customer.subscription.deleted" {
                    State::Expired
                } else {
                    State::from_stripe(status, cancel)
                };
                let item = obj.pointer("/items/data/0");
                let period_end = i64_at(obj, &["current_period_end"])
                    .or_else(|| item.and_then(|i| i64_at(i, &["current_period_end"])));
                let plan = item
                    .and_then(|i| str_at(i, &["price", "id"]))
                    .and_then(|price| self.plans.iter().find(|p| p.stripe_price_id == price))
                    .map(|p| p.id.clone())
                    .or_else(|| str_at(obj, &["metadata", "plan_id"]).map(str::to_owned));
                self.update(user, event.created, |r| {
                    if r.state != State::PastDue && state == State::PastDue {
                        r.past_due_since = Some(event.created);
                    }
                    if state != State::PastDue {
                        r.past_due_since = None;
                    }
                    r.state = state;
                    r.cancel_at_period_end = cancel;
                    r.current_period_end = period_end.or(r.current_period_end);
                    r.customer_id = customer.clone().or(r.customer_id.take());
                    r.subscription_id = subscription.clone();
                    r.plan_id = plan.clone().or(r.plan_id.take());
                })
                .await
            }
            "invoice.paid" | "invoice.payment_failed" => {
                let customer = id_of(obj.get("customer"));
                let subscription = id_of(obj.get("subscription"))
                    .or_else(|| id_of(obj.pointer("/parent/subscription_details/subscription")));
                let Some(user) = self
                    .user_for(customer.as_deref(), subscription.as_deref())
                    .await?
                else {
                    tracing::warn!(event_id = %event.id, "invoice of an unknown customer; ignored");
                    return Ok(());
                };
                let paid = event.kind == "invoice.paid";
                self.update(user, event.created, |r| {
                    if paid {
                        if matches!(r.state, State::PastDue | State::None | State::Trialing) {
                            r.state = State::Active;
                        }
                        r.past_due_since = None;
                    } else if matches!(r.state, State::Active | State::Trialing | State::Canceled) {
                        r.state = State::PastDue;
                        r.past_due_since = Some(event.created);
                    }
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// Reads, changes and writes a user's record unless the stored one is
    /// newer than `version` (an older event never overwrites newer state).
    async fn update(
        &self,
        user: i64,
        version: i64,
        change: impl FnOnce(&mut Record),
    ) -> Result<(), BillingError> {
        let key = entitlement::key(user);
        let mut record = match self.store.get_versioned(&key).await? {
            Some((stored, _)) if stored > version => {
                metrics::counter!("billing_stale_events_total").increment(1);
                return Ok(());
            }
            Some((_, data)) => serde_json::from_slice(&data)
                .map_err(|e| BillingError::Corrupt(format!("{key}: {e}")))?,
            None => Record::none(user),
        };
        change(&mut record);
        record.updated_at = version;
        let data = serde_json::to_vec(&record).map_err(|e| BillingError::Corrupt(e.to_string()))?;
        self.store.put_if_newer(&key, version, &data).await?;
        Ok(())
    }

    async fn link(
        &self,
        customer: Option<&str>,
        subscription: Option<&str>,
        user: i64,
    ) -> Result<(), BillingError> {
        let user = user.to_string();
        for (kind, id) in [("customer", customer), ("subscription", subscription)] {
            if let Some(id) = id {
                self.store
                    .set(&format!("billing:{kind}:{id}"), user.as_bytes(), None)
                    .await?;
            }
        }
        Ok(())
    }

    async fn user_for(
        &self,
        customer: Option<&str>,
        subscription: Option<&str>,
    ) -> Result<Option<i64>, BillingError> {
        for (kind, id) in [("subscription", subscription), ("customer", customer)] {
            if let Some(id) = id
                && let Some(user) = self.store.get(&format!("billing:{kind}:{id}")).await?
            {
                return Ok(telegram_id(std::str::from_utf8(&user).ok()));
            }
        }
        Ok(None)
    }
}
