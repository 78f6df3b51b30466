//! Compiles `bot.v1` and `billing.v1` with a vendored `protoc`, so a fresh
//! machine needs nothing installed, and writes descriptor sets for reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let includes = [PathBuf::from("."), protoc_bin_vendored::include_path()?];
    for (file, descriptor) in [
        ("bot/v1/bot.proto", "bot_v1_descriptor.bin"),
        ("billing/v1/billing.proto", "billing_v1_descriptor.bin"),
    ] {
        // The vendored protoc named on the config, not through PROTOC: no
        // process-wide environment change (which would need `unsafe`).
        let mut config = tonic_prost_build::Config::new();
        config.protoc_executable(&protoc);
        tonic_prost_build::configure()
            // Bytes fields as `bytes::Bytes`: a webhook body is handed on without a copy.
            .bytes(".")
            .file_descriptor_set_path(out.join(descriptor))
            .compile_with_config(config, &[PathBuf::from(file)], &includes)?;
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
