//! Generated code for the mesh's gRPC packages.
//!
//! - [`bot::v1`]: the gateway hands Telegram updates to the bot service.
//! - [`billing::v1`]: plans, entitlements and Stripe events, a public internal API.
//!
//! Each package also exports its encoded `FileDescriptorSet`, which the
//! services feed to server reflection so grpcurl needs no `.proto` files.

/// The `bot` proto packages.
pub mod bot {
    /// `bot.v1`: see `proto/bot/v1/bot.proto`.
    pub mod v1 {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("bot.v1");

        /// Encoded descriptor set of `bot.v1`, for server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            tonic::include_file_descriptor_set!("bot_v1_descriptor");
    }
}

/// The `billing` proto packages.
pub mod billing {
    /// `billing.v1`: see `proto/billing/v1/billing.proto`.
    pub mod v1 {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("billing.v1");

        /// Encoded descriptor set of `billing.v1`, for server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            tonic::include_file_descriptor_set!("billing_v1_descriptor");
    }
}

pub use prost_types::Timestamp;

pub mod refusal;
pub mod serving;
pub mod tls;

pub use tls::GrpcTls;

pub mod inproc;

/// Opens a lazily connected, multiplexed channel to a mesh service. One
/// channel is made per peer and cloned for every call (HTTP/2 carries them
/// all); it reconnects on its own after the peer restarts.
pub fn lazy_channel(url: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    channel(url, None)
}

/// [`lazy_channel`], over TLS when `tls` is given (for `https://` URLs).
pub fn channel(
    url: &str,
    tls: Option<&GrpcTls>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    use std::time::Duration;
    if let Some(channel) = inproc::channel(url) {
        return Ok(channel);
    }
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    if let Some(tls) = tls.filter(|_| url.starts_with("https://")) {
        endpoint = endpoint.tls_config(tls.client())?;
    }
    Ok(endpoint.connect_lazy())
}
