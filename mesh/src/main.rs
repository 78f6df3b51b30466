//! `mesh`: runs a target (`all` by default) or an operator command; see
//! `mesh --help`.

use clap::Parser;
use mesh::cli::{MeshCli, MeshCommand};

fn main() -> anyhow::Result<()> {
    let cli = MeshCli::parse();
    let target = match cli.command.unwrap_or(MeshCommand::All) {
        MeshCommand::All => mesh::Target::All,
        MeshCommand::Gateway => mesh::Target::Gateway,
        MeshCommand::Bot => mesh::Target::Bot,
        MeshCommand::Billing => mesh::Target::Billing,
        MeshCommand::Reconcile => return mesh::ops::billing(mesh::ops::BillingOp::Reconcile),
        MeshCommand::Recover => return mesh::ops::billing(mesh::ops::BillingOp::Recover),
        MeshCommand::ExportMembers => {
            return mesh::ops::billing(mesh::ops::BillingOp::ExportMembers);
        }
        MeshCommand::DeadLetters(c) => return mesh::ops::dead_letters(c),
        MeshCommand::Webhook(c) => return mesh::ops::webhook(c.into()),
    };
    mesh::main_for(target)
}
