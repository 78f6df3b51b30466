//! Reading configuration from the environment.
//!
//! Components never call `std::env::var` themselves: they read through
//! [`Env`], which can also be built from a map in tests, and every parse
//! failure names the variable, so start-up stops with one clear line.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::Secret;

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable (or config file) at fault.
    pub var: String,
    /// What is wrong, for a human.
    pub reason: String,
}

impl ConfigError {
    /// Builds an error for `var`.
    pub fn new(var: impl Into<String>, reason: impl Display) -> Self {
        Self {
            var: var.into(),
            reason: reason.to_string(),
        }
    }
}

/// A source of configuration variables: the process environment or a map.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Snapshots the process environment.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// Builds an environment from pairs (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets one variable (builder style, for tests).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    /// The raw value, with empty strings treated as unset (a common way to
    /// "unset" a variable in compose files and Helm values).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Parses `key` when set.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(key)
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| ConfigError::new(key, format!("cannot parse {raw:?}: {e}")))
            })
            .transpose()
    }

    /// Parses `key`, or returns `default` when unset.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// A socket address such as `0.0.0.0:8000`.
    pub fn addr_or(&self, key: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let raw = self.get(key).unwrap_or(default);
        raw.parse().map_err(|e| {
            ConfigError::new(
                key,
                format!("not a socket address (host:port) {raw:?}: {e}"),
            )
        })
    }

    /// A duration given in milliseconds.
    pub fn millis_or(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .parse::<u64>(key)?
            .map(Duration::from_millis)
            .unwrap_or(default))
    }

    /// A period given in whole seconds, at least one.
    pub fn period_secs_or(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        match self.parse::<u64>(key)?.unwrap_or(default) {
            0 => Err(ConfigError::new(key, "must be at least 1 second")),
            secs => Ok(Duration::from_secs(secs)),
        }
    }

    /// A number of days (fractions allowed: `0.5` is twelve hours), at
    /// most ten years.
    pub fn days_or(&self, key: &str, default: f64) -> Result<Duration, ConfigError> {
        let days = self.parse::<f64>(key)?.unwrap_or(default);
        if !(0.0..=3660.0).contains(&days) {
            return Err(ConfigError::new(key, "must be between 0 and 3660 days"));
        }
        Ok(Duration::from_secs_f64(days * 86_400.0))
    }

    /// A secret; never echoed in the error.
    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated list whose every item parses as `T`.
    pub fn parse_list<T>(&self, key: &str) -> Result<Vec<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.list(key)
            .into_iter()
            .map(|item| {
                item.parse::<T>()
                    .map_err(|e| ConfigError::new(key, format!("cannot parse {item:?}: {e}")))
            })
            .collect()
    }

    /// An `http://` or `https://` URL, returned without a trailing slash.
    pub fn url_or(&self, key: &str, default: &str) -> Result<String, ConfigError> {
        let raw = self.get(key).unwrap_or(default);
        validate_url(raw).map_err(|reason| ConfigError::new(key, reason))?;
        Ok(raw.trim_end_matches('/').to_owned())
    }
}

/// Checks the shape of an http(s) URL with a host (and optional port).
fn validate_url(raw: &str) -> Result<(), String> {
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"))
        .ok_or_else(|| format!("{raw:?} is not an http:// or https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!("{raw:?} has no host"));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("{raw:?} has an invalid port"));
    }
    Ok(())
}

/// The port of an `http://host:port` URL (defaulting to 80/443), used where a
/// process listens on the port its peers are configured to call.
pub fn url_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    match authority.rsplit_once(':') {
        Some((_, port)) if !authority.ends_with(']') => port.parse().ok(),
        _ => Some(if scheme == "https" { 443 } else { 80 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bad values name their variable; empty counts as unset.
    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs([
            ("PORT", "eighty"),
            ("EMPTY", "  "),
            ("URL", "ftp://x"),
            ("ADDR", "nope"),
        ]);
        let e = env.parse::<u16>("PORT").unwrap_err();
        assert_eq!(e.var, "PORT");
        assert!(e.to_string().starts_with("PORT: cannot parse"));
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.url_or("URL", "http://a").unwrap_err().var, "URL");
        assert_eq!(env.addr_or("ADDR", "0.0.0.0:1").unwrap_err().var, "ADDR");
        assert_eq!(
            env.url_or("MISSING", "http://127.0.0.1:50051/").unwrap(),
            "http://127.0.0.1:50051"
        );
        assert!(env.url_or("X", "http://host:99999").is_err());
    }

    /// Ports come from the URL or the scheme's default.
    #[test]
    fn url_ports() {
        assert_eq!(url_port("http://127.0.0.1:50051"), Some(50051));
        assert_eq!(url_port("https://billing"), Some(443));
        assert_eq!(url_port("http://[::1]:7"), Some(7));
        assert_eq!(url_port("http://[::1]"), Some(80));
    }
}
