//! The one table of what each transaction step sends to `commit.lua`: its
//! name, how many keys and how many arguments follow it. The Redis side
//! encodes steps by it and the script reads its `ARITY` from it (the table
//! is written into the script when it is loaded), so the two can't
//! disagree; a test encodes every step and checks it against the table.

/// `(name, keys, arguments)` of each guard and write `commit.lua` knows.
pub(crate) const ARITY: &[(&str, usize, usize)] = &[
    // Guards.
    ("rev", 1, 1),
    ("absent", 1, 0),
    ("lease", 1, 2),
    ("laneheld", 1, 3),
    // Writes.
    ("put", 1, 2),
    ("set", 1, 2),
    ("del", 1, 0),
    ("incr", 1, 2),
    ("sadd", 1, 1),
    ("srem", 1, 1),
    ("push", 1, 2),
    ("xadd", 1, 2),
    ("zadd", 1, 2),
    ("zrem", 1, 1),
    ("enq", 5, 3),
    ("enq0", 4, 2),
    ("ack", 7, 2),
    ("rel", 3, 3),
    ("lane", 8, 6),
    ("lack", 5, 2),
];

/// The line of `commit.lua` the table replaces.
const PLACEHOLDER: &str = "local ARITY = {} -- written from tx/table.rs when loaded";

/// `commit.lua` with its `ARITY` table written from [`ARITY`].
pub(crate) fn commit_script() -> String {
    let entries: Vec<String> = ARITY
        .iter()
        .map(|(name, keys, args)| format!("{name} = {{{keys}, {args}}}"))
        .collect();
    include_str!("commit.lua").replacen(
        PLACEHOLDER,
        &format!("local ARITY = {{{}}}", entries.join(", ")),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::{ARITY, PLACEHOLDER, commit_script};

    /// The script carries the table, whole.
    #[test]
    fn the_script_gets_the_table() {
        assert!(include_str!("commit.lua").contains(PLACEHOLDER));
        let script = commit_script();
        assert!(!script.contains(PLACEHOLDER));
        for (name, keys, args) in ARITY {
            assert!(
                script.contains(&format!("{name} = {{{keys}, {args}}}")),
                "{name}"
            );
        }
    }

    use std::collections::HashSet;
    use std::time::Duration;

    use crate::redis_backend::RedisBackend;
    use crate::tx::{Guard, Op, Settle};

    /// Every guard and write encodes to the keys and arguments
    /// `commit.lua`'s table (written from `commit_ops.rs`) says it takes,
    /// and the table has no entry nothing encodes to.
    #[tokio::test]
    async fn every_step_encodes_to_its_table_entry() {
        let backend = RedisBackend::new("redis://127.0.0.1:6379", "p").unwrap();
        let (s, ms) = (|v: &str| v.to_owned(), Duration::from_millis(5));
        let guards = [
            Guard::Rev {
                key: s("k"),
                rev: 3,
            },
            Guard::Absent { key: s("k") },
            Guard::Lease {
                queue: s("q"),
                partition: s("chat:1"),
                token: 9,
            },
            Guard::Lane {
                queue: s("q"),
                lane: s("lane:0"),
                token: 9,
                pos: 2,
            },
        ];
        let lane = |settle| Op::Lane {
            queue: s("q"),
            lane: s("lane:0"),
            partition: s("chat:1"),
            last: true,
            settle,
        };
        let ops = [
            Op::Put {
                key: s("k"),
                rev: 1,
                data: b"d".to_vec(),
            },
            Op::Set {
                key: s("k"),
                value: b"v".to_vec(),
                ttl: Some(ms),
            },
            Op::Delete { key: s("k") },
            Op::Incr {
                key: s("k"),
                by: 2,
                ttl: None,
            },
            Op::SetAdd {
                key: s("k"),
                member: s("m"),
            },
            Op::SetRemove {
                key: s("k"),
                member: s("m"),
            },
            Op::ListPush {
                key: s("k"),
                value: b"v".to_vec(),
                cap: 10,
            },
            Op::LogAppend {
                key: s("k"),
                entry: b"e".to_vec(),
                cap: 10,
            },
            Op::Schedule {
                key: s("k"),
                member: s("m"),
                at: 5,
            },
            Op::Unschedule {
                key: s("k"),
                member: s("m"),
            },
            Op::Enqueue {
                queue: s("q"),
                dedup_ttl: ms,
                lanes: 16,
                id: s("7"),
                partition: s("chat:1"),
                item: b"i".to_vec(),
            },
            Op::Enqueue {
                queue: s("q"),
                dedup_ttl: Duration::ZERO,
                lanes: 16,
                id: s("8"),
                partition: s("chat:1"),
                item: b"i".to_vec(),
            },
            lane(Settle::Ack),
            lane(Settle::Dead {
                reason: s("r"),
                attempts: 3,
            }),
            lane(Settle::Park {
                delay: ms,
                attempts: 1,
            }),
            lane(Settle::Follow),
            Op::Ack {
                queue: s("q"),
                partition: s("chat:1"),
                dead: None,
            },
            Op::Release {
                queue: s("q"),
                partition: s("chat:1"),
                delay: ms,
                counts: true,
            },
        ];
        // A new kind of write must be given a sample above (this match
        // stops compiling until it is named).
        for op in &ops {
            match op {
                Op::Put { .. }
                | Op::Set { .. }
                | Op::Delete { .. }
                | Op::Incr { .. }
                | Op::SetAdd { .. }
                | Op::SetRemove { .. }
                | Op::ListPush { .. }
                | Op::LogAppend { .. }
                | Op::Schedule { .. }
                | Op::Unschedule { .. }
                | Op::Enqueue { .. }
                | Op::Lane { .. }
                | Op::Ack { .. }
                | Op::Release { .. } => {}
            }
        }
        let mut seen = HashSet::new();
        let mut check = |keys: Vec<String>, args: Vec<Vec<u8>>| {
            let name = String::from_utf8(args[0].clone()).unwrap();
            let (_, k, a) = ARITY
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is not in commit_ops::ARITY"));
            assert_eq!((keys.len(), args.len() - 1), (*k, *a), "{name}");
            seen.insert(name);
        };
        for guard in &guards {
            let (mut keys, mut args) = (Vec::new(), Vec::new());
            backend.encode_guard(guard, &mut keys, &mut args);
            check(keys, args);
        }
        for op in &ops {
            let (mut keys, mut args) = (Vec::new(), Vec::new());
            backend.encode_op(op, &mut keys, &mut args);
            check(keys, args);
        }
        let table: HashSet<String> = ARITY.iter().map(|(n, _, _)| (*n).to_owned()).collect();
        assert_eq!(seen, table, "every entry is encoded by something");
    }
}
