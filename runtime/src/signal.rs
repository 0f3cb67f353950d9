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

/// Like [`parse`], but also takes `0`, the null signal (`kill ID 0` checks that the processes
/// exist and may be signalled, as runc allows); `None` stands for it.
pub fn parse_or_zero(s: &str) -> Result<Option<Signal>> {
    if s.trim() == "0" {
        return Ok(None);
    }
    parse(s).map(Some)
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
    fn zero_is_the_null_signal() {
        assert_eq!(parse_or_zero("0").unwrap(), None);
        assert_eq!(parse_or_zero("KILL").unwrap(), Some(Signal::SIGKILL));
        assert!(parse_or_zero("-1").is_err());
    }

    #[test]
    fn rejects_unknown_signals() {
        for s in ["FOO", "SIGFOO", "0", "999", "-1", ""] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
