//! `ps --filter` and `ps --format`: Docker's filters (status, name, label, ancestor, exited) and
//! the rows templates see (Docker's field names).

use super::format::{ago, command_text, status_text};
use berth_proto::v1 as pb;
use std::collections::BTreeMap;

/// Parsed `--filter KEY=VALUE` options: the same key is OR, different keys AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses filters; unknown keys fail with Docker's message.
    pub fn parse(raw: &[String], known: &[&str]) -> anyhow::Result<Self> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
            let k = k.trim().to_ascii_lowercase();
            if !known.contains(&k.as_str()) {
                anyhow::bail!("Error response from daemon: invalid filter '{k}'");
            }
            map.entry(k).or_default().push(v.to_string());
        }
        Ok(Filters(map))
    }

    /// Whether key `k` was given.
    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }

    /// True when no value of `k` was given, or one of them matches.
    pub fn any(&self, k: &str, matches: impl Fn(&str) -> bool) -> bool {
        self.0.get(k).is_none_or(|vs| vs.iter().any(|v| matches(v)))
    }
}

/// Docker's state word (`running`, `exited`, …).
pub fn state_word(c: &pb::Container) -> &'static str {
    let state = c
        .status
        .as_ref()
        .and_then(|s| pb::ContainerState::try_from(s.state).ok())
        .unwrap_or(pb::ContainerState::Unspecified);
    match state {
        pb::ContainerState::Running => "running",
        pb::ContainerState::Paused => "paused",
        pb::ContainerState::Exited => "exited",
        pb::ContainerState::Created => "created",
        pb::ContainerState::Unspecified => "dead",
    }
}

/// Whether container `c` passes the `ps` filters.
pub fn matches(f: &Filters, c: &pb::Container) -> bool {
    let short = super::ps::short_image(&c.image);
    f.any("status", |v| v == state_word(c))
        && f.any("name", |v| c.name.contains(v.trim_start_matches('/')))
        && f.any("id", |v| c.id.starts_with(v))
        && f.any("label", |v| match v.split_once('=') {
            Some((k, val)) => c.labels.get(k).is_some_and(|x| x == val),
            None => c.labels.contains_key(v),
        })
        && f.any("ancestor", |v| {
            let with_tag = if v.rsplit('/').next().is_some_and(|l| l.contains(':')) {
                v.to_string()
            } else {
                format!("{v}:latest")
            };
            short == v
                || short == with_tag
                || c.image == v
                || c.image == with_tag
                || (v.len() >= 4
                    && c.image_digest
                        .trim_start_matches("sha256:")
                        .starts_with(v.trim_start_matches("sha256:")))
        })
        && f.any("exited", |v| {
            state_word(c) == "exited"
                && c.status
                    .as_ref()
                    .is_some_and(|s| s.exit_code_known && v.parse() == Ok(s.exit_code))
        })
}

/// Column titles of `ps` templates (Docker's).
pub fn title(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "CreatedAt" => "CREATED AT",
        "RunningFor" => "CREATED",
        "Ports" => "PORTS",
        "State" => "STATE",
        "Status" => "STATUS",
        "Size" => "SIZE",
        "Names" => "NAMES",
        "Labels" => "LABELS",
        "Mounts" => "MOUNTS",
        "Networks" => "NETWORKS",
        _ => return None,
    })
}

/// One container as `ps --format` sees it.
pub fn row(c: &pb::Container, no_trunc: bool, size: Option<&str>) -> serde_json::Value {
    let id = if no_trunc {
        c.id.clone()
    } else {
        c.id.chars().take(12).collect()
    };
    let command = if no_trunc {
        format!("\"{}\"", c.args.join(" "))
    } else {
        command_text(&c.args)
    };
    let created_at = c
        .created_at
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default();
    let running_for = ago(c.created_at.as_ref());
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<String> = c
        .options
        .as_ref()
        .map(|o| o.mounts.iter().map(|m| m.destination.clone()).collect())
        .unwrap_or_default();
    let network = c
        .network_settings
        .as_ref()
        .map(|n| {
            if n.network.is_empty() {
                n.mode.clone()
            } else {
                n.network.clone()
            }
        })
        .unwrap_or_default();
    serde_json::json!({
        "Command": command,
        "CreatedAt": created_at,
        "ID": id,
        "Image": super::ps::short_image(&c.image),
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": mounts.join(","),
        "Names": c.name,
        "Networks": network,
        "Ports": super::network::ports_text(c),
        "RunningFor": running_for,
        "Size": size.unwrap_or(""),
        "State": state_word(c),
        "Status": status_text(c.status.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, state: pb::ContainerState, code: i32) -> pb::Container {
        pb::Container {
            id: format!("{name:0>64}"),
            name: name.into(),
            image: "docker.io/library/busybox:latest".into(),
            image_digest: "sha256:452c2bf1".into(),
            labels: [("tier".to_string(), "web".to_string())].into(),
            status: Some(pb::ContainerStatus {
                state: state as i32,
                exit_code: code,
                exit_code_known: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn filters_as_docker() {
        let keys = ["status", "name", "label", "ancestor", "exited", "id"];
        let f = |v: &[&str]| {
            Filters::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &keys).unwrap()
        };
        let up = container("web1", pb::ContainerState::Running, 0);
        let down = container("job", pb::ContainerState::Exited, 3);
        assert!(matches(&f(&["status=running"]), &up));
        assert!(!matches(&f(&["status=running"]), &down));
        assert!(matches(&f(&["status=running", "status=exited"]), &down));
        assert!(matches(&f(&["name=web"]), &up));
        assert!(matches(&f(&["label=tier=web", "ancestor=busybox"]), &up));
        assert!(!matches(&f(&["label=tier=db"]), &up));
        assert!(matches(&f(&["ancestor=busybox:latest"]), &up));
        assert!(matches(&f(&["ancestor=452c2bf1"]), &up));
        assert!(!matches(&f(&["ancestor=alpine"]), &up));
        assert!(matches(&f(&["exited=3"]), &down));
        assert!(!matches(&f(&["exited=0"]), &down));
        assert!(!matches(&f(&["exited=0"]), &up));
        assert!(Filters::parse(&["bogus=1".into()], &keys).is_err());
        assert_eq!(row(&up, false, None)["State"], "running");
    }
}
