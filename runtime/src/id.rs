//! Container id validation: ids become directory names under the state root, so they must not escape it.

use crate::{Error, Result};

/// Longest id accepted (runc has no limit; a path component is at most 255 bytes).
const MAX_ID_LEN: usize = 255;

/// Checks `id` against runc's rule `^[\w+-\.]+$`, and rejects `.` and `..`.
pub fn validate(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "abc-123", "x_y.z+1", "A", "0"] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_escaping_or_empty_ids() {
        for id in ["", "/", "../x", "a/b", ".", "..", "a b", "x\0", "é"] {
            assert!(validate(id).is_err(), "{id:?}");
        }
        assert!(validate(&"a".repeat(256)).is_err());
    }
}
