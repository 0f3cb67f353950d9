//! Signal names and numbers as `runc kill` accepts them: `KILL`, `SIGKILL`, `9`.

use nix::sys::signal::Signal;

use crate::{Error, Result};

/// Parses a signal given as a name (with or without `SIG`, any case) or a number.
pub fn parse(s: &str) -> Result<Signal> {
    let bad = || Error::InvalidArgument(format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("sigusr1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse("hup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("15").unwrap(), Signal::SIGTERM);
    }

    #[test]
    fn rejects_unknown_signals() {
        for s in ["FOO", "SIGFOO", "0", "999", "-1", ""] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
