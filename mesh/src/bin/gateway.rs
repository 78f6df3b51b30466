//! The `gateway` binary: the mesh with the `gateway` target only.

use clap::Parser;

/// The HTTP gateway: Telegram's and Stripe's webhooks in, gRPC calls to
/// bot-service and billing-service out.
#[derive(Parser)]
#[command(
    name = "gateway",
    version,
    after_help = "Configuration comes from the environment (see docs/operating.md)."
)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    mesh::main_for(mesh::Target::Gateway)
}
