//! Time, for the domain and the Stripe client alike: unix seconds and
//! milliseconds by this process's clock, and protobuf timestamps. (The
//! order of reads across replicas uses the store's clock instead:
//! [`crate::ledger::Ledger::clock_ms`].)

use mesh_proto::Timestamp;

/// A protobuf timestamp of unix seconds.
pub fn timestamp(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
