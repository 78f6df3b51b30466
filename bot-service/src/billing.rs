//! The bot's client of billing.v1.

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{ListPlansRequest, Plan};
use mesh_telemetry::GrpcTracePropagation;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

/// billing.v1 over one lazily connected channel.
#[derive(Clone)]
pub struct BillingClient {
    inner: BillingServiceClient<InterceptedService<Channel, GrpcTracePropagation>>,
}

impl BillingClient {
    /// A client of the billing service at `url`.
    pub fn new(url: &str) -> Result<Self, mesh_runtime::ConfigError> {
        let channel = mesh_proto::lazy_channel(url)
            .map_err(|e| mesh_runtime::ConfigError::new("BILLING_SERVICE_URL", e))?;
        Ok(Self {
            inner: BillingServiceClient::with_interceptor(channel, GrpcTracePropagation),
        })
    }

    /// The plans on sale.
    pub async fn plans(&self) -> Result<Vec<Plan>, tonic::Status> {
        let mut request = tonic::Request::new(ListPlansRequest {});
        request.set_timeout(Duration::from_secs(3));
        let span = mesh_telemetry::grpc_client_span!("billing.v1.BillingService", "ListPlans");
        let mut client = self.inner.clone();
        Ok(client
            .list_plans(request)
            .instrument(span)
            .await?
            .into_inner()
            .plans)
    }
}
