//! Refusals a caller branches on, as `google.rpc.ErrorInfo` details.
//!
//! A status message is for people; code that must tell "already
//! subscribed" from "payments not configured" reads the ErrorInfo
//! `reason` instead, which each package documents in its proto.

use std::collections::HashMap;

use tonic_types::{ErrorDetails, StatusExt};

/// A status of `code` carrying `reason` (an UPPER_SNAKE word) in `domain`
/// (the proto package, for example `billing.v1`).
pub fn status(
    code: tonic::Code,
    domain: &str,
    reason: &str,
    message: impl Into<String>,
) -> tonic::Status {
    tonic::Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, domain, HashMap::new()),
    )
}

/// The ErrorInfo reason of `status`, if it carries one.
pub fn reason(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
}

/// The refusals of `billing.v1` (its proto's header lists them): billing
/// sends them, callers branch on them, one type for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingRefusal {
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
    /// A watcher's cursor is older than the change log keeps: changes
    /// after it are gone.
    CursorTrimmed,
    /// The plan is not sold for Telegram Stars (or, at Checkout, only for
    /// Stars).
    NoStarsPrice,
    /// No Stars payment of the user's to refund.
    NoStarsPayment,
}

impl BillingRefusal {
    /// The ErrorInfo domain.
    pub const DOMAIN: &str = "billing.v1";
    const ALL: [Self; 9] = [
        Self::PaymentsNotConfigured,
        Self::AlreadySubscribed,
        Self::Resumable,
        Self::NoSubscription,
        Self::NoCustomer,
        Self::UnknownPlan,
        Self::CursorTrimmed,
        Self::NoStarsPrice,
        Self::NoStarsPayment,
    ];

    /// The ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::PaymentsNotConfigured => "PAYMENTS_NOT_CONFIGURED",
            Self::AlreadySubscribed => "ALREADY_SUBSCRIBED",
            Self::Resumable => "RESUMABLE",
            Self::NoSubscription => "NO_SUBSCRIPTION",
            Self::NoCustomer => "NO_CUSTOMER",
            Self::UnknownPlan => "UNKNOWN_PLAN",
            Self::CursorTrimmed => "CURSOR_TRIMMED",
            Self::NoStarsPrice => "NO_STARS_PRICE",
            Self::NoStarsPayment => "NO_STARS_PAYMENT",
        }
    }

    /// The gRPC code it is sent with.
    pub fn code(self) -> tonic::Code {
        match self {
            Self::NoCustomer | Self::UnknownPlan | Self::NoStarsPayment => tonic::Code::NotFound,
            Self::CursorTrimmed => tonic::Code::OutOfRange,
            _ => tonic::Code::FailedPrecondition,
        }
    }

    /// The status carrying it, with `message` for people.
    pub fn status(self, message: impl Into<String>) -> tonic::Status {
        status(self.code(), Self::DOMAIN, self.reason(), message)
    }

    /// The refusal `status` carries, if it is one of billing's.
    pub fn of(status: &tonic::Status) -> Option<Self> {
        let details = status.get_error_details();
        let info = details.error_info()?;
        if info.domain != Self::DOMAIN {
            return None;
        }
        Self::ALL.into_iter().find(|r| r.reason() == info.reason)
    }
}

#[cfg(test)]
mod tests {
    /// A reason survives the round trip through a status.
    #[test]
    fn round_trip() {
        let s = super::status(
            tonic::Code::FailedPrecondition,
            "billing.v1",
            "ALREADY_SUBSCRIBED",
            "already subscribed",
        );
        assert_eq!(s.code(), tonic::Code::FailedPrecondition);
        assert_eq!(super::reason(&s).as_deref(), Some("ALREADY_SUBSCRIBED"));
        assert_eq!(super::reason(&tonic::Status::internal("x")), None);
    }

    /// Billing's refusals survive the trip as themselves; another domain's
    /// reason is not mistaken for one.
    #[test]
    fn billing_refusals() {
        use super::BillingRefusal;
        let s = BillingRefusal::Resumable.status("resume it");
        assert_eq!(BillingRefusal::of(&s), Some(BillingRefusal::Resumable));
        assert_eq!(s.code(), tonic::Code::FailedPrecondition);
        let other = super::status(tonic::Code::FailedPrecondition, "bot.v1", "RESUMABLE", "x");
        assert_eq!(BillingRefusal::of(&other), None);
    }
}
