//! Who the client is behind reverse proxies. `X-Forwarded-For` is written left to right
//! by each hop, and only the entries the proxies we run appended can be believed: a
//! client writes whatever it likes at the left (nginx's `$proxy_add_x_forwarded_for`,
//! AWS ALB and HAProxy all keep what the client sent). So the client is the right-most
//! address that is not one of our proxies, read over every `X-Forwarded-For` field —
//! and the peer itself when the peer is no proxy of ours.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` entries are believed (`GATEHOUSE_TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of CIDRs (`10.0.0.0/8, ::1/128`); a bare address is one
    /// host.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let network = match entry.parse::<IpNet>() {
                Ok(network) => network,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("`{entry}` is neither a CIDR nor an address"))?,
            };
            networks.push(network.trunc());
        }
        Ok(TrustedProxies(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in forwarded.iter().rev() {
            // Something no proxy of ours writes: what stands left of it is the
            // client's own writing, so the hop before it is as far as we can see.
            let Some(address) = parse_entry(entry) else {
                return client;
            };
            client = canonical(address);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// An address as proxies write it: bare, or IPv6 in brackets, either with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    None
}

/// IPv4 addresses mapped into IPv6 (a dual-stack listener's view) as plain IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(fields: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append("x-forwarded-for", HeaderValue::from_str(field).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_cannot_choose_its_address_by_writing_the_header() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client wrote 1.2.3.4; nginx appended the address it saw, 203.0.113.9.
        let request = headers(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &request),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn every_field_counts_and_chained_proxies_are_skipped() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        let request = headers(&["6.6.6.6", "203.0.113.9, 192.0.2.1", "10.1.1.1"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &request),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn without_trusted_proxies_or_from_another_peer_the_header_is_ignored() {
        let request = headers(&["1.2.3.4"]);
        assert_eq!(
            TrustedProxies::default().client_address(ip("198.51.100.7"), &request),
            ip("198.51.100.7")
        );
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            proxies.client_address(ip("198.51.100.7"), &request),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_hop_we_can_believe() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let request = headers(&["unknown, 10.0.0.9"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &request),
            ip("10.0.0.9")
        );
        let bracketed = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.2"), &bracketed),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn lists_parse_and_refuse_nonsense() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("::1, 10.0.0.0/8").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }
}
