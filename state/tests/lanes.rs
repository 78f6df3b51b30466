//! The lane queue (`QueueConfig::lanes`), on every backend: runs keep each
//! chat's order, settle in order and once, hand a waiting chat to a list of
//! its own without holding up the lane, move on after a crash, and keep
//! dead letters and replays in their chat's order.

// Helpers outside #[test] functions unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::claimed_within;
use mesh_state::{Claim, ClaimResult, Claims, QueueConfig, Store, Tx, TxOutcome};

const LANES: QueueConfig = QueueConfig {
    dedup_ttl: Duration::from_secs(60),
    lease: Duration::from_secs(30),
    sequence_ids: false,
    lanes: 1,
};

async fn enqueue(store: &Store, cfg: &QueueConfig, items: &[(&str, &str)]) {
    for (id, partition) in items {
        store
            .enqueue_once("q", cfg, id, partition, id.as_bytes())
            .await
            .unwrap();
    }
}

async fn claim_all(store: &Store, cfg: &QueueConfig) -> Vec<Claim> {
    match store.claim_many("q", cfg, 100).await.unwrap() {
        Claims::Claimed(claims) => claims,
        Claims::Idle(wait) => panic!("expected claims, idle for {wait:?}"),
    }
}

fn items(claims: &[Claim]) -> Vec<&str> {
    claims
        .iter()
        .map(|c| std::str::from_utf8(&c.item).unwrap())
        .collect()
}

fn acks(claims: &[Claim]) -> Vec<Tx> {
    claims
        .iter()
        .map(|c| {
            let mut tx = Tx::new();
            tx.ack("q", c, None);
            tx
        })
        .collect()
}

async fn idle(store: &Store, cfg: &QueueConfig) -> Option<Duration> {
    match store.claim_many("q", cfg, 100).await.unwrap() {
        Claims::Idle(wait) => wait,
        Claims::Claimed(claims) => panic!("expected nothing, got {:?}", items(&claims)),
    }
}

/// A run hands out many chats' items in arrival order, each lane leased
/// once; a held lane's later items wait for it; settling the run in order
/// gives the lane back.
async fn runs_keep_chat_order(store: Store) {
    let cfg = QueueConfig { lanes: 3, ..LANES };
    let sent = [
        ("a1", "A"),
        ("b1", "B"),
        ("a2", "A"),
        ("c1", "C"),
        ("a3", "A"),
    ];
    enqueue(&store, &cfg, &sent).await;
    let claims = claim_all(&store, &cfg).await;
    assert_eq!(claims.len(), 5);
    for partition in ["A", "B", "C"] {
        let got: Vec<&str> = claims
            .iter()
            .filter(|c| c.partition == partition)
            .map(|c| std::str::from_utf8(&c.item).unwrap())
            .collect();
        let want: Vec<&str> = sent
            .iter()
            .filter(|(_, p)| *p == partition)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(got, want, "partition {partition} in order");
    }
    for c in &claims {
        let slot = c.lane.as_ref().unwrap();
        let run: Vec<&Claim> = claims.iter().filter(|o| o.lease() == c.lease()).collect();
        assert_eq!(slot.run as usize, run.len());
        assert_eq!(run[slot.pos as usize], c, "positions follow the run");
        assert_eq!(c.attempts, 1);
        assert_eq!(
            c.lease(),
            claims
                .iter()
                .find(|o| o.partition == c.partition)
                .unwrap()
                .lease()
        );
    }
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!(stats.items, 5);
    assert!(stats.held >= 1, "the leased lanes are held");
    // A held lane hands out nothing more, even for a new chat.
    enqueue(&store, &cfg, &[("a4", "A")]).await;
    assert!(idle(&store, &cfg).await.is_some());
    let outcomes = store.commit_all(&acks(&claims)).await.unwrap();
    assert!(outcomes.iter().all(|o| o.committed()), "{outcomes:?}");
    let next = claim_all(&store, &cfg).await;
    assert_eq!(items(&next), ["a4"]);
    assert!(store.commit_all(&acks(&next)).await.unwrap()[0].committed());
    assert_eq!(store.pending("q").await.unwrap(), 0);
    assert_eq!(idle(&store, &cfg).await, None);
}

