//! The invoice payload: proof that billing made an invoice for this user,
//! plan and price. Telegram hands it back in the pre-checkout query, the
//! payment, the refund and `getStarTransactions`, so a payment of an
//! invoice anyone else made (another bot's, a forged update) grants
//! nothing.
//!
//! `v1.<user>.<plan>.<stars>.<issued, hex>.<mac>`: the MAC is the first 16
//! bytes of HMAC-SHA256 over the fields, hex (at most 110 bytes in all,
//! under Telegram's 128). Its key is derived from the bot token, which
//! billing needs for the Stars methods anyway, and which survives a wipe
//! of the store: reconcile can still tell its own payments.

use hmac::{Hmac, Mac};
use mesh_runtime::Secret;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The MAC's length in bytes (hex: twice that).
const MAC_BYTES: usize = 16;

/// What a payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The user it was made for.
    pub user: i64,
    /// The plan.
    pub plan: String,
    /// The price in Stars.
    pub stars: u32,
    /// When it was made (unix seconds): two offers are two subscriptions.
    pub issued: i64,
}

/// The key payloads are signed with.
#[derive(Clone)]
pub struct PayloadKey {
    key: [u8; 32],
}

impl std::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadKey(***)")
    }
}

impl PayloadKey {
    /// The key derived from the bot token.
    pub fn from_token(token: &Secret) -> Self {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(token.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"subscription-mesh stars payload v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, body: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(body.as_bytes());
        mac
    }

    /// The payload of `offer`.
    pub fn make(&self, offer: &Offer) -> String {
        let body = format!(
            "v1.{}.{}.{}.{:x}",
            offer.user, offer.plan, offer.stars, offer.issued
        );
        let tag = self.mac(&body).finalize().into_bytes();
        format!("{body}.{}", hex::encode(&tag[..MAC_BYTES]))
    }

    /// The offer `payload` carries, when billing made it (checked in
    /// constant time); `None` for anything else.
    pub fn open(&self, payload: &str) -> Option<Offer> {
        let (body, tag) = payload.rsplit_once('.')?;
        let tag = hex::decode(tag).ok().filter(|t| t.len() == MAC_BYTES)?;
        self.mac(body).verify_truncated_left(&tag).ok()?;
        let mut fields = body.split('.');
        if fields.next()? != "v1" {
            return None;
        }
        let offer = Offer {
            user: fields.next()?.parse().ok()?,
            plan: fields.next()?.to_owned(),
            stars: fields.next()?.parse().ok()?,
            issued: i64::from_str_radix(fields.next()?, 16).ok()?,
        };
        fields.next().is_none().then_some(offer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload opens with its key only, unchanged, and fits Telegram's
    /// 128 bytes at the longest.
    #[test]
    fn round_trip_and_forgery() {
        let key = PayloadKey::from_token(&Secret::new("1:token-aaaaaaaaaaaaaaaaaaaa"));
        let other = PayloadKey::from_token(&Secret::new("2:token-bbbbbbbbbbbbbbbbbbbb"));
        let offer = Offer {
            user: i64::MAX,
            plan: "a".repeat(32),
            stars: 10_000,
            issued: 4_102_444_800,
        };
        let payload = key.make(&offer);
        assert!(payload.len() <= 128, "{}", payload.len());
        assert_eq!(key.open(&payload), Some(offer));
        assert_eq!(other.open(&payload), None, "another bot's key");
        let forged = payload.replacen("10000", "1", 1);
        assert_eq!(key.open(&forged), None, "a changed price");
        assert_eq!(key.open("v1.1.m.1.0"), None);
        assert_eq!(key.open(""), None);
    }
}
