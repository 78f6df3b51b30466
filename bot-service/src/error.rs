//! The bot service's error type and its one mapping to gRPC status.

use mesh_state::StoreError;

/// A failed bot-service operation.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The shared store is down.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BotError> for tonic::Status {
    fn from(e: BotError) -> Self {
        match e {
            BotError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
            // Every store failure means "not accepted, retry": never INTERNAL,
            // which a caller could take as final.
            BotError::Store(e) => {
                tracing::warn!(error = %e, "shared store unavailable");
                tonic::Status::unavailable("shared state store unavailable")
            }
        }
    }
}
