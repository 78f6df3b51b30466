//! What plans cost: a Stripe price's terms, and the recurring revenue a
//! subscription brings.

use mesh_proto::billing::v1::Price;
use serde::{Deserialize, Serialize};

/// A price's terms, as Stripe's Price (or a subscription's item) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTerms {
    /// In the currency's smallest unit.
    pub amount: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    /// `day`, `week`, `month` or `year`; `None` for a one-time price.
    #[serde(default)]
    pub interval: Option<String>,
    /// Intervals per period (at least 1).
    #[serde(default = "one")]
    pub interval_count: u32,
    /// A tiered price: `amount` is its lowest tier ("from ...").
    #[serde(default)]
    pub starting_at: bool,
}

fn one() -> u32 {
    1
}

impl PriceTerms {
    /// What the price brings in a year, in the smallest unit: the integer
    /// counters of recurring revenue add these (a month is a twelfth, so
    /// nothing is lost to rounding a yearly price down to cents).
    /// `None` for a one-time price.
    pub fn yearly(&self) -> Option<i64> {
        let per_year = match self.interval.as_deref()? {
            "day" => 365,
            "week" => 52,
            "month" => 12,
            "year" => 1,
            _ => return None,
        };
        Some(self.amount * per_year / i64::from(self.interval_count.max(1)))
    }

    /// As the API shows it.
    pub fn to_proto(&self) -> Price {
        Price {
            unit_amount: self.amount,
            currency: self.currency.clone(),
            interval: self.interval.clone().unwrap_or_default(),
            interval_count: self.interval_count,
            starting_at: self.starting_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(amount: i64, interval: Option<&str>, count: u32) -> PriceTerms {
        PriceTerms {
            amount,
            currency: "usd".into(),
            interval: interval.map(str::to_owned),
            interval_count: count,
            starting_at: false,
        }
    }

    /// Every interval normalises to a year; one-time prices recur never.
    #[test]
    fn yearly() {
        assert_eq!(terms(999, Some("month"), 1).yearly(), Some(11_988));
        assert_eq!(terms(9999, Some("year"), 1).yearly(), Some(9999));
        assert_eq!(terms(3000, Some("month"), 3).yearly(), Some(12_000));
        assert_eq!(terms(100, Some("week"), 1).yearly(), Some(5200));
        assert_eq!(terms(10, Some("day"), 1).yearly(), Some(3650));
        assert_eq!(terms(1500, None, 1).yearly(), None);
    }
}
