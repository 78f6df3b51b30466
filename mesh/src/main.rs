//! `mesh [all|gateway|bot-service|billing-service]`: runs one target (default `all`).

fn main() -> anyhow::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    let Some(target) = mesh::Target::parse(&name) else {
        eprintln!("usage: mesh [all|gateway|bot-service|billing-service] (got {name:?})");
        std::process::exit(2);
    };
    mesh::main_for(target)
}
