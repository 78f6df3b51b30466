//! Who is calling: the client address, believing `X-Forwarded-For` only
//! when the direct peer is a configured proxy.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the right-most `X-Forwarded-For` hop that is not itself a trusted proxy
/// (the left-most entries are whatever the client chose to send).
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    let mut last = peer;
    for hop in chain.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // A hop we cannot read ends what we can believe.
            return Some(last);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        last = ip;
    }
    Some(last)
}

/// Whether `ip` may call a webhook guarded by `allowed` (empty = anyone).
pub fn allowed(ip: Option<IpAddr>, allowed: &[IpNet]) -> bool {
    allowed.is_empty() || ip.is_some_and(|ip| allowed.iter().any(|net| net.contains(&ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// XFF is ignored from an untrusted peer and read right to left from a trusted one.
    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8"]);
        let peer = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(
            client_ip(peer("1.2.3.4"), Some("149.154.160.1"), &proxies),
            peer("1.2.3.4")
        );
        assert_eq!(
            client_ip(peer("10.0.0.1"), Some("149.154.160.1"), &proxies),
            peer("149.154.160.1")
        );
        assert_eq!(
            client_ip(
                peer("10.0.0.1"),
                Some("149.154.160.1, 6.6.6.6, 10.0.0.2"),
                &proxies
            ),
            peer("6.6.6.6")
        );
        assert_eq!(
            client_ip(peer("10.0.0.1"), Some("junk"), &proxies),
            peer("10.0.0.1")
        );
        let telegram = nets(&["149.154.160.0/20", "91.108.4.0/22"]);
        assert!(allowed(peer("149.154.167.99"), &telegram));
        assert!(!allowed(peer("6.6.6.6"), &telegram));
        assert!(allowed(peer("6.6.6.6"), &[]));
    }
}
