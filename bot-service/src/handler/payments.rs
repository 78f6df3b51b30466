//! Telegram Stars in the chat: the offer's ⭐ button, a pre-checkout
//! query that reached the queue (its answer at acceptance failed), and
//! the `successful_payment` / `refunded_payment` messages, which billing
//! applies (each charge once). The welcome with invite links comes from
//! billing's notice, like a Stripe payment's; a renewal extends quietly.

use mesh_proto::billing::v1::{ApplyStarsPaymentRequest, Plan};
use mesh_proto::refusal::BillingRefusal;
use teloxide_core::types::{Message, MessageKind, PreCheckoutQuery};

use super::{Ctx, HandleError, Handler};
use crate::delivery::action::{Action, Button};
use crate::effects::Effects;
use crate::intake::precheckout::{self, Query};

/// A Stars payment or refund, as the message carries it.
struct Paid<'a> {
    charge: &'a str,
    payload: &'a str,
    currency: &'a str,
    amount: u32,
    refund: bool,
    expires: Option<i64>,
    recurring: bool,
    first: bool,
}

fn paid_in(m: &Message) -> Option<Paid<'_>> {
    if let Some(p) = m.successful_payment() {
        return Some(Paid {
            charge: &p.telegram_payment_charge_id.0,
            payload: &p.invoice_payload,
            currency: &p.currency,
            amount: p.total_amount,
            refund: false,
            expires: p.subscription_expiration_date.map(|d| d.timestamp()),
            recurring: p.is_recurring,
            first: p.is_first_recurring,
        });
    }
    match &m.kind {
        MessageKind::RefundedPayment(r) => {
            let p = &r.refunded_payment;
            Some(Paid {
                charge: &p.telegram_payment_charge_id.0,
                payload: &p.invoice_payload,
                currency: &p.currency,
                amount: p.total_amount,
                refund: true,
                expires: None,
                recurring: false,
                first: false,
            })
        }
        _ => None,
    }
}

/// Whether `m` is a payment or a refund.
pub(super) fn is_payment(m: &Message) -> bool {
    paid_in(m).is_some()
}

impl Handler {
    /// A payment message: billing applies it (while billing is away the
    /// update waits and comes back, so nothing paid is dropped).
    pub(super) async fn on_payment(
        &self,
        m: &Message,
        ctx: &Ctx,
        out: &mut Effects,
    ) -> Result<(), HandleError> {
        let Some(paid) = paid_in(m) else {
            return Ok(());
        };
        if paid.currency != "XTR" {
            // Only Stars invoices are made; another currency is not ours.
            tracing::warn!(
                currency = paid.currency,
                "a payment in a currency the bot never invoiced; ignored"
            );
            return Ok(());
        }
        let stamp = |s: i64| mesh_proto::Timestamp {
            seconds: s,
            nanos: 0,
        };
        let request = ApplyStarsPaymentRequest {
            telegram_user_id: ctx.user,
            telegram_payment_charge_id: paid.charge.to_owned(),
            invoice_payload: paid.payload.to_owned(),
            currency: paid.currency.to_owned(),
            total_amount: paid.amount,
            refund: paid.refund,
            subscription_expiration_date: paid.expires.map(stamp),
            is_recurring: paid.recurring,
            is_first_recurring: paid.first,
            paid_at: Some(stamp(m.date.timestamp())),
        };
        match Self::retry_if_away(self.billing.apply_stars(request).await)? {
            Ok(applied) if !applied.recognised && !applied.duplicate && !paid.refund => {
                out.send(self.say(ctx.chat, ctx.lang, "payment-unplaced"));
            }
            Ok(_) => {}
            // Kept as a dead letter to look at and replay: a payment is
            // never dropped quietly.
            Err(status) => {
                return Err(HandleError::Permanent(format!(
                    "billing refused a Stars payment: {status}"
                )));
            }
        }
        Ok(())
    }

    /// A pre-checkout query that reached the queue: answered through the
    /// outbox (late, but still within Telegram's 10 s in most cases).
    pub(super) async fn on_pre_checkout(&self, q: &PreCheckoutQuery, out: &mut Effects) {
        let query = Query {
            id: q.id.0.clone(),
            from: precheckout::From {
                id: i64::try_from(q.from.id.0).unwrap_or_default(),
                language_code: q.from.language_code.clone(),
            },
            currency: q.currency.clone(),
            total_amount: q.total_amount,
            invoice_payload: q.invoice_payload.clone(),
        };
        let error_message = precheckout::decide(&self.billing, &self.texts, &query).await;
        out.send(Action::AnswerPreCheckoutQuery {
            pre_checkout_query_id: query.id,
            error_message,
        });
    }

