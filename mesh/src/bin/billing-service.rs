//! The `billing-service` binary: the mesh with the `billing-service` target only.

fn main() -> anyhow::Result<()> {
    mesh::main_for(mesh::Target::Billing)
}
