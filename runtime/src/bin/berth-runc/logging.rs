//! Log lines in runc's formats, to `--log` or stderr.

use std::io::Write;
use std::path::Path;

use crate::cli::LogFormat;

/// Where and how to log.
pub struct Logger {
    file: Option<std::fs::File>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    /// Opens `--log` for appending (falls back to stderr if it cannot be opened).
    pub fn new(path: Option<&Path>, format: LogFormat, debug: bool) -> Logger {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Logger {
            file,
            format,
            debug,
        }
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match self.format {
            LogFormat::Json => format!(
                "{}\n",
                serde_json::json!({"level": level, "msg": msg, "time": time})
            ),
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={}\n", quote(msg)),
        }
    }

    /// Logs a fatal error: to the log file and, like runc, the message to stderr.
    pub fn error(&mut self, msg: &str) {
        let line = self.line("error", msg);
        match &mut self.file {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// Logs a warning (poststart/poststop hook failures).
    pub fn warn(&mut self, msg: &str) {
        let line = self.line("warning", msg);
        match &mut self.file {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// Logs a debug line when `--debug` is set.
    pub fn debug(&mut self, msg: &str) {
        if self.debug {
            let line = self.line("debug", msg);
            match &mut self.file {
                Some(f) => {
                    let _ = f.write_all(line.as_bytes());
                }
                None => {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
            }
        }
    }
}

/// Quotes like Go's %q for the text format.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
