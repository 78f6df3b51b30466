//! The `billing-service` binary: the mesh with the `billing-service` target only.

use clap::Parser;

/// billing-service: plans, entitlements and Stripe events (billing.v1
/// over gRPC).
#[derive(Parser)]
#[command(
    name = "billing-service",
    version,
    after_help = "Configuration comes from the environment (see docs/operating.md)."
)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    mesh::main_for(mesh::Target::Billing)
}
