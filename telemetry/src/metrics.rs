//! Prometheus metrics: one recorder per process, rendered on `/metrics`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it) and
/// returns the handle that renders it.
pub fn recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                // Histograms named `*_batch_size` count items, not seconds.
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("_batch_size".into()),
                        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (an embedding test
            // harness); then this handle renders an empty registry, which
            // is the honest answer.
            let _ = metrics::set_global_recorder(recorder);
            // The process's own: resident memory, CPU time, open file
            // descriptors (read from /proc at each scrape).
            PROCESS
                .get_or_init(metrics_process::Collector::default)
                .describe();
            crate::grpc::describe();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// Renders the registry in the Prometheus text format, with the
/// process's metrics read now.
pub fn render() -> String {
    let handle = recorder();
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    handle.render()
}

/// Runs `sample` now and then every `every` until `shutdown` fires.
/// Gauges read from the shared store are sampled like this rather than at
/// each scrape: a scrape costs nothing, and the store's load does not
/// depend on how many Prometheus servers scrape or how often. A sample
/// that fails leaves the gauges at their last values and is counted.
pub fn spawn_sampler<F, Fut, E>(
    every: Duration,
    shutdown: CancellationToken,
    mut sample: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    metrics::describe_counter!(
        SAMPLES_FAILED,
        "Gauge samples that could not read the store (the gauges keep their last values)."
    );
    tokio::spawn(async move {
        loop {
            if let Err(e) = sample().await {
                metrics::counter!(SAMPLES_FAILED).increment(1);
                tracing::debug!(error = %e, "cannot sample the gauges");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => return,
            }
        }
    })
}

/// Counts failed gauge samples (see [`spawn_sampler`]).
pub const SAMPLES_FAILED: &str = "mesh_gauge_samples_failed_total";

/// Whether a service can work right now: what its health check says, also
/// answered over plain HTTP on its metrics listener (`/ready`), for probes
/// that can't speak gRPC over TLS.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Sets it.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// Reads it.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// An axum handler answering `GET /metrics`.
pub async fn metrics_handler() -> ([(http::HeaderName, &'static str); 1], String) {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(),
    )
}

/// Serves `/metrics`, and `/health` (the process is up) and `/ready`
/// (`readiness`) on its own listener until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(|| async { http::StatusCode::OK }))
        .route(
            "/ready",
            get(move || {
                let ready = readiness.get();
                async move {
                    if ready {
                        http::StatusCode::OK
                    } else {
                        http::StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Binds `addr` and serves [`serve`]'s routes in the background.
pub async fn spawn_server(
    addr: SocketAddr,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, readiness, shutdown).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(local)
}
