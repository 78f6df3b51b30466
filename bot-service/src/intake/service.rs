//! `bot.v1.BotService`: durable acceptance of updates and notices, and
//! the dead letters.

use std::sync::Arc;

use mesh_proto::bot::v1::bot_service_server::BotService;
use mesh_proto::bot::v1::{
    AcceptUpdateRequest, AcceptUpdateResponse, AcceptUpdatesRequest, AcceptUpdatesResponse,
    BatchedOutcome, DeadLetter, ListDeadLettersRequest, ListDeadLettersResponse,
    NotifyEntitlementRequest, NotifyEntitlementResponse, ReplayDeadLettersRequest,
    ReplayDeadLettersResponse,
};
use mesh_state::{Enqueued, NewItem, QueueConfig, Store};
use mesh_telemetry::grpc::{Side, record_grpc_status};
use prost::Message;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::admin::dead_letters;
use crate::error::BotError;
use crate::intake::chatter;
use crate::intake::envelope::{self, Kind};
use crate::intake::partition;
use crate::intake::precheckout::{self, PreCheckout};
use crate::keys;

/// The gRPC service.
pub struct Bot {
    store: Store,
    queue: QueueConfig,
    username: Option<String>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    pre_checkout: Option<PreCheckout>,
}

impl Bot {
    /// A service storing work in `store` and waking local workers (and
    /// senders, after a replay of outbox calls); `username` is the bot's,
    /// which tells group chatter from commands for it.
    pub fn new(
        store: Store,
        queue: QueueConfig,
        username: Option<String>,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            queue,
            username,
            wake,
            outbox_wake,
            pre_checkout: None,
        }
    }

    /// The same service, answering pre-checkout queries as they are
    /// accepted.
    pub fn with_pre_checkout(mut self, pre_checkout: PreCheckout) -> Self {
        self.pre_checkout = Some(pre_checkout);
        self
    }
}

/// One raw Telegram update to accept, as webhooks and polling deliver it.
pub struct Incoming<'a> {
    /// The update's JSON, stored untouched.
    pub json: &'a [u8],
    /// The `update_id` the caller read from it, checked when given.
    pub claimed_id: Option<i64>,
    /// The span of the call that delivered it: the worker continues its trace.
    pub span: tracing::Span,
}

/// What became of one [`Incoming`] update: its id and whether it was a
/// duplicate, or why it was refused.
pub type Outcome = Result<(i64, bool), String>;

/// Most updates one [`accept_updates`] call takes (a getUpdates page holds
/// 100; the gateway sends at most this many per call).
pub const MAX_BATCH: usize = 512;

