//! Applying verified Stripe events to entitlements.
//!
//! Event payloads are read with small serde structs of just the fields used,
//! not async-stripe's generated types: those are tied to one Stripe API
//! version and reject payloads of another, while these fields have been
//! stable for years (both places a field moved between versions are read).
//!
//! Order can't be trusted, so with Stripe configured every subscription
//! and invoice event re-reads the subscription and projects Stripe's current
//! state: the final entitlement is Stripe's latest state whatever order the
//! events came in. Without Stripe (a dry run) the payload itself is used,
//! versioned by the event's time so an older event never overwrites newer
//! state.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::entitlement::{State, now};
use crate::error::BillingError;
use crate::ledger::{Cause, Ledger};
use crate::notices::{Notice, NoticeKind};
use crate::plans::PlanSpec;
use crate::stripe_api::{StripeApi, SubscriptionView};

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
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
    "charge.refunded",
];

/// Applies events; cheap to clone.
#[derive(Clone)]
pub struct EventApplier {
    ledger: Ledger,
    stripe: Option<StripeApi>,
    plans: Vec<PlanSpec>,
    dedup_ttl: Duration,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

/// An id field, given as an id or an expanded object.
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

/// A subscription as its event payload shows it (the dry-run source).
fn view_from_payload(obj: &Value) -> Option<SubscriptionView> {
    let item = obj.pointer("/items/data/0");
    Some(SubscriptionView {
        id: id_of(obj.get("id"))?,
        customer: id_of(obj.get("customer")).unwrap_or_default(),
        status: str_at(obj, &["status"]).unwrap_or_default().to_owned(),
        cancel_at_period_end: obj
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        current_period_end: obj
            .get("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| {
                item.and_then(|i| i.get("current_period_end"))
                    .and_then(Value::as_i64)
            }),
        price_id: item
            .and_then(|i| str_at(i, &["price", "id"]))
            .map(str::to_owned),
        telegram_user_id: telegram_id(str_at(obj, &["metadata", "telegram_user_id"])),
        plan_id: str_at(obj, &["metadata", "plan_id"]).map(str::to_owned),
        created: obj
            .get("created")
            .and_then(Value::as_i64)
            .unwrap_or_default(),
    })
}

