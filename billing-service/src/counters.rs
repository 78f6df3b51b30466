//! The business in numbers, kept as transitions happen so `/stats` reads
//! a few dozen counters and never walks the users: members per state and
//! plan (in the ledger), recurring revenue per currency, and per day the
//! members gained and lost and the Checkout sessions started and
//! completed, summed over a rolling window.

use std::time::Duration;

use mesh_state::{Store, StoreError, Tx};

/// Day counters outlive the 30-day window a little, then expire.
const DAY_TTL: Duration = Duration::from_secs(40 * 86_400);

/// What is counted per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daily {
    /// A user gained access.
    Joined,
    /// A user lost access.
    Left,
    /// A Checkout session was created.
    CheckoutStarted,
    /// A Checkout session was paid (or started a trial).
    CheckoutCompleted,
}

impl Daily {
    fn name(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Left => "left",
            Self::CheckoutStarted => "checkout_started",
            Self::CheckoutCompleted => "checkout_completed",
        }
    }
}

/// The counter of `what` on the day of unix time `at`.
fn day_key(what: Daily, at: i64) -> String {
    format!(
        "{{billing}}:count:day:{}:{}",
        what.name(),
        at.div_euclid(86_400)
    )
}

/// The currencies revenue has been counted in.
pub const CURRENCIES: &str = "{billing}:currencies";

/// Yearly recurring revenue in `currency`, smallest unit.
fn revenue_key(currency: &str) -> String {
    format!("{{billing}}:count:revenue:{currency}")
}

/// Stars a month from renewing Stars subscriptions.
const STARS_MONTHLY: &str = "{billing}:count:stars_monthly";

/// Stars paid (less refunds) on the day of unix time `at`.
fn stars_day_key(at: i64) -> String {
    format!("{{billing}}:count:day:stars:{}", at.div_euclid(86_400))
}

/// Moves a user's Stars counters from `before` to `after` in `tx`: the
/// monthly Stars of a renewing subscription, and what was paid today.
pub fn stars(tx: &mut Tx, before: (u64, i64), after: (u64, i64), at: i64) {
    let monthly = i64::try_from(after.0).unwrap_or(0) - i64::try_from(before.0).unwrap_or(0);
    if monthly != 0 {
        tx.incr(STARS_MONTHLY, monthly);
    }
    let paid = after.1 - before.1;
    if paid != 0 {
        tx.incr_expiring(&stars_day_key(at), paid, DAY_TTL);
    }
}

/// Stars a month (renewing Stars subscriptions) and Stars paid over the
/// last `days` days.
pub async fn stars_revenue(store: &Store, now: i64, days: i64) -> Result<(u64, i64), StoreError> {
    let monthly = u64::try_from(read(store, STARS_MONTHLY).await?).unwrap_or(0);
    let counts = futures::future::try_join_all((0..days).map(|d| {
        let key = stars_day_key(now - d * 86_400);
        async move { read(store, &key).await }
    }))
    .await?;
    Ok((monthly, counts.iter().sum()))
}

/// Counts one `what` at `at` in `tx`.
pub fn bump(tx: &mut Tx, what: Daily, at: i64) {
    tx.incr_expiring(&day_key(what, at), 1, DAY_TTL);
}

/// Moves a user's yearly revenue from `before` to `after` in `tx`.
pub fn revenue(tx: &mut Tx, before: Option<&(String, i64)>, after: Option<&(String, i64)>) {
    if before == after {
        return;
    }
    if let Some((currency, yearly)) = before {
        tx.incr(&revenue_key(currency), -yearly);
    }
    if let Some((currency, yearly)) = after {
        tx.incr(&revenue_key(currency), *yearly);
        tx.set_add(CURRENCIES, currency);
    }
}

async fn read(store: &Store, key: &str) -> Result<i64, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The sum of `what` over the `days` days up to and including `now`'s.
/// The days are read together: on Redis they go out pipelined on one
/// connection, a round trip for the window rather than one a day.
pub async fn window(store: &Store, what: Daily, now: i64, days: i64) -> Result<u64, StoreError> {
    let counts = futures::future::try_join_all((0..days).map(|d| {
        let key = day_key(what, now - d * 86_400);
        async move { read(store, &key).await }
    }))
    .await?;
    Ok(u64::try_from(counts.iter().sum::<i64>()).unwrap_or(0))
}

/// Monthly recurring revenue per currency (smallest unit; a twelfth of
/// the yearly counter).
pub async fn monthly_revenue(store: &Store) -> Result<Vec<(String, f64)>, StoreError> {
    let mut out = Vec::new();
    let mut currencies = store.set_members(CURRENCIES).await?;
    currencies.sort();
    for currency in currencies {
        let yearly = read(store, &revenue_key(&currency)).await?;
        if yearly > 0 {
            out.push((currency, yearly as f64 / 12.0));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days bucket by UTC day; a window sums its days and ignores older.
    #[tokio::test]
    async fn windows_and_revenue() {
        let store = Store::memory();
        let day = 86_400;
        let now = 100 * day + 5;
        let mut tx = Tx::new();
        bump(&mut tx, Daily::Joined, now);
        bump(&mut tx, Daily::Joined, now - 29 * day);
        bump(&mut tx, Daily::Joined, now - 30 * day);
        bump(&mut tx, Daily::Left, now);
        revenue(&mut tx, None, Some(&("usd".into(), 11_988)));
        revenue(&mut tx, None, Some(&("usd".into(), 9_999)));
        revenue(
            &mut tx,
            Some(&("usd".into(), 9_999)),
            Some(&("eur".into(), 1_200)),
        );
        store.commit(&tx).await.unwrap();
        assert_eq!(window(&store, Daily::Joined, now, 30).await.unwrap(), 2);
        assert_eq!(window(&store, Daily::Left, now, 30).await.unwrap(), 1);
        assert_eq!(
            monthly_revenue(&store).await.unwrap(),
            vec![("eur".to_owned(), 100.0), ("usd".to_owned(), 999.0)]
        );
    }
}
