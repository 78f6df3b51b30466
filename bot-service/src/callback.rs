//! The data behind inline buttons, typed: what a button does is decided
//! in one place, and a button from an older version that no longer parses
//! is only answered.

/// What a button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// Subscribe to this plan.
    Subscribe(String),
    /// Yes, cancel at period end.
    CancelYes,
    /// No, keep the subscription.
    CancelNo,
    /// Take back a cancellation.
    Resume,
    /// Fresh invite links, please.
    Join,
    /// Send the admin's drafted broadcast.
    BroadcastSend,
    /// Throw the admin's drafted broadcast away.
    BroadcastDiscard,
}

impl Callback {
    /// Reads a button's data.
    pub fn parse(data: &str) -> Option<Self> {
        match data {
            "cancel:yes" => Some(Self::CancelYes),
            "cancel:no" => Some(Self::CancelNo),
            "resume" => Some(Self::Resume),
            "join" => Some(Self::Join),
            "bcast:send" => Some(Self::BroadcastSend),
            "bcast:discard" => Some(Self::BroadcastDiscard),
            _ => data
                .strip_prefix("sub:")
                .filter(|p| !p.is_empty())
                .map(|p| Self::Subscribe(p.to_owned())),
        }
    }

    /// The button's data (at most 64 bytes: plan ids are at most 32).
    pub fn data(&self) -> String {
        match self {
            Self::Subscribe(plan) => format!("sub:{plan}"),
            Self::CancelYes => "cancel:yes".into(),
            Self::CancelNo => "cancel:no".into(),
            Self::Resume => "resume".into(),
            Self::Join => "join".into(),
            Self::BroadcastSend => "bcast:send".into(),
            Self::BroadcastDiscard => "bcast:discard".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Callback;

    /// Data round-trips; unknown data is refused.
    #[test]
    fn round_trip() {
        for c in [
            Callback::Subscribe("monthly".into()),
            Callback::CancelYes,
            Callback::CancelNo,
            Callback::Resume,
            Callback::Join,
            Callback::BroadcastSend,
            Callback::BroadcastDiscard,
        ] {
            assert_eq!(Callback::parse(&c.data()), Some(c));
        }
        assert_eq!(Callback::parse("sub:"), None);
        assert_eq!(Callback::parse("other"), None);
    }
}
