//! Commands as users type them: `/name@bot args`. Both the door (group
//! chatter is told from commands for this bot before anything is queued)
//! and the handlers read them, so the rule lives here once.

/// A command at the start of a message: `/name@bot args` gives
/// `("name", Some("bot"), "args")`.
pub fn parse_command(text: &str) -> Option<(String, Option<&str>, &str)> {
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (name, target) = match head.split_once('@') {
        Some((n, t)) => (n, Some(t)),
        None => (head, None),
    };
    if name.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), target, args.trim()))
}

/// True when `command` (see [`parse_command`]) names this bot
/// (`/cmd@username`); in groups the bot answers only those.
pub fn addressed(command: Option<&(String, Option<&str>, &str)>, username: Option<&str>) -> bool {
    matches!(
        (command, username),
        (Some((_, Some(target), _)), Some(me)) if target.eq_ignore_ascii_case(me)
    )
}

#[cfg(test)]
mod tests {
    use super::parse_command;

    /// Commands with bot suffixes and arguments are recognised; other text is not.
    #[test]
    fn commands() {
        assert_eq!(parse_command("/start"), Some(("start".into(), None, "")));
        assert_eq!(
            parse_command("/Start@PayBot  ref_42 "),
            Some(("start".into(), Some("PayBot"), "ref_42"))
        );
        assert_eq!(
            parse_command("/grant 1 monthly 30"),
            Some(("grant".into(), None, "1 monthly 30"))
        );
        assert_eq!(parse_command("hello"), None);
        assert_eq!(parse_command("/"), None);
    }
}
