//! Stripe webhook signature verification.
//!
//! Written here rather than taken from async-stripe: its
//! `Webhook::construct_event` keeps only the last `v1` of the header, takes
//! one secret and hard-codes the tolerance, so it rejects valid deliveries
//! during a secret roll (one `v1` per active secret). The cryptography is
//! RustCrypto's `hmac`/`sha2`; the comparison is `subtle`'s constant time.

use std::time::Duration;

use hmac::{Hmac, Mac};
use mesh_runtime::Secret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a signature was rejected (all answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` or no well-formed `v1=` in the header.
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// No `v1` matches any configured secret.
    #[error("signature does not match")]
    Mismatch,
    /// The signature matches but `t` is too far from now (replay).
    #[error("timestamp outside the tolerance")]
    OutsideTolerance,
}

struct Header {
    timestamp: i64,
    signatures: Vec<[u8; 32]>,
}

fn parse(header: &str) -> Result<Header, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for pair in header.split(',') {
        let Some((key, value)) = pair.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" => {
                let mut sig = [0u8; 32];
                // Skip (don't fail on) an undecodable v1: another may match.
                if hex::decode_to_slice(value, &mut sig).is_ok() {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(Header {
            timestamp,
            signatures,
        }),
        _ => Err(SignatureError::Malformed),
    }
}

/// The `v1` signature of `payload` at `timestamp` under `secret`.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// Verifies `header` over the raw `payload`: valid when any `v1` matches
/// any secret and `t` is within `tolerance` of `now` (unix seconds).
pub fn verify(
    header: &str,
    payload: &[u8],
    secrets: &[Secret],
    tolerance: Duration,
    now: i64,
) -> Result<(), SignatureError> {
    let header = parse(header)?;
    let matched = secrets.iter().any(|secret| {
        let expected = sign(secret.expose(), header.timestamp, payload);
        header
            .signatures
            .iter()
            .any(|sig| bool::from(sig.ct_eq(&expected)))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let age = now.saturating_sub(header.timestamp).unsigned_abs();
    if age > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
    const TOL: Duration = Duration::from_secs(300);

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    fn header(t: i64, sigs: &[&str]) -> String {
        let mut h = format!("t={t}");
        for s in sigs {
            h.push_str(&format!(",v1={}", hex::encode(sign(s, t, BODY))));
        }
        h
    }

    /// A delivery signed with the configured secret passes.
    #[test]
    fn valid() {
        assert_eq!(
            verify(
                &header(NOW, &["whsec_a"]),
                BODY,
                &secrets(&["whsec_a"]),
                TOL,
                NOW
            ),
            Ok(())
        );
    }

    /// A reference vector computed independently (Python's `hmac` over
    /// "t.payload" with the whole `whsec_` secret as key, as Stripe's
    /// libraries do).
    #[test]
    fn matches_reference_hmac() {
        let sig = hex::encode(sign(
            "whsec_test_secret",
            1_614_556_800,
            br#"{"id":"evt_1"}"#,
        ));
        assert_eq!(
            sig,
            "4b84b790795620969b08a42ba000110ae8bf58a5784f16c215b248752ce65404"
        );
    }

    /// Wrong secret, tampered body and a missing v1 are rejected.
    #[test]
    fn wrong_secret_tampered_body_missing_parts() {
        let h = header(NOW, &["whsec_a"]);
        assert_eq!(
            verify(&h, BODY, &secrets(&["whsec_b"]), TOL, NOW),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(&h, &tampered, &secrets(&["whsec_a"]), TOL, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&format!("t={NOW}"), BODY, &secrets(&["whsec_a"]), TOL, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("garbage", BODY, &secrets(&["whsec_a"]), TOL, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("t=abc,v1=00", BODY, &secrets(&["whsec_a"]), TOL, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("", BODY, &secrets(&["whsec_a"]), TOL, NOW),
            Err(SignatureError::Malformed)
        );
    }

    /// Stale and future timestamps are rejected even with a valid signature.
    #[test]
    fn stale_and_future() {
        let s = secrets(&["whsec_a"]);
        assert_eq!(
            verify(&header(NOW - 301, &["whsec_a"]), BODY, &s, TOL, NOW),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&header(NOW + 301, &["whsec_a"]), BODY, &s, TOL, NOW),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&header(NOW - 300, &["whsec_a"]), BODY, &s, TOL, NOW),
            Ok(())
        );
        let wide = Duration::from_secs(3600);
        assert_eq!(
            verify(&header(NOW - 301, &["whsec_a"]), BODY, &s, wide, NOW),
            Ok(())
        );
    }

    /// Two v1 values where only the first matches: still valid (async-stripe
    /// would look only at the last).
    #[test]
    fn first_of_two_v1_matches() {
        let h = header(NOW, &["whsec_a", "whsec_other"]);
        assert_eq!(verify(&h, BODY, &secrets(&["whsec_a"]), TOL, NOW), Ok(()));
        let with_junk = format!("{},v1=nothex,v0=abc", header(NOW, &["whsec_a"]));
        assert_eq!(
            verify(&with_junk, BODY, &secrets(&["whsec_a"]), TOL, NOW),
            Ok(())
        );
    }

    /// During a roll any configured secret may match; after it, the old one no longer does.
    #[test]
    fn rotated_secrets() {
        let both = secrets(&["whsec_new", "whsec_old"]);
        assert_eq!(
            verify(&header(NOW, &["whsec_old"]), BODY, &both, TOL, NOW),
            Ok(())
        );
        assert_eq!(
            verify(&header(NOW, &["whsec_new"]), BODY, &both, TOL, NOW),
            Ok(())
        );
        let after = secrets(&["whsec_new"]);
        assert_eq!(
            verify(&header(NOW, &["whsec_old"]), BODY, &after, TOL, NOW),
            Err(SignatureError::Mismatch)
        );
    }
}
