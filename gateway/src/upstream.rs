//! The gateway's gRPC clients: one lazily connected channel per service,
//! shared by the RPC client and its health client.

use std::time::Duration;

use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::bot::v1::bot_service_client::BotServiceClient;
use mesh_telemetry::GrpcTracePropagation;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::GatewayConfig;

/// bot.v1 client with trace propagation.
pub type BotClient = BotServiceClient<InterceptedService<Channel, GrpcTracePropagation>>;
/// billing.v1 client with trace propagation.
pub type BillingClient = BillingServiceClient<InterceptedService<Channel, GrpcTracePropagation>>;

/// Clients of both services.
#[derive(Clone)]
pub struct Upstreams {
    /// The bot service.
    pub bot: BotClient,
    /// The billing service.
    pub billing: BillingClient,
    bot_health: HealthClient<Channel>,
    billing_health: HealthClient<Channel>,
    /// Deadline of each call.
    pub timeout: Duration,
}

impl Upstreams {
    /// Builds the clients; nothing connects until the first call.
    pub fn new(config: &GatewayConfig) -> Result<Self, mesh_runtime::ConfigError> {
        let bot = mesh_proto::channel(&config.bot_url, config.grpc_tls.as_ref())
            .map_err(|e| mesh_runtime::ConfigError::new("BOT_SERVICE_URL", e))?;
        let billing = mesh_proto::channel(&config.billing_url, config.grpc_tls.as_ref())
            .map_err(|e| mesh_runtime::ConfigError::new("BILLING_SERVICE_URL", e))?;
        Ok(Self {
            bot: BotServiceClient::with_interceptor(
                bot.clone(),
                GrpcTracePropagation::with_bearer(config.bot_token.as_ref().map(|t| t.expose())),
            ),
            billing: BillingServiceClient::with_interceptor(
                billing.clone(),
                GrpcTracePropagation::with_bearer(
                    config.billing_token.as_ref().map(|t| t.expose()),
                ),
            ),
            bot_health: HealthClient::new(bot),
            billing_health: HealthClient::new(billing),
            timeout: config.upstream_timeout,
        })
    }

    /// A request carrying the gateway's deadline (sent as `grpc-timeout`, so
    /// the service stops working on it when the gateway stops waiting).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// The bot service's health, as a short word for `/ready`.
    pub async fn bot_health(&self) -> Result<(), String> {
        check(self.bot_health.clone(), "bot.v1.BotService").await
    }

    /// The billing service's health, as a short word for `/ready`.
    pub async fn billing_health(&self) -> Result<(), String> {
        check(self.billing_health.clone(), "billing.v1.BillingService").await
    }
}

async fn check(mut client: HealthClient<Channel>, service: &str) -> Result<(), String> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    request.set_timeout(Duration::from_secs(1));
    match tokio::time::timeout(Duration::from_secs(2), client.check(request)).await {
        Err(_) => Err("timeout".to_owned()),
        Ok(Err(status)) => Err(match status.code() {
            tonic::Code::Unavailable => "unavailable".to_owned(),
            code => format!("error: {code:?}"),
        }),
        Ok(Ok(response)) => match response.into_inner().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(other.as_str_name().to_ascii_lowercase()),
        },
    }
}
