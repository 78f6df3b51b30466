//! The members as a business: the numbers (from counters, never a walk
//! over users), segments for broadcasts (a page of users at a time), and
//! the full export.

use std::collections::HashMap;

use futures::future::try_join_all;
use mesh_proto::billing::v1::*;

use crate::clock::now;
use crate::counters::{self, Daily};
use crate::entitlement::{Record, State};
use crate::error::BillingError;
use crate::ledger::{keys, month_of};
use crate::service::{Billing, MemberStream};

/// The most users one SelectSegment call looks at.
const MAX_SEGMENT_PAGE: usize = 1000;

/// How many records an export reads at once.
const EXPORT_BATCH: usize = 200;

/// The window of the "last 30 days" numbers.
const WINDOW_DAYS: i64 = 30;

/// Whether a user, as `record` stands at `now`, is in `segment`.
fn in_segment(segment: Segment, record: &Record, view: &crate::entitlement::View) -> bool {
    match segment {
        Segment::All => true,
        Segment::Active => view.has_access && matches!(view.state, State::Active | State::Canceled),
        Segment::Trialing => view.state == State::Trialing,
        Segment::PastDue => view.state == State::PastDue,
        Segment::Expired => view.state == State::Expired,
        Segment::NeverPaid => !record.ever_paid && !view.has_access,
        Segment::Unspecified => false,
    }
}

impl Billing {
    pub(crate) async fn stats(&self) -> Result<GetStatsResponse, BillingError> {
        let store = self.ledger.store();
        let at = now();
        let mut by_plan = HashMap::new();
        let plans = self.ledger.terms().plans.all().iter().map(|p| p.id.clone());
        // "" counts access through a plan the file no longer lists.
        for plan in plans.chain([String::new()]) {
            let n = self.ledger.counter(&keys::plan_count(&plan)).await?;
            if n > 0 {
                by_plan.insert(plan, n);
            }
        }
        let mut by_state = HashMap::new();
        for state in State::COUNTED {
            let n = self
                .ledger
                .counter(&keys::state_count(state.name()))
                .await?;
            if n > 0 {
                by_state.insert(state.name().to_owned(), n);
            }
        }
        let window = |what| counters::window(store, what, at, WINDOW_DAYS);
        let (joined, left, started, completed) = tokio::try_join!(
            window(Daily::Joined),
            window(Daily::Left),
            window(Daily::CheckoutStarted),
            window(Daily::CheckoutCompleted),
        )?;
        let (stars_monthly, stars_last_30_days) =
            counters::stars_revenue(store, at, WINDOW_DAYS).await?;
        Ok(GetStatsResponse {
            stars_monthly,
            stars_last_30_days,
            known_users: store.set_len(keys::USERS).await?,
            with_access: by_plan.values().sum(),
            with_access_by_plan: by_plan,
            churned_this_month: store.set_len(&keys::churned(&month_of(at))).await?,
            by_state,
            mrr: counters::monthly_revenue(store)
                .await?
                .into_iter()
                .map(|(currency, monthly_amount)| Revenue {
                    currency,
                    monthly_amount,
                })
                .collect(),
            new_last_30_days: joined,
            churned_last_30_days: left,
            checkouts_started_last_30_days: started,
            checkouts_completed_last_30_days: completed,
        })
    }

    pub(crate) async fn segment(
        &self,
        r: SelectSegmentRequest,
    ) -> Result<SelectSegmentResponse, BillingError> {
        let segment = r.segment();
        if segment == Segment::Unspecified {
            return Err(BillingError::InvalidArgument("no segment".into()));
        }
        if r.telegram_user_ids.len() > MAX_SEGMENT_PAGE {
            return Err(BillingError::InvalidArgument(format!(
                "at most {MAX_SEGMENT_PAGE} users per call"
            )));
        }
        if segment == Segment::All {
            return Ok(SelectSegmentResponse {
                telegram_user_ids: r.telegram_user_ids,
            });
        }
        let terms = self.ledger.terms();
        let at = now();
        // The reads go out together (one pipelined round trip's worth).
        let records =
            try_join_all(r.telegram_user_ids.iter().map(|u| self.ledger.read(*u))).await?;
        let telegram_user_ids = records
            .into_iter()
            .filter(|(_, record)| {
                let view = record.view(at, terms.grace, &terms.plans);
                in_segment(segment, record, &view)
            })
            .map(|(_, record)| record.user_id)
            .collect();
        Ok(SelectSegmentResponse { telegram_user_ids })
    }

    pub(crate) async fn export(&self) -> Result<MemberStream, BillingError> {
        let mut users: Vec<i64> = self
            .ledger
            .store()
            .set_members(keys::USERS)
            .await?
            .iter()
            .filter_map(|u| u.parse().ok())
            .collect();
        users.sort_unstable();
        let ledger = self.ledger.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(EXPORT_BATCH);
        tokio::spawn(async move {
            for batch in users.chunks(EXPORT_BATCH) {
                let read = try_join_all(batch.iter().map(|u| ledger.read(*u))).await;
                let records = match read {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(tonic::Status::from(e))).await;
                        return;
                    }
                };
                let terms = ledger.terms();
                for (_, record) in records {
                    let member = Member {
                        entitlement: Some(record.to_proto(now(), terms.grace, &terms.plans)),
                        ever_paid: record.ever_paid,
                    };
                    if tx.send(Ok(member)).await.is_err() {
                        return; // the caller went away
                    }
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entitlement::View;

    /// Segments read the state and whether the user ever paid.
    #[test]
    fn segments() {
        let mut r = Record::none(1);
        let view = |state, has_access| View {
            state,
            has_access,
            ..View::default()
        };
        assert!(in_segment(
            Segment::NeverPaid,
            &r,
            &view(State::None, false)
        ));
        assert!(!in_segment(
            Segment::NeverPaid,
            &r,
            &view(State::Trialing, true)
        ));
        assert!(in_segment(
            Segment::Trialing,
            &r,
            &view(State::Trialing, true)
        ));
        assert!(in_segment(
            Segment::Active,
            &r,
            &view(State::Canceled, true)
        ));
        assert!(!in_segment(
            Segment::Active,
            &r,
            &view(State::Expired, false)
        ));
        r.ever_paid = true;
        assert!(!in_segment(
            Segment::NeverPaid,
            &r,
            &view(State::Expired, false)
        ));
        assert!(in_segment(
            Segment::Expired,
            &r,
            &view(State::Expired, false)
        ));
    }
}
