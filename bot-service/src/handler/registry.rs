//! Which users this process recently wrote to the registry, so a user's
//! every message does not write their entry and language again.
//!
//! The registry (`users`, ordered by id) and a user's language change
//! rarely, yet every private message used to write both in its commit:
//! two of the commands of a handled update. An entry here says "a commit
//! of this process wrote this user with this language less than [`FRESH`]
//! ago"; it is only made once that commit landed. Leaving the blocked flag
//! out of it is deliberate: another replica's sender may mark a user
//! blocked at any time, and a message from them must always undo that, so
//! every message still removes it. The age bound puts a user back in a
//! registry that lost them (a Redis that kept nothing, or a failover
//! without acknowledgement) within minutes; the size bound keeps the
//! memory flat however many users write.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a write is trusted before it is made again.
const FRESH: Duration = Duration::from_secs(600);

/// Most users remembered; past it the map starts over.
const CAP: usize = 100_000;

/// The language a user was written with, and when.
type Written = (Option<Box<str>>, Instant);

/// Users whose entry and language this process wrote recently.
#[derive(Debug, Default)]
pub struct Registered {
    written: Mutex<HashMap<i64, Written>>,
}

impl Registered {
    /// True when this process wrote `user` with `lang` less than
    /// [`FRESH`] ago, so writing them again changes nothing.
    pub fn current(&self, user: i64, lang: Option<&str>) -> bool {
        self.current_at(user, lang, Instant::now())
    }

    /// [`Registered::current`] as of `now`.
    fn current_at(&self, user: i64, lang: Option<&str>, now: Instant) -> bool {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written.get(&user).is_some_and(|(kept, at)| {
            kept.as_deref() == lang && now.saturating_duration_since(*at) < FRESH
        })
    }

    /// Remembers that a commit writing `user` with `lang` landed.
    pub fn written(&self, user: i64, lang: Option<&str>) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.len() >= CAP && !written.contains_key(&user) {
            written.clear();
        }
        written.insert(user, (lang.map(Into::into), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_only_for_the_same_language_once_written() {
        let registered = Registered::default();
        assert!(!registered.current(7, Some("en")));
        registered.written(7, Some("en"));
        assert!(registered.current(7, Some("en")));
        assert!(
            !registered.current(7, Some("de")),
            "a new language is written"
        );
        assert!(!registered.current(7, None));
        assert!(!registered.current(8, Some("en")));
    }

    #[test]
    fn written_again_after_ten_minutes() {
        let registered = Registered::default();
        registered.written(7, Some("en"));
        let now = Instant::now();
        assert!(registered.current_at(7, Some("en"), now + Duration::from_secs(599)));
        assert!(!registered.current_at(7, Some("en"), now + Duration::from_secs(600)));
    }

    #[test]
    fn stays_bounded() {
        let registered = Registered::default();
        for user in 0..i64::try_from(CAP).unwrap_or(i64::MAX) + 10 {
            registered.written(user, None);
        }
        let len = registered.written.lock().map(|w| w.len()).unwrap_or(0);
        assert!(len <= CAP, "{len} entries");
        assert!(registered.current(i64::try_from(CAP).unwrap_or(0) + 9, None));
    }
}
