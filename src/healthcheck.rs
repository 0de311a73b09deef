//! `scimd healthcheck`: asks a running scimd for `/readyz` over plain HTTP/1.1 and succeeds on
//! `200`, so that a container image without curl can have a `HEALTHCHECK`.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    time::Duration,
};

/// Checks `base` (`http://host:port`, default: `listen`, with an unspecified address read as
/// loopback); an error says why the service is not ready.
pub fn check(base: Option<&str>, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let (host, addr) = match base {
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .ok_or("--url must start with http:// (the check speaks plain HTTP)")?;
            let authority = rest.split('/').next().unwrap_or(rest);
            let with_port = if authority.contains(':') {
                authority.to_owned()
            } else {
                format!("{authority}:80")
            };
            let addr = with_port
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| format!("{authority} does not resolve"))?;
            (authority.to_owned(), addr)
        }
        None => {
            let mut addr = listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            (addr.to_string(), addr)
        }
    };
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("");
    if status == "200" {
        println!("ready");
        Ok(())
    } else {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
        Err(format!("not ready: /readyz answered {status} {body}").into())
    }
}
