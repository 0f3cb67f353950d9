//! `--format`: `json`, `table`, or Docker's Go-template subset: text with `{{.Field}}`,
//! `{{.A.B}}`, `{{.}}`, `{{json .}}` / `{{json .Field}}`, `{{upper .F}}`, `{{lower .F}}`, and a
//! leading `table ` for an aligned table with a header. `\t` and `\n` written literally in the
//! format are a tab and a newline, as in Docker. The rows are JSON objects with Docker's field
//! names, so `{{json .}}` of a row is what `--format json` prints.
//!
//! A small evaluator rather than a Go-template crate: the fields and functions Docker users
//! write in scripts are this handful, and a whole template language would accept (and run)
//! far more than the output contract covers.

use serde_json::Value;
use std::fmt::Write as _;

/// A template that could not be parsed or evaluated (Docker exits 1 with the message).
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(String);

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// A function (`json`, `upper`, `lower`, or none) applied to a field path (empty: `.`).
    Action {
        func: Option<String>,
        path: Vec<String>,
    },
}

/// A parsed `--format` value.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
    table: bool,
}

impl Template {
    /// Parses a Go-template format (not `json` or plain `table`; callers handle those).
    pub fn parse(format: &str) -> Result<Self, TemplateError> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim())
            }
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut pieces = Vec::new();
        let mut rest = body.as_str();
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| TemplateError(format!("unclosed action in {format:?}")))?;
            pieces.push(parse_action(after[..close].trim())?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces, table })
    }

    /// Whether the format started with `table`.
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Evaluates the template for one row.
    pub fn render(&self, row: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Action { func, path } => {
                    let v = lookup(row, path)?;
                    match func.as_deref() {
                        Some("json") => out.push_str(&v.to_string()),
                        Some("upper") => out.push_str(&plain(v).to_uppercase()),
                        Some("lower") => out.push_str(&plain(v).to_lowercase()),
                        _ => out.push_str(&plain(v)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The header row of a `table` template: each field's title from `titles` (Docker's column
    /// names), else the field name in capitals.
    pub fn header(&self, titles: &dyn Fn(&str) -> Option<&'static str>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Action { path, .. } => {
                    let name = path.join(".");
                    match titles(&name) {
                        Some(t) => out.push_str(t),
                        None => {
                            let _ = write!(out, "{}", name.to_uppercase());
                        }
                    }
                }
            }
        }
        out
    }

    /// Renders every row: a `table` template as aligned columns under its header, otherwise
    /// one line per row.
    pub fn render_all(
        &self,
        rows: &[Value],
        titles: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Result<String, TemplateError> {
        let mut lines = Vec::new();
        if self.table {
            lines.push(self.header(titles));
        }
        for r in rows {
            lines.push(self.render(r)?);
        }
        if !self.table {
            return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
        }
        Ok(align(&lines))
    }
}

/// Aligns tab-separated cells into columns three spaces apart (Docker's tabwriter settings).
pub fn align(lines: &[String]) -> String {
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            line.push_str(c);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn parse_action(action: &str) -> Result<Piece, TemplateError> {
    let words: Vec<&str> = action.split_whitespace().collect();
    let (func, arg) = match words[..] {
        [arg] => (None, arg),
        [f @ ("json" | "upper" | "lower"), arg] => (Some(f.to_string()), arg),
        _ => {
            return Err(TemplateError(format!(
                "unsupported action {{{{{action}}}}} (supported: {{{{.Field}}}}, {{{{json .}}}}, {{{{upper .F}}}}, {{{{lower .F}}}})"
            )))
        }
    };
    let path = arg
        .strip_prefix('.')
        .ok_or_else(|| TemplateError(format!("function {arg:?} not defined")))?;
    let path: Vec<String> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('.').map(str::to_string).collect()
    };
    Ok(Piece::Action { func, path })
}

fn lookup<'a>(row: &'a Value, path: &[String]) -> Result<&'a Value, TemplateError> {
    let mut v = row;
    for (i, field) in path.iter().enumerate() {
        v = v.get(field.as_str()).ok_or_else(|| {
            TemplateError(format!(
                "executing \"\" at <.{}>: can't evaluate field {field}",
                path[..=i].join(".")
            ))
        })?;
    }
    Ok(v)
}

/// A value as Go's template prints it: strings bare, null as `<no value>`, the rest as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        other => other.to_string(),
    }
}

/// What a `--format` value asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// The command's usual table.
    Table,
    /// One JSON object per line.
    Json,
    /// A template.
    Template(Template),
}

impl Format {
    /// Parses `--format` (absent: the usual table).
    pub fn parse(format: Option<&str>) -> Result<Self, TemplateError> {
        match format.map(str::trim) {
            None | Some("") | Some("table") => Ok(Format::Table),
            Some("json") => Ok(Format::Json),
            Some(t) => Ok(Format::Template(Template::parse(t)?)),
        }
    }

    /// Renders rows as JSON lines or through the template; `None` for [`Format::Table`].
    pub fn render_rows(
        &self,
        rows: &[Value],
        titles: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Result<Option<String>, TemplateError> {
        match self {
            Format::Table => Ok(None),
            Format::Json => Ok(Some(rows.iter().map(|r| format!("{r}\n")).collect())),
            Format::Template(t) => t.render_all(rows, titles).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_paths_and_json() {
        let row = json!({"Names": "web", "State": {"ExitCode": 3, "Running": false}, "Labels": {"a": "b"}});
        let t =
            Template::parse("{{.Names}}:{{.State.ExitCode}} {{json .Labels}} {{.State.Running}}")
                .unwrap();
        assert_eq!(t.render(&row).unwrap(), "web:3 {\"a\":\"b\"} false");
        assert_eq!(
            Template::parse("{{json .}}").unwrap().render(&row).unwrap(),
            row.to_string()
        );
        assert_eq!(
            Template::parse("{{upper .Names}}")
                .unwrap()
                .render(&row)
                .unwrap(),
            "WEB"
        );
        let err = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&row)
            .unwrap_err();
        assert!(
            err.to_string().contains("can't evaluate field Nope"),
            "{err}"
        );
        assert!(Template::parse("{{.Names").is_err());
        assert!(Template::parse("{{index .Labels \"a\"}}").is_err());
    }

    #[test]
    fn table_templates_get_headers_and_columns() {
        let rows = [
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "d", "Names": "db"}),
        ];
        let t = Template::parse("table {{.ID}}\\t{{.Names}}").unwrap();
        let titles = |f: &str| match f {
            "ID" => Some("CONTAINER ID"),
            _ => None,
        };
        assert_eq!(
            t.render_all(&rows, &titles).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\nd              db\n"
        );
        assert_eq!(Format::parse(Some("json")).unwrap(), Format::Json);
        assert_eq!(Format::parse(None).unwrap(), Format::Table);
        let plain = Format::parse(Some("{{.Names}}")).unwrap();
        assert_eq!(
            plain.render_rows(&rows, &titles).unwrap().unwrap(),
            "web\ndb\n"
        );
    }
}
