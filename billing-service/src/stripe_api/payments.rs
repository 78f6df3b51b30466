//! Prices, charges, invoices and their payments, refunds, and the event
//! list.

use stripe_checkout::checkout_session::RetrieveCheckoutSession;
use stripe_core::charge::RetrieveCharge;
use stripe_core::event::ListEvent;
use stripe_core::refund::CreateRefund;

use super::requests::*;
use super::*;
use crate::error::BillingError;
use crate::money::PriceTerms;

impl StripeApi {
    /// Reads a price (what a plan costs).
    pub async fn price(&self, id: &str) -> Result<PriceTerms, BillingError> {
        let price = self
            .call(
                "prices.retrieve",
                &RetrievePrice { id: id.to_owned() },
                None,
            )
            .await?;
        Ok(PriceTerms::from(&price))
    }

    /// Reads a charge (who paid, how much was refunded).
    pub async fn charge(&self, id: &str) -> Result<ChargeView, BillingError> {
        let charge = self
            .call("charges.retrieve", &RetrieveCharge::new(id), None)
            .await?;
        Ok(ChargeView {
            id: charge.id.as_str().to_owned(),
            customer: charge.customer.as_ref().map(|c| c.id().as_str().to_owned()),
            amount: charge.amount,
            amount_refunded: charge.amount_refunded,
            currency: charge.currency.to_string(),
            payment_intent: charge
                .payment_intent
                .as_ref()
                .map(|p| p.id().as_str().to_owned()),
        })
    }

    /// Reads a Checkout session: what Stripe says was paid, whoever
    /// delivered the event about it.
    pub async fn checkout_session(&self, id: &str) -> Result<SessionView, BillingError> {
        let s = self
            .call(
                "checkout.sessions.retrieve",
                &RetrieveCheckoutSession::new(id),
                None,
            )
            .await?;
        Ok(SessionView::from(&s))
    }

    /// The subscription whose invoice payment `intent` paid, if any: the
    /// invoice payments API is the link from a payment to its invoice
    /// (charges no longer name their invoice).
    pub async fn subscription_of_payment(
        &self,
        intent: &str,
    ) -> Result<Option<String>, BillingError> {
        let page = self
            .invoice_payments(InvoicePaymentsOf::Payment(intent.to_owned()))
            .await?;
        Ok(page
            .pointer("/data/0/invoice")
            .and_then(crate::payload::invoice_subscription))
    }

    /// The payment (`pi_...`) that paid `invoice`, if it was paid.
    pub async fn payment_of_invoice(&self, invoice: &str) -> Result<Option<String>, BillingError> {
        let page = self
            .invoice_payments(InvoicePaymentsOf::Invoice(invoice.to_owned()))
            .await?;
        Ok(page
            .pointer("/data/0/payment/payment_intent")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned))
    }

    async fn invoice_payments(
        &self,
        of: InvoicePaymentsOf,
    ) -> Result<serde_json::Value, BillingError> {
        let page = self
            .call("invoice_payments.list", &ListInvoicePayments { of }, None)
            .await?;
        serde_json::from_str(&miniserde::json::to_string(&page))
            .map_err(|e| BillingError::Internal(format!("invoice payments: {e}")))
    }

    /// What the subscription's next invoice will charge (amount due and
    /// currency), from Stripe's invoice preview: coupons, tax and quantity
    /// included, unlike the price's list amount.
    pub async fn next_invoice(
        &self,
        subscription: &str,
    ) -> Result<Option<(i64, String)>, BillingError> {
        let preview = self
            .call(
                "invoices.create_preview",
                &PreviewInvoice {
                    subscription: subscription.to_owned(),
                },
                None,
            )
            .await?;
        let preview: serde_json::Value =
            serde_json::from_str(&miniserde::json::to_string(&preview))
                .map_err(|e| BillingError::Internal(format!("invoice preview: {e}")))?;
        let amount = preview
            .get("amount_due")
            .and_then(serde_json::Value::as_i64);
        let currency = crate::payload::str_at(&preview, &["currency"]);
        Ok(amount.zip(currency).map(|(a, c)| (a, c.to_owned())))
    }

    /// Refunds a payment in full. One key per payment, so a retry replays
    /// the first answer; a payment already refunded counts as done.
    pub async fn refund_payment(&self, intent: &str) -> Result<(), BillingError> {
        let request = CreateRefund::new().payment_intent(intent);
        match self
            .call(
                "refunds.create",
                &request,
                Some(&format!("refund-{intent}")),
            )
            .await
        {
            Ok(_) | Err(BillingError::AlreadyDone(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Events whose webhook delivery failed (Stripe keeps 30 days), as
    /// event JSON the webhook path understands.
    pub async fn undelivered_events(&self) -> Result<Vec<Vec<u8>>, BillingError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListEvent::new().delivery_success(false).limit(100);
            if let Some(a) = &after {
                request = request.starting_after(a.as_str());
            }
            let page = self.call("events.list", &request, None).await?;
            for event in &page.data {
                let object: serde_json::Value =
                    serde_json::from_str(&miniserde::json::to_string(&event.data.object))
                        .map_err(|e| BillingError::Internal(format!("event object: {e}")))?;
                let json = serde_json::json!({
                    "id": event.id.as_str(),
                    "object": "event",
                    "type": event.type_.as_str(),
                    "created": event.created,
                    "data": {"object": object},
                });
                out.push(json.to_string().into_bytes());
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(out),
            }
        }
    }
}
