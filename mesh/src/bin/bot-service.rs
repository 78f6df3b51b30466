//! The `bot-service` binary: the mesh with the `bot-service` target only.

fn main() -> anyhow::Result<()> {
    mesh::main_for(mesh::Target::Bot)
}
