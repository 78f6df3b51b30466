//! The gateway's HTTP handlers, one file per concern.

pub mod body;
pub mod probes;
pub mod stripe;
pub mod telegram;

use axum::Json;
use serde_json::{Value, json};

use crate::error::ApiError;

/// `{"status": ...}`, the body of every success.
pub(crate) fn status(word: &'static str) -> Json<Value> {
    Json(json!({ "status": word }))
}

/// Any unknown path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
