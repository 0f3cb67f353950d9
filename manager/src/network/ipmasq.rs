//! The bridge plugin's masquerade rule and chain of one container, removed by berthd where the
//! plugin's DEL leaves them.
//!
//! Debian's bridge plugin (1.1) finds the addresses whose masquerade rules it removes on the
//! container's interface. Once that interface is gone (its veth deleted, the namespace torn
//! down behind berthd's back), DEL succeeds and leaves `POSTROUTING -s IP -j CNI-…` and its
//! chain behind, one pair per such container, for good. The names are the plugin's: the chain
//! is `CNI-` and the first 24 hex digits of SHA-512(network name + container id); every rule
//! carries the comment `name: "NET" id: "ID"`.

use sha2::{Digest, Sha512};
use std::path::Path;
use std::time::Duration;

/// How long one iptables call may take (it waits for the xtables lock with `-w`).
const IPTABLES_TIMEOUT: Duration = Duration::from_secs(10);

/// A sweep that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum IpMasqError {
    /// iptables failed, could not be run or did not finish in time.
    #[error("iptables {args}: {message}")]
    Iptables {
        /// Its arguments.
        args: String,
        /// What went wrong (its stderr).
        message: String,
    },
}

/// The plugin's masquerade chain of a container on a network.
pub fn chain_name(network: &str, container_id: &str) -> String {
    let sum = Sha512::digest(format!("{network}{container_id}").as_bytes());
    let mut chain = format!("CNI-{}", hex::encode(sum));
    chain.truncate(28);
    chain
}

/// The plugin's rule comment (Go's `%q` of both; network names and ids are plain ASCII, where
/// it agrees with Rust's `{:?}`).
pub fn comment(network: &str, container_id: &str) -> String {
    format!("name: {network:?} id: {container_id:?}")
}

/// Whether a host-side interface of a cached ADD result is gone: then the bridge plugin's DEL
/// cannot see the container's addresses and [`sweep`] has work to do.
pub fn host_veth_gone(result: &serde_json::Value, bridge: &str) -> bool {
    let Some(ifaces) = result.get("interfaces").and_then(|v| v.as_array()) else {
        return false;
    };
    ifaces
        .iter()
        .filter(|i| {
            i.get("sandbox")
                .and_then(|s| s.as_str())
                .is_none_or(str::is_empty)
        })
        .filter_map(|i| i.get("name").and_then(|n| n.as_str()))
        // A name from the store never walks out of /sys/class/net.
        .filter(|n| {
            n != &bridge
                && !n.is_empty()
                && n.len() <= 15
                && !n.contains('/')
                && !n.starts_with('.')
        })
        .any(|n| !Path::new("/sys/class/net").join(n).exists())
}

/// Removes the masquerade rule of `ip` and the chain of container `container_id` on `network`;
/// nothing left to remove is not an error. Returns whether a chain was found.
pub async fn sweep(network: &str, container_id: &str, ip: &str) -> Result<bool, IpMasqError> {
    let chain = chain_name(network, container_id);
    if iptables(&["-t", "nat", "-S", &chain]).await.is_err() {
        return Ok(false);
    }
    let comment = comment(network, container_id);
    // The plugin's rule names the bare address; older plugins wrote the address with its prefix.
    for source in [ip.to_string(), format!("{ip}/32")] {
        let rule = [
            "-t",
            "nat",
            "-D",
            "POSTROUTING",
            "-s",
            &source,
            "-j",
            &chain,
            "-m",
            "comment",
            "--comment",
            &comment,
        ];
        // A rule added twice is deleted twice; the bound only guards against a loop.
        for _ in 0..4 {
            if iptables(&rule).await.is_err() {
                break;
            }
        }
    }
    iptables(&["-t", "nat", "-F", &chain]).await?;
    iptables(&["-t", "nat", "-X", &chain]).await?;
    Ok(true)
}

/// Runs `iptables -w ARGS` (the binary the plugins run, from the same PATH).
async fn iptables(args: &[&str]) -> Result<(), IpMasqError> {
    let fail = |message: String| IpMasqError::Iptables {
        args: args.join(" "),
        message,
    };
    let mut cmd = tokio::process::Command::new("iptables");
    cmd.arg("-w")
        .args(args)
        .env_clear()
        .env("PATH", super::cni::PLUGIN_PATH)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let (child, _claim) = crate::children::spawn(&mut cmd).map_err(|e| fail(e.to_string()))?;
    let out = tokio::time::timeout(IPTABLES_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| fail(format!("timed out after {}s", IPTABLES_TIMEOUT.as_secs())))?
        .map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_bridge_plugins() {
        // The plugin's FormatChainName: "CNI-" and SHA-512(name + id) in hex, cut at 28.
        let chain = chain_name("bridge", "abc");
        assert_eq!(chain.len(), 28);
        let sum = hex::encode(Sha512::digest(b"bridgeabc"));
        assert_eq!(chain, format!("CNI-{}", &sum[..24]));
        assert_eq!(comment("bridge", "abc"), r#"name: "bridge" id: "abc""#);
    }

    #[test]
    fn only_a_missing_host_interface_counts() {
        let result = serde_json::json!({"interfaces": [
            {"name": "berth-none0"},
            {"name": "lo"},
            {"name": "eth0", "sandbox": "/run/netns/x"},
        ]});
        // The bridge itself (named by the network) and an interface in the sandbox are not
        // the host veth; "lo" exists on every host.
        assert!(!host_veth_gone(&result, "berth-none0"));
        let gone = serde_json::json!({"interfaces": [{"name": "vethgone0000"}]});
        assert!(host_veth_gone(&gone, "br"));
        let hostile = serde_json::json!({"interfaces": [{"name": "../../x"}, {"name": "."}]});
        assert!(!host_veth_gone(&hostile, "br"));
        assert!(!host_veth_gone(&serde_json::json!({}), "br"));
    }
}
