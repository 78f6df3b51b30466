//! gRPC calls seen from the outside: their status code on their spans
//! (OpenTelemetry semantic conventions: `rpc.grpc.status_code`, and the
//! span status ERROR when the call failed), and on the server a request
//! count by method and code and a latency histogram.
//!
//! A gRPC status comes either in the response headers (a "trailers-only"
//! answer, how tonic sends most errors) or in the trailers after the body,
//! so the server side watches the response body to its end: a call is
//! counted when its status is known, or as CANCELLED when the client went
//! away first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame};
use tonic::Code;
use tracing::Instrument;

/// Which end of a call a span belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server handling the call.
    Server,
    /// The client making it.
    Client,
}

/// Records `code` on a gRPC span (declared with `rpc.grpc.status_code` and
/// `otel.status_code` fields). Per the semantic conventions a client span
/// is an error for any code but OK; a server span only for the codes that
/// mean the server failed (not for a caller's bad argument or a refusal).
pub fn record_grpc_status(span: &tracing::Span, code: Code, side: Side) {
    span.record("rpc.grpc.status_code", code as i32);
    let failed = match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    };
    if failed {
        span.record("otel.status_code", "ERROR");
    }
}

/// Runs a client call inside `span` (so its context travels with it) and
/// records how it ended.
pub async fn client_call<T, F>(span: tracing::Span, call: F) -> Result<T, tonic::Status>
where
    F: Future<Output = Result<T, tonic::Status>>,
{
    let result = call.instrument(span.clone()).await;
    let code = result
        .as_ref()
        .map_or_else(tonic::Status::code, |_| Code::Ok);
    record_grpc_status(&span, code, Side::Client);
    result
}

/// Metric names, for descriptions and dashboards.
pub const REQUESTS: &str = "grpc_server_requests_total";
/// See [`REQUESTS`].
pub const DURATION: &str = "grpc_server_request_duration_seconds";

/// Describes the server metrics (their `# HELP` lines).
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "gRPC calls served, by service, method and status code"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time from a gRPC call's arrival to its status, by service and method"
    );
}

/// A tower layer observing every call of a tonic server (health and
/// reflection excepted).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcObserveLayer;

impl<S> tower::Layer<S> for GrpcObserveLayer {
    type Service = GrpcObserve<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcObserve { inner }
    }
}

/// See [`GrpcObserveLayer`].
#[derive(Debug, Clone)]
pub struct GrpcObserve<S> {
    inner: S,
}

/// One call being observed.
struct Call {
    service: String,
    method: String,
    started: Instant,
    span: tracing::Span,
}

impl Call {
    fn new(path: &str) -> Option<Self> {
        let path = path.trim_start_matches('/');
        if path.starts_with("grpc.health.") || path.starts_with("grpc.reflection.") {
            return None;
        }
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        Some(Self {
            service: service.to_owned(),
            method: method.to_owned(),
            started: Instant::now(),
            span: tracing::Span::none(),
        })
    }

    fn finish(self, code: Code) {
        record_grpc_status(&self.span, code, Side::Server);
        let elapsed = self.started.elapsed().as_secs_f64();
        metrics::histogram!(DURATION, "service" => self.service.clone(), "method" => self.method.clone())
            .record(elapsed);
        metrics::counter!(REQUESTS, "service" => self.service, "method" => self.method, "code" => code_name(code))
            .increment(1);
    }
}

/// The canonical name of a code, as metrics label it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn status_of(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for GrpcObserve<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = Call::new(request.uri().path());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let Some(mut call) = call else {
                return Ok(response);
            };
            // The server span is entered while this future is polled.
            call.span = tracing::Span::current();
            if let Some(code) = status_of(response.headers()) {
                call.finish(code);
                return Ok(response);
            }
            Ok(response.map(|body| {
                tonic::body::Body::new(Observed {
                    inner: body,
                    call: Some(call),
                })
            }))
        })
    }
}

/// A response body that reports the call's status when its trailers pass.
struct Observed {
    inner: tonic::body::Body,
    call: Option<Call>,
}

impl Body for Observed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status_of)
                    && let Some(call) = self.call.take()
                {
                    call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                if let Some(call) = self.call.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // The client went away before the status was sent.
        if let Some(call) = self.call.take() {
            call.finish(Code::Cancelled);
        }
    }
}
