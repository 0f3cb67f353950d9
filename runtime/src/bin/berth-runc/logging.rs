//! Log lines in runc's formats, to `--log` or stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

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

    /// Writes an error line to the log file only (the caller has printed the message already).
    pub fn log_only(&mut self, msg: &str) {
        let line = self.line("error", msg);
        if let Some(f) = &mut self.file {
            let _ = f.write_all(line.as_bytes());
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

/// `--log` and `--log-format` picked out of raw arguments, for errors found before the command
/// line parsed (both forms, `--log X` and `--log=X`; a bad format falls back to text).
pub fn log_flags(args: &[String]) -> (Option<PathBuf>, LogFormat) {
    let mut path = None;
    let mut format = LogFormat::Text;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let value =
            |it: &mut std::slice::Iter<'_, String>| inline.clone().or_else(|| it.next().cloned());
        match name {
            "--log" | "-log" => path = value(&mut it).map(PathBuf::from),
            "--log-format" | "-log-format" if value(&mut it).as_deref() == Some("json") => {
                format = LogFormat::Json;
            }
            _ => {}
        }
    }
    (path, format)
}

/// The command named in raw arguments: the first word that is neither a flag nor the value of a
/// global flag that takes one.
pub fn subcommand(args: &[String]) -> Option<&str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" | "--log" | "--log-format" | "--criu" | "--rootless" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => return Some(s),
        }
    }
    None
}

/// The one-line reason of a usage error, in runc's words where runc has them.
/// `argv0` is the program name as invoked (runc prints its `os.Args[0]` there).
pub fn usage_message(e: &clap::Error, argv0: &str, args: &[String]) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    if e.kind() == ErrorKind::InvalidSubcommand {
        if let Some(cmd) = context(ContextKind::InvalidSubcommand) {
            return format!("No help topic for '{cmd}'");
        }
    }
    if e.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(cmd) = subcommand(args) {
            // runc's checkArgs: commands with optional trailing arguments need "a minimum".
            let how = match cmd {
                "kill" | "ps" | "exec" => "a minimum of",
                _ => "exactly",
            };
            return format!("{argv0}: \"{cmd}\" requires {how} 1 argument(s)");
        }
    }
    match (e.kind(), context(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(arg)) => {
            let name = arg.trim_start_matches('-');
            let name = name.split('=').next().unwrap_or(name);
            format!("flag provided but not defined: -{name}")
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            format!("berth-runc: {}", first.trim_start_matches("error: "))
        }
    }
}
