//! Fuzzes the Stripe-Signature check with arbitrary headers and bodies: it
//! must never panic, and it must never accept a header it did not sign.
#![no_main]

use std::time::Duration;

use gateway::stripe_signature::{sign, verify};
use libfuzzer_sys::fuzz_target;
use mesh_runtime::Secret;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let header = String::from_utf8_lossy(header);
    let secrets = [Secret::new("whsec_fuzz_secret")];
    let now = 1_700_000_000;
    let accepted = verify(&header, body, &secrets, Duration::from_secs(300), now).is_ok();
    if accepted {
        // Only possible when the header carries the real signature of `body`
        // for one of its timestamps.
        let signed = header
            .split(',')
            .filter_map(|pair| pair.trim().strip_prefix("t="))
            .filter_map(|t| t.parse::<i64>().ok())
            .any(|t| {
                header.to_ascii_lowercase().contains(&hex_lower(&sign(
                    "whsec_fuzz_secret",
                    t,
                    body,
                )))
            });
        assert!(signed, "accepted an unsigned body");
    }
});

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
