//! limiter: the Redis side.
//!
//! Flood checks are many and small: every handled message asks one. Each
//! as its own script call cost Redis a call's setup and the mesh a round
//! trip per update, so on a single node the checks that arrive while a call
//! is out go together in the next one (`gcra.lua` decides them in order,
//! as if called one by one). No library batches script calls by key like
//! this; it is a channel and one task. A Redis Cluster gets one call per
//! check: a script's keys must share a slot, and users' keys do not.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use redis::Script;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::limiter::RateDecision;
use crate::redis_backend::*;

pub(crate) static GCRA: LazyLock<Script> = LazyLock::new(|| script(include_str!("gcra.lua")));

pub(crate) static RESERVE: LazyLock<Script> = LazyLock::new(|| script(include_str!("reserve.lua")));

/// Most checks in one script call.
const MOST: usize = 64;

/// One check's two keys and four arguments (see `gcra.lua`).
struct Ask {
    keys: [String; 2],
    args: (u64, u32, u64, String),
}

/// A check waiting for the next call, and where its answer goes.
struct Check {
    ask: Ask,
    reply: oneshot::Sender<Result<RateDecision, StoreError>>,
}

/// The queue of checks waiting for the next call, made on first use (its
/// task needs the runtime) and ended when the last handle is dropped. Like
/// the store's connection, it lives on the runtime that first used it.
#[derive(Default)]
pub(crate) struct Batcher(OnceLock<mpsc::UnboundedSender<Check>>);

impl Batcher {
    fn sender(&self, conn: &Conn) -> &mpsc::UnboundedSender<Check> {
        self.0.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(drain(conn.clone(), rx));
            tx
        })
    }
}

/// Decides `asks` in one script call, in their order.
async fn decide<'a>(
    conn: &mut Conn,
    asks: impl Iterator<Item = &'a Ask>,
) -> Result<Vec<RateDecision>, StoreError> {
    let mut invocation = GCRA.prepare_invoke();
    let mut n = 0;
    for Ask { keys, args } in asks {
        let (interval, burst, ttl, id) = args;
        invocation
            .key(&keys[0])
            .key(&keys[1])
            .arg(interval)
            .arg(burst)
            .arg(ttl)
            .arg(id);
        n += 1;
    }
    let values: Vec<i64> = invocation.invoke_async(conn).await?;
    if values.len() != 3 * n {
        return Err(StoreError::Protocol(format!(
            "rate limit: {} values for {n} checks",
            values.len()
        )));
    }
    Ok(values
        .chunks_exact(3)
        .map(|v| decision(v[0], v[1], v[2]))
        .collect())
}

/// Sends what is queued, one call at a time: while a call is out, the
/// checks that arrive meanwhile gather for the next.
async fn drain(mut conn: Conn, mut rx: mpsc::UnboundedReceiver<Check>) {
    let mut batch = Vec::with_capacity(MOST);
    while rx.recv_many(&mut batch, MOST).await > 0 {
        match decide(&mut conn, batch.iter().map(|c| &c.ask)).await {
            Ok(decisions) => {
                for (check, d) in batch.drain(..).zip(decisions) {
                    let _ = check.reply.send(Ok(d));
                }
            }
            Err(e) => {
                for check in batch.drain(..) {
                    let _ = check.reply.send(Err(copy(&e)));
                }
            }
        }
    }
}

/// The batching task is gone (its runtime ended).
fn stopped() -> StoreError {
    StoreError::Unavailable("rate limiter stopped".into())
}

/// A failure told to every check of the call, each as retryable as the
/// original (its text kept: it never carries the URL).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
        StoreError::Protocol(m) => StoreError::Protocol(m.clone()),
        other => StoreError::Protocol(other.to_string()),
    }
}

fn decision(allowed: i64, wait: i64, first: i64) -> RateDecision {
    if allowed == 1 {
        RateDecision::Allowed
    } else {
        RateDecision::Limited {
            retry_after: Duration::from_millis(wait.unsigned_abs()),
            first: first == 1,
        }
    }
}

impl RedisBackend {
    pub(crate) async fn rate_limit(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        memo: Option<(&str, Duration)>,
    ) -> Result<RateDecision, StoreError> {
        let tag = format!("{p}:{{{p}:rl:{key}}}", p = self.prefix);
        let keys = [format!("{tag}:tat"), format!("{tag}:notice")];
        let (ttl, id) = memo.map_or((0, String::new()), |(id, ttl)| (ms(ttl), id.to_owned()));
        let ask = Ask {
            keys,
            args: (ms(interval), burst.max(1), ttl, id),
        };
        if let Conn::Cluster(_) = self.conn {
            let mut c = self.conn.clone();
            let decided = decide(&mut c, std::iter::once(&ask)).await?;
            return decided
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Protocol("rate limit: no answer".into()));
        }
        let (reply, answer) = oneshot::channel();
        self.limits
            .sender(&self.conn)
            .send(Check { ask, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        let mut c = self.conn.clone();
        let micros = u64::try_from(interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let wait: i64 = RESERVE
            .key(format!("{p}:{{{p}:slot:{key}}}", p = self.prefix))
            .arg(micros)
            .invoke_async(&mut c)
            .await?;
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
