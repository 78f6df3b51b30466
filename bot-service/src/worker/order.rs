//! The order a lease's run settles in: items finish in any order, side by
//! side, and are settled in the order they were handed out.

use std::collections::{BTreeMap, HashMap};

use super::Handled;

/// Where a lease's run stands: the next position to settle, and the items
/// finished after it, waiting for it.
#[derive(Default)]
pub(super) struct Run {
    next: u32,
    waiting: BTreeMap<u32, Handled>,
}

/// Files `handled` under its lease's run and moves what is now next in
/// line (in run order) to `ready`. A partition's own claim is a run of one.
pub(super) fn place(order: &mut HashMap<String, Run>, ready: &mut Vec<Handled>, handled: Handled) {
    let pos = handled.claim.lane.as_ref().map_or(0, |l| l.pos);
    let run = order.entry(handled.claim.lease().to_owned()).or_default();
    run.waiting.insert(pos, handled);
    while let Some(next) = run.waiting.remove(&run.next) {
        run.next += 1;
        ready.push(next);
    }
}
