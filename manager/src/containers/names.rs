//! Container ids and generated `adjective_surname` names, plus name validation.

use std::io::Read;

/// Adjectives for generated names (our own list).
const ADJECTIVES: &[&str] = &[
    "amber",
    "ancient",
    "autumn",
    "bold",
    "brave",
    "breezy",
    "bright",
    "calm",
    "candid",
    "cheerful",
    "clever",
    "cosmic",
    "crisp",
    "curious",
    "daring",
    "dashing",
    "deft",
    "eager",
    "earnest",
    "elated",
    "fearless",
    "festive",
    "fierce",
    "fond",
    "frosty",
    "gallant",
    "gentle",
    "gifted",
    "glad",
    "golden",
    "graceful",
    "hardy",
    "hearty",
    "humble",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucid",
    "lucky",
    "mellow",
    "merry",
    "mighty",
    "misty",
    "modest",
    "nimble",
    "noble",
    "patient",
    "placid",
    "plucky",
    "polite",
    "proud",
    "quiet",
    "quirky",
    "radiant",
    "rapid",
    "restless",
    "rustic",
    "serene",
    "sharp",
    "shiny",
    "silent",
    "sleepy",
    "snowy",
    "spry",
    "stoic",
    "sunny",
    "swift",
    "tidy",
    "tranquil",
    "upbeat",
    "valiant",
    "vivid",
    "wandering",
    "warm",
    "wise",
    "witty",
    "zealous",
];

/// Surnames of scientists, engineers and explorers for generated names (our own list).
const SURNAMES: &[&str] = &[
    "agnesi",
    "babbage",
    "banneker",
    "bardeen",
    "bohr",
    "boole",
    "carver",
    "cauchy",
    "curie",
    "darwin",
    "dijkstra",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "germain",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hertz",
    "hopper",
    "hypatia",
    "johnson",
    "joule",
    "kepler",
    "knuth",
    "kovalevskaya",
    "lamarr",
    "laplace",
    "leakey",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "mirzakhani",
    "morse",
    "napier",
    "newton",
    "nobel",
    "noether",
    "ohm",
    "pascal",
    "pasteur",
    "planck",
    "poincare",
    "ramanujan",
    "ritchie",
    "rosalind",
    "sagan",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wiles",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
    "zuse",
];

/// Reads `n` random bytes from the kernel.
fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

/// A new container id: 64 lower-case hex digits from 32 random bytes.
pub fn new_id() -> std::io::Result<String> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random `adjective_surname` name. `attempt` > 0 appends a number, the way Docker retries
/// when a generated name collides.
pub fn generate_name(attempt: u32) -> std::io::Result<String> {
    let r: [u8; 4] = random_bytes()?;
    let a = u16::from_le_bytes([r[0], r[1]]) as usize % ADJECTIVES.len();
    let s = u16::from_le_bytes([r[2], r[3]]) as usize % SURNAMES.len();
    let mut name = format!("{}_{}", ADJECTIVES[a], SURNAMES[s]);
    if attempt > 0 {
        name.push_str(&attempt.to_string());
    }
    Ok(name)
}

/// Whether `name` is acceptable as a container name (Docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() >= 2
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether `s` looks like a full container id.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(is_full_id(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn generated_names_are_valid_adjective_surname() {
        for attempt in 0..50 {
            let n = generate_name(attempt % 3).unwrap();
            assert!(valid_name(&n), "{n}");
            let (adj, rest) = n.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&adj));
            let surname = rest.trim_end_matches(|c: char| c.is_ascii_digit());
            assert!(SURNAMES.contains(&surname), "{n}");
        }
    }

    #[test]
    fn name_validation_follows_docker() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("_web"));
        assert!(!valid_name("a"));
        assert!(!valid_name("we b"));
        assert!(!valid_name("web/1"));
    }
}
