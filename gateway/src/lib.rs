//! The gateway: the mesh's only HTTP edge.
//!
//! Telegram and Stripe call its webhooks; it verifies each call (secret
//! token, Stripe signature, size, content type, shape) and turns it into a
//! gRPC call with a deadline to bot-service or billing-service. It answers
//! 200 only once the callee has durably accepted the work, and 503 when a
//! dependency is down, so the sender's retries deliver it later.
//!
//! Map: [`config`] (environment), [`error`] (every failure and its status),
//! [`routes`] (handlers), [`stripe_signature`] (webhook verification),
//! [`source`] (client address and allow-list), [`upstream`] (gRPC clients),
//! [`accept_batch`] (many Telegram updates per bot-service call),
//! [`app`] (the router and server).

pub mod accept_batch;
pub mod app;
pub mod config;
pub mod error;
pub mod instruments;
pub mod limiter;
pub mod routes;
pub mod source;
pub mod stripe_signature;
pub mod upstream;

pub use app::{router, run};
pub use config::GatewayConfig;
