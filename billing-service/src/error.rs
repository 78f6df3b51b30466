//! The billing service's error type and its one mapping to gRPC status.

use mesh_state::StoreError;

/// A failed billing operation.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation needs configuration that is missing.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The same event is being applied by another call right now.
    #[error("event {0} is being applied; retry")]
    InFlight(String),
    /// The shared store is down.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dependency (Stripe) is down; retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or misconfiguration; details are logged, not returned.
    #[error("{0}")]
    Internal(String),
    /// A stored record could not be read (a bug or foreign data).
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<BillingError> for tonic::Status {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
            BillingError::NotFound(m) => tonic::Status::not_found(m),
            BillingError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            BillingError::InFlight(_) => tonic::Status::unavailable(e.to_string()),
            BillingError::Unavailable(m) => tonic::Status::unavailable(m),
            BillingError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                tonic::Status::internal("internal error")
            }
            BillingError::Store(e) => {
                tracing::warn!(error = %e, "shared store unavailable");
                tonic::Status::unavailable("shared state store unavailable")
            }
            BillingError::Corrupt(m) => {
                tracing::error!(record = %m, "corrupt entitlement record");
                tonic::Status::internal("internal error")
            }
        }
    }
}
