//! Published ports: Docker's `-p [hostIP:][hostPort:]containerPort[/tcp|udp]` syntax (with port
//! ranges), `-P` for the image's `EXPOSE`d ports, and the "is this host port free" check.

pub use crate::metadata::networks::{PortMapping, Protocol};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// A `-p` value that cannot be used, worded as Docker words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Container port missing, not a number or out of range.
    #[error("invalid containerPort: {0}")]
    ContainerPort(String),
    /// Host port not a number or out of range.
    #[error("invalid hostPort: {0}")]
    HostPort(String),
    /// Protocol other than tcp/udp.
    #[error("invalid proto: {0} (berth publishes tcp and udp ports)")]
    Protocol(String),
    /// Host address not an IPv4 address.
    #[error("invalid IP address: {0} (berth publishes on IPv4 addresses)")]
    HostIp(String),
    /// Host and container ranges of different lengths.
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    Ranges {
        /// Container part as given.
        container: String,
        /// Host part as given.
        host: String,
    },
    /// Too many parts.
    #[error("invalid port format for --publish: {0}")]
    Format(String),
    /// The host port is taken.
    #[error("Bind for {ip}:{port} failed: port is already allocated")]
    Allocated {
        /// Host address.
        ip: Ipv4Addr,
        /// Host port.
        port: u16,
    },
    /// No free host port found for `-P` / `-p PORT`.
    #[error("no free host port for {0}")]
    NoFreePort(String),
}

/// Parses `N` or `N-M` (inclusive); `bad` words the error.
fn parse_range(
    s: &str,
    bad: fn(String) -> PortError,
    allow_zero: bool,
) -> Result<(u16, u16), PortError> {
    let one = |p: &str| -> Result<u16, PortError> {
        match p.parse::<u32>() {
            Ok(n) if n <= 65535 && (allow_zero || n > 0) => Ok(n as u16),
            _ => Err(bad(s.to_string())),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(s.to_string()));
            }
            Ok((a, b))
        }
        None => {
            let n = one(s)?;
            Ok((n, n))
        }
    }
}

/// Parses one `-p` value into its mappings (several for a range). Host port 0 means "choose one".
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let (addr, proto) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (spec, "tcp"),
    };
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return Err(PortError::Protocol(proto.to_string())),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(PortError::Format(spec.to_string())),
    };
    let host_ip = if ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| PortError::HostIp(ip.to_string()))?
    };
    if container.is_empty() {
        return Err(PortError::ContainerPort(spec.to_string()));
    }
    let (c0, c1) = parse_range(container, PortError::ContainerPort, false)?;
    let (h0, h1) = if host.is_empty() {
        (0, 0)
    } else {
        parse_range(host, PortError::HostPort, true)?
    };
    let count = c1 - c0;
    if host.is_empty() || (h0 == 0 && h1 == 0) {
        return Ok((c0..=c1)
            .map(|c| PortMapping {
                host_ip,
                host_port: 0,
                container_port: c,
                protocol,
            })
            .collect());
    }
    if h1 - h0 != count {
        return Err(PortError::Ranges {
            container: container.to_string(),
            host: host.to_string(),
        });
    }
    Ok((0..=count)
        .map(|i| PortMapping {
            host_ip,
            host_port: h0 + i,
            container_port: c0 + i,
            protocol,
        })
        .collect())
}

/// Parses an image's `ExposedPorts` key (`80/tcp`, `53/udp`, `80`).
pub fn parse_exposed(key: &str) -> Result<Vec<(u16, Protocol)>, PortError> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(PortError::Protocol(other.to_string())),
    };
    let (a, b) = parse_range(port, PortError::ContainerPort, false)?;
    Ok((a..=b).map(|p| (p, protocol)).collect())
}

