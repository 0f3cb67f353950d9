//! Addressing containers by name, full id or unique id prefix (Docker's rules).

use super::record::ContainerRecord;

/// Why a reference did not resolve to exactly one container.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing matched.
    #[error("No such container: {0}")]
    NotFound(String),
    /// An id prefix matched several containers.
    #[error("Multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
}

/// Finds the one container `query` names: an exact id or name wins, else a unique id prefix.
pub fn resolve<'a>(
    records: &'a [ContainerRecord],
    query: &str,
) -> Result<&'a ContainerRecord, ResolveError> {
    let q = query.trim_start_matches('/');
    if q.is_empty() {
        return Err(ResolveError::NotFound(query.to_string()));
    }
    if let Some(r) = records.iter().find(|r| r.id == q) {
        return Ok(r);
    }
    if let Some(r) = records.iter().find(|r| r.name == q) {
        return Ok(r);
    }
    let mut matches = records.iter().filter(|r| r.id.starts_with(q));
    match (matches.next(), matches.next()) {
        (Some(r), None) => Ok(r),
        (Some(_), Some(_)) => Err(ResolveError::Ambiguous(query.to_string())),
        _ => Err(ResolveError::NotFound(query.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::RunOptions;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            image: String::new(),
            image_digest: String::new(),
            args: vec![],
            created_at: 0,
            labels: Default::default(),
            options: RunOptions::default(),
            snapshot_key: String::new(),
            bundle_dir: Default::default(),
            log_path: Default::default(),
            runtime: String::new(),
            last_run: None,
        }
    }

    #[test]
    fn resolves_names_ids_and_prefixes() {
        let rs = vec![
            rec("abc123", "web"),
            rec("abd456", "db"),
            rec("ffff", "abc"),
        ];
        assert_eq!(resolve(&rs, "web").unwrap().id, "abc123");
        assert_eq!(resolve(&rs, "/db").unwrap().id, "abd456");
        assert_eq!(resolve(&rs, "abc123").unwrap().id, "abc123");
        // a name equal to another container's prefix wins over the prefix
        assert_eq!(resolve(&rs, "abc").unwrap().id, "ffff");
        assert_eq!(resolve(&rs, "abd").unwrap().id, "abd456");
        assert_eq!(
            resolve(&rs, "ab"),
            Err(ResolveError::Ambiguous("ab".into()))
        );
        assert_eq!(resolve(&rs, "zz"), Err(ResolveError::NotFound("zz".into())));
        assert_eq!(resolve(&rs, ""), Err(ResolveError::NotFound("".into())));
    }
}
