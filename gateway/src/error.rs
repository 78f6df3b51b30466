//! Every way a gateway request can fail, and its one mapping to HTTP.
//!
//! Client errors carry a reason the caller can act on. Dependency failures
//! are logged once where they happen (with context) and answered with a
//! fixed text: internal details never reach the client.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// A failed gateway request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(&'static str),
    /// 401: the Telegram secret token is missing or wrong.
    #[error("invalid or missing secret token")]
    Unauthorized,
    /// 403: the caller's address is not allowed.
    #[error("source address not allowed")]
    Forbidden,
    /// 404: no such route.
    #[error("Endpoint not found")]
    NotFound,
    /// 405: the route exists, the method does not.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 408: the body did not arrive in time.
    #[error("request body timed out")]
    BodyTimeout,
    /// 413: the body is over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// 429: the caller is over its rate limit.
    #[error("rate limit exceeded")]
    RateLimited(Duration),
    /// 503: a dependency is down or the feature is not configured; the
    /// sender should retry.
    #[error("{0}")]
    Unavailable(&'static str),
    /// 500: a bug.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (self.status(), body).into_response();
        let retry_after = match &self {
            Self::RateLimited(wait) => Some(wait.as_secs().max(1)),
            Self::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        response
    }
}

/// Maps a failed gRPC call to the webhook's answer. Everything that is not
/// the caller's fault becomes 503 so Telegram or Stripe retries: a retry
/// is harmless (duplicates are recognised), a lost update is not.
pub fn from_upstream(service: &'static str, status: &tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::InvalidArgument => ApiError::BadRequest("payload rejected by the service"),
        code => {
            tracing::warn!(service, grpc.code = ?code, message = status.message(), "upstream call failed");
            ApiError::Unavailable("a dependency is unavailable; retry later")
        }
    }
}
