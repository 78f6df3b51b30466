//! What a plan costs, as a user reads it in their language: the amount
//! with the language's separators and the currency's decimals, the
//! interval, the trial; or the plans file's `price_display` when Stripe's
//! price is unknown (a dry run).

use mesh_proto::billing::v1::{Plan, PlanMode};

use crate::messages::{Catalogue, Lang};

/// Currencies Stripe counts in whole units (no cents).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Currencies with three decimals.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];
/// Stripe's special cases (docs.stripe.com/currencies): amounts are sent
/// in hundredths, but the currency is paid in whole units (ISK always, HUF
/// and TWD on payouts), so a price is shown without a fraction unless it
/// has one.
const WHOLE_IN_HUNDREDTHS: &[&str] = &["isk", "huf", "twd"];

/// How `currency`'s amounts are written: Stripe's minor units per whole
/// unit, and the decimals shown.
fn exponent(currency: &str, minor: i64) -> (i64, u32) {
    if ZERO_DECIMAL.contains(&currency) {
        (1, 0)
    } else if THREE_DECIMAL.contains(&currency) {
        (1000, 3)
    } else if WHOLE_IN_HUNDREDTHS.contains(&currency) && minor % 100 == 0 {
        (100, 0)
    } else {
        (100, 2)
    }
}

/// `minor` units of `currency` for `lang`: `1,234.50 USD` (en),
/// `1.234,50 USD` (de).
pub fn amount(lang: Lang, minor: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let (scale, decimals) = exponent(&currency, minor);
    let (point, group) = lang.separators();
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, fraction) = (minor.abs() / scale, minor.abs() % scale);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let code = currency.to_ascii_uppercase();
    if decimals == 0 {
        format!("{sign}{grouped} {code}")
    } else {
        format!(
            "{sign}{grouped}{point}{fraction:0width$} {code}",
            width = decimals as usize
        )
    }
}

/// The price of `plan` as text: the card price (with its trial) and the
/// Telegram Stars price, whichever it is sold for; `None` when unknown.
pub fn price(texts: &Catalogue, lang: Lang, plan: &Plan) -> Option<String> {
    let stars = stars_price(texts, lang, plan);
    match (card_price(texts, lang, plan), stars) {
        (Some(card), Some(stars)) => Some(texts.text(
            lang,
            "plan-price-or",
            &[("card", (&card).into()), ("stars", (&stars).into())],
        )),
        (card, stars) => card.or(stars),
    }
}

/// The Stars price of `plan`: per 30 days for a subscription (Telegram
/// renews Stars subscriptions every 30 days), else once.
fn stars_price(texts: &Catalogue, lang: Lang, plan: &Plan) -> Option<String> {
    if plan.stars_price == 0 {
        return None;
    }
    let stars = i64::from(plan.stars_price);
    Some(match (plan.mode(), plan.duration_days) {
        (PlanMode::Payment, 0) => texts.text(
            lang,
            "plan-price-stars-lifetime",
            &[("stars", stars.into())],
        ),
        (PlanMode::Payment, days) => texts.text(
            lang,
            "plan-price-stars-days",
            &[("stars", stars.into()), ("days", i64::from(days).into())],
        ),
        _ => texts.text(lang, "plan-price-stars", &[("stars", stars.into())]),
    })
}

/// The card (Stripe) price of `plan`, with its trial.
fn card_price(texts: &Catalogue, lang: Lang, plan: &Plan) -> Option<String> {
    let base = match &plan.price {
        Some(p) => {
            let a = amount(lang, p.unit_amount, &p.currency);
            // A tiered price shows its lowest tier: "from ...".
            let a = if p.starting_at {
                texts.text(lang, "plan-price-from", &[("amount", (&a).into())])
            } else {
                a
            };
            if p.interval.is_empty() {
                match (plan.mode(), plan.duration_days) {
                    (PlanMode::Payment, 0) => {
                        texts.text(lang, "plan-price-lifetime", &[("amount", (&a).into())])
                    }
                    (PlanMode::Payment, days) => texts.text(
                        lang,
                        "plan-price-days",
                        &[("amount", (&a).into()), ("days", i64::from(days).into())],
                    ),
                    _ => texts.text(lang, "plan-price-once", &[("amount", (&a).into())]),
                }
            } else {
                texts.text(
                    lang,
                    "plan-price-recurring",
                    &[
                        ("amount", (&a).into()),
                        ("interval", p.interval.as_str().into()),
                        ("count", i64::from(p.interval_count.max(1)).into()),
                    ],
                )
            }
        }
        None if !plan.price_display.is_empty() => plan.price_display.clone(),
        None => return None,
    };
    Some(if plan.trial_days > 0 {
        texts.text(
            lang,
            "plan-trial",
            &[
                ("price", (&base).into()),
                ("days", i64::from(plan.trial_days).into()),
            ],
        )
    } else {
        base
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Separators by language, decimals by currency.
    #[test]
    fn amounts() {
        assert_eq!(amount(Lang::En, 999, "usd"), "9.99 USD");
        assert_eq!(amount(Lang::Es, 999, "eur"), "9,99 EUR");
        assert_eq!(amount(Lang::De, 123_456_789, "eur"), "1.234.567,89 EUR");
        assert_eq!(amount(Lang::En, 123_456_789, "usd"), "1,234,567.89 USD");
        assert_eq!(amount(Lang::Fr, 150_000, "eur"), "1\u{202f}500,00 EUR");
        assert_eq!(amount(Lang::En, 1500, "jpy"), "1,500 JPY");
        assert_eq!(amount(Lang::En, 1500, "kwd"), "1.500 KWD");
        assert_eq!(amount(Lang::En, 5, "usd"), "0.05 USD");
        assert_eq!(amount(Lang::En, 150_000, "isk"), "1,500 ISK");
        assert_eq!(amount(Lang::De, 990_000, "huf"), "9.900 HUF");
        assert_eq!(amount(Lang::En, 99_950, "huf"), "999.50 HUF");
        assert_eq!(amount(Lang::En, 30_000, "twd"), "300 TWD");
        assert_eq!(amount(Lang::En, 1500, "ugx"), "1,500 UGX");
    }
}
