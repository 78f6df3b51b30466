//! Reading Fluent files and checking an operator's overrides against the
//! built-in catalogue: they must parse, name messages that exist, and use
//! exactly the same variables, in a language the bot speaks.

use std::collections::BTreeSet;
use std::path::Path;

use fluent_bundle::FluentResource;
use fluent_syntax::ast;

use super::Lang;

/// Line (1-based) of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

pub(super) fn parse(name: &str, text: &str) -> Result<FluentResource, String> {
    FluentResource::try_new(text.to_owned()).map_err(|(_, errors)| {
        let first = errors.first().map_or_else(
            || "unreadable".to_owned(),
            |e| format!("line {}: {}", line_of(text, e.pos.start), e.kind),
        );
        format!("{name}: {first}")
    })
}

/// Each message's id and the variables it uses.
pub(super) type Variables = Vec<(String, BTreeSet<String>)>;

/// The variables each message uses.
pub(super) fn variables(resource: &FluentResource) -> Variables {
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

/// Reads and checks one override file (`None` when there is none).
pub(super) fn read_override(
    file: &Path,
    known: &Variables,
) -> Result<Option<FluentResource>, String> {
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
pub(super) fn check_no_strangers(dir: &Path) -> Result<(), String> {
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
