//! Where a request comes from: the caller's address and the scheme and host it used, for
//! throttling, `lastUsedAt`, the audit, cookies and built URLs.
//!
//! The edge (`src/edge.rs`) works it out once per request and keeps it in the request's
//! extensions. The socket is the truth; `X-Forwarded-For`, `X-Forwarded-Proto` and
//! `X-Forwarded-Host` are read only when the socket peer is one of `SCIMD_TRUSTED_PROXIES`
//! (none by default): anyone else could write them.

use std::net::{IpAddr, SocketAddr};

use actix_web::{HttpMessage, HttpRequest};

/// Where a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The caller's address (`None` without a socket, as in some tests). Kept as an address,
    /// not as text: most requests never show it, and formatting it cost every request ~1,300
    /// instructions.
    pub addr: Option<IpAddr>,
    /// `http` or `https`, as the client used it.
    pub scheme: String,
    /// The host (and port) the client addressed.
    pub host: String,
}

/// One trusted address or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4(u32, u32),
    V6(u128, u128),
}

impl Net {
    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Net::V4(net, mask), IpAddr::V4(ip)) => u32::from(ip) & mask == net,
            (Net::V6(net, mask), IpAddr::V6(ip)) => u128::from(ip) & mask == net,
            (Net::V4(..), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (Net::V6(..), IpAddr::V4(_)) => false,
        }
    }
}

/// The proxies whose forwarding headers are believed (`SCIMD_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Net>);

impl TrustedProxies {
    /// Parses a comma-separated list of IP addresses and CIDR networks (`10.0.0.0/8`,
    /// `192.168.1.7`, `fd00::/8`); empty means none.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, len) = match item.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or CIDR network"))?;
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            let len: u32 =
                match len {
                    None => bits,
                    Some(l) => l.parse().ok().filter(|l| *l <= bits).ok_or_else(|| {
                        format!("'{item}': the prefix length must be 0 to {bits}")
                    })?,
                };
            nets.push(match ip {
                IpAddr::V4(v4) => {
                    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                    Net::V4(u32::from(v4) & mask, mask)
                }
                IpAddr::V6(v6) => {
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    Net::V6(u128::from(v6) & mask, mask)
                }
            });
        }
        Ok(Self(nets))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// Where `req` comes from: its socket, and the forwarding headers when the socket peer is
    /// trusted. The caller's address is the rightmost `X-Forwarded-For` entry that is not a
    /// trusted proxy (the leftmost when all are); an entry that is not an address stops the
    /// walk at the last trusted hop.
    pub fn client_info(&self, req: &HttpRequest) -> ClientInfo {
        let direct = direct_info(req);
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return direct;
        };
        if !self.contains(peer) {
            return direct;
        }
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut addr = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.contains(ip) => addr = ip,
                Some(ip) => {
                    addr = ip;
                    break;
                }
                None => break,
            }
        }
        let last = |name: &str| {
            req.headers()
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .last()
                .map(str::to_owned)
        };
        let scheme = last("x-forwarded-proto")
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s == "http" || s == "https")
            .unwrap_or(direct.scheme);
        let host = last("x-forwarded-host")
            .filter(|h| {
                h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
            })
            .unwrap_or(direct.host);
        ClientInfo {
            addr: Some(addr),
            scheme,
            host,
        }
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// What the socket and the request line say, believing no header but `Host`.
fn direct_info(req: &HttpRequest) -> ClientInfo {
    let config = req.app_config();
    let scheme = if config.secure() { "https" } else { "http" };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| config.host().to_owned());
    ClientInfo {
        addr: req.peer_addr().map(|a| a.ip()),
        scheme: scheme.to_owned(),
        host,
    }
}

/// Where `req` comes from, as the edge worked it out (the socket alone when the edge did not
/// run, as in unit tests of single handlers).
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    req.extensions()
        .get::<ClientInfo>()
        .cloned()
        .unwrap_or_else(|| direct_info(req))
}

/// The id of a request (its answer's `X-Request-Id`), set by the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The id the edge gave `req`, if it ran.
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::get()
            .uri("/scim/v2/Users")
            .insert_header(("Host", "scim.internal:8080"))
            .peer_addr(peer.parse().unwrap());
        for h in headers {
            r = r.append_header(*h);
        }
        r.to_http_request()
    }

    #[test]
    fn lists_parse_and_bad_entries_are_named() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 ,fd00::/8").unwrap();
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("192.168.1.7".parse().unwrap()));
        assert!(!t.contains("192.168.1.8".parse().unwrap()));
        assert!(t.contains("fd12::1".parse().unwrap()));
        assert!(t.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::1/129", "1.2.3.4/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_peer() {
        let headers = [
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "scim.example.com"),
        ];
        let none = TrustedProxies::default();
        let info = none.client_info(&req("198.51.100.1:4000", &headers));
        assert_eq!(
            info.addr.map(|a| a.to_string()).as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(
            (info.scheme.as_str(), info.host.as_str()),
            ("http", "scim.internal:8080")
        );

        let trusted = TrustedProxies::parse("198.51.100.0/24").unwrap();
        let info = trusted.client_info(&req("198.51.100.1:4000", &headers));
        assert_eq!(
            info.addr.map(|a| a.to_string()).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            (info.scheme.as_str(), info.host.as_str()),
            ("https", "scim.example.com")
        );
        // Another peer's headers are ignored even with a list configured.
        let info = trusted.client_info(&req("192.0.2.50:4000", &headers));
        assert_eq!(
            info.addr.map(|a| a.to_string()).as_deref(),
            Some("192.0.2.50")
        );
        assert_eq!(info.scheme, "http");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_caller() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let addr = |xff: &str| {
            trusted
                .client_info(&req("10.0.0.2:1", &[("X-Forwarded-For", xff)]))
                .addr
                .unwrap()
                .to_string()
        };
        // A client may prepend anything: only the entry the trusted proxies added counts.
        assert_eq!(addr("6.6.6.6, 203.0.113.9, 10.0.0.7"), "203.0.113.9");
        assert_eq!(addr("10.0.0.9, 10.0.0.8"), "10.0.0.9");
        assert_eq!(addr("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(addr("garbage, 10.0.0.5"), "10.0.0.5");
        assert_eq!(addr(""), "10.0.0.2");
    }
}
