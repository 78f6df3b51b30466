//! The store's one error type.

/// Why a store operation failed. Callers treat every variant as "the shared
/// state is not usable right now": webhooks answer 503 and the sender retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis cannot be reached, timed out, or dropped the connection.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// Redis answered with an error (out of memory, script error, ...).
    #[error("state store error: {0}")]
    Backend(String),
    /// Fewer replicas than `STORE_ACK_REPLICAS` asks for took a durable
    /// write in time: it is written, but a failover could lose it, so it
    /// is not acknowledged (the sender's retry is de-duplicated).
    #[error("only {got} of {wanted} replicas acknowledged the write within {within:?}")]
    NotReplicated {
        /// Replicas asked for.
        wanted: u32,
        /// Replicas that had it in time.
        got: u32,
        /// How long it waited.
        within: std::time::Duration,
    },
    /// A reply had a shape this code does not expect (a bug or a foreign key).
    #[error("unexpected reply from state store: {0}")]
    Protocol(String),
    /// The store was configured wrongly: which setting, and why.
    #[error("invalid state store configuration: {field}: {reason}")]
    Config {
        /// The setting at fault.
        field: ConfigField,
        /// What is wrong with it (never the value: a URL may hold a
        /// password).
        reason: String,
    },
}

/// A setting of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigField {
    /// The Redis (or Redis Cluster) URL.
    Url,
    /// The key prefix.
    Prefix,
}

impl std::fmt::Display for ConfigField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Url => "URL",
            Self::Prefix => "key prefix",
        })
    }
}

impl StoreError {
    /// A configuration error of `field`.
    pub fn config(field: ConfigField, reason: impl Into<String>) -> Self {
        Self::Config {
            field,
            reason: reason.into(),
        }
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        // The connection URL may carry a password; RedisError's Display never
        // includes it, so its text is safe to keep.
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
        {
            Self::Unavailable(e.to_string())
        } else {
            Self::Backend(e.to_string())
        }
    }
}