impl EventApplier {
    /// An applier writing through `ledger`, re-reading from `stripe` when set.
    pub fn new(
        ledger: Ledger,
        stripe: Option<StripeApi>,
        plans: Vec<PlanSpec>,
        dedup_ttl: Duration,
    ) -> Self {
        Self {
            ledger,
            stripe,
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
        let store = self.ledger.store();
        // Claim the event id briefly, apply, then remember it for the retry
        // window. A concurrent delivery of the same id sees the claim and is
        // told to retry (not "duplicate"): if this attempt fails, the retry
        // is what applies it.
        let mark = format!("billing:event:{}", event.id);
        if !store
            .set_if_absent(&mark, b"applying", Duration::from_secs(60))
            .await?
        {
            return match store.get(&mark).await?.as_deref() {
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
                store.set(&mark, b"done", Some(self.dedup_ttl)).await?;
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
                let _ = store.delete(&mark).await;
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
                self.link(customer.as_deref(), user).await?;
                let paid = matches!(
                    str_at(obj, &["payment_status"]),
                    Some("paid" | "no_payment_required")
                );
                if let (Some(stripe), Some(sub)) = (&self.stripe, &subscription) {
                    let view = stripe.subscription(sub).await?;
                    return self.project(user, &view, now(), &event.id).await;
                }
                let plan = str_at(obj, &["metadata", "plan_id"]).map(str::to_owned);
                self.ledger
                    .write(user, event.created, Cause::stripe(&event.id), |r| {
                        r.customer_id = customer.clone().or(r.customer_id.take());
                        r.subscription_id = subscription.clone().or(r.subscription_id.take());
                        r.plan_id = plan.clone().or(r.plan_id.take());
                        if paid && matches!(r.state, State::None | State::Expired) {
                            r.state = State::Active;
                            r.granted_by = None;
                        }
                    })
                    .await
                    .map(drop)
            }
            "customer.subscription.trial_will_end" => {
                let Some(view) = view_from_payload(obj) else {
                    return Ok(());
                };
                let Some(user) = self.user_of(&view).await? else {
                    return Ok(());
                };
                let trial_end = obj
                    .get("trial_end")
                    .and_then(Value::as_i64)
                    .or(view.current_period_end);
                self.ledger
                    .notices()
                    .send(Notice {
                        id: format!("{user}:trial_will_end:{}", trial_end.unwrap_or_default()),
                        user,
                        kind: NoticeKind::EndingSoon,
                        plan_id: view.plan_id.clone(),
                        access_until: trial_end,
                        reason: "trial".into(),
                    })
                    .await
            }
            kind if kind.starts_with("customer.subscription.") => {
                let Some(payload) = view_from_payload(obj) else {
                    return Err(BillingError::InvalidArgument(
                        "subscription event without an id".into(),
                    ));
                };
                let (view, version) = self.truth(payload, event.created).await?;
                let Some(user) = self.user_of(&view).await? else {
                    tracing::warn!(event_id = %event.id, "subscription of an unknown user; reconcile will pick it up");
                    return Ok(());
                };
                self.link(Some(&view.customer), user).await?;
                self.project(user, &view, version, &event.id).await
            }
            "invoice.paid" | "invoice.payment_failed" | "charge.refunded" => {
                let customer = id_of(obj.get("customer"));
                let subscription = id_of(obj.get("subscription"))
                    .or_else(|| id_of(obj.pointer("/parent/subscription_details/subscription")));
                let Some(user) = self.user_for_customer(customer.as_deref()).await? else {
                    tracing::warn!(event_id = %event.id, "invoice or charge of an unknown customer; ignored");
                    return Ok(());
                };
                let subscription = match subscription {
                    Some(s) => Some(s),
                    None => self.ledger.read(user).await?.1.subscription_id,
                };
                if let (Some(stripe), Some(sub)) = (&self.stripe, &subscription) {
                    let view = stripe.subscription(sub).await?;
                    return self.project(user, &view, now(), &event.id).await;
                }
                if event.kind == "charge.refunded" {
                    return Ok(());
                }
                let paid = event.kind == "invoice.paid";
                let at = event.created;
                self.ledger
                    .write(user, at, Cause::stripe(&event.id), |r| {
                        if paid {
                            if matches!(r.state, State::PastDue | State::None | State::Trialing) {
                                r.state = State::Active;
                            }
                            r.past_due_since = None;
                        } else if matches!(
                            r.state,
                            State::Active | State::Trialing | State::Canceled
                        ) {
                            r.state = State::PastDue;
                            r.past_due_since = Some(at);
                        }
                    })
                    .await
                    .map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Stripe's current view of a subscription when configured (versioned
    /// now), else the payload (versioned by the event's time).
    async fn truth(
        &self,
        payload: SubscriptionView,
        created: i64,
    ) -> Result<(SubscriptionView, i64), BillingError> {
        let Some(stripe) = &self.stripe else {
            return Ok((payload, created));
        };
        match stripe.subscription(&payload.id).await {
            Ok(view) => Ok((view, now())),
            // Deleted for good: the payload is the last word.
            Err(BillingError::NotFound(_)) => Ok((payload, now())),
            Err(e) => Err(e),
        }
    }

    /// Writes Stripe's view of a subscription into the user's record.
    pub async fn project(
        &self,
        user: i64,
        view: &SubscriptionView,
        version: i64,
        reason: &str,
    ) -> Result<(), BillingError> {
        let plans = &self.plans;
        self.ledger
            .write(user, version, Cause::stripe(reason), |r| {
                r.project(view, plans, version);
            })
            .await
            .map(drop)
    }

    async fn link(&self, customer: Option<&str>, user: i64) -> Result<(), BillingError> {
        match customer {
            Some(c) => self.ledger.link_customer(c, user).await,
            None => Ok(()),
        }
    }

    async fn user_of(&self, view: &SubscriptionView) -> Result<Option<i64>, BillingError> {
        match view.telegram_user_id {
            Some(u) => Ok(Some(u)),
            None => self.user_for_customer(Some(&view.customer)).await,
        }
    }

    async fn user_for_customer(&self, customer: Option<&str>) -> Result<Option<i64>, BillingError> {
        match customer {
            Some(c) => self.ledger.user_of_customer(c).await,
            None => Ok(None),
        }
    }
}
