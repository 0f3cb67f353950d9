//! Network counters of a process's network namespace (`/proc/<pid>/net/dev`).

use super::{read, ObserveError};

/// Received and sent bytes over every interface but loopback.
pub fn counters(pid: u32) -> Result<(u64, u64), ObserveError> {
    let path = std::path::PathBuf::from(format!("/proc/{pid}/net/dev"));
    Ok(parse(&read(path)?))
}

/// Sums `/proc/net/dev`: two header lines, then `iface: rx_bytes … (8 rx fields) tx_bytes …`.
fn parse(text: &str) -> (u64, u64) {
    let mut rx = 0u64;
    let mut tx = 0u64;
    for line in text.lines().skip(2) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            rx = rx.saturating_add(fields[0]);
            tx = tx.saturating_add(fields[8]);
        }
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_left_out() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    1500      10    0    0    0     0          0         0      700       5    0    0    0     0       0          0\n";
        assert_eq!(super::parse(text), (1500, 700));
    }
}
