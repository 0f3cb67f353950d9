//! `list`: every container under the state root, sorted by id.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Context;
use crate::state_dir::{self, OciState, State};
use crate::Result;

/// One `list` row: the state plus the uid owning the state directory (runc's OWNER column).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The container's state.
    pub state: OciState,
    /// Owner uid of the state directory.
    pub owner_uid: u32,
}

/// Lists containers; a missing root is an empty list, unreadable entries are skipped.
pub fn list(root: &Path) -> Result<Vec<Entry>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx(|| format!("read state root {}", root.display())),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(st) = State::load(root, &id) else {
            continue;
        };
        let dir = state_dir::container_dir(root, &id);
        let owner_uid = std::fs::metadata(&dir).map(|m| m.uid()).unwrap_or(0);
        out.push(Entry {
            state: st.oci_state(st.status(&dir)),
            owner_uid,
        });
    }
    out.sort_by(|a, b| a.state.id.cmp(&b.state.id));
    Ok(out)
}

/// Formats rows like runc's `list` table (Go tabwriter: minimum width 12, padding 3, last column
/// unpadded). The first row is the header.
pub fn format_table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols.saturating_sub(1))
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < cols {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_table;

    #[test]
    fn table_matches_runc_layout() {
        let rows: Vec<Vec<String>> = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
            [
                "ref1",
                "20255",
                "created",
                "/tmp/rt-ref",
                "2026-11-23T18:10:21.511797563Z",
                "root",
            ],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
        assert_eq!(
            format_table(&rows),
            "ID          PID         STATUS      BUNDLE        CREATED                          OWNER\n\
             ref1        20255       created     /tmp/rt-ref   2026-11-23T18:10:21.511797563Z   root\n"
        );
    }
}
