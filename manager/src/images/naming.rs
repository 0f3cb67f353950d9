//! Image names for records and display, on top of [`crate::reference`] (Docker's normalization rules).

use crate::reference::Reference;

/// A name that is not a valid image reference.
pub use crate::reference::ReferenceError as InvalidName;

/// Normalizes `hello-world` → `docker.io/library/hello-world:latest`, `user/app:1` →
/// `docker.io/user/app:1`, `127.0.0.1:5000/app` → `127.0.0.1:5000/app:latest`; the key of image
/// records.
pub fn normalize(input: &str) -> Result<String, InvalidName> {
    Ok(Reference::parse(input)?.to_string())
}

/// Parts of a normalized name as Docker displays them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName {
    /// Repository without `docker.io/` and `library/`, e.g. `hello-world` or `127.0.0.1:5000/app`.
    pub repository: String,
    /// Tag, empty if the name has none.
    pub tag: String,
    /// `repository:tag` (or with `@digest`).
    pub full: String,
}

/// Splits a normalized name for display: `docker.io/library/hello-world:latest` →
/// (`hello-world`, `latest`). A name that does not parse is shown as it is.
pub fn display(normalized: &str) -> DisplayName {
    match Reference::parse(normalized) {
        Ok(r) => DisplayName {
            repository: r.familiar_name(),
            tag: r.tag().unwrap_or_default().to_string(),
            full: r.familiar(),
        },
        Err(_) => DisplayName {
            repository: normalized.to_string(),
            tag: String::new(),
            full: normalized.to_string(),
        },
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
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
            ("localhost/a/b:v2", "localhost/a/b:v2"),
        ];
        for (i, want) in cases {
            assert_eq!(normalize(i).unwrap(), want, "{i}");
        }
        for bad in ["", "UPPER", "a//b", "a:", "busybox@sha256:zz"] {
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
        assert_eq!(
            display("127.0.0.1:5000/app:latest").repository,
            "127.0.0.1:5000/app"
        );
    }
}
