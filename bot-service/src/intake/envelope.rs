//! What is stored in the update queue for one piece of work: its kind (a
//! Telegram update or an entitlement notice), its payload, and the W3C
//! trace context of the call that accepted it, so the worker that handles
//! it later continues the same trace.
//!
//! Framing: the `traceparent` value (possibly empty), a newline, one kind
//! byte (`u`, `n` or `j`), then the payload untouched. A traceparent never
//! contains a newline.

use bytes::Bytes;

/// What a queue item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Telegram update (JSON as Telegram sent it).
    Update,
    /// An entitlement notice (`NotifyEntitlementRequest`, protobuf).
    Notice,
    /// A step of a broadcast job (JSON).
    Job,
}

/// Builds a queue item.
pub fn seal(kind: Kind, traceparent: &str, payload: &[u8]) -> Vec<u8> {
    let mut item = Vec::with_capacity(traceparent.len() + 2 + payload.len());
    item.extend_from_slice(traceparent.as_bytes());
    item.push(b'\n');
    item.push(match kind {
        Kind::Update => b'u',
        Kind::Notice => b'n',
        Kind::Job => b'j',
    });
    item.extend_from_slice(payload);
    item
}

/// Splits a queue item; `None` for an item this version can't read.
pub fn open(item: &[u8]) -> Option<(Kind, String, Bytes)> {
    let newline = item.iter().position(|&b| b == b'\n')?;
    let traceparent = String::from_utf8_lossy(&item[..newline]).into_owned();
    let kind = match item.get(newline + 1)? {
        b'u' => Kind::Update,
        b'n' => Kind::Notice,
        b'j' => Kind::Job,
        _ => return None,
    };
    Some((
        kind,
        traceparent,
        Bytes::copy_from_slice(&item[newline + 2..]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seal and open are inverse, whatever the payload contains.
    #[test]
    fn round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let update = b"{\"update_id\":1,\"text\":\"a\\nb\"}\n";
        let (k, t, u) = open(&seal(Kind::Update, tp, update)).unwrap();
        assert_eq!((k, t.as_str(), &u[..]), (Kind::Update, tp, &update[..]));
        let (k, t, u) = open(&seal(Kind::Notice, "", b"{}")).unwrap();
        assert_eq!((k, t.as_str(), &u[..]), (Kind::Notice, "", &b"{}"[..]));
        assert!(open(b"no newline").is_none());
        assert!(open(b"tp\nxpayload").is_none());
    }
}
