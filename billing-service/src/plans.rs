//! The plans file: which Stripe prices are on sale, under which names.

use std::path::Path;

use mesh_runtime::ConfigError;
use serde::Deserialize;

/// One plan, as written in the plans file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Stable id (`[a-z0-9_-]`, used in callbacks and metadata).
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Description shown to users.
    pub description: String,
    /// The Stripe price (`price_...`).
    pub stripe_price_id: String,
    /// Free trial days (default 0).
    #[serde(default)]
    pub trial_days: u32,
    /// The chats and channels the plan opens (default: `PREMIUM_CHAT_ID`).
    #[serde(default)]
    pub chats: Vec<i64>,
}

/// The plans on sale, with the chats each opens resolved.
#[derive(Debug, Clone, Default)]
pub struct Plans {
    specs: Vec<PlanSpec>,
    /// The chats of a plan the file no longer lists (a subscription sold
    /// before the plan was removed still opens the premium chat).
    fallback_chats: Vec<i64>,
}

impl Plans {
    /// `specs`, where a plan without `chats` opens `default_chats`
    /// (`PREMIUM_CHAT_ID`).
    pub fn new(mut specs: Vec<PlanSpec>, default_chats: Vec<i64>) -> Self {
        for spec in &mut specs {
            if spec.chats.is_empty() {
                spec.chats = default_chats.clone();
            }
        }
        Self {
            specs,
            fallback_chats: default_chats,
        }
    }

    /// Every plan, in file order.
    pub fn all(&self) -> &[PlanSpec] {
        &self.specs
    }

    /// How many plans there are.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when nothing is on sale.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The plan `id`.
    pub fn get(&self, id: &str) -> Option<&PlanSpec> {
        self.specs.iter().find(|p| p.id == id)
    }

    /// The plan selling Stripe price `price`.
    pub fn by_price(&self, price: &str) -> Option<&PlanSpec> {
        self.specs.iter().find(|p| p.stripe_price_id == price)
    }

    /// The plan a subscription sells: by its price, else the `plan_id` we
    /// put in its metadata.
    pub fn plan_of_price(
        &self,
        price: Option<&str>,
        metadata_plan: Option<&str>,
    ) -> Option<String> {
        price
            .and_then(|p| self.by_price(p))
            .map(|p| p.id.clone())
            .or_else(|| metadata_plan.map(str::to_owned))
    }

    /// The chats plan `id` opens.
    pub fn chats_of(&self, id: Option<&str>) -> Vec<i64> {
        id.and_then(|id| self.get(id))
            .map_or_else(|| self.fallback_chats.clone(), |p| p.chats.clone())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    #[serde(default)]
    plans: Vec<PlanSpec>,
}

/// Where plans are read from when `PLANS_FILE` is unset.
pub const DEFAULT_PLANS_FILE: &str = "plans.toml";

/// Parses and validates a plans file's text.
pub fn parse(text: &str) -> Result<Vec<PlanSpec>, String> {
    let file: PlansFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for p in &file.plans {
        if p.id.is_empty()
            || !p
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(format!("plan id {:?} must be non-empty [a-z0-9_-]", p.id));
        }
        if p.id.len() > 32 {
            return Err(format!("plan id {:?} is longer than 32 characters", p.id));
        }
        if !seen.insert(p.id.as_str()) {
            return Err(format!("plan id {:?} appears twice", p.id));
        }
        if p.name.trim().is_empty() {
            return Err(format!("plan {:?} has no name", p.id));
        }
        if !p.stripe_price_id.starts_with("price_") {
            return Err(format!(
                "plan {:?}: stripe_price_id must start with price_",
                p.id
            ));
        }
        if p.chats.contains(&0) {
            return Err(format!("plan {:?}: a chat id cannot be 0", p.id));
        }
        if p.trial_days > 730 {
            return Err(format!(
                "plan {:?}: trial_days must be at most 730 (Stripe's limit)",
                p.id
            ));
        }
    }
    Ok(file.plans)
}

/// Loads the plans: from `PLANS_FILE` (which must be readable and valid),
/// else from [`DEFAULT_PLANS_FILE`] when it exists, else none.
pub fn load(path: Option<&str>) -> Result<Vec<PlanSpec>, ConfigError> {
    let (path, required) = match path {
        Some(p) => (p, true),
        None => (DEFAULT_PLANS_FILE, false),
    };
    let text = match std::fs::read_to_string(Path::new(path)) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path, "no plans file: nothing is on sale (set PLANS_FILE)");
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(ConfigError::new(
                "PLANS_FILE",
                format!("cannot read {path}: {e}"),
            ));
        }
    };
    parse(&text).map_err(|e| ConfigError::new("PLANS_FILE", format!("{path}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped plans file parses; every rule is enforced.
    #[test]
    fn validation() {
        let shipped = parse(include_str!("../../plans.toml")).unwrap();
        assert_eq!(shipped.len(), 2);
        assert_eq!(shipped[1].trial_days, 7);
        let plan = |id: &str, price: &str| {
            format!(
                "[[plans]]\nid = \"{id}\"\nname = \"N\"\ndescription = \"D\"\nstripe_price_id = \"{price}\"\n"
            )
        };
        assert!(parse(&plan("Monthly", "price_1")).is_err());
        assert!(parse(&plan("m", "prod_1")).is_err());
        assert!(parse(&format!("{}{}", plan("m", "price_1"), plan("m", "price_2"))).is_err());
        assert!(parse("[[plans]]\nid = \"m\"\nname = \"N\"\ndescription = \"D\"\nstripe_price_id = \"price_1\"\ntypo = 1\n").is_err());
        assert!(parse("not toml [").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }

    /// A named plans file that can't be read stops start-up, naming PLANS_FILE.
    #[test]
    fn unreadable_named_file() {
        let e = load(Some("/nonexistent/plans.toml")).unwrap_err();
        assert_eq!(e.var, "PLANS_FILE");
    }
}
