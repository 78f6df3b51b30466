//! What every process of the mesh shares at its edges.
//!
//! - [`env`]: reading configuration from environment variables, where every
//!   bad value becomes one clear error naming the variable.
//! - [`secret`]: a wrapper that keeps secrets out of logs and debug output.
//! - [`shutdown`]: SIGTERM / Ctrl-C turned into a cancellation token that
//!   every server and worker drains on.

pub mod env;
pub mod secret;
pub mod shutdown;

pub use env::{ConfigError, Env};
pub use secret::Secret;
pub use shutdown::shutdown_on_signal;
pub use tokio_util::sync::CancellationToken;
