//! Column-aligned tables like Docker's (`REPOSITORY   TAG   IMAGE ID ...`): columns padded to the
//! widest cell plus three spaces, the last column unpadded.

/// A table with a header row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells are empty, extra cells ignored).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let cell = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(r, i).chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = cell(r, i);
                line.push_str(&c);
                if i + 1 < n {
                    line.push_str(&" ".repeat(w - c.chars().count() + 3));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["REPOSITORY", "TAG", "SIZE"]);
        t.row(vec!["hello-world".into(), "latest".into(), "13.3kB".into()]);
        t.row(vec!["a".into(), "1".into(), "4.3MB".into()]);
        assert_eq!(
            t.render(),
            "REPOSITORY    TAG      SIZE\nhello-world   latest   13.3kB\na             1        4.3MB\n"
        );
    }

    #[test]
    fn header_only() {
        assert_eq!(Table::new(&["A", "B"]).render(), "A   B\n");
    }
}
