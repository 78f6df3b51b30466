//! `mesh [all|gateway|bot-service|billing-service]`: runs one target (default `all`).
//! `mesh webhook set|delete|info`: manages Telegram's webhook.
//! `mesh reconcile` / `mesh recover-events`: billing maintenance (a CronJob).

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("webhook") => return mesh::webhook_command(&args[1..]),
        Some(cmd @ ("reconcile" | "recover-events")) => return mesh::billing_command(cmd),
        _ => {}
    }
    let name = args.first().cloned().unwrap_or_else(|| "all".to_owned());
    let Some(target) = mesh::Target::parse(&name) else {
        eprintln!(
            "usage: mesh [all|gateway|bot-service|billing-service] | webhook set|delete|info | reconcile | recover-events (got {name:?})"
        );
        std::process::exit(2);
    };
    mesh::main_for(target)
}
