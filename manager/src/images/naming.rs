//! Image name normalization as Docker does it, used to look up records by short names.
//! (A full reference parser lives with the registry code; this covers names and tags only.)

/// Default registry of short names.
const DEFAULT_DOMAIN: &str = "docker.io";

/// A name that is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference format: {0:?}")]
pub struct InvalidName(pub String);

/// Normalizes `hello-world` → `docker.io/library/hello-world:latest`, `user/app:1` →
/// `docker.io/user/app:1`, `127.0.0.1:5000/app` → `127.0.0.1:5000/app:latest`. A `@sha256:` digest is
/// kept and suppresses the default tag.
pub fn normalize(input: &str) -> Result<String, InvalidName> {
    let bad = || InvalidName(input.to_string());
    let (name_tag, digest) = match input.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (input, None),
    };
    let (name, tag) = match name_tag.rfind(':') {
        Some(i) if !name_tag[i + 1..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
        _ => (name_tag, None),
    };
    if name.is_empty() || name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(bad());
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        Some(_) => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        None => (DEFAULT_DOMAIN.to_string(), format!("library/{name}")),
    };
    let path_ok = path.split('/').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    });
    if !path_ok {
        return Err(bad());
    }
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(bad());
        }
    }
    let mut out = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(t), _) => {
            out.push(':');
            out.push_str(t);
        }
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        crate::content::Digest::parse(d).map_err(|_| bad())?;
        out.push('@');
        out.push_str(d);
    }
    Ok(out)
}

/// Parts of a normalized name as Docker displays them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName {
    /// Repository without `docker.io/` and `library/`, e.g. `hello-world` or `127.0.0.1:5000/app`.
    pub repository: String,
    /// Tag, empty if the name has none.
    pub tag: String,
    /// `repository:tag` (or `repository@digest`).
    pub full: String,
}

/// Splits a normalized name for display: `docker.io/library/hello-world:latest` →
/// (`hello-world`, `latest`).
pub fn display(normalized: &str) -> DisplayName {
    let (name_tag, digest) = match normalized.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (normalized, None),
    };
    let (name, tag) = match name_tag.rfind(':') {
        Some(i) if !name_tag[i + 1..].contains('/') => (&name_tag[..i], &name_tag[i + 1..]),
        _ => (name_tag, ""),
    };
    let short = name
        .strip_prefix("docker.io/")
        .map(|rest| {
            rest.strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(rest)
        })
        .unwrap_or(name);
    let full = match (tag, digest) {
        ("", Some(d)) => format!("{short}@{d}"),
        ("", None) => short.to_string(),
        (t, _) => format!("{short}:{t}"),
    };
    DisplayName {
        repository: short.to_string(),
        tag: tag.to_string(),
        full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            ("hello-world", "docker.io/library/hello-world:latest"),
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("user/app", "docker.io/user/app:latest"),
            ("docker.io/library/busybox:1", "docker.io/library/busybox:1"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
            ("localhost/a/b:v2", "localhost/a/b:v2"),
            ("quay.io/x/y", "quay.io/x/y:latest"),
        ];
        for (i, want) in cases {
            assert_eq!(normalize(i).unwrap(), want, "{i}");
        }
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            normalize(&format!("busybox@{d}")).unwrap(),
            format!("docker.io/library/busybox@{d}")
        );
        for bad in ["", "UPPER", "a//b", "a:", "a:-x", "/a", "busybox@sha256:zz"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_like_docker() {
        let d = display("docker.io/library/hello-world:latest");
        assert_eq!(
            (d.repository.as_str(), d.tag.as_str()),
            ("hello-world", "latest")
        );
        assert_eq!(display("docker.io/user/app:1").full, "user/app:1");
        assert_eq!(display("docker.io/library/a/b:1").repository, "library/a/b");
        assert_eq!(
            display("127.0.0.1:5000/app:latest").repository,
            "127.0.0.1:5000/app"
        );
    }
}
