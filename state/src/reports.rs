//! What one service publishes in the shared store for another's readiness
//! detail: bot-service's check of its own rights in the plan chats, which
//! the gateway's `/ready` shows (it never fails readiness: Telegram intake
//! goes on, only that chat's invites and removals can't).

use std::collections::BTreeMap;

/// bot-service's rights report: JSON `{"<chat>": ["<missing right>", ...]}`
/// (empty when every plan chat is in order), written at each check with a
/// lifetime of a few checks (absent: not checked, as in a dry run).
pub const CHAT_RIGHTS: &str = "{bot}:chat_rights";

/// The rights report: each plan chat with the rights the bot lacks there.
pub type ChatRights = BTreeMap<i64, Vec<String>>;

/// The report as the readiness detail says it: `ok`, or what is missing.
pub fn describe(report: &ChatRights) -> String {
    let missing: Vec<String> = report
        .iter()
        .filter(|(_, rights)| !rights.is_empty())
        .map(|(chat, rights)| format!("{chat}: {}", rights.join(", ")))
        .collect();
    if missing.is_empty() {
        "ok".to_owned()
    } else {
        format!("missing in {}", missing.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In order, or each chat with what it lacks.
    #[test]
    fn described() {
        let mut report = ChatRights::new();
        report.insert(-1, Vec::new());
        assert_eq!(describe(&report), "ok");
        report.insert(-2, vec!["can_invite_users".into()]);
        assert_eq!(describe(&report), "missing in -2: can_invite_users");
    }
}
