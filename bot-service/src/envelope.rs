//! What is stored in the queue for one update: the raw update and the W3C
//! trace context of the call that accepted it, so the worker that handles
//! it later continues the same trace.
//!
//! Framing: the `traceparent` value (possibly empty), a newline, then the
//! update's JSON bytes untouched. A traceparent never contains a newline.

use bytes::Bytes;

/// Builds a queue item.
pub fn seal(traceparent: &str, update: &[u8]) -> Vec<u8> {
    let mut item = Vec::with_capacity(traceparent.len() + 1 + update.len());
    item.extend_from_slice(traceparent.as_bytes());
    item.push(b'\n');
    item.extend_from_slice(update);
    item
}

/// Splits a queue item into the traceparent and the update.
pub fn open(item: &[u8]) -> (String, Bytes) {
    match item.iter().position(|&b| b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&item[..i]).into_owned(),
            Bytes::copy_from_slice(&item[i + 1..]),
        ),
        None => (String::new(), Bytes::copy_from_slice(item)),
    }
}

#[cfg(test)]
mod tests {
    /// Seal and open are inverse, whatever the update contains.
    #[test]
    fn round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let update = b"{\"update_id\":1,\"text\":\"a\\nb\"}\n";
        let (t, u) = super::open(&super::seal(tp, update));
        assert_eq!((t.as_str(), &u[..]), (tp, &update[..]));
        let (t, u) = super::open(&super::seal("", update));
        assert_eq!((t.as_str(), &u[..]), ("", &update[..]));
    }
}
