//! `--tmpfs PATH[:OPTIONS]`: a tmpfs mount with Docker's defaults (`noexec,nosuid,nodev`,
//! private), the given options merged over them as Docker's `MergeTmpfsOptions` does (a later
//! flag overrides its opposite, a later `key=value` its key), and Docker's check of the options.

use super::BundleError;

/// Mount flags a tmpfs option may be (and the opposite each overrides), as Docker's parser
/// knows them.
const FLAGS: [(&str, &str); 16] = [
    ("ro", "rw"),
    ("suid", "nosuid"),
    ("dev", "nodev"),
    ("exec", "noexec"),
    ("sync", "async"),
    ("dirsync", ""),
    ("remount", ""),
    ("mand", "nomand"),
    ("atime", "noatime"),
    ("diratime", "nodiratime"),
    ("relatime", "norelatime"),
    ("strictatime", "nostrictatime"),
    ("private", "rprivate"),
    ("shared", "rshared"),
    ("slave", "rslave"),
    ("unbindable", "runbindable"),
];

/// Data options tmpfs takes.
const DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// Docker's defaults for `--tmpfs`.
const DEFAULTS: [&str; 4] = ["noexec", "nosuid", "nodev", "rprivate"];

fn flag_group(o: &str) -> Option<usize> {
    FLAGS
        .iter()
        .position(|(a, b)| *a == o || (!b.is_empty() && *b == o))
}

/// A parsed `--tmpfs` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    /// Absolute path in the container.
    pub destination: String,
    /// Mount options, defaults merged with the given ones.
    pub options: Vec<String>,
}

/// Parses `PATH[:OPTIONS]` with Docker's messages.
pub fn parse_tmpfs(spec: &str) -> Result<Tmpfs, BundleError> {
    let (dst, given) = spec.split_once(':').unwrap_or((spec, ""));
    let invalid = |reason: String| BundleError::Refused(reason);
    if !dst.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config for type \"tmpfs\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    if dst == "/" {
        return Err(invalid(
            "invalid mount config for type \"tmpfs\": destination can't be '/'".into(),
        ));
    }
    let given: Vec<&str> = given.split(',').filter(|o| !o.is_empty()).collect();
    for o in &given {
        let key = o.split_once('=').map_or(*o, |(k, _)| k);
        if flag_group(o).is_none() && *o != "defaults" && !DATA.contains(&key) {
            return Err(invalid(format!("Invalid tmpfs option [\"{o}\"]")));
        }
        if DATA.contains(&key) && !o.contains('=') {
            return Err(invalid(format!("Invalid tmpfs option [\"{o}\"]")));
        }
    }
    // Later options win (`defaults` is accepted and adds nothing): walk backwards, keeping the first of each flag group and data key.
    let mut groups = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    let mut merged = Vec::new();
    for o in DEFAULTS.iter().copied().chain(given).rev() {
        if let Some((k, _)) = o.split_once('=') {
            if keys.insert(k.to_string()) {
                merged.push(o.to_string());
            }
        } else if let Some(g) = flag_group(o) {
            if groups.insert(g) {
                merged.push(o.to_string());
            }
        }
    }
    merged.reverse();
    Ok(Tmpfs {
        destination: dst.to_string(),
        options: merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides_as_docker() {
        let t = parse_tmpfs("/run").unwrap();
        assert_eq!(t.options, ["noexec", "nosuid", "nodev", "rprivate"]);
        let t = parse_tmpfs("/run:exec,size=64m,mode=1777,size=1m").unwrap();
        assert_eq!(
            t.options,
            [
                "nosuid",
                "nodev",
                "rprivate",
                "exec",
                "mode=1777",
                "size=1m"
            ]
        );
        assert!(parse_tmpfs("/run:ro")
            .unwrap()
            .options
            .contains(&"ro".to_string()));
        for (bad, msg) in [
            ("run", "must be absolute"),
            ("/", "destination can't be '/'"),
            ("/run:bogus", "Invalid tmpfs option [\"bogus\"]"),
            ("/run:colour=red", "Invalid tmpfs option [\"colour=red\"]"),
        ] {
            let e = parse_tmpfs(bad).unwrap_err().to_string();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }
}
