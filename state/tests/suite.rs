//! One suite, two backends: every test below runs against the in-process
//! store and against the Redis on 127.0.0.1:6379 (or `TEST_REDIS_URL`),
//! each Redis test under its own key prefix.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::{claimed, claimed_within};
use mesh_state::{
    ClaimResult, Claims, Enqueued, NewItem, QueueConfig, RateDecision, Store, Tx, TxOutcome,
};

const CFG: QueueConfig = QueueConfig {
    dedup_ttl: Duration::from_secs(60),
    lease: Duration::from_secs(30),
    sequence_ids: false,
    lanes: 0,
};

/// An id enqueued twice is stored once.
async fn dedup(store: Store) {
    assert_eq!(
        store.enqueue_once("q", &CFG, "1", "a", b"x").await.unwrap(),
        Enqueued::New
    );
    assert_eq!(
        store.enqueue_once("q", &CFG, "1", "a", b"x").await.unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(
        store.enqueue_once("q", &CFG, "1", "b", b"y").await.unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(store.pending("q").await.unwrap(), 1);
}

/// Batches: one write de-duplicates against the past and within itself;
/// one claim leases at most one head per partition, up to the limit; one
/// acknowledgement finishes what it still holds and nothing else.
async fn batches(store: Store) {
    let span = tracing::Span::none();
    let item = |id: &'static str, partition: &'static str| NewItem {
        id,
        partition,
        item: id.as_bytes(),
        remember_only: false,
        parent: &span,
    };
    store.enqueue_once("q", &CFG, "0", "A", b"0").await.unwrap();
    let outcomes = store
        .enqueue_many(
            "q",
            &CFG,
            &[
                item("0", "A"),
                item("1", "A"),
                item("2", "B"),
                item("1", "C"),
                item("3", "C"),
            ],
        )
        .await
        .unwrap();
    use Enqueued::{Duplicate, New};
    assert_eq!(outcomes, [Duplicate, New, New, Duplicate, New]);
    assert_eq!(store.pending("q").await.unwrap(), 4);
    assert!(store.enqueue_many("q", &CFG, &[]).await.unwrap().is_empty());

    let Claims::Claimed(first) = store.claim_many("q", &CFG, 2).await.unwrap() else {
        panic!("expected claims");
    };
    assert_eq!(first.len(), 2, "at most the limit");
    let Claims::Claimed(rest) = store.claim_many("q", &CFG, 10).await.unwrap() else {
        panic!("expected the third partition");
    };
    assert_eq!(
        rest.len(),
        1,
        "one head per partition: A's second item waits"
    );
    let mut heads: Vec<(String, Vec<u8>)> = first
        .iter()
        .chain(&rest)
        .map(|c| (c.partition.clone(), c.item.clone()))
        .collect();
    heads.sort();
    assert_eq!(
        heads,
        [
            ("A".into(), b"0".to_vec()),
            ("B".into(), b"2".to_vec()),
            ("C".into(), b"3".to_vec())
        ]
    );
    assert!(matches!(
        store.claim_many("q", &CFG, 10).await.unwrap(),
        Claims::Idle(Some(_))
    ));
    let mut stale = rest[0].clone();
    stale.token -= 1;
    let acks: Vec<Tx> = first
        .iter()
        .chain([&stale])
        .map(|claim| {
            let mut tx = Tx::new();
            tx.ack("q", claim, None);
            tx
        })
        .collect();
    assert_eq!(
        store.commit_all(&acks).await.unwrap(),
        [
            TxOutcome::Committed,
            TxOutcome::Committed,
            TxOutcome::Refused(0)
        ]
    );
    assert_eq!(
        store.pending("q").await.unwrap(),
        2,
        "C's item is still leased"
    );
    let a = claimed(&store, "q", &CFG).await;
    assert_eq!((a.partition.as_str(), a.item.as_slice()), ("A", &b"1"[..]));
}

/// One partition is handed out one item at a time, in order, while other
/// partitions flow in parallel.
async fn partition_order_and_exclusivity(store: Store) {
    for (id, part, item) in [("1", "A", "a1"), ("2", "A", "a2"), ("3", "B", "b1")] {
        store
            .enqueue_once("q", &CFG, id, part, item.as_bytes())
            .await
            .unwrap();
    }
    let a = claimed(&store, "q", &CFG).await;
    assert_eq!(
        (a.partition.as_str(), a.item.as_slice(), a.attempts),
        ("A", &b"a1"[..], 1)
    );
    let b = claimed(&store, "q", &CFG).await;
    assert_eq!((b.partition.as_str(), b.item.as_slice()), ("B", &b"b1"[..]));
    // A is leased, B is leased: nothing else may be handed out.
    assert!(matches!(
        store.claim("q", &CFG).await.unwrap(),
        ClaimResult::Idle(Some(_))
    ));
    assert!(store.ack("q", &a, None).await.unwrap());
    let a2 = claimed(&store, "q", &CFG).await;
    assert_eq!(
        (a2.partition.as_str(), a2.item.as_slice(), a2.attempts),
        ("A", &b"a2"[..], 1)
    );
    assert!(store.ack("q", &a2, None).await.unwrap());
    assert!(store.ack("q", &b, None).await.unwrap());
    assert_eq!(
        store.claim("q", &CFG).await.unwrap(),
        ClaimResult::Idle(None)
    );
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A worker that dies loses its lease: the item is handed out again with a
/// higher attempt count, and the dead worker's late ack changes nothing.
async fn lease_expiry_redelivers(store: Store) {
    let cfg = QueueConfig {
        lease: Duration::from_millis(100),
        ..CFG
    };
    store
        .enqueue_once("q", &cfg, "1", "A", b"a1")
        .await
        .unwrap();
    let first = claimed(&store, "q", &cfg).await;
    let second = claimed_within(&store, "q", &cfg, Duration::from_secs(5)).await;
    assert_eq!(second.item, b"a1");
    assert_eq!(second.attempts, 2);
    assert!(
        !store.ack("q", &first, None).await.unwrap(),
        "stale lease must not ack"
    );
    assert!(store.ack("q", &second, None).await.unwrap());
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A released item comes back after its delay (counted as an attempt or
/// not, as asked); a dead-lettered one is kept aside with its reason,
/// counted, and can be replayed at the end of its partition.
async fn release_and_dead_letter(store: Store) {
    store
        .enqueue_once("q", &CFG, "1", "A", b"a1")
        .await
        .unwrap();
    let c = claimed(&store, "q", &CFG).await;
    assert!(
        store
            .release("q", &c, Duration::from_millis(50), true)
            .await
            .unwrap()
    );
    assert!(
        !store.ack("q", &c, None).await.unwrap(),
        "a released lease is gone"
    );
    let again = claimed_within(&store, "q", &CFG, Duration::from_secs(5)).await;
    assert_eq!((again.item.as_slice(), again.attempts), (&b"a1"[..], 2));
    assert!(
        store
            .release("q", &again, Duration::ZERO, false)
            .await
            .unwrap()
    );
    let waited = claimed_within(&store, "q", &CFG, Duration::from_secs(5)).await;
    assert_eq!(
        waited.attempts, 2,
        "a hand-out that only waited is not an attempt"
    );
    assert!(
        store
            .ack("q", &waited, Some("gave up: boom"))
            .await
            .unwrap()
    );
    assert_eq!(store.pending("q").await.unwrap(), 0);
    assert_eq!(store.dead_letter_count("q").await.unwrap(), 1);
    let dead = store.dead_letters("q", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].partition.as_str(),
            dead[0].item.as_slice(),
            dead[0].reason.as_str(),
            dead[0].attempts
        ),
        ("A", &b"a1"[..], "gave up: boom", 2)
    );
    assert!(dead[0].at_ms > 1_700_000_000_000, "a wall-clock time");
    // Replay: handed out again as new; the dead letter is gone.
    store
        .enqueue_once("q", &CFG, "2", "A", b"a2")
        .await
        .unwrap();
    assert!(
        store
            .replay_dead_letter("q", &CFG, &dead[0].id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .replay_dead_letter("q", &CFG, &dead[0].id)
            .await
            .unwrap()
    );
    assert_eq!(store.dead_letter_count("q").await.unwrap(), 0);
    let next = claimed(&store, "q", &CFG).await;
    assert_eq!(next.item, b"a2", "replayed at the end of its partition");
    assert!(store.ack("q", &next, None).await.unwrap());
    let replayed = claimed(&store, "q", &CFG).await;
    assert_eq!(
        (replayed.item.as_slice(), replayed.attempts),
        (&b"a1"[..], 1)
    );
    assert!(store.ack("q", &replayed, None).await.unwrap());
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A lease keeps its token through renewals; a renewed lease outlives its
/// first deadline; once taken over, the old token can neither renew nor
/// settle.
async fn lease_renewal(store: Store) {
    let cfg = QueueConfig {
        lease: Duration::from_millis(300),
        ..CFG
    };
    store
        .enqueue_once("q", &cfg, "1", "A", b"a1")
        .await
        .unwrap();
    let first = claimed(&store, "q", &cfg).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            store.renew("q", &[&first], cfg.lease).await.unwrap(),
            [true]
        );
    }
    assert!(
        matches!(store.claim("q", &cfg).await.unwrap(), ClaimResult::Idle(_)),
        "a renewed lease is not taken over"
    );
    // Stop renewing: another worker takes over after the lease.
    let second = claimed_within(&store, "q", &cfg, Duration::from_secs(5)).await;
    assert_eq!(second.attempts, 2);
    assert_ne!(second.token, first.token);
    assert_eq!(
        store
            .renew("q", &[&first, &second], cfg.lease)
            .await
            .unwrap(),
        [false, true]
    );
    assert!(!store.ack("q", &first, None).await.unwrap());
    assert!(store.ack("q", &second, None).await.unwrap());
}

/// A transaction's writes land together when its guards hold, and none of
/// them does when one fails; in one call, a refused transaction does not
/// hold back the others.
async fn transactions(store: Store) {
    let cfg = QueueConfig {
        lease: Duration::from_secs(30),
        ..CFG
    };
    let record = "{s}:record";
    let mut tx = Tx::new();
    tx.expect_rev(record, 0);
    tx.expect_absent("{s}:mark");
    tx.put_record(record, 1, b"one".to_vec())
        .set("{s}:mark", b"done", Some(Duration::from_secs(60)))
        .set_add("{s}:users", "7")
        .list_push("{s}:audit", b"a1".to_vec(), 10)
        .log_append("{s}:changes", b"c1".to_vec(), 100)
        .schedule("{s}:expiry", "7", 100)
        .incr("{s}:count", 2)
        .enqueue("{s}:notices", &cfg, "n1", "7", b"n1".to_vec())
        .enqueue("{s}:notices", &cfg, "n1", "7", b"again".to_vec());
    assert_eq!(store.commit(&tx).await.unwrap(), TxOutcome::Committed);
    assert_eq!(
        store.get_versioned(record).await.unwrap(),
        Some((1, b"one".to_vec()))
    );
    assert_eq!(store.get("{s}:mark").await.unwrap(), Some(b"done".to_vec()));
    assert!(store.set_contains("{s}:users", "7").await.unwrap());
    assert_eq!(store.set_len("{s}:users").await.unwrap(), 1);
    assert_eq!(
        store.list_tail("{s}:audit", 5).await.unwrap(),
        [b"a1".to_vec()]
    );
    assert_eq!(
        store.log_read("{s}:changes", None, 5).await.unwrap().len(),
        1
    );
    assert_eq!(store.due("{s}:expiry", 100, 5).await.unwrap(), ["7"]);
    assert_eq!(store.get("{s}:count").await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(
        store.pending("{s}:notices").await.unwrap(),
        1,
        "a repeated id within one commit is queued once"
    );

    // The same transaction again: the record moved on and the mark exists.
    assert_eq!(store.commit(&tx).await.unwrap(), TxOutcome::Refused(0));
    assert_eq!(store.get("{s}:count").await.unwrap(), Some(b"2".to_vec()));
    let mut only_mark = Tx::new();
    only_mark.expect_rev(record, 1);
    only_mark.expect_absent("{s}:mark");
    only_mark.incr("{s}:count", 1);
    assert_eq!(
        store.commit(&only_mark).await.unwrap(),
        TxOutcome::Refused(1)
    );
    assert_eq!(store.get("{s}:count").await.unwrap(), Some(b"2".to_vec()));

    // A lease guard, an ack and new work in one step; a stale claim's
    // transaction in the same call is refused alone.
    let claim = claimed(&store, "{s}:notices", &cfg).await;
    let mut stale = claim.clone();
    stale.token += 1;
    let mut settle = Tx::new();
    settle.ack("{s}:notices", &claim, None);
    settle
        .enqueue("{s}:outbox", &cfg, "o1", "7", b"reply".to_vec())
        .delete("{s}:mark")
        .set_remove("{s}:users", "7")
        .unschedule("{s}:expiry", "7");
    let mut refused = Tx::new();
    refused.ack("{s}:notices", &stale, None);
    refused.incr("{s}:count", 100);
    assert_eq!(
        store.commit_all(&[refused, settle]).await.unwrap(),
        [TxOutcome::Refused(0), TxOutcome::Committed]
    );
    assert_eq!(store.pending("{s}:notices").await.unwrap(), 0);
    assert_eq!(store.pending("{s}:outbox").await.unwrap(), 1);
    assert_eq!(store.get("{s}:mark").await.unwrap(), None);
    assert!(!store.set_contains("{s}:users", "7").await.unwrap());
    assert!(store.due("{s}:expiry", 100, 5).await.unwrap().is_empty());
    assert_eq!(store.get("{s}:count").await.unwrap(), Some(b"2".to_vec()));

    // Keys of one commit must share a scope (one Redis Cluster slot).
    let mut spread = Tx::new();
    spread.set("{a}:x", b"1", None).set("{b}:y", b"1", None);
    assert!(store.commit(&spread).await.is_err());
    assert_eq!(store.get("{a}:x").await.unwrap(), None);
}

/// A memoised rate-limit decision is the same however often it is asked
/// for the same item, and asking again consumes nothing.
async fn rate_limit_memo(store: Store) {
    let interval = Duration::from_secs(60);
    let memo = Duration::from_secs(60);
    let ask = async |id: &str| {
        store
            .rate_limit_once("u", interval, 1, id, memo)
            .await
            .unwrap()
    };
    assert_eq!(ask("update-1").await, RateDecision::Allowed);
    for _ in 0..3 {
        assert_eq!(
            ask("update-1").await,
            RateDecision::Allowed,
            "a retry of the same item is let through again"
        );
    }
    let limited = ask("update-2").await;
    assert!(matches!(limited, RateDecision::Limited { first: true, .. }));
    assert_eq!(
        ask("update-2").await,
        limited,
        "and a limited item stays limited, still 'first'"
    );
    assert_eq!(
        ask("update-1").await,
        RateDecision::Allowed,
        "an earlier item is still remembered after a later one was decided"
    );
    // A caller's last few decisions are remembered, not every one: an
    // item decided eight decisions ago is decided anew.
    for i in 3..11 {
        let decision = ask(&format!("update-{i}")).await;
        assert!(matches!(
            decision,
            RateDecision::Limited { first: false, .. }
        ));
    }
    assert!(matches!(
        ask("update-1").await,
        RateDecision::Limited { first: false, .. }
    ));
}

/// Checks asked at once (on one Redis node they go in one script call)
/// are decided as if one by one: each key's burst exactly, one "first"
/// each, and another key's budget untouched.
async fn rate_limits_together(store: Store) {
    let interval = Duration::from_secs(60);
    let memo = Duration::from_secs(60);
    let asks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = if i % 2 == 0 { "even" } else { "odd" };
                let id = format!("item-{i}");
                store.rate_limit_once(key, interval, 5, &id, memo).await
            })
        })
        .collect();
    let mut decisions = Vec::new();
    for ask in asks {
        decisions.push(ask.await.unwrap().unwrap());
    }
    for parity in 0..2 {
        let of_key: Vec<_> = decisions.iter().skip(parity).step_by(2).collect();
        let allowed = of_key
            .iter()
            .filter(|d| ***d == RateDecision::Allowed)
            .count();
        let firsts = of_key
            .iter()
            .filter(|d| matches!(***d, RateDecision::Limited { first: true, .. }))
            .count();
        assert_eq!((allowed, firsts), (5, 1), "{of_key:?}");
    }
    assert_eq!(
        store.rate_limit("other", interval, 5).await.unwrap(),
        RateDecision::Allowed
    );
}

