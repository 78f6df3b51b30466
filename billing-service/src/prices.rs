//! What each plan costs, read from Stripe's Price and kept in memory:
//! refreshed in the background, so listing plans never waits for Stripe,
//! and a Stripe outage keeps the last prices read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mesh_proto::billing::v1::{ChatInfo, Plan, PlanMode};
use tokio_util::sync::CancellationToken;

use crate::money::PriceTerms;
use crate::plans::{Mode, Plans};
use crate::stripe_api::StripeApi;

/// The prices read so far, by Stripe price id; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Prices(Arc<RwLock<HashMap<String, PriceTerms>>>);

impl Prices {
    /// The terms of `price`, once read.
    pub fn get(&self, price: &str) -> Option<PriceTerms> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(price)
            .cloned()
    }

    fn put(&self, price: &str, terms: PriceTerms) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(price.to_owned(), terms);
    }

    /// Reads every plan's price now, then every `every` until `shutdown`;
    /// a price that can't be read keeps its last value (retried sooner).
    pub fn spawn_refresh(
        &self,
        stripe: StripeApi,
        plans: Plans,
        every: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let prices = self.clone();
        tokio::spawn(async move {
            loop {
                let mut failed = false;
                for plan in plans.all() {
                    match stripe.price(&plan.stripe_price_id).await {
                        Ok(terms) => {
                            check_mode(plan, &terms);
                            prices.put(&plan.stripe_price_id, terms);
                        }
                        Err(e) => {
                            failed = true;
                            tracing::warn!(plan = %plan.id, error = %e, "cannot read the plan's Stripe price");
                        }
                    }
                }
                // A failed read is retried within a minute, not an interval.
                let wait = if failed {
                    every.min(Duration::from_secs(60))
                } else {
                    every
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        })
    }
}

/// A one-time plan needs a one-time price and a subscription a recurring
/// one, or Checkout refuses the session: said at start-up, not at the
/// first customer.
fn check_mode(plan: &crate::plans::PlanSpec, terms: &PriceTerms) {
    let recurring = terms.interval.is_some();
    let wants = plan.mode == crate::plans::Mode::Subscription;
    if recurring != wants {
        tracing::error!(
            plan = %plan.id,
            price = %plan.stripe_price_id,
            "the plan's mode does not match its Stripe price ({}): Checkout will refuse it",
            if recurring { "recurring" } else { "one-time" }
        );
    }
}

impl Prices {
    /// The plans on sale as the API shows them, each with its Stripe
    /// price as last read.
    pub fn plans(&self, plans: &Plans) -> Vec<Plan> {
        plans
            .all()
            .iter()
            .map(|p| Plan {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                stripe_price_id: p.stripe_price_id.clone(),
                trial_days: p.trial_days,
                chats: p.chats.clone(),
                mode: match p.mode {
                    Mode::Subscription => PlanMode::Subscription,
                    Mode::Payment => PlanMode::Payment,
                }
                .into(),
                duration_days: p.duration_days.unwrap_or(0),
                price: p
                    .on_stripe()
                    .then(|| self.get(&p.stripe_price_id))
                    .flatten()
                    .map(|t| t.to_proto()),
                price_display: p.price_display.clone().unwrap_or_default(),
                stars_price: p.stars_price.unwrap_or(0),
                chat_info: p
                    .chats
                    .iter()
                    .filter_map(|c| plans.chat(*c))
                    .map(|c| ChatInfo {
                        id: c.id,
                        name: c.name.clone(),
                        description: c.description.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}
