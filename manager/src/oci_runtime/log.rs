//! Reading the runtime's `--log-format json` output: the message of the last error line.
//!
//! std-only on purpose: the monitor uses it too, and it must not pull in a JSON library.
//! runc writes `{"level":"error","msg":"…","time":"…"}`; crun writes `{"msg": "…", "level": "error", …}`.

/// Returns the `msg` of the last line in `log` whose `level` is `error` (or `fatal`).
pub fn last_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|line| {
        let level = string_field(line, "level")?;
        if level == "error" || level == "fatal" {
            string_field(line, "msg")
        } else {
            None
        }
    })
}

/// Extracts the string value of top-level-looking key `key` from one JSON object line.
pub fn string_field(line: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\"");
    let mut search = line;
    loop {
        let at = search.find(&pat)?;
        let rest = search[at + pat.len()..].trim_start();
        if let Some(rest) = rest.strip_prefix(':') {
            let rest = rest.trim_start();
            if let Some(body) = rest.strip_prefix('"') {
                return unescape(body);
            }
            return None;
        }
        search = &search[at + pat.len()..];
    }
}

/// Decodes a JSON string body up to its closing quote.
fn unescape(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let cp = u32::from_str_radix(&hex, 16).ok()?;
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_and_crun_lines() {
        let log = concat!(
            "{\"level\":\"warning\",\"msg\":\"w\",\"time\":\"t\"}\n",
            "{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": not found\\u0021\",\"time\":\"t\"}\n",
            "{\"level\":\"info\",\"msg\":\"later\",\"time\":\"t\"}\n",
        );
        assert_eq!(last_error(log).unwrap(), "exec: \"nope\": not found!");
        let crun = "{\"msg\": \"cannot open\", \"level\": \"error\", \"time\": \"x\"}";
        assert_eq!(last_error(crun).unwrap(), "cannot open");
        assert_eq!(last_error("{\"level\":\"info\",\"msg\":\"x\"}"), None);
    }
}
