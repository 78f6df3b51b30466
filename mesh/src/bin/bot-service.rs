//! The `bot-service` binary: the mesh with the `bot-service` target only;
//! `bot-service webhook set|delete|info` manages Telegram's webhook.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("webhook") {
        return mesh::webhook_command(&args[1..]);
    }
    mesh::main_for(mesh::Target::Bot)
}
