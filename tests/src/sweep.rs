//! Fault sweeps: a flow run once per failure point.
//!
//! A flow is recorded once without faults: the store commands it issues, by
//! signature and occurrence ([`crate::fault_proxy`]). Then, for every one of
//! them and both ways of failing ([`Mode`]), the flow runs again for a fresh
//! subject (a new user) with that command failing: the sender retries as
//! Telegram or Stripe would, the mesh recovers, and the flow's check
//! asserts that every effect happened exactly once. A point whose fault did
//! not fire (the flow took another path this time) is tried again, up to
//! three times; a point that never fires fails the sweep, so the sweep
//! cannot silently test less than it claims. The sweep is exhaustive (no
//! sampling), so there is no seed to print.

use std::time::Duration;

use mesh_state::Store;

use crate::fault_proxy::{FaultProxy, Mode, points};

/// What a sweep covered.
#[derive(Debug)]
pub struct Coverage {
    /// Distinct failure points of the flow (command occurrences).
    pub points: usize,
    /// Runs with a fault that fired, out of `points * 2`.
    pub fired: usize,
}

/// Waits until nothing is queued or in flight in any of `queues` for a
/// moment: the mesh has done everything the flow caused.
pub async fn quiet(store: &Store, queues: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut calm_since: Option<tokio::time::Instant> = None;
    loop {
        let mut busy = false;
        for q in queues {
            busy |= store.pending(q).await.map_or(true, |n| n > 0);
        }
        let now = tokio::time::Instant::now();
        match (busy, calm_since) {
            (true, _) => calm_since = None,
            (false, None) => calm_since = Some(now),
            (false, Some(since)) if now - since >= Duration::from_millis(150) => return,
            (false, Some(_)) => {}
        }
        assert!(now < deadline, "the mesh did not settle within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sweeps a flow. `setup(n)` makes subject `n` ready (and waits for the
/// mesh to settle), `act` drives the flow the way its sender would,
/// `settle` waits for the mesh to finish, `check` asserts exactly-once
/// effects (its second argument names the run in failure messages).
pub async fn sweep<T>(
    name: &str,
    proxy: &FaultProxy,
    setup: impl AsyncFn(u64) -> T,
    act: impl AsyncFn(&T),
    settle: impl AsyncFn(),
    check: impl AsyncFn(&T, String),
) -> Coverage {
    let mut subject = 0;
    let mut run = async |armed: Option<(&str, usize, Mode)>| -> bool {
        subject += 1;
        let t = setup(subject).await;
        settle().await;
        if std::env::var_os("SWEEP_VERBOSE").is_some() {
            println!("  {name}: subject {subject}, armed {armed:?}");
        }
        match armed {
            Some((sig, k, mode)) => proxy.arm(sig, k, mode),
            None => proxy.record(),
        }
        act(&t).await;
        settle().await;
        proxy.disarm();
        let label = match armed {
            Some((sig, k, mode)) => format!("{name}: {mode:?} at {sig} #{k}"),
            None => format!("{name}: no fault"),
        };
        check(&t, label).await;
        proxy.fired()
    };
    // The first run warms up (scripts loaded, connections made); the
    // second is the recording.
    run(None).await;
    run(None).await;
    let log = proxy.recorded();
    let all = points(&log);
    if std::env::var_os("SWEEP_VERBOSE").is_some() {
        for (sig, k) in &all {
            println!("  {name}: {sig} #{k}");
        }
    }
    assert!(!all.is_empty(), "{name}: the flow issued no store command");
    let mut fired = 0;
    let mut never = Vec::new();
    // SWEEP_ONLY=<text> runs only the points whose label contains it
    // (debugging one failure with TEST_LOG set).
    let only = std::env::var("SWEEP_ONLY").ok();
    for (sig, k) in &all {
        for mode in [Mode::Before, Mode::ReplyLost] {
            let label = format!("{mode:?} at {sig} #{k}");
            if only.as_ref().is_some_and(|o| !label.contains(o.as_str())) {
                continue;
            }
            let mut hit = false;
            for _ in 0..3 {
                if run(Some((sig, *k, mode))).await {
                    hit = true;
                    break;
                }
            }
            if hit {
                fired += 1;
            } else {
                never.push(label);
            }
        }
    }
    println!(
        "sweep {name}: {} failure points x 2 modes, {fired} runs with the fault fired; every effect exactly once",
        all.len()
    );
    assert!(
        never.is_empty(),
        "{name}: faults that never fired: {never:?}"
    );
    Coverage {
        points: all.len(),
        fired,
    }
}
