//! The plans file: which Stripe prices are on sale, under which names.

use std::path::Path;

use mesh_runtime::ConfigError;
use serde::Deserialize;

/// How a plan is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A renewing subscription.
    #[default]
    Subscription,
    /// One payment for `duration_days` (or for life).
    Payment,
}

/// A chat or channel, as the plans file describes it (shown in the
/// welcome message).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSpec {
    /// The Telegram chat id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
}

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
    /// The Stripe price (`price_...`); empty for a plan sold only for
    /// Telegram Stars.
    #[serde(default)]
    pub stripe_price_id: String,
    /// Free trial days (default 0).
    #[serde(default)]
    pub trial_days: u32,
    /// The chats and channels the plan opens (default: `PREMIUM_CHAT_ID`).
    #[serde(default)]
    pub chats: Vec<i64>,
    /// How it is paid (default: a subscription).
    #[serde(default)]
    pub mode: Mode,
    /// For a `payment` plan: days of access bought (absent: for life).
    #[serde(default)]
    pub duration_days: Option<u32>,
    /// The price as text, shown when Stripe's price can't be read (a dry
    /// run without `STRIPE_SECRET_KEY`).
    #[serde(default)]
    pub price_display: Option<String>,
    /// Its price in whole Telegram Stars (1-10000): per 30 days for a
    /// subscription plan (Telegram renews Stars subscriptions every 30
    /// days), once for a one-time plan. Absent: not sold for Stars.
    #[serde(default)]
    pub stars_price: Option<u32>,
}

/// The most a Stars price may be: Telegram's cap on a subscription's
/// period (Bot API 9.0), applied to one-time plans too.
pub const MAX_STARS: u32 = 10_000;

impl PlanSpec {
    /// Whether Stripe Checkout sells it.
    pub fn on_stripe(&self) -> bool {
        !self.stripe_price_id.is_empty()
    }
}

/// What the plans file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlansFile {
    /// The plans on sale.
    pub plans: Vec<PlanSpec>,
    /// Descriptions of the chats plans open.
    pub chats: Vec<ChatSpec>,
}

/// The plans on sale, with the chats each opens resolved.
#[derive(Debug, Clone, Default)]
pub struct Plans {
    specs: Vec<PlanSpec>,
    chat_specs: Vec<ChatSpec>,
    /// The chats of a plan the file no longer lists (a subscription sold
    /// before the plan was removed still opens the premium chat).
    fallback_chats: Vec<i64>,
}

impl Plans {
    /// `specs`, where a plan without `chats` opens `default_chats`
    /// (`PREMIUM_CHAT_ID`).
    pub fn new(file: PlansFile, default_chats: Vec<i64>) -> Self {
        let PlansFile {
            plans: mut specs,
            chats,
        } = file;
        for spec in &mut specs {
            if spec.chats.is_empty() {
                spec.chats = default_chats.clone();
            }
        }
        Self {
            specs,
            chat_specs: chats,
            fallback_chats: default_chats,
        }
    }