/// A run settles in order and each item once: an item ahead of its turn is
/// refused, and so is a settle tried again after its first try landed (the
/// lease is still held then, so only the run's position tells).
async fn settles_in_order_once(store: Store) {
    enqueue(&store, &LANES, &[("a1", "A"), ("b1", "B"), ("c1", "C")]).await;
    let run = claim_all(&store, &LANES).await;
    assert_eq!(items(&run), ["a1", "b1", "c1"]);
    let txs = acks(&run);
    assert_eq!(
        store.commit(&txs[1]).await.unwrap(),
        TxOutcome::Refused(0),
        "ahead of its turn"
    );
    assert!(store.commit(&txs[0]).await.unwrap().committed());
    assert_eq!(
        store.commit(&txs[0]).await.unwrap(),
        TxOutcome::Refused(0),
        "a second try of a landed settle"
    );
    assert_eq!(store.pending("q").await.unwrap(), 2);
    // The rest in one call, with a refused repeat in the middle.
    let outcomes = store
        .commit_all(&[txs[1].clone(), txs[1].clone(), txs[2].clone()])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            TxOutcome::Committed,
            TxOutcome::Refused(0),
            TxOutcome::Committed
        ]
    );
    assert_eq!(store.pending("q").await.unwrap(), 0);
    assert!(
        !store.renew("q", &[&run[2]], LANES.lease).await.unwrap()[0],
        "the lane was given back"
    );
    assert_eq!(idle(&store, &LANES).await, None);
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!((stats.items, stats.held, stats.partitions), (0, 0, 0));
}

