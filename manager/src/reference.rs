//! Image references as Docker writes them: `hello-world`, `name:tag`, `name@sha256:…`,
//! `host:port/path/name:tag`, `localhost/x`, normalized to a fully qualified form
//! (`docker.io/library/hello-world:latest`) and displayed in Docker's short form.

use std::fmt;

/// The registry that names without a domain refer to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name (domain excluded) the distribution spec allows (oci_client checks it).
const MAX_NAME_LEN: usize = 255;
/// Longest tag the distribution spec allows.
const MAX_TAG_LEN: usize = 128;

/// Why a reference string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The string was empty.
    #[error("invalid reference format: empty reference")]
    Empty,
    /// The repository contains upper-case letters.
    #[error("invalid reference format \"{0}\": repository name must be lowercase")]
    Uppercase(String),
    /// The name part does not follow the grammar.
    #[error("invalid reference format \"{0}\": {1}")]
    BadName(String, &'static str),
    /// The tag does not follow the grammar.
    #[error("invalid reference format \"{0}\": invalid tag \"{1}\"")]
    BadTag(String, String),
    /// The digest does not follow the grammar.
    #[error("invalid reference format \"{0}\": invalid digest \"{1}\"")]
    BadDigest(String, String),
    /// The repository name is longer than the spec allows.
    #[error(
        "invalid reference format \"{0}\": repository name longer than {MAX_NAME_LEN} characters"
    )]
    TooLong(String),
}

