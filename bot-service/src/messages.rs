//! Every text a Telegram user sees, in one place, in English and Spanish
//! (picked from the user's `language_code`).

use serde::{Deserialize, Serialize};

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The language for a Telegram `language_code` (`es`, `es-MX`, ...).
    pub fn from_code(code: Option<&str>) -> Self {
        match code.map(|c| c.split(['-', '_']).next().unwrap_or(c).to_ascii_lowercase()) {
            Some(c) if c == "es" => Self::Es,
            _ => Self::En,
        }
    }

    /// The text of `t` in this language.
    pub fn text(self, t: Text<'_>) -> String {
        match self {
            Self::En => en(t),
            Self::Es => es(t),
        }
    }
}

/// A plan as shown to users.
#[derive(Debug, Clone, Copy)]
pub struct PlanLine<'a> {
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
}

/// Everything the bot can say.
#[derive(Debug, Clone)]
pub enum Text<'a> {
    /// `/start`.
    Welcome {
        first_name: Option<&'a str>,
        plans: Option<&'a [PlanLine<'a>]>,
    },
    /// `/help`.
    Help { admin: bool },
    /// `/plans`.
    Plans(Option<&'a [PlanLine<'a>]>),
    /// `/subscribe`: pick a plan.
    ChoosePlan,
    /// The Checkout link is ready.
    PayPrompt,
    /// The pay button's label.
    PayButton,
    /// Already has access.
    AlreadySubscribed,
    /// Payments are off.
    PaymentsUnavailable,
    /// Billing can't be reached.
    TryLater,
    /// Back from Checkout after paying.
    ThanksForPaying,
    /// Back from Checkout without paying.
    CheckoutCanceled,
    /// `/status`.
    Status {
        state: &'a str,
        plan: &'a str,
        until: Option<String>,
        renews: bool,
        access: bool,
    },
    /// `/portal`.
    PortalPrompt,
    /// The portal button's label.
    PortalButton,
    /// No subscription (portal, cancel).
    NoSubscription,
    /// `/cancel`: confirm.
    CancelConfirm { until: Option<String> },
    /// Confirm button.
    Yes,
    /// Keep button.
    No,
    /// Cancelled.
    Canceled { until: Option<String> },
    /// Kept.
    CancelAborted,
    /// The confirmation expired.
    ConfirmationExpired,
    /// Flooding.
    SlowDown,
    /// Anything else.
    Unknown,
    /// Access granted, with an invite.
    WelcomePremium,
    /// Access granted, no premium chat configured.
    WelcomeNoChat,
    /// The invite button's label.
    JoinButton,
    /// A renewal failed.
    PaymentFailed,
    /// A failed payment went through.
    PaymentRecovered,
    /// A non-renewing plan ends soon.
    EndingSoon { until: Option<String> },
    /// Access ended.
    AccessEnded { reason: &'a str },
    /// A join request was declined.
    JoinDeclined,
    /// Someone joined without an entitlement and was removed.
    RemovedNoAccess,
    /// `/stats`.
    Stats {
        users: usize,
        blocked: usize,
        with_access: u64,
        by_plan: String,
        churned: u64,
    },
    /// Admin command usage.
    Usage(&'a str),
    /// Admin action done.
    Done(String),
    /// Broadcast queued.
    BroadcastStarted { recipients: usize },
    /// Broadcast progress.
    BroadcastProgress { done: i64, total: i64, sent: i64 },
}

fn plan_list_en(plans: Option<&[PlanLine<'_>]>) -> String {
    match plans {
        None => "Plans can't be shown right now; please try again in a minute.".to_owned(),
        Some([]) => "No plans are on sale at the moment.".to_owned(),
        Some(plans) => {
            let mut out = String::from("Plans:");
            for p in plans {
                out.push_str(&format!("\n- {}: {}", p.name, p.description));
            }
            out
        }
    }
}

fn plan_list_es(plans: Option<&[PlanLine<'_>]>) -> String {
    match plans {
        None => "No se pueden mostrar los planes ahora; inténtalo en un minuto.".to_owned(),
        Some([]) => "No hay planes a la venta en este momento.".to_owned(),
        Some(plans) => {
            let mut out = String::from("Planes:");
            for p in plans {
                out.push_str(&format!("\n- {}: {}", p.name, p.description));
            }
            out
        }
    }
}

fn until_en(until: &Option<String>) -> String {
    until
        .as_ref()
        .map_or_else(|| "the end of the period".to_owned(), Clone::clone)
}

fn until_es(until: &Option<String>) -> String {
    until
        .as_ref()
        .map_or_else(|| "el final del periodo".to_owned(), Clone::clone)
}

fn en(t: Text<'_>) -> String {
    match t {
        Text::Welcome { first_name, plans } => {
            let greeting = first_name.map_or_else(|| "Welcome!".to_owned(), |n| format!("Welcome, {n}!"));
            format!(
                "{greeting}\n\nA premium subscription gives you access to our private members' chat.\n\n{}\n\nSend /subscribe to join, or /help to see everything I can do.",
                plan_list_en(plans)
            )
        }
        Text::Help { admin } => {
            let mut lines = vec![
                "Here is what I can do:",
                "/start - welcome and plans",
                "/plans - the plans on offer",
                "/subscribe - choose a plan and pay",
                "/status - your subscription",
                "/portal - manage billing",
                "/cancel - cancel at the end of the period",
                "/help - this message",
            ];
            if admin {
                lines.extend([
                    "Admin:",
                    "/stats - users and subscribers",
                    "/grant <user> <plan> <days> [reason] - give access",
                    "/revoke <user> [reason] - end access",
                    "/broadcast <text> - message every user",
                ]);
            }
            lines.join("\n")
        }
        Text::Plans(plans) => plan_list_en(plans),
        Text::ChoosePlan => "Choose a plan:".into(),
        Text::PayPrompt => "Tap the button to pay securely with Stripe. You'll get your invite as soon as the payment goes through.".into(),
        Text::PayButton => "Pay with card".into(),
        Text::AlreadySubscribed => "You already have access. Use /portal to manage your subscription.".into(),
        Text::PaymentsUnavailable => "Payments aren't available right now. Please try again later.".into(),
        Text::TryLater => "Something went wrong on our side. Please try again in a minute.".into(),
        Text::ThanksForPaying => "Thank you! Your payment is being confirmed; your invite to the premium chat will arrive here in a moment.".into(),
        Text::CheckoutCanceled => "No problem, nothing was charged. Send /subscribe whenever you're ready.".into(),
        Text::Status { state, plan, until, renews, access } => {
            let mut out = format!("Plan: {plan}\nState: {state}");
            match (until, renews) {
                (Some(u), true) => out.push_str(&format!("\nRenews on: {u}")),
                (Some(u), false) => out.push_str(&format!("\nAccess until: {u}")),
                (None, _) => {}
            }
            out.push_str(if access { "\nYou have access to the premium chat." } else { "\nYou don't have access right now. /subscribe to join." });
            out
        }
        Text::PortalPrompt => "Manage your payment method, invoices and subscription here:".into(),
        Text::PortalButton => "Open billing portal".into(),
        Text::NoSubscription => "You don't have a subscription yet. Send /subscribe to start one.".into(),
        Text::CancelConfirm { until } => format!(
            "Cancel your subscription? You keep access until {}, and it won't renew.",
            until_en(&until)
        ),
        Text::Yes => "Yes, cancel".into(),
        Text::No => "No, keep it".into(),
        Text::Canceled { until } => format!("Your subscription is cancelled. You keep access until {}.", until_en(&until)),
        Text::CancelAborted => "Good, your subscription stays as it is.".into(),
        Text::ConfirmationExpired => "That confirmation has expired. Send /cancel again.".into(),
        Text::SlowDown => "You're sending messages too fast. Please slow down; I'll answer again in a moment.".into(),
        Text::Unknown => "Sorry, I didn't understand that. Send /help to see what I can do.".into(),
        Text::WelcomePremium => "Welcome to premium! Here is your personal invite to the members' chat. It works once and expires in 24 hours.".into(),
        Text::WelcomeNoChat => "Welcome to premium! Your subscription is active.".into(),
        Text::JoinButton => "Join the premium chat".into(),
        Text::PaymentFailed => "Your last payment didn't go through. Please update your payment method to keep your access:".into(),
        Text::PaymentRecovered => "Your payment went through. Thanks, your access continues.".into(),
        Text::EndingSoon { until } => format!("Heads up: your access ends on {}. Send /subscribe to continue.", until_en(&until)),
        Text::AccessEnded { reason } => {
            let why = match reason {
                "revoked" => "it was revoked by an administrator",
                "payment_failed" => "the payment could not be collected",
                "canceled" => "your subscription was cancelled",
                _ => "your subscription has ended",
            };
            format!("Your premium access has ended because {why}. Send /subscribe to come back any time.")
        }
        Text::JoinDeclined => "To join the premium chat you need an active subscription. Send /subscribe to get one.".into(),
        Text::RemovedNoAccess => "You were removed from the premium chat because you don't have an active subscription. Send /subscribe to join.".into(),
        Text::Stats { users, blocked, with_access, by_plan, churned } => format!(
            "Users: {users} ({blocked} blocked the bot)\nActive subscribers: {with_access}{by_plan}\nChurned this month: {churned}"
        ),
        Text::Usage(u) => format!("Usage: {u}"),
        Text::Done(what) => format!("Done: {what}"),
        Text::BroadcastStarted { recipients } => format!("Broadcast queued for {recipients} users. I'll report progress here."),
        Text::BroadcastProgress { done, total, sent } => format!("Broadcast: {done}/{total} processed, {sent} delivered."),
    }
}

fn es(t: Text<'_>) -> String {
    match t {
        Text::Welcome { first_name, plans } => {
            let greeting = first_name.map_or_else(|| "¡Bienvenido!".to_owned(), |n| format!("¡Bienvenido, {n}!"));
            format!(
                "{greeting}\n\nLa suscripción premium te da acceso a nuestro chat privado de miembros.\n\n{}\n\nEnvía /subscribe para unirte o /help para ver todo lo que puedo hacer.",
                plan_list_es(plans)
            )
        }
        Text::Help { admin } => {
            let mut lines = vec![
                "Esto es lo que puedo hacer:",
                "/start - bienvenida y planes",
                "/plans - los planes disponibles",
                "/subscribe - elegir un plan y pagar",
                "/status - tu suscripción",
                "/portal - gestionar la facturación",
                "/cancel - cancelar al final del periodo",
                "/help - este mensaje",
            ];
            if admin {
                lines.extend([
                    "Administración:",
                    "/stats - usuarios y suscriptores",
                    "/grant <usuario> <plan> <días> [motivo] - dar acceso",
                    "/revoke <usuario> [motivo] - quitar acceso",
                    "/broadcast <texto> - escribir a todos",
                ]);
            }
            lines.join("\n")
        }
        Text::Plans(plans) => plan_list_es(plans),
        Text::ChoosePlan => "Elige un plan:".into(),
        Text::PayPrompt => "Pulsa el botón para pagar de forma segura con Stripe. Recibirás tu invitación en cuanto se confirme el pago.".into(),
        Text::PayButton => "Pagar con tarjeta".into(),
        Text::AlreadySubscribed => "Ya tienes acceso. Usa /portal para gestionar tu suscripción.".into(),
        Text::PaymentsUnavailable => "Los pagos no están disponibles ahora. Inténtalo más tarde.".into(),
        Text::TryLater => "Algo ha fallado por nuestra parte. Inténtalo de nuevo en un minuto.".into(),
        Text::ThanksForPaying => "¡Gracias! Estamos confirmando tu pago; tu invitación al chat premium llegará aquí en un momento.".into(),
        Text::CheckoutCanceled => "Sin problema, no se ha cobrado nada. Envía /subscribe cuando quieras.".into(),
        Text::Status { state, plan, until, renews, access } => {
            let mut out = format!("Plan: {plan}\nEstado: {state}");
            match (until, renews) {
                (Some(u), true) => out.push_str(&format!("\nSe renueva el: {u}")),
                (Some(u), false) => out.push_str(&format!("\nAcceso hasta: {u}")),
                (None, _) => {}
            }
            out.push_str(if access { "\nTienes acceso al chat premium." } else { "\nAhora no tienes acceso. /subscribe para unirte." });
            out
        }
        Text::PortalPrompt => "Gestiona aquí tu método de pago, facturas y suscripción:".into(),
        Text::PortalButton => "Abrir portal de facturación".into(),
        Text::NoSubscription => "Todavía no tienes suscripción. Envía /subscribe para empezar.".into(),
        Text::CancelConfirm { until } => format!(
            "¿Cancelar tu suscripción? Mantienes el acceso hasta {} y no se renovará.",
            until_es(&until)
        ),
        Text::Yes => "Sí, cancelar".into(),
        Text::No => "No, mantenerla".into(),
        Text::Canceled { until } => format!("Tu suscripción está cancelada. Mantienes el acceso hasta {}.", until_es(&until)),
        Text::CancelAborted => "Perfecto, tu suscripción sigue igual.".into(),
        Text::ConfirmationExpired => "Esa confirmación ha caducado. Envía /cancel otra vez.".into(),
        Text::SlowDown => "Estás enviando mensajes demasiado rápido. Espera un momento, por favor.".into(),
        Text::Unknown => "Perdona, no lo he entendido. Envía /help para ver lo que puedo hacer.".into(),
        Text::WelcomePremium => "¡Bienvenido a premium! Aquí tienes tu invitación personal al chat de miembros. Sirve una vez y caduca en 24 horas.".into(),
        Text::WelcomeNoChat => "¡Bienvenido a premium! Tu suscripción está activa.".into(),
        Text::JoinButton => "Entrar al chat premium".into(),
        Text::PaymentFailed => "Tu último pago no se ha podido cobrar. Actualiza tu método de pago para mantener el acceso:".into(),
        Text::PaymentRecovered => "Tu pago se ha completado. Gracias, tu acceso continúa.".into(),
        Text::EndingSoon { until } => format!("Aviso: tu acceso termina el {}. Envía /subscribe para continuar.", until_es(&until)),
        Text::AccessEnded { reason } => {
            let why = match reason {
                "revoked" => "un administrador lo ha revocado",
                "payment_failed" => "no se pudo cobrar el pago",
                "canceled" => "cancelaste tu suscripción",
                _ => "tu suscripción ha terminado",
            };
            format!("Tu acceso premium ha terminado porque {why}. Envía /subscribe para volver cuando quieras.")
        }
        Text::JoinDeclined => "Para entrar al chat premium necesitas una suscripción activa. Envía /subscribe.".into(),
        Text::RemovedNoAccess => "Te hemos sacado del chat premium porque no tienes una suscripción activa. Envía /subscribe para unirte.".into(),
        Text::Stats { users, blocked, with_access, by_plan, churned } => format!(
            "Usuarios: {users} ({blocked} bloquearon el bot)\nSuscriptores activos: {with_access}{by_plan}\nBajas este mes: {churned}"
        ),
        Text::Usage(u) => format!("Uso: {u}"),
        Text::Done(what) => format!("Hecho: {what}"),
        Text::BroadcastStarted { recipients } => format!("Difusión en cola para {recipients} usuarios. Te informaré aquí."),
        Text::BroadcastProgress { done, total, sent } => format!("Difusión: {done}/{total} procesados, {sent} entregados."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Language codes pick the catalogue; every text exists in both.
    #[test]
    fn languages() {
        assert_eq!(Lang::from_code(Some("es-MX")), Lang::Es);
        assert_eq!(Lang::from_code(Some("en")), Lang::En);
        assert_eq!(Lang::from_code(Some("de")), Lang::En);
        assert_eq!(Lang::from_code(None), Lang::En);
        assert!(Lang::Es.text(Text::Unknown).contains("/help"));
        assert_ne!(Lang::Es.text(Text::Unknown), Lang::En.text(Text::Unknown));
        assert!(
            Lang::En
                .text(Text::Help { admin: true })
                .contains("/broadcast")
        );
        assert!(
            !Lang::En
                .text(Text::Help { admin: false })
                .contains("/broadcast")
        );
    }
}