/// A chat handed back for later (a retry) moves to a list of its own with
/// its later items, in order, while the lane goes on with other chats; once
/// that list is drained the chat's items use the lane again.
async fn parked_chat_leaves_the_lane(store: Store) {
    enqueue(&store, &LANES, &[("a1", "A"), ("b1", "B"), ("a2", "A")]).await;
    let run = claim_all(&store, &LANES).await;
    assert_eq!(items(&run), ["a1", "b1", "a2"]);
    let mut park = Tx::new();
    park.release("q", &run[0], Duration::from_millis(300), true);
    let mut ack = Tx::new();
    ack.ack("q", &run[1], None);
    // A settle's own enqueue (a next step) lands in the lane too.
    ack.enqueue("q", &LANES, "b2", "B", b"b2".to_vec());
    let mut follow = Tx::new();
    follow.follow("q", &run[2]);
    let outcomes = store.commit_all(&[park, ack, follow]).await.unwrap();
    assert!(outcomes.iter().all(|o| o.committed()), "{outcomes:?}");
    enqueue(&store, &LANES, &[("a3", "A"), ("c1", "C")]).await;
    // A waits; its new item goes behind its parked ones, the lane goes on.
    let next = claim_all(&store, &LANES).await;
    assert_eq!(items(&next), ["b2", "c1"]);
    assert!(next.iter().all(|c| c.lane.is_some()));
    assert!(
        store
            .commit_all(&acks(&next))
            .await
            .unwrap()
            .iter()
            .all(|o| o.committed())
    );
    assert_eq!(store.pending("q").await.unwrap(), 3);
    let stats = store.queue_stats("q").await.unwrap();
    assert_eq!(stats.paused, 1, "A waits out its delay");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let c = claimed_within(&store, "q", &LANES, Duration::from_secs(5)).await;
        assert_eq!((c.partition.as_str(), c.lane.is_none()), ("A", true));
        if seen.is_empty() {
            assert_eq!(c.attempts, 2, "the retry counts");
        }
        seen.push(String::from_utf8(c.item.clone()).unwrap());
        assert!(store.ack("q", &c, None).await.unwrap());
    }
    assert_eq!(seen, ["a1", "a2", "a3"]);
    enqueue(&store, &LANES, &[("a4", "A")]).await;
    let back = claim_all(&store, &LANES).await;
    assert_eq!(items(&back), ["a4"]);
    assert!(back[0].lane.is_some(), "drained: A is back in its lane");
    assert!(store.commit_all(&acks(&back)).await.unwrap()[0].committed());
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A worker that dies mid-run loses its lane when the lease runs out: the
/// unsettled rest is handed out again (the first of it as a retry), and the
/// dead worker can neither settle nor renew.
async fn takeover_resumes_the_run(store: Store) {
    let cfg = QueueConfig {
        lease: Duration::from_millis(150),
        ..LANES
    };
    enqueue(&store, &cfg, &[("a1", "A"), ("b1", "B"), ("c1", "C")]).await;
    let run = claim_all(&store, &cfg).await;
    let txs = acks(&run);
    assert!(store.commit(&txs[0]).await.unwrap().committed());
    let rest = claimed_within(&store, "q", &cfg, Duration::from_secs(5)).await;
    assert_eq!((rest.item.as_slice(), rest.attempts), (&b"b1"[..], 2));
    let slot = rest.lane.clone().unwrap();
    assert_eq!((slot.pos, slot.run), (0, 1), "claimed one at a time here");
    assert_eq!(store.commit(&txs[1]).await.unwrap(), TxOutcome::Refused(0));
    assert!(!store.renew("q", &[&run[1]], cfg.lease).await.unwrap()[0]);
    assert!(store.ack("q", &rest, None).await.unwrap());
    let last = claimed_within(&store, "q", &cfg, Duration::from_secs(5)).await;
    assert_eq!((last.item.as_slice(), last.attempts), (&b"c1"[..], 1));
    assert!(store.ack("q", &last, None).await.unwrap());
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A dead letter from a lane keeps its chat and bare item; replayed, it
/// goes back into its lane behind the chat's newer items.
async fn dead_letters_from_lanes(store: Store) {
    let cfg = QueueConfig { lanes: 4, ..LANES };
    enqueue(&store, &cfg, &[("a1", "A"), ("a2", "A")]).await;
    let run = claim_all(&store, &cfg).await;
    let mut dead = Tx::new();
    dead.ack("q", &run[0], Some("unreadable"));
    let outcomes = store
        .commit_all(&[dead, acks(&run)[1].clone()])
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| o.committed()), "{outcomes:?}");
    let letters = store.dead_letters("q", 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].partition.as_str(),
            letters[0].item.as_slice(),
            letters[0].reason.as_str(),
            letters[0].attempts
        ),
        ("A", &b"a1"[..], "unreadable", 1)
    );
    enqueue(&store, &cfg, &[("a3", "A")]).await;
    assert!(
        store
            .replay_dead_letter("q", &cfg, &letters[0].id)
            .await
            .unwrap()
    );
    let again = claim_all(&store, &cfg).await;
    assert_eq!(items(&again), ["a3", "a1"]);
    assert!(again.iter().all(|c| c.partition == "A" && c.lane.is_some()));
    assert!(
        store
            .commit_all(&acks(&again))
            .await
            .unwrap()
            .iter()
            .all(|o| o.committed())
    );
    assert_eq!(store.pending("q").await.unwrap(), 0);
}

/// A partition name that could pass for a lane (or break a lane entry
/// apart) is refused before anything is stored.
async fn control_bytes_refused(store: Store) {
    assert!(
        store
            .enqueue_once("q", &LANES, "1", "\u{1}lane:0", b"x")
            .await
            .is_err()
    );
    let mut tx = Tx::new();
    tx.enqueue("q", &LANES, "2", "a\u{2}b", b"x".to_vec());
    assert!(store.commit(&tx).await.is_err());
    assert_eq!(store.pending("q").await.unwrap(), 0);
    assert!(matches!(
        store.claim("q", &LANES).await.unwrap(),
        ClaimResult::Idle(None)
    ));
}

suite!(
    runs_keep_chat_order,
    settles_in_order_once,
    parked_chat_leaves_the_lane,
    takeover_resumes_the_run,
    dead_letters_from_lanes,
    control_bytes_refused,
);
