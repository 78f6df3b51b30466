//! Every text a Telegram user sees: Fluent catalogues, one per language,
//! built in (`locales/*.ftl`) and overridable per message from
//! `MESSAGES_DIR` (`<language>.ftl`).
//!
//! An override is checked at start-up: it must parse, name messages that
//! exist, and use exactly the variables the built-in message uses (a
//! dropped `$date` would send users a sentence with a hole). A broken
//! override stops start-up with the file and line.

mod check;

use std::path::Path;

use check::{check_no_strangers, parse, read_override, variables};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use mesh_runtime::ConfigError;
use serde::{Deserialize, Serialize};

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
    /// Russian.
    Ru,
    /// Portuguese.
    Pt,
    /// German.
    De,
    /// French.
    Fr,
}

/// The built-in catalogues.
const BUILTIN: &[(Lang, &str)] = &[
    (Lang::En, include_str!("../../locales/en.ftl")),
    (Lang::Es, include_str!("../../locales/es.ftl")),
    (Lang::Ru, include_str!("../../locales/ru.ftl")),
    (Lang::Pt, include_str!("../../locales/pt.ftl")),
    (Lang::De, include_str!("../../locales/de.ftl")),
    (Lang::Fr, include_str!("../../locales/fr.ftl")),
];

impl Lang {
    /// Every supported language.
    pub const ALL: &[Lang] = &[Lang::En, Lang::Es, Lang::Ru, Lang::Pt, Lang::De, Lang::Fr];

    /// The ISO 639-1 code (also the override file's name).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
            Self::Ru => "ru",
            Self::Pt => "pt",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// The decimal and thousands separators of numbers in this language.
    pub fn separators(self) -> (char, char) {
        match self {
            Self::En => ('.', ','),
            Self::Es | Self::Pt | Self::De => (',', '.'),
            // A narrow no-break space groups thousands in French and Russian.
            Self::Ru | Self::Fr => (',', '\u{202f}'),
        }
    }

    /// The language for a Telegram `language_code` (`es`, `es-MX`, ...),
    /// English for anything else.
    pub fn from_code(code: Option<&str>) -> Self {
        let Some(code) = code else {
            return Self::En;
        };
        let base = code.split(['-', '_']).next().unwrap_or(code);
        Self::ALL
            .iter()
            .copied()
            .find(|l| l.code().eq_ignore_ascii_case(base))
            .unwrap_or_default()
    }
}

/// A value for a message variable.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text.
    Str(&'a str),
    /// A number (selects plural forms).
    Num(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Self::Str(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Self::Num(n)
    }
}

/// The catalogues of every language.
pub struct Catalogue {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("languages", &self.bundles.len())
            .finish()
    }
}

impl Catalogue {
    /// The built-in catalogues with the overrides in `dir`, if given.
    pub fn load(dir: Option<&Path>) -> Result<Self, ConfigError> {
        let error = |m: String| ConfigError::new("MESSAGES_DIR", m);
        let mut bundles = Vec::new();
        for (lang, text) in BUILTIN {
            let builtin = parse(&format!("built-in {}.ftl", lang.code()), text).map_err(error)?;
            let known = variables(&builtin);
            let mut bundle = FluentBundle::new_concurrent(vec![
                lang.code().parse().map_err(|e| error(format!("{e}")))?,
            ]);
            // Telegram shows Unicode isolation marks as stray characters.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(builtin)
                .map_err(|e| error(format!("built-in {}.ftl: {e:?}", lang.code())))?;
            if let Some(dir) = dir {
                let file = dir.join(format!("{}.ftl", lang.code()));
                if let Some(overrides) = read_override(&file, &known).map_err(error)? {
                    bundle.add_resource_overriding(overrides);
                }
            }
            bundles.push((*lang, bundle));
        }
        if let Some(dir) = dir {
            check_no_strangers(dir).map_err(error)?;
        }
        Ok(Self { bundles })
    }

    /// Message `id` in `lang` with `args`. A message missing in a language
    /// falls back to English (a test keeps every language complete).
    pub fn text(&self, lang: Lang, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let bundle = |l: Lang| self.bundles.iter().find(|(b, _)| *b == l).map(|(_, b)| b);
        let found = bundle(lang)
            .and_then(|b| Some((b, b.get_message(id)?.value()?)))
            .or_else(|| bundle(Lang::En).and_then(|b| Some((b, b.get_message(id)?.value()?))));
        let Some((bundle, pattern)) = found else {
            tracing::error!(id, "no such message");
            return id.to_owned();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Str(s) => fluent_args.set(*name, FluentValue::from(*s)),
                Arg::Num(n) => fluent_args.set(*name, FluentValue::from(*n)),
            }
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::error!(id, ?errors, "message formatted with errors");
        }
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::check::Variables;
    use super::*;

