//! Customers, Checkout sessions, the customer portal and subscriptions.

use std::collections::HashMap;

use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    ExpireCheckoutSession, ListCheckoutSession,
};
use stripe_core::customer::CreateCustomer;
use stripe_shared::CheckoutSessionMode;

use super::*;
use crate::error::BillingError;

impl StripeApi {
    /// Creates the Stripe customer of a Telegram user.
    pub async fn create_customer(&self, telegram_user_id: i64) -> Result<String, BillingError> {
        let metadata =
            HashMap::from([("telegram_user_id".to_owned(), telegram_user_id.to_string())]);
        let request = CreateCustomer::new()
            .description(format!("Telegram user {telegram_user_id}"))
            .metadata(metadata);
        let customer = self
            .call(
                "customers.create",
                &request,
                Some(&format!("customer-tg{telegram_user_id}")),
            )
            .await?;
        Ok(customer.id.as_str().to_owned())
    }

    /// Creates a Checkout session: subscription mode, or payment mode for
    /// a one-time plan (its days bought kept in the metadata, so what was
    /// paid for is what is granted whatever the plans file says later).
    pub async fn create_checkout(
        &self,
        p: &CheckoutParams<'_>,
        idempotency: &str,
    ) -> Result<CheckoutLink, BillingError> {
        let mut metadata = HashMap::from([
            (
                "telegram_user_id".to_owned(),
                p.telegram_user_id.to_string(),
            ),
            ("plan_id".to_owned(), p.plan_id.to_owned()),
        ]);
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(p.price_id.to_owned());
        line.quantity = Some(1);
        let mut request = CreateCheckoutSession::new()
            .customer(p.customer)
            .client_reference_id(p.telegram_user_id.to_string())
            .line_items(vec![line])
            .allow_promotion_codes(true)
            .success_url(p.success_url)
            .cancel_url(p.cancel_url);
        match p.one_time {
            None => {
                let mut subscription = CreateCheckoutSessionSubscriptionData::new();
                subscription.metadata = Some(metadata.clone());
                if p.trial_days > 0 {
                    subscription.trial_period_days = Some(p.trial_days);
                }
                request = request
                    .mode(CheckoutSessionMode::Subscription)
                    .subscription_data(subscription);
            }
            Some(days) => {
                metadata.insert(
                    "duration_days".to_owned(),
                    days.map_or_else(|| "0".to_owned(), |d| d.to_string()),
                );
                request = request.mode(CheckoutSessionMode::Payment);
            }
        }
        let request = request.metadata(metadata);
        let session = self
            .call("checkout.sessions.create", &request, Some(idempotency))
            .await?;
        let url = session.url.ok_or_else(|| {
            BillingError::Internal("Stripe returned a Checkout session without a URL".into())
        })?;
        Ok(CheckoutLink {
            id: session.id.as_str().to_owned(),
            url,
            expires_at: session.expires_at,
        })
    }

    /// Creates a customer-portal session.
    pub async fn create_portal(
        &self,
        customer: &str,
        return_url: &str,
        idempotency: &str,
    ) -> Result<String, BillingError> {
        let request = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        Ok(self
            .call(
                "billing_portal.sessions.create",
                &request,
                Some(idempotency),
            )
            .await?
            .url)
    }

    /// Reads a subscription (the truth, whatever order events came in).
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionView, BillingError> {
        let sub = self
            .call(
                "subscriptions.retrieve",
                &RetrieveSubscription::new(id),
                None,
            )
            .await?;
        Ok(SubscriptionView::from(&sub))
    }

    /// Sets a subscription to cancel at period end (`cancel`) or to renew
    /// again (`!cancel`). `idempotency` must name this one request: a key
    /// reused for a later, identical request would only replay the first.
    pub async fn set_cancel_at_period_end(
        &self,
        id: &str,
        cancel: bool,
        idempotency: &str,
    ) -> Result<SubscriptionView, BillingError> {
        let request = UpdateSubscription::new(id).cancel_at_period_end(cancel);
        let sub = self
            .call("subscriptions.update", &request, Some(idempotency))
            .await?;
        Ok(SubscriptionView::from(&sub))
    }

    /// Expires an open Checkout session (it can't be paid any more). One
    /// that is no longer open (paid, or expired already) is left as it is.
    pub async fn expire_checkout(&self, id: &str) -> Result<(), BillingError> {
        match self
            .call(
                "checkout.sessions.expire",
                &ExpireCheckoutSession::new(id),
                Some(&format!("expire-{id}")),
            )
            .await
        {
            Ok(_) | Err(BillingError::AlreadyDone(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Cancels a subscription now (a terminal action: one key per
    /// subscription is right, a replay answers the same). Done once is done:
    /// when Stripe refuses because it is over already (a retry after the
    /// stored answer was pruned gets "No such subscription"), a re-read
    /// that shows it ended counts as the cancel.
    pub async fn cancel_now(&self, id: &str) -> Result<SubscriptionView, BillingError> {
        let refused = match self
            .call(
                "subscriptions.cancel",
                &CancelSubscription::new(id),
                Some(&format!("cancel-now-{id}")),
            )
            .await
        {
            Ok(sub) => return Ok(SubscriptionView::from(&sub)),
            Err(e @ (BillingError::NotFound(_) | BillingError::InvalidArgument(_))) => e,
            Err(e) => return Err(e),
        };
        match self.subscription(id).await {
            Ok(view) if !crate::subscription::not_ended(&view.status) => Ok(view),
            Ok(_) => Err(refused),
            Err(e) => Err(e),
        }
    }

    /// Every subscription, any status, all pages.
    pub async fn all_subscriptions(&self) -> Result<Vec<SubscriptionView>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListSubscription::new()
                .status(ListSubscriptionStatus::All)
                .limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("subscriptions.list", &request, None).await?;
            out.extend(page.data.iter().map(SubscriptionView::from));
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Every completed Checkout session of a one-time plan billing made
    /// (payment mode, paid, with billing's metadata), all pages: the
    /// purchases reconcile rebuilds.
    pub async fn paid_one_time_sessions(&self) -> Result<Vec<(SessionView, i64)>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListCheckoutSession::new()
                .status(stripe_shared::CheckoutSessionStatus::Complete)
                .limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("checkout.sessions.list", &request, None).await?;
            for s in &page.data {
                if s.mode.as_str() != "payment" || s.payment_status.as_str() != "paid" {
                    continue;
                }
                out.push((SessionView::from(s), s.created));
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }
}
