//! `billing.v1.BillingService`.

use mesh_proto::billing::v1::billing_service_server::BillingService;
use mesh_proto::billing::v1::{
    ApplyStripeEventRequest, ApplyStripeEventResponse, GetEntitlementRequest,
    GetEntitlementResponse, ListPlansRequest, ListPlansResponse, Plan,
};
use mesh_state::Store;
use tonic::{Request, Response, Status};

use crate::BillingConfig;
use crate::entitlement::{self, Record};
use crate::error::BillingError;
use crate::events::EventApplier;

/// The gRPC service.
pub struct Billing {
    config: BillingConfig,
    store: Store,
    events: EventApplier,
}

impl Billing {
    /// A service over `store`.
    pub fn new(config: BillingConfig, store: Store) -> Self {
        let events = EventApplier::new(store.clone(), config.plans.clone(), config.event_dedup_ttl);
        Self {
            config,
            store,
            events,
        }
    }

    fn grace_secs(&self) -> i64 {
        i64::try_from(self.config.past_due_grace.as_secs()).unwrap_or(i64::MAX / 2)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[tonic::async_trait]
impl BillingService for Billing {
    async fn list_plans(
        &self,
        _: Request<ListPlansRequest>,
    ) -> Result<Response<ListPlansResponse>, Status> {
        let plans = self
            .config
            .plans
            .iter()
            .map(|p| Plan {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                stripe_price_id: p.stripe_price_id.clone(),
                trial_days: p.trial_days,
            })
            .collect();
        Ok(Response::new(ListPlansResponse { plans }))
    }

    async fn get_entitlement(
        &self,
        request: Request<GetEntitlementRequest>,
    ) -> Result<Response<GetEntitlementResponse>, Status> {
        let user = request.into_inner().telegram_user_id;
        if user <= 0 {
            return Err(
                BillingError::InvalidArgument("telegram_user_id must be positive".into()).into(),
            );
        }
        let key = entitlement::key(user);
        let record = match self
            .store
            .get_versioned(&key)
            .await
            .map_err(BillingError::from)?
        {
            Some((_, data)) => serde_json::from_slice::<Record>(&data)
                .map_err(|e| BillingError::Corrupt(format!("{key}: {e}")))?,
            None => Record::none(user),
        };
        Ok(Response::new(GetEntitlementResponse {
            entitlement: Some(record.to_proto(now(), self.grace_secs())),
        }))
    }

    async fn apply_stripe_event(
        &self,
        request: Request<ApplyStripeEventRequest>,
    ) -> Result<Response<ApplyStripeEventResponse>, Status> {
        let applied = self.events.apply(&request.into_inner().event_json).await?;
        Ok(Response::new(ApplyStripeEventResponse {
            event_id: applied.event_id,
            event_type: applied.event_type,
            duplicate: applied.duplicate,
            recognised: applied.recognised,
        }))
    }
}
