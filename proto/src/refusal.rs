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
}