    /// The description of chat `id`, when the plans file gives one.
    pub fn chat(&self, id: i64) -> Option<&ChatSpec> {
        self.chat_specs.iter().find(|c| c.id == id)
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
        self.specs
            .iter()
            .find(|p| p.on_stripe() && p.stripe_price_id == price)
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
struct RawFile {
    #[serde(default)]
    plans: Vec<PlanSpec>,
    #[serde(default)]
    chats: Vec<ChatSpec>,
}

/// Where plans are read from when `PLANS_FILE` is unset.
pub const DEFAULT_PLANS_FILE: &str = "plans.toml";

/// Parses and validates a plans file's text.
pub fn parse(text: &str) -> Result<PlansFile, String> {
    let file: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
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
        match (p.stripe_price_id.as_str(), p.stars_price) {
            ("", None) => {
                return Err(format!(
                    "plan {:?}: give a stripe_price_id, a stars_price, or both",
                    p.id
                ));
            }
            ("", Some(_)) => {}
            (price, _) if !price.starts_with("price_") => {
                return Err(format!(
                    "plan {:?}: stripe_price_id must start with price_",
                    p.id
                ));
            }
            _ => {}
        }
        if let Some(stars) = p.stars_price
            && !(1..=MAX_STARS).contains(&stars)
        {
            return Err(format!(
                "plan {:?}: stars_price must be a whole number of Stars from 1 to {MAX_STARS} (Telegram's limit{})",
                p.id,
                if p.mode == Mode::Subscription {
                    " for a 30-day subscription period"
                } else {
                    ""
                }
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
        match (p.mode, p.duration_days) {
            (Mode::Subscription, Some(_)) => {
                return Err(format!(
                    "plan {:?}: duration_days is for mode = \"payment\" (a subscription lasts while it renews)",
                    p.id
                ));
            }
            (Mode::Payment, _) if p.trial_days > 0 => {
                return Err(format!(
                    "plan {:?}: trial_days is for subscriptions, not mode = \"payment\"",
                    p.id
                ));
            }
            (Mode::Payment, Some(d)) if !(1..=36_600).contains(&d) => {
                return Err(format!(
                    "plan {:?}: duration_days must be 1 to 36600 (absent: for life)",
                    p.id
                ));
            }
            _ => {}
        }
    }
    let mut chats = std::collections::HashSet::new();
    for c in &file.chats {
        if c.id == 0 || !chats.insert(c.id) {
            return Err(format!(
                "chat {}: ids must be non-zero and listed once",
                c.id
            ));
        }
        if c.name.trim().is_empty() {
            return Err(format!("chat {}: no name", c.id));
        }
    }
    Ok(PlansFile {
        plans: file.plans,
        chats: file.chats,
    })
}

/// Loads the plans: from `PLANS_FILE` (which must be readable and valid),
/// else from [`DEFAULT_PLANS_FILE`] when it exists, else none.
pub fn load(path: Option<&str>) -> Result<PlansFile, ConfigError> {
    let (path, required) = match path {
        Some(p) => (p, true),
        None => (DEFAULT_PLANS_FILE, false),
    };
    let text = match std::fs::read_to_string(Path::new(path)) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path, "no plans file: nothing is on sale (set PLANS_FILE)");
            return Ok(PlansFile::default());
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
        let shipped = parse(include_str!("../../plans.toml")).unwrap().plans;
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
        assert_eq!(parse("").unwrap(), PlansFile::default());
        let pass = |extra: &str| {
            parse(&format!(
                "[[plans]]\nid = \"p\"\nname = \"N\"\ndescription = \"D\"\nstripe_price_id = \"price_1\"\n{extra}"
            ))
        };
        let one_time = pass("mode = \"payment\"\nduration_days = 30\n").unwrap();
        assert_eq!(one_time.plans[0].mode, Mode::Payment);
        assert_eq!(one_time.plans[0].duration_days, Some(30));
        assert!(
            pass("mode = \"payment\"\n").unwrap().plans[0]
                .duration_days
                .is_none()
        );
        assert!(pass("duration_days = 30\n").is_err(), "subscriptions renew");
        assert!(pass("mode = \"payment\"\ntrial_days = 3\n").is_err());
        assert!(pass("mode = \"payment\"\nduration_days = 0\n").is_err());
        assert!(pass("mode = \"rental\"\n").is_err());
        assert_eq!(
            pass("stars_price = 250\n").unwrap().plans[0].stars_price,
            Some(250)
        );
        for bad in [
            "stars_price = 0\n",
            "stars_price = 10001\n",
            "stars_price = 2.5\n",
            "stars_price = -1\n",
        ] {
            assert!(pass(bad).is_err(), "{bad}");
        }
        let stars_only =
            parse("[[plans]]\nid = \"s\"\nname = \"N\"\ndescription = \"D\"\nstars_price = 500\n")
                .unwrap();
        assert!(!stars_only.plans[0].on_stripe());
        assert!(
            parse("[[plans]]\nid = \"s\"\nname = \"N\"\ndescription = \"D\"\n").is_err(),
            "no price at all"
        );
        let chats =
            parse("[[chats]]\nid = -1\nname = \"Signals\"\ndescription = \"Daily ideas\"\n")
                .unwrap();
        assert_eq!(chats.chats[0].name, "Signals");
        assert!(parse("[[chats]]\nid = -1\nname = \"\"\n").is_err());
        assert!(
            parse("[[chats]]\nid = -1\nname = \"A\"\n[[chats]]\nid = -1\nname = \"B\"\n").is_err()
        );
    }

    /// A named plans file that can't be read stops start-up, naming PLANS_FILE.
    #[test]
    fn unreadable_named_file() {
        let e = load(Some("/nonexistent/plans.toml")).unwrap_err();
        assert_eq!(e.var, "PLANS_FILE");
    }
}
