//! What every gRPC server of the mesh serves besides its own API:
//! `grpc.health.v1.Health`, server reflection (v1 and v1alpha), a server
//! span per call with its status code, per-call metrics, and a health
//! status kept true to the shared store (also mirrored into a
//! [`Readiness`] for the plain-HTTP `/ready` of the metrics listener).

use std::future::Future;
use std::time::Duration;

use mesh_telemetry::metrics::Readiness;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Why a server could not start or stopped.
pub type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// The health service name that only says "the process is up".
pub const LIVENESS: &str = "liveness";

/// What a service brings to [`serve`].
pub struct Service<P> {
    /// Its fully qualified gRPC name, under which health is reported.
    pub name: &'static str,
    /// Its encoded descriptor set, for reflection.
    pub descriptor: &'static [u8],
    /// Its API.
    pub routes: Routes,
    /// Whether it can work right now (its store answers); polled for health.
    pub probe: P,
    /// Mirrors the health status for the metrics listener's `/ready`.
    pub readiness: Readiness,
}

/// Serves `service` on `listener` with health and reflection (both
/// protocol versions: v1, and v1alpha, the only one grpcurl releases before
/// 1.9 speak) until `shutdown` fires. Health turns NOT_SERVING first, and
/// calls in flight finish before this returns.
pub async fn serve<P, Fut>(
    listener: TcpListener,
    service: Service<P>,
    tls: Option<&crate::GrpcTls>,
    trace: fn(&http::Request<()>) -> tracing::Span,
    shutdown: CancellationToken,
) -> Result<(), ServeError>
where
    P: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    // The `google.rpc` error details too: a refusal's ErrorInfo then
    // decodes in grpcurl instead of printing as raw bytes.
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(service.descriptor)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(service.descriptor)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    // `liveness` answers SERVING while the process runs: a liveness probe
    // must not restart pods because Redis is down (readiness says that).
    reporter
        .set_service_status(LIVENESS, ServingStatus::Serving)
        .await;
    let tracker = tokio::spawn(track_health(
        reporter,
        service.name,
        service.probe,
        service.readiness,
        shutdown.clone().cancelled_owned(),
    ));
    let routes = service
        .routes
        .add_service(health)
        .add_service(v1)
        .add_service(v1alpha);
    let mut builder = Server::builder();
    if let Some(config) = tls.and_then(crate::GrpcTls::server) {
        builder = builder.tls_config(config)?;
    }
    // Socket options go on the incoming stream: the builder's `tcp_nodelay`
    // is ignored for a listener handed in. Without TCP_NODELAY, Nagle held
    // back small responses until the peer's delayed ACK (~40 ms) at times,
    // e.g. the first call on each new connection.
    use tokio_stream::StreamExt;
    type Incoming = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = std::io::Result<crate::inproc::Conn>> + Send>,
    >;
    let pipes = listener.local_addr().ok().and_then(crate::inproc::incoming);
    let tcp = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
        .map(|conn| conn.map(crate::inproc::Conn::Tcp));
    // In the one-process mode, in-process pipes arrive beside TCP.
    let incoming: Incoming = match pipes {
        Some(pipes) => Box::pin(
            tcp.merge(
                tokio_stream::wrappers::UnboundedReceiverStream::new(pipes)
                    .map(|pipe| Ok(crate::inproc::Conn::Pipe(pipe))),
            ),
        ),
        None => Box::pin(tcp),
    };
    let served = builder
        .trace_fn(trace)
        .layer(mesh_telemetry::grpc::GrpcObserveLayer)
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await;
    let _ = tracker.await;
    served?;
    Ok(())
}

/// Keeps `service`'s health status equal to what `probe` says, checking
/// every two seconds until `stop` resolves; then reports NOT_SERVING so
/// callers stop sending new work while the server drains.
async fn track_health<F, Fut>(
    reporter: HealthReporter,
    service: &'static str,
    probe: F,
    readiness: Readiness,
    stop: impl Future<Output = ()>,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut last = None;
    let watch = async {
        loop {
            let serving = probe().await;
            readiness.set(serving);
            if last != Some(serving) {
                let status = if serving {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                reporter.set_service_status(service, status).await;
                reporter.set_service_status("", status).await;
                if last.is_some() {
                    tracing::info!(service, serving, "health changed");
                }
                last = Some(serving);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    tokio::select! {
        () = watch => {}
        () = stop => {}
    }
    readiness.set(false);
    reporter
        .set_service_status(service, ServingStatus::NotServing)
        .await;
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
}

/// The token of an `authorization: Bearer <token>` header (empty when
/// there is none), for a constant-time comparison with the configured one.
pub fn bearer(metadata: &tonic::metadata::MetadataMap) -> &[u8] {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes()
}

/// Refuses calls without `authorization: Bearer <token>` (compared in
/// constant time) when a token is configured; lets everything through
/// otherwise. Health and reflection stay open: they are served beside the
/// intercepted API.
#[derive(Clone)]
pub struct RequireBearer {
    token: Option<mesh_runtime::Secret>,
    counter: &'static str,
}

impl RequireBearer {
    /// Requires `token` when set; refusals count in the metric `counter`.
    pub fn new(token: Option<mesh_runtime::Secret>, counter: &'static str) -> Self {
        Self { token, counter }
    }
}

impl tonic::service::Interceptor for RequireBearer {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        match &self.token {
            Some(token) if !token.matches(bearer(request.metadata())) => {
                metrics::counter!(self.counter).increment(1);
                Err(tonic::Status::unauthenticated("missing or invalid token"))
            }
            _ => Ok(request),
        }
    }
}
