//! The notices a change implies: what bot-service must be told when a
//! user's view changes.

use mesh_proto::billing::v1::ChangeCause;

use super::*;
use crate::entitlement::{Record, State, View};
use crate::notices::{AccessReason, Notice, NoticeKind};

/// What bot-service must be told about a change from view `from` to `to`.
/// Ids carry the record's new revision: one commit, one set of notices.
pub(super) fn notices_for(
    user: i64,
    rev: i64,
    from: &View,
    to: &View,
    cause: &Cause,
    before: &Record,
) -> Vec<Notice> {
    let notice = |kind: NoticeKind| {
        let name = kind.as_str_name().trim_start_matches("NOTICE_KIND_");
        let mut n = Notice::new(
            format!("{user}:{}:{rev}", name.to_ascii_lowercase()),
            user,
            kind,
        );
        n.plan_id = to.plan_id.clone();
        n.access_until = to.until;
        n
    };
    let mut out = Vec::new();
    let gained: Vec<i64> = to
        .chats
        .iter()
        .copied()
        .filter(|c| !from.chats.contains(c))
        .collect();
    let lost: Vec<i64> = from
        .chats
        .iter()
        .copied()
        .filter(|c| !to.chats.contains(c))
        .collect();
    if !gained.is_empty() {
        let mut n = notice(NoticeKind::AccessGranted);
        n.chats = gained;
        out.push(n);
    }
    if !lost.is_empty() {
        let mut n = notice(NoticeKind::AccessEnded);
        n.access_until = from.until;
        n.chats = lost;
        n.reason = if to.has_access {
            AccessReason::PlanChanged
        } else if let Some(reason) = cause.ends_because {
            reason
        } else if to.state == State::Suspended {
            AccessReason::Disputed
        } else {
            match from.state {
                State::PastDue => AccessReason::PaymentFailed,
                State::Canceled if before.grant.is_none() => AccessReason::Canceled,
                _ => AccessReason::Expired,
            }
        };
        out.push(n);
    }
    if from.has_access && to.has_access {
        let kind = match (from.state, to.state) {
            (State::PastDue, State::Active | State::Trialing) => Some(NoticeKind::PaymentRecovered),
            (f, State::PastDue) if f != State::PastDue => Some(NoticeKind::PaymentFailed),
            // The user who cancelled or resumed in the bot is answered there.
            (f, State::Canceled)
                if f != State::Canceled && cause.cause != ChangeCause::CancelRequest =>
            {
                Some(NoticeKind::Canceled)
            }
            (State::Canceled, State::Active | State::Trialing)
                if cause.cause != ChangeCause::ResumeRequest =>
            {
                Some(NoticeKind::Resumed)
            }
            _ => None,
        };
        out.extend(kind.map(notice));
    }
    out
}

/// `YYYY-MM` of a unix time (UTC), by the civil-from-days algorithm:
/// one small function rather than a date crate for one format.
pub fn month_of(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known dates.
    #[test]
    fn months() {
        assert_eq!(month_of(0), "1970-01");
        assert_eq!(month_of(951_782_400), "2000-02");
        assert_eq!(month_of(1_795_953_000), "2026-11");
        assert_eq!(month_of(1_709_251_199), "2024-02");
        assert_eq!(month_of(1_709_251_200), "2024-03");
    }

    fn view(state: State, chats: &[i64]) -> View {
        View {
            state,
            has_access: !chats.is_empty(),
            chats: chats.to_vec(),
            ..View::default()
        }
    }

    /// Views' differences become the notices bot-service acts on; a user's
    /// own cancellation is not announced again.
    #[test]
    fn notices() {
        let cause = Cause::stripe("evt_1");
        let none = Record::none(7);
        let granted = notices_for(
            7,
            5,
            &View::default(),
            &view(State::Active, &[-1, -2]),
            &cause,
            &none,
        );
        assert_eq!(granted.len(), 1);
        assert_eq!(
            (
                granted[0].kind,
                granted[0].id.as_str(),
                granted[0].chats.as_slice()
            ),
            (
                NoticeKind::AccessGranted,
                "7:access_granted:5",
                &[-1, -2][..]
            )
        );
        let failed = notices_for(
            7,
            6,
            &view(State::Active, &[-1]),
            &view(State::PastDue, &[-1]),
            &cause,
            &none,
        );
        assert_eq!(failed[0].kind, NoticeKind::PaymentFailed);
        let ended = notices_for(
            7,
            7,
            &view(State::PastDue, &[-1]),
            &view(State::Expired, &[]),
            &cause,
            &none,
        );
        assert_eq!(
            (ended[0].kind, ended[0].reason),
            (NoticeKind::AccessEnded, AccessReason::PaymentFailed)
        );
        let own = Cause::new(ChangeCause::CancelRequest, "telegram:7", "cancelled");
        assert!(
            notices_for(
                7,
                8,
                &view(State::Active, &[-1]),
                &view(State::Canceled, &[-1]),
                &own,
                &none
            )
            .is_empty()
        );
        let changed = notices_for(
            7,
            9,
            &view(State::Active, &[-1, -2]),
            &view(State::Active, &[-1, -3]),
            &cause,
            &none,
        );
        assert_eq!(changed.len(), 2);
        assert_eq!(
            (
                changed[1].kind,
                changed[1].reason,
                changed[1].chats.as_slice()
            ),
            (
                NoticeKind::AccessEnded,
                AccessReason::PlanChanged,
                &[-2][..]
            )
        );
    }
}