    /// Every message exists in every language with the same variables.
    #[test]
    fn every_language_is_complete() {
        let parsed: Vec<(Lang, Variables)> = BUILTIN
            .iter()
            .map(|(l, t)| (*l, variables(&parse(l.code(), t).unwrap())))
            .collect();
        let english = &parsed[0].1;
        assert!(english.len() > 50);
        for (lang, messages) in &parsed[1..] {
            assert_eq!(
                messages,
                english,
                "{} must have the same messages and variables as en",
                lang.code()
            );
        }
        assert_eq!(parsed.len(), Lang::ALL.len());
    }

    /// No English reaches a non-English user: every message of every other
    /// language reads differently from the English one, except those made
    /// only of names, numbers and punctuation.
    #[test]
    fn no_english_in_other_languages() {
        const LAYOUT_ONLY: &[&str] = &[
            "plan-line",
            "plan-line-no-price",
            "plan-button",
            "chat-line",
            "chat-line-no-description",
            "stats-plan",
            "user-audit-line",
        ];
        // Words that are the same in English and that language.
        const SAME_WORD: &[(&str, &str)] = &[("es", "status-plan")];
        let c = Catalogue::load(None).unwrap();
        let english = variables(&parse("en", BUILTIN[0].1).unwrap());
        let mut english_left = Vec::new();
        for lang in &Lang::ALL[1..] {
            for (id, vars) in &english {
                if LAYOUT_ONLY.contains(&id.as_str()) || SAME_WORD.contains(&(lang.code(), id)) {
                    continue;
                }
                let args: Vec<(&str, Arg<'_>)> =
                    vars.iter().map(|v| (v.as_str(), Arg::Num(2))).collect();
                if c.text(Lang::En, id, &args) == c.text(*lang, id, &args) {
                    english_left.push(format!("{} {id}", lang.code()));
                }
            }
        }
        assert!(english_left.is_empty(), "English in: {english_left:?}");
    }

    /// Language codes pick the catalogue; plurals and selects work.
    #[test]
    fn languages_and_selects() {
        assert_eq!(Lang::from_code(Some("es-MX")), Lang::Es);
        assert_eq!(Lang::from_code(Some("EN")), Lang::En);
        assert_eq!(Lang::from_code(Some("xx")), Lang::En);
        assert_eq!(Lang::from_code(Some("pt-BR")), Lang::Pt);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(None), Lang::En);
        let c = Catalogue::load(None).unwrap();
        assert_eq!(
            c.text(Lang::En, "greeting", &[("name", "Ann".into())]),
            "Welcome, Ann!"
        );
        assert!(
            c.text(Lang::Es, "welcome-premium", &[("count", 2.into())])
                .contains("2 chats")
        );
        assert!(
            c.text(Lang::En, "state", &[("state", "past-due".into())])
                .contains("overdue")
        );
        assert_eq!(
            c.text(Lang::Es, "state", &[("state", "active".into())]),
            "activa"
        );
    }

    /// Overrides replace single messages; a broken one, an unknown id, a
    /// dropped variable or a stray language stop start-up naming the file.
    #[test]
    fn overrides() {
        let dir = std::env::temp_dir().join(format!("ftl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("es.ftl", "greeting = ¡Hola, { $name }!\n");
        let c = Catalogue::load(Some(&dir)).unwrap();
        assert_eq!(
            c.text(Lang::Es, "greeting", &[("name", "Ana".into())]),
            "¡Hola, Ana!"
        );
        assert!(
            c.text(Lang::Es, "unknown", &[]).contains("/help"),
            "the rest stays"
        );
        for (text, needle) in [
            ("greeting = Hi { $name }!\n\nunknown = { }\n", "line 3"),
            ("\n\ngreetings = Hi\n", "no built-in message"),
            ("unknown = x\ngreeting = Hello!\n", "line 2"),
        ] {
            write("es.ftl", text);
            let e = Catalogue::load(Some(&dir)).unwrap_err();
            assert_eq!(e.var, "MESSAGES_DIR");
            assert!(e.to_string().contains("es.ftl"), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        std::fs::remove_file(dir.join("es.ftl")).unwrap();
        write("xx.ftl", "greeting = x { $name }\n");
        assert!(
            Catalogue::load(Some(&dir))
                .unwrap_err()
                .to_string()
                .contains("xx.ftl")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