/// Whether a process on this host could bind `ip:port` now: tries to bind it (the only check that
/// sees every kind of user of a port).
pub fn host_port_free(ip: Ipv4Addr, port: u16, protocol: Protocol) -> bool {
    let addr = SocketAddr::new(IpAddr::V4(ip), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr).is_ok(),
        Protocol::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// A free host port chosen by the kernel (bind to port 0), as Docker picks one for `-P`.
pub fn ephemeral_port(ip: Ipv4Addr, protocol: Protocol) -> Option<u16> {
    let addr = SocketAddr::new(IpAddr::V4(ip), 0);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr)
            .ok()?
            .local_addr()
            .ok()
            .map(|a| a.port()),
        Protocol::Udp => UdpSocket::bind(addr)
            .ok()?
            .local_addr()
            .ok()
            .map(|a| a.port()),
    }
}

/// Whether two mappings would claim the same host port (0.0.0.0 overlaps every address).
pub fn overlaps(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip == b.host_ip || a.host_ip.is_unspecified() || b.host_ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: [u8; 4], h: u16, c: u16, p: Protocol) -> PortMapping {
        PortMapping {
            host_ip: Ipv4Addr::from(ip),
            host_port: h,
            container_port: c,
            protocol: p,
        }
    }

    #[test]
    fn docker_forms_parse() {
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            vec![m([0; 4], 8080, 80, Protocol::Tcp)]
        );
        assert_eq!(
            parse_publish("80").unwrap(),
            vec![m([0; 4], 0, 80, Protocol::Tcp)]
        );
        assert_eq!(
            parse_publish("127.0.0.1:5353:53/udp").unwrap(),
            vec![m([127, 0, 0, 1], 5353, 53, Protocol::Udp)]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            vec![m([127, 0, 0, 1], 0, 80, Protocol::Tcp)]
        );
        assert_eq!(
            parse_publish("8080-8081:80-81").unwrap(),
            vec![
                m([0; 4], 8080, 80, Protocol::Tcp),
                m([0; 4], 8081, 81, Protocol::Tcp)
            ]
        );
        assert_eq!(
            m([0; 4], 8080, 80, Protocol::Tcp).to_string(),
            "0.0.0.0:8080->80/tcp"
        );
    }

    #[test]
    fn bad_input_is_worded_like_docker() {
        assert_eq!(
            parse_publish("99999:80").unwrap_err().to_string(),
            "invalid hostPort: 99999"
        );
        assert_eq!(
            parse_publish("abc").unwrap_err().to_string(),
            "invalid containerPort: abc"
        );
        assert!(parse_publish("80/sctp")
            .unwrap_err()
            .to_string()
            .starts_with("invalid proto: sctp"));
        assert!(matches!(
            parse_publish("8080-8082:80-81"),
            Err(PortError::Ranges { .. })
        ));
        assert!(matches!(parse_publish("x:1:80"), Err(PortError::HostIp(_))));
        assert!(matches!(
            parse_publish("1:2:3:4"),
            Err(PortError::Format(_))
        ));
        assert!(matches!(
            parse_publish("8080:0"),
            Err(PortError::ContainerPort(_))
        ));
        assert!(matches!(
            parse_publish("8080:"),
            Err(PortError::ContainerPort(_))
        ));
    }

    #[test]
    fn exposed_and_overlap() {
        assert_eq!(parse_exposed("80/tcp").unwrap(), vec![(80, Protocol::Tcp)]);
        assert_eq!(parse_exposed("53/udp").unwrap(), vec![(53, Protocol::Udp)]);
        let any = m([0; 4], 80, 1, Protocol::Tcp);
        assert!(overlaps(&any, &m([127, 0, 0, 1], 80, 2, Protocol::Tcp)));
        assert!(!overlaps(&any, &m([127, 0, 0, 1], 80, 2, Protocol::Udp)));
        assert!(!overlaps(
            &m([127, 0, 0, 2], 80, 1, Protocol::Tcp),
            &m([127, 0, 0, 1], 80, 2, Protocol::Tcp)
        ));
    }

    #[test]
    fn a_listening_port_is_not_free() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!host_port_free(Ipv4Addr::LOCALHOST, port, Protocol::Tcp));
        drop(l);
        assert!(host_port_free(Ipv4Addr::LOCALHOST, port, Protocol::Tcp));
    }
}
