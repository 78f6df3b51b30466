//! The ledger's rules, one source at a time.

use super::*;
use crate::plans::{PlanSpec, Plans};
use crate::purchase::Term;
use crate::stripe_api::SubscriptionView;

fn plans() -> Plans {
    Plans::new(
        crate::plans::PlansFile {
            plans: vec![PlanSpec {
                id: "monthly".into(),
                name: "M".into(),
                description: "D".into(),
                stripe_price_id: "price_m".into(),
                trial_days: 0,
                chats: vec![-100],
                mode: crate::plans::Mode::Subscription,
                duration_days: None,
                price_display: None,
                stars_price: None,
            }],
            chats: Vec::new(),
        },
        vec![-100],
    )
}

fn sub(id: &str, status: &str, created: i64) -> SubscriptionView {
    SubscriptionView {
        id: id.into(),
        customer: "cus_1".into(),
        status: status.into(),
        cancel_at_period_end: false,
        current_period_end: Some(1000),
        price_id: Some("price_m".into()),
        telegram_user_id: Some(1),
        plan_id: None,
        created,
        price: None,
        had_trial: false,
        latest_invoice: None,
    }
}

/// Stripe statuses map to states; access follows state, grace and period end.
#[test]
fn states_and_access() {
    let p = plans();
    let mut r = Record::none(1);
    assert_eq!(r.view(100, 10, &p).state, State::None);
    assert!(r.observe(&sub("sub_1", "active", 1), &p, 1_000, false, 100));
    let v = r.view(100, 10, &p);
    assert_eq!(
        (v.state, v.has_access, v.renews, v.chats.as_slice()),
        (State::Active, true, true, &[-100][..])
    );
    assert!(r.trial_used);
    assert!(r.observe(&sub("sub_1", "past_due", 1), &p, 2_000, false, 100));
    assert!(r.view(105, 10, &p).has_access);
    assert!(!r.view(110, 10, &p).has_access, "grace over");
    assert_eq!(r.lapses_at(100, 10, 5), Some(110));
    let mut canceled = sub("sub_1", "active", 1);
    canceled.cancel_at_period_end = true;
    assert!(r.observe(&canceled, &p, 3_000, false, 120));
    assert_eq!(r.view(999, 10, &p).state, State::Canceled);
    assert!(!r.view(999, 10, &p).renews);
    assert_eq!(r.view(1000, 10, &p).state, State::Expired);
}

/// Reads no newer than the kept one change nothing; an old, ended
/// subscription can't end a newer one.
#[test]
fn older_reads_never_win() {
    let p = plans();
    let mut r = Record::none(1);
    assert!(r.observe(&sub("sub_new", "active", 10), &p, 5_000, false, 1));
    assert!(!r.observe(&sub("sub_new", "canceled", 10), &p, 4_000, false, 1));
    assert!(
        !r.observe(&sub("sub_new", "canceled", 10), &p, 5_000, false, 1),
        "equal versions don't overwrite"
    );
    assert!(r.observe(&sub("sub_old", "canceled", 5), &p, 9_000, false, 1));
    assert_eq!(r.view(1, 0, &p).state, State::Active, "kept apart");
    assert_eq!(r.current_sub().map(|s| s.id.as_str()), Some("sub_new"));
}

/// A grant extends access past the paid end and never shortens it;
/// revoking the grant alone restores the paid state.
#[test]
fn grants_extend_and_revoke_restores() {
    let p = plans();
    let mut r = Record::none(1);
    let mut paid = sub("sub_1", "active", 1);
    paid.cancel_at_period_end = true;
    paid.current_period_end = Some(50 * 86_400);
    assert!(r.observe(&paid, &p, 1, false, 0));
    r.grant("monthly", 10, "telegram:9", 0);
    let v = r.view(0, 0, &p);
    assert_eq!(v.until, Some(50 * 86_400), "the paid end is later: kept");
    r.grant("monthly", 60, "telegram:9", 0);
    assert_eq!(r.view(0, 0, &p).until, Some(70 * 86_400), "grants add up");
    assert!(r.view(60 * 86_400, 0, &p).has_access, "past the paid end");
    r.revoke(true, 0);
    let v = r.view(0, 0, &p);
    assert_eq!((v.state, v.until), (State::Canceled, Some(50 * 86_400)));
    r.grant("monthly", 1, "telegram:9", 0);
    r.revoke(false, 0);
    assert_eq!(r.view(0, 0, &p).state, State::Expired);
}

/// A dispute hold suspends access; lifting it restores it.
#[test]
fn holds_suspend() {
    let p = plans();
    let mut r = Record::none(1);
    assert!(r.observe(&sub("sub_1", "active", 1), &p, 1, false, 0));
    r.suspend("dp_1", Paying::Subscription("sub_1".into()), 5);
    let v = r.view(6, 0, &p);
    assert_eq!(
        (v.state, v.has_access, v.chats.len()),
        (State::Suspended, false, 0)
    );
    assert_eq!(r.release("dp_other"), None);
    assert_eq!(
        r.release("dp_1"),
        Some(Paying::Subscription("sub_1".into()))
    );
    assert!(r.view(6, 0, &p).has_access);
}

/// A refund or a lost dispute ends what its own payment bought: an old
/// subscription's refund leaves a later lifetime pass and a newer
/// subscription alone; a hold on one payment leaves the others open.
#[test]
fn refunds_end_only_what_they_paid_for() {
    let p = plans();
    let mut r = Record::none(1);
    assert!(r.observe(&sub("sub_old", "canceled", 1), &p, 1, false, 0));
    r.purchase(&crate::purchase::Paid {
        plan_id: "monthly".into(),
        days: None,
        session: "cs_1".into(),
        payment_intent: Some("pi_1".into()),
        paid_at: 10,
        stars: None,
    });
    assert!(r.observe(&sub("sub_new", "active", 20), &p, 2, false, 0));
    assert!(r.end_paid(&Paying::Subscription("sub_old".into())));
    let v = r.view(30, 0, &p);
    assert_eq!((v.state, v.has_access), (State::Active, true));
    assert!(r.end_paid(&Paying::Subscription("sub_new".into())));
    let v = r.view(30, 0, &p);
    assert!(v.has_access && v.lifetime, "the pass stays: {v:?}");
    assert!(!r.end_paid(&Paying::Subscription("sub_unknown".into())));
    r.suspend("dp_9", Paying::Purchase("pi_1".into()), 40);
    assert_eq!(r.view(41, 0, &p).state, State::Suspended);
    r.release("dp_9");
    assert!(r.end_paid(&Paying::Purchase("pi_1".into())));
    assert_eq!(r.view(41, 0, &p).state, State::Expired);
}

/// A record stored by the previous version (one subscription, one
/// aggregated purchase, one hold) reads into the ledger.
#[test]
fn earlier_records_read_into_the_ledger() {
    let old = serde_json::json!({
        "user_id": 7,
        "subscription": {"id": "sub_1", "status": "active", "created": 1},
        "purchase": {"plan_id": "monthly", "until": 5000, "sessions": ["cs_1"], "payment_intents": ["pi_1"]},
        "hold": {"dispute_id": "dp_1", "since": 3},
    });
    let r: Record = serde_json::from_value(old).unwrap();
    assert_eq!(r.subscriptions.len(), 1);
    assert_eq!(r.purchases[0].term, Term::Until(5000));
    assert_eq!(r.holds[0].holds, Paying::Everything);
    let again: Record = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
    assert_eq!(again, r, "the new shape round-trips");
}
