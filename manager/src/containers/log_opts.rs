//! `--log-opt` and `[logs]`: Docker json-file's `max-size` and `max-file`, checked with its
//! words, turned into the monitor's [`LogRotation`].

use crate::monitor::LogRotation;
use std::collections::BTreeMap;

/// The log options berth knows (Docker json-file's rotation options).
pub const KNOWN: [&str; 2] = ["max-size", "max-file"];

/// Parses a size as Docker's `units.FromHumanSize` does: decimal units (`10k` = 10000 bytes,
/// `10m`, `1g`, optional `b`/`ib` suffix, case-insensitive), a fraction allowed.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(bad()),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Checks `opts` and returns the rotation they ask for: unknown keys, a size that is not a
/// positive size and a file count below 1 are refused with Docker's messages.
pub fn rotation(opts: &BTreeMap<String, String>) -> Result<LogRotation, String> {
    if let Some(k) = opts.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown log opt '{k}' for json-file log driver"));
    }
    let max_size = match opts.get("max-size") {
        None => 0,
        Some(v) => match parse_size(v)? {
            0 => return Err("max-size must be a positive number".into()),
            n => n,
        },
    };
    let max_file = match opts.get("max-file") {
        None => 1,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 1 => {
                u32::try_from(n).map_err(|_| format!("max-file {v} is too large"))?
            }
            Ok(_) => return Err("max-file cannot be less than 1".into()),
            Err(_) => return Err(format!("invalid max-file value '{v}': not a number")),
        },
    };
    if max_file > 1 && max_size == 0 {
        // json-file ignores max-file without max-size; say so instead of pretending to rotate.
        return Err("max-file requires max-size to be set".into());
    }
    Ok(LogRotation { max_size, max_file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sizes_are_decimal_like_docker() {
        assert_eq!(parse_size("10k"), Ok(10_000));
        assert_eq!(parse_size("10m"), Ok(10_000_000));
        assert_eq!(parse_size("1.5KB"), Ok(1_500));
        assert_eq!(parse_size("2MiB"), Ok(2_000_000));
        assert_eq!(parse_size("123"), Ok(123));
        for bad in ["abc", "", "k", "10x", "-1k", "1..2k"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rotation_checks_each_option() {
        assert_eq!(
            rotation(&opts(&[])),
            Ok(LogRotation {
                max_size: 0,
                max_file: 1
            })
        );
        assert_eq!(
            rotation(&opts(&[("max-size", "4k"), ("max-file", "3")])),
            Ok(LogRotation {
                max_size: 4000,
                max_file: 3
            })
        );
        assert_eq!(
            rotation(&opts(&[("max-size", "abc")])).unwrap_err(),
            "invalid size: 'abc'"
        );
        assert_eq!(
            rotation(&opts(&[("max-size", "1k"), ("max-file", "0")])).unwrap_err(),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            rotation(&opts(&[("compress", "true")])).unwrap_err(),
            "unknown log opt 'compress' for json-file log driver"
        );
        assert!(rotation(&opts(&[("max-file", "3")])).is_err());
        assert!(rotation(&opts(&[("max-size", "0")])).is_err());
    }
}