/// GCRA: `burst` calls pass, then the caller is limited, told once.
async fn rate_limit(store: Store) {
    let interval = Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(
            store.rate_limit("u1", interval, 3).await.unwrap(),
            RateDecision::Allowed
        );
    }
    match store.rate_limit("u1", interval, 3).await.unwrap() {
        RateDecision::Limited { retry_after, first } => {
            assert!(first);
            assert!(
                retry_after > Duration::from_secs(50) && retry_after <= interval,
                "{retry_after:?}"
            );
        }
        RateDecision::Allowed => panic!("fourth call should be limited"),
    }
    assert!(matches!(
        store.rate_limit("u1", interval, 3).await.unwrap(),
        RateDecision::Limited { first: false, .. }
    ));
    // Another key has its own budget.
    assert_eq!(
        store.rate_limit("u2", interval, 3).await.unwrap(),
        RateDecision::Allowed
    );
}

/// Plain values with TTLs, set-if-absent and delete.
async fn values(store: Store) {
    assert_eq!(store.get("k").await.unwrap(), None);
    store.set("k", b"v", None).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()));
    assert!(
        !store
            .set_if_absent("k", b"w", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        store
            .set_if_absent("n", b"w", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(store.delete("k").await.unwrap());
    assert!(!store.delete("k").await.unwrap());
    store
        .set("short", b"v", Some(Duration::from_millis(30)))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.get("short").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "value never expired"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An older version never overwrites a newer one; the same version may be re-applied.
async fn versioned(store: Store) {
    assert!(store.put_if_newer("e", 20, b"new").await.unwrap());
    assert!(!store.put_if_newer("e", 10, b"old").await.unwrap());
    assert!(store.put_if_newer("e", 20, b"same").await.unwrap());
    assert_eq!(
        store.get_versioned("e").await.unwrap(),
        Some((20, b"same".to_vec()))
    );
    assert_eq!(store.get_versioned("missing").await.unwrap(), None);
}

/// Paced slots: each caller gets its own, `interval` apart.
async fn paced_slots(store: Store) {
    let interval = Duration::from_millis(100);
    let waits: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(store.reserve_slot("pace", interval).await.unwrap());
        }
        v
    };
    assert!(waits[0] < Duration::from_millis(20), "{waits:?}");
    for w in waits.windows(2) {
        let gap = w[1].saturating_sub(w[0]);
        assert!(
            gap > Duration::from_millis(80) && gap <= interval,
            "{waits:?}"
        );
    }
    assert!(waits[3] >= Duration::from_millis(250), "{waits:?}");
}

/// Sets, capped lists, schedules, counters.
async fn collections(store: Store) {
    assert_eq!(store.incr("n", 2).await.unwrap(), 2);
    assert_eq!(store.incr("n", 3).await.unwrap(), 5);
    assert_eq!(store.get("n").await.unwrap(), Some(b"5".to_vec()));
    assert!(store.set_add("users", "1").await.unwrap());
    assert!(!store.set_add("users", "1").await.unwrap());
    assert!(store.set_add("users", "2").await.unwrap());
    let mut members = store.set_members("users").await.unwrap();
    members.sort();
    assert_eq!(members, vec!["1", "2"]);
    assert!(store.set_remove("users", "1").await.unwrap());
    assert!(!store.set_remove("users", "1").await.unwrap());
    for i in 0..5 {
        store
            .list_push("audit", format!("e{i}").as_bytes(), 3)
            .await
            .unwrap();
    }
    let tail = store.list_tail("audit", 10).await.unwrap();
    assert_eq!(tail, vec![b"e2".to_vec(), b"e3".to_vec(), b"e4".to_vec()]);
    assert_eq!(
        store.list_tail("audit", 1).await.unwrap(),
        vec![b"e4".to_vec()]
    );
    store.schedule("expiry", "a", 100).await.unwrap();
    store.schedule("expiry", "b", 50).await.unwrap();
    store.schedule("expiry", "c", 500).await.unwrap();
    store.schedule("expiry", "a", 10).await.unwrap();
    assert_eq!(store.due("expiry", 100, 10).await.unwrap(), vec!["a", "b"]);
    assert_eq!(store.due("expiry", 100, 1).await.unwrap(), vec!["a"]);
    store.unschedule("expiry", "a").await.unwrap();
    assert_eq!(store.due("expiry", 1000, 10).await.unwrap(), vec!["b", "c"]);
    // A sorted walk resumes exactly after the last score seen.
    for id in [30, 10, 20] {
        store
            .schedule("ordered", &id.to_string(), id)
            .await
            .unwrap();
    }
    assert_eq!(
        store.sorted_after("ordered", 0, 2).await.unwrap(),
        [("10".to_owned(), 10), ("20".to_owned(), 20)]
    );
    assert_eq!(
        store.sorted_after("ordered", 20, 5).await.unwrap(),
        [("30".to_owned(), 30)]
    );
    assert!(
        store
            .sorted_after("ordered", 30, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.sorted_len("ordered").await.unwrap(), 3);
}

/// A log hands out entries in order and resumes after any id.
async fn change_log(store: Store) {
    assert_eq!(store.log_last_id("changes").await.unwrap(), None);
    let a = store.log_append("changes", b"a", 100).await.unwrap();
    let b = store.log_append("changes", b"b", 100).await.unwrap();
    store.log_append("changes", b"c", 100).await.unwrap();
    let all = store.log_read("changes", None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|(_, e)| e.as_slice()).collect::<Vec<_>>(),
        vec![&b"a"[..], b"b", b"c"]
    );
    let after_a = store.log_read("changes", Some(&a), 1).await.unwrap();
    assert_eq!(
        (after_a[0].0.as_str(), after_a[0].1.as_slice()),
        (b.as_str(), &b"b"[..])
    );
    let last = store.log_last_id("changes").await.unwrap().unwrap();
    assert!(
        store
            .log_read("changes", Some(&last), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.log_first_id("changes").await.unwrap(),
        Some(a.clone())
    );
    assert!(
        !store.log_gap_after("changes", &a).await.unwrap(),
        "nothing trimmed"
    );

    // A capped log trims its oldest entries (Redis in whole nodes of
    // ~100): a cursor among them has a gap after it, a kept one has not.
    let mut ids = Vec::new();
    for i in 0..250 {
        ids.push(
            store
                .log_append("capped", i.to_string().as_bytes(), 10)
                .await
                .unwrap(),
        );
    }
    let (first, last) = (&ids[0], &ids[ids.len() - 1]);
    let kept = store.log_first_id("capped").await.unwrap().unwrap();
    let k = ids.iter().position(|id| *id == kept).unwrap();
    assert!(k >= 2, "trimmed");
    assert!(store.log_gap_after("capped", first).await.unwrap());
    assert!(store.log_gap_after("capped", &ids[k - 2]).await.unwrap());
    assert!(!store.log_gap_after("capped", &kept).await.unwrap());
    assert!(!store.log_gap_after("capped", last).await.unwrap());
    assert!(store.log_gap_after("capped", "not a cursor").await.is_err());
}

/// The gauges' numbers: items, partitions, the oldest item's age (which
/// moves to the next head when one is settled), held and paused partitions
/// and the longest pause, dead letters.
async fn queue_stats(store: Store) {
    assert_eq!(
        store.queue_stats("q").await.unwrap(),
        mesh_state::QueueStats::default()
    );
    // a1 and a2 in one step: the same enqueue time.
    let span = tracing::Span::none();
    let new = |id, item| NewItem {
        id,
        partition: "A",
        item,
        remember_only: false,
        parent: &span,
    };
    store
        .enqueue_many("q", &CFG, &[new("1", b"a1"), new("2", b"a2")])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b_queued = std::time::Instant::now();
    store
        .enqueue_once("q", &CFG, "3", "B", b"b1")
        .await
        .unwrap();
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!((stats.items, stats.partitions), (3, 2));
    let oldest = stats.oldest_age.expect("an oldest item");
    assert!(oldest >= Duration::from_millis(250), "{oldest:?}");
    assert_eq!((stats.held, stats.paused), (0, 0));

    let a = claimed(&store, "q", &CFG).await;
    let b = claimed(&store, "q", &CFG).await;
    assert_eq!(
        (a.item.as_slice(), b.item.as_slice()),
        (&b"a1"[..], &b"b1"[..])
    );
    assert!(
        store
            .release("q", &b, Duration::from_secs(10), false)
            .await
            .unwrap()
    );
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!((stats.held, stats.paused), (1, 1));
    assert!(
        stats.longest_pause > Duration::from_secs(8)
            && stats.longest_pause <= Duration::from_secs(10),
        "{:?}",
        stats.longest_pause
    );

    // A's head settles; a2 was queued with a1, so the oldest is still A's.
    assert!(store.ack("q", &a, Some("gave up")).await.unwrap());
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!(
        (stats.items, stats.partitions, stats.dead_letters),
        (2, 2, 1)
    );
    assert!(stats.oldest_age.unwrap() >= oldest);
    let a2 = claimed(&store, "q", &CFG).await;
    assert!(store.ack("q", &a2, None).await.unwrap());
    // Only b1 (queued 300 ms later) is left.
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!((stats.items, stats.partitions, stats.held), (1, 1, 0));
    let left = stats.oldest_age.unwrap();
    assert!(
        left <= b_queued.elapsed() + Duration::from_millis(50),
        "{left:?}: b1's age, not a1's"
    );
}

/// Sequence ids (Telegram's update_ids) are remembered as bits: repeats
/// within a batch and across batches, ids out of order within a segment, a
/// restarted sequence far away, and other ids (keys) in the same queue;
/// marks expire a TTL after their segment's last write.
async fn sequence_dedup(store: Store) {
    let cfg = QueueConfig {
        sequence_ids: true,
        ..CFG
    };
    use Enqueued::{Duplicate, New};
    let span = tracing::Span::none();
    let item = |id: &'static str| NewItem {
        id,
        partition: "A",
        item: id.as_bytes(),
        remember_only: false,
        parent: &span,
    };
    let got = store
        .enqueue_many(
            "q",
            &cfg,
            &[item("100"), item("101"), item("100"), item("n1")],
        )
        .await
        .unwrap();
    assert_eq!(got, [New, New, Duplicate, New]);
    let got = store
        .enqueue_many(
            "q",
            &cfg,
            &[item("5000"), item("4999"), item("101"), item("n1")],
        )
        .await
        .unwrap();
    assert_eq!(got, [New, New, Duplicate, Duplicate]);
    // Telegram restarts the sequence at a random far value.
    let got = store
        .enqueue_many(
            "q",
            &cfg,
            &[item("987654321"), item("4999"), item("987654320")],
        )
        .await
        .unwrap();
    assert_eq!(got, [New, Duplicate, New]);
    assert_eq!(store.pending("q").await.unwrap(), 7);
    // Marks live a TTL past their segment's last write.
    let short = QueueConfig {
        dedup_ttl: Duration::from_millis(200),
        ..cfg
    };
    assert_eq!(
        store.enqueue_many("s", &short, &[item("7")]).await.unwrap(),
        [New]
    );
    assert_eq!(
        store.enqueue_many("s", &short, &[item("7")]).await.unwrap(),
        [Duplicate]
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.enqueue_many("s", &short, &[item("7")]).await.unwrap(),
        [New]
    );
}

/// Ids of items that need no work are remembered and nothing is queued:
/// a retry of one is a duplicate, the queued items of the same batch keep
/// their order (several of one partition in one batch), and only queued
/// items are counted, claimed and acknowledged.
async fn remembered_only(store: Store) {
    let cfg = QueueConfig {
        sequence_ids: true,
        ..CFG
    };
    let span = tracing::Span::none();
    let new = |id: &'static str, partition: &'static str, remember_only: bool| NewItem {
        id,
        partition,
        item: id.as_bytes(),
        remember_only,
        parent: &span,
    };
    use Enqueued::{Duplicate, New};
    let got = store
        .enqueue_many(
            "q",
            &cfg,
            &[
                new("1", "A", false),
                new("2", "A", true),
                new("3", "B", true),
                new("4", "A", false),
                new("x", "C", true),
                new("5", "A", false),
                new("2", "A", false),
            ],
        )
        .await
        .unwrap();
    assert_eq!(got, [New, New, New, New, New, New, Duplicate]);
    assert_eq!(store.pending("q").await.unwrap(), 3);
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!((stats.items, stats.partitions), (3, 1));
    let got = store
        .enqueue_many(
            "q",
            &cfg,
            &[
                new("3", "B", false),
                new("x", "C", false),
                new("6", "B", true),
            ],
        )
        .await
        .unwrap();
    assert_eq!(got, [Duplicate, Duplicate, New]);
    let mut seen = Vec::new();
    while let Claims::Claimed(claims) = store.claim_many("q", &cfg, 10).await.unwrap() {
        assert_eq!(claims.len(), 1, "only A has work");
        let claim = &claims[0];
        seen.push(String::from_utf8(claim.item.clone()).unwrap());
        let mut tx = Tx::new();
        tx.ack("q", claim, None);
        assert_eq!(store.commit(&tx).await.unwrap(), TxOutcome::Committed);
    }
    assert_eq!(seen, ["1", "4", "5"]);
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// Acknowledgements committed together, with what follows them in the same
/// call: the next item of the same partition (a broadcast's next step), a
/// second partition whose next item waits, a stale lease of a partition
/// acknowledged earlier in the call (refused: it must see that ack), and a
/// dead letter. Counts, partitions and attempts come out right.
async fn acks_with_follow_ups(store: Store) {
    for (id, part) in [("j1", "J"), ("x1", "X"), ("x2", "X"), ("d1", "D")] {
        store
            .enqueue_once("q", &CFG, id, part, id.as_bytes())
            .await
            .unwrap();
    }
    let Claims::Claimed(claims) = store.claim_many("q", &CFG, 10).await.unwrap() else {
        panic!("expected claims");
    };
    assert_eq!(claims.len(), 3);
    let of = |p: &str| claims.iter().find(|c| c.partition == p).unwrap().clone();
    let (j, x, d) = (of("J"), of("X"), of("D"));
    let mut next_step = Tx::new();
    next_step.ack("q", &j, None);
    next_step.enqueue("q", &CFG, "j2", "J", b"j2".to_vec());
    let mut ack_x = Tx::new();
    ack_x.ack("q", &x, None);
    let mut stale = Tx::new();
    stale.release("q", &j, Duration::ZERO, true);
    let mut dead = Tx::new();
    dead.ack("q", &d, Some("unreadable"));
    assert_eq!(
        store
            .commit_all(&[next_step, ack_x, stale, dead])
            .await
            .unwrap(),
        [
            TxOutcome::Committed,
            TxOutcome::Committed,
            TxOutcome::Refused(0),
            TxOutcome::Committed
        ]
    );
    assert_eq!(store.pending("q").await.unwrap(), 2);
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!(
        (
            stats.items,
            stats.partitions,
            stats.held,
            stats.dead_letters
        ),
        (2, 2, 0, 1)
    );
    let Claims::Claimed(mut next) = store.claim_many("q", &CFG, 10).await.unwrap() else {
        panic!("expected the next items");
    };
    next.sort_by(|a, b| a.partition.cmp(&b.partition));
    let got: Vec<(&str, &[u8], u32)> = next
        .iter()
        .map(|c| (c.partition.as_str(), c.item.as_slice(), c.attempts))
        .collect();
    assert_eq!(got, [("J", &b"j2"[..], 1), ("X", &b"x2"[..], 1)]);
}

suite!(
    dedup,
    batches,
    partition_order_and_exclusivity,
    lease_expiry_redelivers,
    release_and_dead_letter,
    lease_renewal,
    transactions,
    rate_limit,
    rate_limit_memo,
    rate_limits_together,
    values,
    versioned,
    collections,
    change_log,
    paced_slots,
    queue_stats,
    sequence_dedup,
    remembered_only,
    acks_with_follow_ups,
    unmarked_enqueue,
    set_writes_in_order,
);

/// An enqueue committed without a de-dup mark is queued and leaves no
/// mark behind (a later enqueue of its id goes in too); a marked one in a
/// transaction refuses its id later.
async fn unmarked_enqueue(store: Store) {
    let unmarked = QueueConfig {
        dedup_ttl: Duration::ZERO,
        ..CFG
    };
    let mut tx = Tx::new();
    tx.enqueue("q", &unmarked, "r1", "P", b"one".to_vec())
        .enqueue("q", &CFG, "r2", "P", b"two".to_vec());
    assert!(store.commit(&tx).await.unwrap().committed());
    assert_eq!(store.pending("q").await.unwrap(), 2);
    assert_eq!(
        store
            .enqueue_once("q", &CFG, "r1", "P", b"again")
            .await
            .unwrap(),
        Enqueued::New,
        "no mark was kept for r1"
    );
    assert_eq!(
        store
            .enqueue_once("q", &CFG, "r2", "P", b"again")
            .await
            .unwrap(),
        Enqueued::Duplicate
    );
    assert_eq!(store.pending("q").await.unwrap(), 3);
    let ClaimResult::Claimed(first) = store.claim("q", &CFG).await.unwrap() else {
        panic!("expected an item");
    };
    assert_eq!(first.item, b"one");
}

/// Set additions and removals in one call land in the order given, however
/// the backend groups them: a removal before an addition of the same
/// member leaves it in, an addition before a removal leaves it out, and a
/// refused transaction's removal does nothing.
async fn set_writes_in_order(store: Store) {
    let set = "{s}:blocked";
    store.set_add(set, "1").await.unwrap();
    store.set_add(set, "2").await.unwrap();
    let (mut a, mut b, mut c, mut d) = (Tx::new(), Tx::new(), Tx::new(), Tx::new());
    a.set_remove(set, "1").set_remove(set, "2");
    b.set_add(set, "1");
    c.expect_absent("{s}:never-absent");
    c.set_remove(set, "1");
    d.set_add(set, "3")
        .set_remove(set, "3")
        .set_remove(set, "4");
    store.set("{s}:never-absent", b"x", None).await.unwrap();
    assert_eq!(
        store.commit_all(&[a, b, c, d]).await.unwrap(),
        [
            TxOutcome::Committed,
            TxOutcome::Committed,
            TxOutcome::Refused(0),
            TxOutcome::Committed
        ]
    );
    let mut members = store.set_members(set).await.unwrap();
    members.sort();
    assert_eq!(members, ["1"]);
}
