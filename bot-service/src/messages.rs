//! Every text a Telegram user sees: Fluent catalogues, one per language,
//! built in (`locales/*.ftl`) and overridable per message from
//! `MESSAGES_DIR` (`<language>.ftl`).
//!
//! An override is checked at start-up: it must parse, name messages that
//! exist, and use exactly the variables the built-in message uses (a
//! dropped `$date` would send users a sentence with a hole). A broken
//! override stops start-up with the file and line.

use std::collections::BTreeSet;
use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
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
}

/// The built-in catalogues.
const BUILTIN: &[(Lang, &str)] = &[
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::Es, include_str!("../locales/es.ftl")),
];

impl Lang {
    /// Every supported language.
    pub const ALL: &[Lang] = &[Lang::En, Lang::Es];

    /// The ISO 639-1 code (also the override file's name).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
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

/// Line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

fn parse(name: &str, text: &str) -> Result<FluentResource, String> {
    FluentResource::try_new(text.to_owned()).map_err(|(_, errors)| {
        let first = errors.first().map_or_else(
            || "unreadable".to_owned(),
            |e| format!("line {}: {}", line_of(text, e.pos.start), e.kind),
        );
        format!("{name}: {first}")
    })
}

/// Each message's id and the variables it uses.
type Variables = Vec<(String, BTreeSet<String>)>;

/// The variables each message uses.
fn variables(resource: &FluentResource) -> Variables {
    fn inline(e: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match e {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_owned());
            }
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                arguments.positional.iter().for_each(|a| inline(a, out));
                arguments.named.iter().for_each(|a| inline(&a.value, out));
            }
            ast::InlineExpression::Placeable { expression } => expr(expression, out),
            _ => {}
        }
    }
    fn expr(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match e {
            ast::Expression::Inline(i) => inline(i, out),
            ast::Expression::Select { selector, variants } => {
                inline(selector, out);
                variants.iter().for_each(|v| pattern(&v.value, out));
            }
        }
    }
    fn pattern(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for el in &p.elements {
            if let ast::PatternElement::Placeable { expression } = el {
                expr(expression, out);
            }
        }
    }
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern(p, &mut vars);
                }
                Some((m.id.name.to_owned(), vars))
            }
            _ => None,
        })
        .collect()
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

/// Reads and checks one override file (`None` when there is none).
fn read_override(file: &Path, known: &Variables) -> Result<Option<FluentResource>, String> {
    let name = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{name}: {e}")),
    };
    let resource = parse(&name, &text)?;
    for (id, vars) in variables(&resource) {
        let Some((_, expected)) = known.iter().find(|(k, _)| *k == id) else {
            return Err(format!("{name}: no built-in message {id:?} to override"));
        };
        if vars != *expected {
            let line = text
                .find(&format!("{id} ="))
                .map_or(0, |at| line_of(&text, at));
            return Err(format!(
                "{name}: line {line}: {id:?} must use the variables {expected:?}, not {vars:?}"
            ));
        }
    }
    Ok(Some(resource))
}

/// An `.ftl` file for a language the bot doesn't speak is a mistake.
fn check_no_strangers(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("ftl") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if !Lang::ALL.iter().any(|l| l.code() == stem) {
            return Err(format!(
                "{}: no such language (files are named {})",
                path.display(),
                Lang::ALL
                    .iter()
                    .map(|l| format!("{}.ftl", l.code()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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

    /// Language codes pick the catalogue; plurals and selects work.
    #[test]
    fn languages_and_selects() {
        assert_eq!(Lang::from_code(Some("es-MX")), Lang::Es);
        assert_eq!(Lang::from_code(Some("EN")), Lang::En);
        assert_eq!(Lang::from_code(Some("xx")), Lang::En);
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
