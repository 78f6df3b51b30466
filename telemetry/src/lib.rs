//! Observability for every process of the mesh.
//!
//! - [`init`]: logs (text or JSON, each line carrying the trace id), the
//!   OpenTelemetry tracer (OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//!   set) and the W3C `traceparent` propagator, once per process.
//! - [`propagation`]: joins one trace across HTTP and gRPC: server spans
//!   that adopt the caller's context, and a client interceptor that sends it.
//! - [`grpc`]: gRPC status codes on spans, and per-call server metrics.
//! - [`metrics`]: the Prometheus recorder, its `/metrics` rendering (with
//!   the process's own metrics) and a small metrics listener for processes
//!   without an HTTP port.

pub mod grpc;
pub mod init;
pub mod metrics;
pub mod propagation;

pub use init::{LogFormat, Telemetry, TelemetryConfig, TelemetryError, init};
pub use propagation::{
    GrpcTracePropagation, continue_trace, current_traceparent, grpc_item_span, grpc_server_span,
    http_server_span, record_trace_id,
};
