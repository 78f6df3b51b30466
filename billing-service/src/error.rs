//! The billing service's error type and its one mapping to gRPC status.

/// A refusal callers branch on; sent as an ErrorInfo reason (see the
/// header of `billing.proto`). Shared with callers through mesh-proto.
pub use mesh_proto::refusal::BillingRefusal as Refusal;
use mesh_state::StoreError;

/// A failed billing operation.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// Something named does not exist (at Stripe).
    #[error("{0}")]
    NotFound(String),
    /// The operation can't be done in this state (a declined card).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Stripe says the object is in the wanted state already (refunded,
    /// no longer open): a write that a retry repeats counts as done.
    #[error("{0}")]
    AlreadyDone(String),
    /// A refusal the caller branches on.
    #[error("{1}")]
    Refused(Refusal, String),
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

impl BillingError {
    /// A refusal with a message for people.
    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        Self::Refused(refusal, message.into())
    }
}

impl From<BillingError> for tonic::Status {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
            BillingError::NotFound(m) => tonic::Status::not_found(m),
            BillingError::FailedPrecondition(m) | BillingError::AlreadyDone(m) => {
                tonic::Status::failed_precondition(m)
            }
            BillingError::Refused(refusal, m) => refusal.status(m),
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
