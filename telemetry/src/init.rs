//! One-time set-up of logging and tracing for a process.

use mesh_runtime::{ConfigError, Env};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// What [`init`] needs, read from the standard variables.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` unless `OTEL_SERVICE_NAME` overrides it.
    pub service_name: String,
    /// `service.version`: the version of the binary.
    pub service_version: String,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `RUST_LOG`, default `info`.
    pub filter: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; none means spans are not exported
    /// (trace ids are still made and propagated, so logs still carry them).
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Reads `LOG_FORMAT`, `RUST_LOG` and `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, ... are read by the SDK).
    pub fn from_env(
        env: &Env,
        default_service_name: &str,
        service_version: &str,
    ) -> Result<Self, ConfigError> {
        let log_format = match env
            .get("LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ));
            }
        };
        let filter = env.get("RUST_LOG").unwrap_or("info").to_owned();
        EnvFilter::try_new(&filter).map_err(|e| ConfigError::new("RUST_LOG", e))?;
        let otlp_endpoint = env
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|_| env.url_or("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
            .transpose()?;
        Ok(Self {
            service_name: env
                .get("OTEL_SERVICE_NAME")
                .unwrap_or(default_service_name)
                .to_owned(),
            service_version: service_version.to_owned(),
            log_format,
            filter,
            otlp_endpoint,
        })
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("logging was already initialised: {0}")]
    AlreadyInitialised(String),
}

/// Keeps the tracer alive; [`Telemetry::shutdown`] flushes spans still
/// buffered, so the last requests before a SIGTERM reach the collector.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes and stops span export.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "tracer shutdown");
        }
    }
}

/// Installs logging, tracing and the W3C propagator for this process.
pub fn init(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            config.service_version.clone(),
        ))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("mesh");
    opentelemetry::global::set_tracer_provider(provider.clone());

    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    // Colour only for a person at a terminal: a file or a log shipper gets
    // plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    };
    // The filter was validated by `from_env`; fall back to `info` anyway.
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // The filter applies to every layer: without it the OpenTelemetry layer
    // would build spans and events for every TRACE-level span of h2, hyper
    // and tonic (most of the CPU under load, by the profile).
    tracing_subscriber::registry()
        .with(filter)
        .with(otel)
        .with(fmt)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInitialised(e.to_string()))?;
    Ok(Telemetry { provider })
}
