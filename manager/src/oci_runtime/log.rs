//! Reading the runtime's `--log-format json` output: the message of the last error line.
//!
//! runc writes `{"level":"error","msg":"…","time":"…"}`; crun writes `{"msg": "…", "level": "error", …}`.

use serde::Deserialize;

/// The fields of one log line that matter here; others are ignored.
#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    msg: Option<String>,
}

/// Returns the `msg` of the last line in `log` whose `level` is `error` (or `fatal`).
pub fn last_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|line| {
        let line: LogLine = serde_json::from_str(line).ok()?;
        if line.level == "error" || line.level == "fatal" {
            line.msg
        } else {
            None
        }
    })
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
