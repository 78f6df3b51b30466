//! Requests no enabled async-stripe crate has, written by hand: each
//! would otherwise pull a whole resource crate into the build.

use stripe::StripeRequest;

/// `GET /v1/prices/{id}`. Written here because the one async-stripe crate
/// that has it (`async-stripe-product`) would add every product resource
/// to the build for one call.
pub(super) struct RetrievePrice {
    pub(super) id: String,
}

impl StripeRequest for RetrievePrice {
    type Output = stripe_shared::Price;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        // Tiers are only sent when asked for.
        #[derive(serde::Serialize)]
        struct Query {
            expand: [&'static str; 1],
        }
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Get,
            format!("/prices/{}", self.id),
        )
        .query(&Query { expand: ["tiers"] })
    }
}

/// `GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=..`
/// with the invoice expanded. Written here because no enabled resource
/// crate has it; read leniently (a JSON value) since billing needs one path
/// of it.
pub(super) struct ListInvoicePayments {
    pub(super) of: InvoicePaymentsOf,
}

/// `POST /v1/invoices/create_preview` for a subscription (it creates
/// nothing: no idempotency key). Written here because the invoice resource
/// of async-stripe would add the whole invoicing API to the build for one
/// read; read leniently (a JSON value) for the two fields billing needs.
pub(super) struct PreviewInvoice {
    pub(super) subscription: String,
}

impl StripeRequest for PreviewInvoice {
    type Output = miniserde::json::Value;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        #[derive(serde::Serialize)]
        struct Form<'a> {
            subscription: &'a str,
        }
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Post,
            "/invoices/create_preview",
        )
        .form(&Form {
            subscription: &self.subscription,
        })
    }
}

/// Which invoice payments to list.
pub(super) enum InvoicePaymentsOf {
    /// The one a payment made.
    Payment(String),
    /// The ones that paid an invoice.
    Invoice(String),
}

impl StripeRequest for ListInvoicePayments {
    type Output = miniserde::json::Value;

    fn build(&self) -> stripe_client_core::RequestBuilder {
        #[derive(serde::Serialize)]
        struct Payment<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            payment_intent: &'a str,
        }
        #[derive(serde::Serialize)]
        struct Query<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            payment: Option<Payment<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            invoice: Option<&'a str>,
            expand: [&'a str; 1],
            limit: u8,
        }
        let (payment, invoice) = match &self.of {
            InvoicePaymentsOf::Payment(intent) => (
                Some(Payment {
                    kind: "payment_intent",
                    payment_intent: intent,
                }),
                None,
            ),
            InvoicePaymentsOf::Invoice(id) => (None, Some(id.as_str())),
        };
        stripe_client_core::RequestBuilder::new(
            stripe_client_core::StripeMethod::Get,
            "/invoice_payments",
        )
        .query(&Query {
            payment,
            invoice,
            expand: ["data.invoice"],
            limit: 1,
        })
    }
}