/// Accepts raw Telegram updates in one atomic store write (one Redis round
/// trip however many there are); outcomes in the order of `updates`. An
/// update that is not a Telegram update is refused alone; a store failure
/// fails them all (none was accepted). Group chatter (see
/// [`chatter::ignorable`], `username` being the bot's) is only remembered
/// as seen: it needs no work, so it costs no queue writes. So is a
/// pre-checkout query that `pre_checkout` answered before the store write
/// (one it could not answer is queued like any update).
pub async fn accept_updates(
    store: &Store,
    queue: &QueueConfig,
    username: Option<&str>,
    wake: &Notify,
    pre_checkout: Option<&PreCheckout>,
    updates: &[Incoming<'_>],
) -> Result<Vec<Outcome>, BotError> {
    struct Located {
        index: usize,
        update_id: i64,
        id: String,
        partition: String,
        item: Vec<u8>,
        chatter: bool,
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(updates.len());
    let mut read = Vec::with_capacity(updates.len());
    for (index, update) in updates.iter().enumerate() {
        match partition::read(update.json) {
            Err(_) => outcomes.push(Err("update_json is not a Telegram update".into())),
            Ok(l)
                if update
                    .claimed_id
                    .is_some_and(|claimed| claimed != l.update_id) =>
            {
                outcomes.push(Err("update_id does not match update_json".into()));
            }
            Ok(location) => {
                outcomes.push(Ok((location.update_id, false)));
                read.push((index, location));
            }
        }
    }
    // The batch's pre-checkout queries are answered together, each bounded
    // well inside the gateway's deadline: one after another, a batch of
    // many under load would outlast it (and all its updates be answered
    // 503). A query not answered in time goes through the queue.
    let asked = pre_checkout.is_some() && read.iter().any(|(_, l)| l.pre_checkout);
    let answers = if !asked {
        // The common batch: nothing to answer, nothing to wait for.
        vec![false; read.len()]
    } else {
        futures::future::join_all(read.iter().map(|(index, location)| {
            let update = &updates[*index];
            async move {
                let (true, Some(answerer)) = (location.pre_checkout, pre_checkout) else {
                    return false;
                };
                let Some(query) = precheckout::read(update.json) else {
                    return false;
                };
                tokio::time::timeout(
                    precheckout::AT_ACCEPTANCE,
                    answerer.answer(&query).instrument(update.span.clone()),
                )
                .await
                .unwrap_or(false)
            }
        }))
        .await
    };
    let mut located = Vec::with_capacity(read.len());
    for ((index, location), answered) in read.into_iter().zip(answers) {
        let update = &updates[index];
        let chatter = answered || chatter::is_chatter(&location, username);
        let item = if chatter {
            Vec::new()
        } else {
            let traceparent = update.span.in_scope(mesh_telemetry::current_traceparent);
            envelope::seal(Kind::Update, &traceparent, update.json)
        };
        located.push(Located {
            index,
            update_id: location.update_id,
            id: location.update_id.to_string(),
            partition: location.partition,
            item,
            chatter,
        });
    }
    let items: Vec<NewItem<'_>> = located
        .iter()
        .map(|l| NewItem {
            id: &l.id,
            partition: &l.partition,
            item: &l.item,
            remember_only: l.chatter,
            parent: &updates[l.index].span,
        })
        .collect();
    let enqueued = store.enqueue_many(keys::UPDATES, queue, &items).await?;
    // Acknowledged only once the replicas asked for hold it (a failover
    // must not lose an update Telegram will not send again); duplicates
    // too, as this may retry an accept whose wait fell short. Chatter
    // needs nothing done, so losing its mark loses nothing.
    if located.iter().any(|l| !l.chatter) {
        store.replicated(keys::UPDATES, "accept").await?;
    }
    let (mut fresh, mut chatter, mut work) = (0, 0, false);
    for (l, e) in located.iter().zip(enqueued) {
        let duplicate = e == Enqueued::Duplicate;
        fresh += u64::from(!duplicate);
        chatter += u64::from(!duplicate && l.chatter);
        work |= !l.chatter;
        outcomes[l.index] = Ok((l.update_id, duplicate));
    }
    // A duplicate may be the retry of an accept whose reply (and wake) was
    // lost: wake a worker for it too.
    if work {
        wake.notify_one();
    }
    metrics::counter!("bot_updates_chatter_total").increment(chatter);
    let duplicates = located.len() as u64 - fresh;
    metrics::counter!("bot_updates_accepted_total", "duplicate" => "false").increment(fresh);
    metrics::counter!("bot_updates_accepted_total", "duplicate" => "true").increment(duplicates);
    Ok(outcomes)
}

/// Accepts one raw Telegram update (see [`accept_updates`]), in the
/// current span's trace.
pub async fn accept_update(
    store: &Store,
    queue: &QueueConfig,
    username: Option<&str>,
    wake: &Notify,
    pre_checkout: Option<&PreCheckout>,
    update: &[u8],
    claimed_id: Option<i64>,
) -> Result<(i64, bool), BotError> {
    let incoming = Incoming {
        json: update,
        claimed_id,
        span: tracing::Span::current(),
    };
    let outcome = accept_updates(store, queue, username, wake, pre_checkout, &[incoming]).await?;
    match outcome.into_iter().next() {
        Some(Ok(accepted)) => Ok(accepted),
        Some(Err(reason)) => Err(BotError::InvalidArgument(reason)),
        None => Err(BotError::InvalidArgument("no update".into())),
    }
}

#[tonic::async_trait]
impl BotService for Bot {
    async fn accept_update(
        &self,
        request: Request<AcceptUpdateRequest>,
    ) -> Result<Response<AcceptUpdateResponse>, Status> {
        let request = request.into_inner();
        let (_, duplicate) = accept_update(
            &self.store,
            &self.queue,
            self.username.as_deref(),
            &self.wake,
            self.pre_checkout.as_ref(),
            &request.update_json,
            Some(request.update_id),
        )
        .await?;
        Ok(Response::new(AcceptUpdateResponse { duplicate }))
    }

    async fn accept_updates(
        &self,
        request: Request<AcceptUpdatesRequest>,
    ) -> Result<Response<AcceptUpdatesResponse>, Status> {
        let batch = request.into_inner().updates;
        if batch.is_empty() || batch.len() > MAX_BATCH {
            return Err(BotError::InvalidArgument(format!(
                "a call carries 1 to {MAX_BATCH} updates, not {}",
                batch.len()
            ))
            .into());
        }
        let incoming: Vec<Incoming<'_>> = batch
            .iter()
            .map(|b| Incoming {
                json: b.update.as_ref().map_or(&b""[..], |u| &u.update_json[..]),
                claimed_id: Some(b.update.as_ref().map_or(0, |u| u.update_id)),
                span: mesh_telemetry::grpc_item_span(
                    "bot.v1.BotService",
                    "AcceptUpdates",
                    &b.traceparent,
                ),
            })
            .collect();
        let outcomes = match accept_updates(
            &self.store,
            &self.queue,
            self.username.as_deref(),
            &self.wake,
            self.pre_checkout.as_ref(),
            &incoming,
        )
        .await
        {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let status = Status::from(e);
                for update in &incoming {
                    record_grpc_status(&update.span, status.code(), Side::Server);
                }
                return Err(status);
            }
        };
        let outcomes = outcomes
            .into_iter()
            .zip(&incoming)
            .map(|(outcome, update)| match outcome {
                Ok((_, duplicate)) => {
                    record_grpc_status(&update.span, tonic::Code::Ok, Side::Server);
                    BatchedOutcome {
                        duplicate,
                        invalid: String::new(),
                    }
                }
                Err(invalid) => {
                    // This one update's own answer is "invalid argument".
                    record_grpc_status(&update.span, tonic::Code::InvalidArgument, Side::Server);
                    BatchedOutcome {
                        duplicate: false,
                        invalid,
                    }
                }
            })
            .collect();
        Ok(Response::new(AcceptUpdatesResponse { outcomes }))
    }

    async fn notify_entitlement(
        &self,
        request: Request<NotifyEntitlementRequest>,
    ) -> Result<Response<NotifyEntitlementResponse>, Status> {
        let notice = request.into_inner();
        if notice.notice_id.is_empty() || notice.telegram_user_id <= 0 {
            return Err(BotError::InvalidArgument(
                "a notice needs an id and a positive user id".into(),
            )
            .into());
        }
        // Queued in the user's own chat partition: it is handled in order
        // with what the user sends.
        let item = envelope::seal(
            Kind::Notice,
            &mesh_telemetry::current_traceparent(),
            &notice.encode_to_vec(),
        );
        let outcome = self
            .store
            .enqueue_once(
                keys::UPDATES,
                &self.queue,
                &format!("notice:{}", notice.notice_id),
                &keys::chat_partition(notice.telegram_user_id),
                &item,
            )
            .await
            .map_err(BotError::from)?;
        self.store
            .replicated(keys::UPDATES, "notice")
            .await
            .map_err(BotError::from)?;
        let duplicate = outcome == Enqueued::Duplicate;
        self.wake.notify_one();
        metrics::counter!("bot_notices_accepted_total", "kind" => notice.kind().as_str_name())
            .increment(1);
        Ok(Response::new(NotifyEntitlementResponse { duplicate }))
    }

    async fn list_dead_letters(
        &self,
        request: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        let r = request.into_inner();
        let limit = match r.limit {
            0 => 100,
            n => n.min(1000) as usize,
        };
        let mut dead_letters: Vec<DeadLetter> = Vec::new();
        let mut totals = std::collections::HashMap::new();
        for name in dead_letters::queues(&r.queue)? {
            let queue = dead_letters::queue_key(name)?;
            for letter in self
                .store
                .dead_letters(queue, limit)
                .await
                .map_err(BotError::from)?
            {
                dead_letters.push(dead_letters::describe(name, letter));
            }
            // Counted after listing: one kept meanwhile raises the total,
            // so it is never below what is listed.
            totals.insert(
                name.to_owned(),
                self.store
                    .dead_letter_count(queue)
                    .await
                    .map_err(BotError::from)?,
            );
        }
        Ok(Response::new(ListDeadLettersResponse {
            dead_letters,
            totals,
        }))
    }

    async fn replay_dead_letters(
        &self,
        request: Request<ReplayDeadLettersRequest>,
    ) -> Result<Response<ReplayDeadLettersResponse>, Status> {
        let r = request.into_inner();
        let queue = dead_letters::queue_key(&r.queue)?;
        // The outbox keeps a list per chat (no lanes); updates go back to
        // their lanes.
        let config = if queue == keys::UPDATES {
            self.queue
        } else {
            QueueConfig::default()
        };
        let replayed = dead_letters::replay(&self.store, queue, &config, &r.ids)
            .await
            .map_err(BotError::from)?;
        if replayed > 0 {
            self.wake.notify_one();
            self.outbox_wake.notify_one();
        }
        tracing::info!(queue = %r.queue, replayed, "dead letters replayed");
        Ok(Response::new(ReplayDeadLettersResponse { replayed }))
    }
}