/// A fully qualified image reference: registry, repository and a tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses a reference the way `docker pull` does, filling in `docker.io`, `library/` and `latest`.
    ///
    /// The grammar and Docker Hub normalisation are `oci_client::Reference`'s (a port of
    /// distribution/reference); the checks before it only give Docker's error for each kind of
    /// mistake (tag, digest, upper case) and accept what that port does not: `[ipv6]:port` hosts.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let bad = |why: &'static str| ReferenceError::BadName(input.to_string(), why);
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(ReferenceError::BadDigest(input.into(), digest.into()));
                }
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // A tag is what follows the last ':' unless that ':' belongs to a host:port.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::BadTag(input.into(), tag.into()));
            }
        }
        if name.is_empty() {
            return Err(bad("missing repository name"));
        }
        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(input.into()));
        }
        // oci_client's host grammar has no IPv6 literals, and it reads a first component with
        // upper-case letters (but no '.' or ':') as part of the repository, where Docker takes
        // it for a host: parse with a stand-in host, then put the real one back.
        let odd_host = domain.filter(|d| {
            d.starts_with('[') || !(d.contains('.') || d.contains(':') || *d == "localhost")
        });
        let parsed = match odd_host {
            Some(host) => {
                let valid = if host.starts_with('[') {
                    valid_ipv6_host(host)
                } else {
                    valid_host_label(host)
                };
                if !valid {
                    return Err(bad("invalid registry host"));
                }
                oci_client::Reference::try_from(input.replacen(host, IPV6_STAND_IN, 1))
            }
            None => oci_client::Reference::try_from(input),
        };
        let parsed = parsed.map_err(|e| match e {
            oci_client::ParseError::NameTooLong => ReferenceError::TooLong(input.into()),
            oci_client::ParseError::NameContainsUppercase => {
                ReferenceError::Uppercase(input.into())
            }
            oci_client::ParseError::TagInvalidFormat => {
                ReferenceError::BadTag(input.into(), tag.unwrap_or_default().into())
            }
            oci_client::ParseError::DigestInvalidFormat
            | oci_client::ParseError::DigestInvalidLength
            | oci_client::ParseError::DigestUnsupported => {
                ReferenceError::BadDigest(input.into(), digest.unwrap_or_default().into())
            }
            oci_client::ParseError::NameEmpty | oci_client::ParseError::ReferenceInvalidFormat => {
                bad("repository name components must be lowercase letters, digits and separators (. _ __ -) between them, after an optional registry host[:port]")
            }
        })?;
        Ok(Reference {
            registry: odd_host.unwrap_or(parsed.registry()).to_string(),
            repository: parsed.repository().to_string(),
            tag: parsed.tag().map(str::to_string),
            digest: parsed.digest().map(str::to_string),
        })
    }

    /// The registry host (with port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `library/hello-world`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any (`latest` is filled in when neither tag nor digest was given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask the registry's manifest endpoint for: the digest if pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::BadTag(self.to_string(), tag.into()));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest`, no tag.
    pub fn with_digest(&self, digest: &str) -> Result<Self, ReferenceError> {
        if !valid_digest(digest) {
            return Err(ReferenceError::BadDigest(self.to_string(), digest.into()));
        }
        Ok(Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// The repository name without tag or digest, fully qualified (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository name as Docker shows it (`busybox`, `user/app`, `127.0.0.1:5000/x`).
    /// A Docker Hub repository whose first component reads as a host (`docker.io/a.b/c`) keeps
    /// `docker.io/`: without it the short form would name another registry.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            let short = match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short,
                _ => &self.repository,
            };
            match split_domain(short) {
                (None, _) => short.to_string(),
                (Some(_), _) => self.name(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker shows it (`busybox:latest`).
    pub fn familiar(&self) -> String {
        self.render(&self.familiar_name())
    }

    fn render(&self, name: &str) -> String {
        let mut out = name.to_string();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form (`docker.io/library/busybox:latest`), as stored in image records.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&self.name()))
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Splits off the first component if Docker would treat it as a registry host (only to find
/// the path that must be lower case: a host may have upper-case letters).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// A host name oci_client accepts in place of an IPv6 literal (`.invalid` is reserved, RFC 6761).
/// A registry host of one DNS label (Docker's domain component: letters, digits and inner
/// hyphens), as a first component with upper-case letters is.
fn valid_host_label(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('-')
        && !host.ends_with('-')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

const IPV6_STAND_IN: &str = "ipv6.invalid";

/// `[hex:…]` or `[hex:…]:port`.
fn valid_ipv6_host(domain: &str) -> bool {
    let Some((v6, after)) = domain.strip_prefix('[').and_then(|r| r.split_once(']')) else {
        return false;
    };
    let port_ok = match after {
        "" => true,
        p => p.strip_prefix(':').is_some_and(|port| {
            !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit())
        }),
    };
    !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') && port_ok
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    match chars.next() {
        Some(c) if word(c) => {}
        _ => return false,
    }
    tag.len() <= MAX_TAG_LEN && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex`; sha256 and sha512 must have their exact lengths.
pub fn valid_digest(digest: &str) -> bool {
    let Some((algo, hex)) = digest.split_once(':') else {
        return false;
    };
    let lower_hex = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    match algo {
        "sha256" => hex.len() == 64 && lower_hex(hex),
        "sha512" => hex.len() == 128 && lower_hex(hex),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(full("hello-world"), "docker.io/library/hello-world:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("a/b/c/d"), "docker.io/a/b/c/d:latest");
    }

    #[test]
    fn hosts_ports_and_localhost() {
        let r = Reference::parse("127.0.0.1:5000/library/busybox:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        assert_eq!(full("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(full("quay.io/a/b"), "quay.io/a/b:latest");
        assert_eq!(full("[::1]:5000/x:t"), "[::1]:5000/x:t");
        // A single component with a port but no slash is a name:tag, not a host.
        assert_eq!(full("localhost:5000"), "docker.io/library/localhost:5000");
    }

    #[test]
    fn digests() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.manifest_reference(), D);
        let r = Reference::parse(&format!("host:1/busybox:t@{D}")).unwrap();
        assert_eq!(r.tag(), Some("t"));
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(r.to_string(), format!("host:1/busybox:t@{D}"));
    }

    #[test]
    fn familiar_form_of_a_hub_repository_that_looks_like_a_host() {
        // Found by the reference fuzz target: `docker.io/licker.io/x` was shown as
        // `licker.io/x`, which names the registry licker.io.
        for s in [
            "docker.io/licker.io/library/hello-world:v1",
            "docker.io/localhost/x:latest",
        ] {
            let r = Reference::parse(s).unwrap();
            assert_eq!(r.familiar(), s);
            assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
            assert_eq!(
                Reference::parse(&r.familiar_name()).unwrap().name(),
                r.name()
            );
        }
        assert_eq!(
            Reference::parse("user/a.b").unwrap().familiar(),
            "user/a.b:latest"
        );
    }

    #[test]
    fn familiar_forms() {
        let f = |s: &str| Reference::parse(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/hello-world"), "hello-world:latest");
        assert_eq!(f("user/app:1"), "user/app:1");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(f("127.0.0.1:5000/x:y"), "127.0.0.1:5000/x:y");
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar_name(),
            "busybox"
        );
    }

    #[test]
    fn separators() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3", "0"] {
            assert!(Reference::parse(ok).is_ok(), "{ok} should parse");
        }
        for bad in [
            "a..b", "a___b", "_a", "a_", "-a", "a-", "a.-b", ".a", "a/", "/a", "a//b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            Reference::parse("Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            Reference::parse("example.com/Foo"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            Reference::parse("busybox:"),
            Err(ReferenceError::BadTag(..))
        ));
        assert!(matches!(
            Reference::parse("busybox:-x"),
            Err(ReferenceError::BadTag(..))
        ));
        assert!(matches!(
            Reference::parse(&format!("busybox:{}", "a".repeat(129))),
            Err(ReferenceError::BadTag(..))
        ));
        assert!(Reference::parse(&format!("busybox:{}", "a".repeat(128))).is_ok());
        assert!(matches!(
            Reference::parse("busybox@sha256:abc"),
            Err(ReferenceError::BadDigest(..))
        ));
        assert!(matches!(
            Reference::parse("busybox@md5:abc"),
            Err(ReferenceError::BadDigest(..))
        ));
        assert!(matches!(
            Reference::parse(&format!("busybox@{}", D.to_uppercase())),
            Err(ReferenceError::BadDigest(..))
        ));
        assert!(Reference::parse(":tag").is_err());
        assert!(Reference::parse("@sha256:x").is_err());
        assert!(Reference::parse("host:port/x").is_err());
        assert!(Reference::parse("-host.com/x").is_err());
        assert!(Reference::parse("a b").is_err());
        assert!(Reference::parse("a:b:c").is_err());
        assert!(matches!(
            Reference::parse(&format!("x/{}", "a".repeat(256))),
            Err(ReferenceError::TooLong(_))
        ));
    }

    #[test]
    fn errors_are_one_line_and_name_the_input() {
        let msg = Reference::parse("Busybox").unwrap_err().to_string();
        assert!(msg.contains("Busybox") && !msg.contains('\n'), "{msg}");
    }

    #[test]
    fn retagging() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            r.with_tag("v2").unwrap().to_string(),
            "docker.io/library/busybox:v2"
        );
        assert!(r.with_tag("bad tag").is_err());
        assert_eq!(
            r.with_digest(D).unwrap().to_string(),
            format!("docker.io/library/busybox@{D}")
        );
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    #[test]
    fn upper_case_first_component_is_a_registry_and_round_trips() {
        // Found by the reference fuzz target: Docker takes "0Aa" for a host (it has upper-case
        // letters); oci_client took it for the repository, which then did not parse back.
        let r = Reference::parse("0Aa/b/g2/h").unwrap();
        assert_eq!((r.registry(), r.repository()), ("0Aa", "b/g2/h"));
        for s in [r.to_string(), r.familiar(), r.name(), r.familiar_name()] {
            let back = Reference::parse(&s).unwrap();
            assert_eq!(
                (back.registry(), back.repository()),
                ("0Aa", "b/g2/h"),
                "{s}"
            );
        }
        assert!(Reference::parse("A_b/c").is_err());
    }
}