    /// The ⭐ button of `plan` for the user, when it is sold for Stars: a
    /// URL button to a fresh invoice link. `Err` carries billing's refusal.
    pub(super) async fn stars_button(
        &self,
        ctx: &Ctx,
        plan: &Plan,
    ) -> Result<Option<Result<Button, tonic::Status>>, HandleError> {
        if plan.stars_price == 0 {
            return Ok(None);
        }
        let made = Self::retry_if_away(self.billing.stars_invoice(ctx.user, &plan.id).await)?;
        Ok(Some(made.map(|invoice| Button::Url {
            text: self.t(
                ctx.lang,
                "stars-button",
                &[("stars", i64::from(invoice.stars_price).into())],
            ),
            url: invoice.url,
        })))
    }

    /// The message for a plan the user chose: a card button (Stripe
    /// Checkout) and a ⭐ button, whichever the plan is sold on; a
    /// refusal from either (already subscribed, resumable) wins.
    pub(super) async fn pay_offer(
        &self,
        ctx: &Ctx,
        plan: &Plan,
        request_id: &str,
    ) -> Result<Action, HandleError> {
        let card = if plan.stripe_price_id.is_empty() {
            None
        } else {
            Some(Self::retry_if_away(
                self.billing.checkout(ctx.user, &plan.id, request_id).await,
            )?)
        };
        let refusal = |s: &tonic::Status| {
            matches!(
                BillingRefusal::of(s),
                Some(BillingRefusal::AlreadySubscribed | BillingRefusal::Resumable)
            )
        };
        if let Some(Err(s)) = &card
            && refusal(s)
        {
            return Ok(self.refused(ctx, s).await);
        }
        let stars = self.stars_button(ctx, plan).await?;
        let mut buttons = Vec::new();
        let mut first_error = None;
        match card {
            Some(Ok(session)) => buttons.push(vec![Button::Url {
                text: self.t(ctx.lang, "pay-button", &[]),
                url: session.url,
            }]),
            Some(Err(s)) if refusal(&s) => return Ok(self.refused(ctx, &s).await),
            Some(Err(s)) => first_error = Some(s),
            None => {}
        }
        match stars {
            Some(Ok(button)) => buttons.push(vec![button]),
            Some(Err(s)) if refusal(&s) => return Ok(self.refused(ctx, &s).await),
            Some(Err(s)) => {
                first_error.get_or_insert(s);
            }
            None => {}
        }
        let has_stars =
            buttons.len() == 2 || (buttons.len() == 1 && plan.stripe_price_id.is_empty());
        let prompt = match (buttons.len(), has_stars) {
            (0, _) => {
                return Ok(match first_error {
                    Some(s) => self.refused(ctx, &s).await,
                    None => self.say(ctx.chat, ctx.lang, "try-later"),
                });
            }
            (1, true) => "pay-prompt-stars-only",
            (_, true) => "pay-prompt-stars",
            _ => "pay-prompt",
        };
        Ok(Action::SendMessage {
            chat_id: ctx.chat,
            text: self.t(ctx.lang, prompt, &[]),
            buttons,
        })
    }

    /// What the user is told when billing refuses the offer.
    async fn refused(&self, ctx: &Ctx, s: &tonic::Status) -> Action {
        let (user, lang) = (ctx.chat, ctx.lang);
        match BillingRefusal::of(s) {
            Some(BillingRefusal::AlreadySubscribed) => self.say(user, lang, "already-subscribed"),
            Some(BillingRefusal::Resumable) => match self.billing.entitlement(ctx.user).await {
                Ok(e) if super::user::resumable(&e) => self.resume_prompt(user, lang, &e),
                _ => self.say(user, lang, "already-subscribed"),
            },
            Some(BillingRefusal::PaymentsNotConfigured) => {
                self.say(user, lang, "payments-unavailable")
            }
            _ => self.say(user, lang, "try-later"),
        }
    }
}
