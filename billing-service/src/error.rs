//! The billing service's error type and its one mapping to gRPC status.

use mesh_state::StoreError;

/// A refusal callers branch on; sent as an ErrorInfo reason (see the
/// header of `billing.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `STRIPE_SECRET_KEY`.
    PaymentsNotConfigured,
    /// The user already has access to this plan.
    AlreadySubscribed,
    /// The user's subscription is set to cancel: resume it.
    Resumable,
    /// No subscription to cancel or resume.
    NoSubscription,
    /// The user has no Stripe customer yet.
    NoCustomer,
    /// No such plan.
    UnknownPlan,
}

impl Refusal {
    /// The ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::PaymentsNotConfigured => "PAYMENTS_NOT_CONFIGURED",
            Self::AlreadySubscribed => "ALREADY_SUBSCRIBED",
            Self::Resumable => "RESUMABLE",
            Self::NoSubscription => "NO_SUBSCRIPTION",
            Self::NoCustomer => "NO_CUSTOMER",
            Self::UnknownPlan => "UNKNOWN_PLAN",
        }
    }

    fn code(self) -> tonic::Code {
        match self {
            Self::NoCustomer | Self::UnknownPlan => tonic::Code::NotFound,
            _ => tonic::Code::FailedPrecondition,
        }
    }
}

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
            BillingError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            BillingError::Refused(refusal, m) => {
                mesh_proto::refusal::status(refusal.code(), "billing.v1", refusal.reason(), m)
            }
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
