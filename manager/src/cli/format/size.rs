//! Sizes the way Docker prints them: decimal units, three significant digits ("4.3MB", "13.3kB").

const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

/// Formats a byte count like Docker's `HumanSize`: powers of 1000, up to 3 significant digits,
/// trailing zeros dropped.
pub fn human_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", three_significant(value), UNITS[unit])
}

/// Formats `v` (0 <= v < 1000) with at most 3 significant digits, like C's `%.3g` in that range.
fn three_significant(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    // Rounding can carry into a fourth digit (999.96 → "1000"); that is what %.3g would print as 1e+03,
    // and Docker then prints "1e+03kB" — keep the plain number instead.
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(13_256), "13.3kB");
        assert_eq!(human_size(4_300_000), "4.3MB");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(77_900_000), "77.9MB");
        assert_eq!(human_size(1_070_000_000), "1.07GB");
        assert_eq!(human_size(123_456_789), "123MB");
    }
}
