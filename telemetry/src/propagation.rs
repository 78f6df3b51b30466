//! W3C trace-context propagation over HTTP headers and gRPC metadata.
//!
//! Server spans adopt the caller's `traceparent` and record the trace id
//! as a field, so every log line inside them carries it. The client
//! interceptor writes the current span's context into outgoing metadata.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(&value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Parents `span` on the trace context in `headers` (if any), then records
/// the resulting trace id in the span's `trace_id` field.
fn adopt_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if parent.span().span_context().is_valid() {
        // Fails only without the OpenTelemetry layer (then there is no trace to join).
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}

/// Records the span's trace id in its `trace_id` field (declared `Empty`).
pub fn record_trace_id(span: &tracing::Span) {
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// The server span of one HTTP request (for tower-http's `TraceLayer`).
/// Named by the matched route (`POST /telegram-webhook`); a path that
/// matches no route is named by the method alone, so span names stay a
/// small fixed set whatever URLs arrive.
pub fn http_server_span<B>(request: &http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{} {route}", request.method()),
        None => request.method().to_string(),
    };
    let path = request.uri().path();
    let span = tracing::info_span!(
        "http.request",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        http.route = route,
        url.path = path.get(..256).unwrap_or(path),
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        // What the gateway's webhooks learn about the call, for search in Jaeger.
        telegram.update_id = tracing::field::Empty,
        stripe.event_id = tracing::field::Empty,
        stripe.event_type = tracing::field::Empty,
    );
    adopt_parent(&span, request.headers());
    span
}

/// The server span of one gRPC call (for tonic's `Server::trace_fn`).
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    adopt_parent(&span, request.headers());
    span
}

/// The server span of one item of a batched gRPC call (`service/method`):
/// the child of the item's own `traceparent`, not of the call, so each item
/// stays in the trace of the request that delivered it although one call
/// carries many.
pub fn grpc_item_span(service: &str, method: &str, traceparent: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = format!("{service}/{method}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    continue_trace(&span, traceparent);
    span
}

/// The client span of one outgoing gRPC call; the call must run inside it
/// so [`GrpcTracePropagation`] sends its context, and its status is
/// recorded on it: use [`crate::grpc::client_call`].
#[macro_export]
macro_rules! grpc_client_span {
    ($service:expr, $method:expr) => {
        ::tracing::info_span!(
            "grpc.client",
            otel.name = concat!($service, "/", $method),
            otel.kind = "client",
            otel.status_code = ::tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = $service,
            rpc.method = $method,
            rpc.grpc.status_code = ::tracing::field::Empty,
        )
    };
}

/// A tonic client interceptor that writes the current span's context as
/// `traceparent` into the call's metadata, and the caller's credentials as
/// `authorization: Bearer ...` when it has any. A named type (not a
/// closure) so clients using it can be stored in structs.
#[derive(Clone, Default)]
pub struct GrpcTracePropagation {
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl std::fmt::Debug for GrpcTracePropagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("GrpcTracePropagation")
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

impl GrpcTracePropagation {
    /// Propagation that also presents `token` (when given) as a bearer token.
    pub fn with_bearer(token: Option<&str>) -> Self {
        Self {
            authorization: token
                .and_then(|t| MetadataValue::try_from(format!("Bearer {t}")).ok())
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                }),
        }
    }
}

impl tonic::service::Interceptor for GrpcTracePropagation {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let cx = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut MetadataInjector(request.metadata_mut()));
        });
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

struct StringInjector<'a>(&'a mut String);

impl Injector for StringInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            *self.0 = value;
        }
    }
}

/// The current span's context as a `traceparent` value (empty when there
/// is no trace), for work that continues later, elsewhere (a queue item).
pub fn current_traceparent() -> String {
    let current = tracing::Span::current();
    if current.is_disabled() {
        return String::new();
    }
    let cx = current.context();
    let mut out = String::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut StringInjector(&mut out))
    });
    out
}

/// Parents `span` on a stored `traceparent` (see [`current_traceparent`])
/// and records its trace id.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    if span.is_disabled() {
        return;
    }
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(traceparent) {
        headers.insert("traceparent", value);
    }
    adopt_parent(span, &headers);
}
