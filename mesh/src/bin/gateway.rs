//! The `gateway` binary: the mesh with the `gateway` target only.

fn main() -> anyhow::Result<()> {
    mesh::main_for(mesh::Target::Gateway)
}
