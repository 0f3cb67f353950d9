//! Image references (`berth_manager::reference`): parsing never panics, and every reference
//! it accepts survives a round trip through each of its printed forms.
//!
//! Input: a reference, optionally followed by a newline and a tag or digest that is put on it
//! with `with_tag` / `with_digest` (which must agree with what `parse` accepts).

#![no_main]

use berth_manager::reference::{valid_digest, Reference, DEFAULT_TAG};
use libfuzzer_sys::fuzz_target;

/// Parses `printed`, which `r` printed, and expects `r` back.
fn reparse(r: &Reference, printed: &str, form: &str) {
    match Reference::parse(printed) {
        Ok(back) => assert_eq!(&back, r, "{form} {printed:?} parsed to another reference"),
        Err(e) => panic!("{form} {printed:?} of {r:?} does not parse: {e}"),
    }
}

/// Properties of an accepted reference.
fn check(r: &Reference) {
    let full = r.to_string();
    reparse(r, &full, "qualified form");
    reparse(r, &r.familiar(), "familiar form");
    assert!(r.tag().is_some() || r.digest().is_some(), "{r:?}");
    assert_eq!(Some(r.manifest_reference()), r.digest().or(r.tag()));
    assert!(r.repository().len() <= 255, "{r:?}");
    assert!(r.digest().is_none_or(valid_digest), "{r:?}");
    // The bare names name the same repository at the default tag.
    for name in [r.name(), r.familiar_name()] {
        match Reference::parse(&name) {
            Ok(n) => {
                assert_eq!(n.registry(), r.registry(), "{name:?}");
                assert_eq!(n.repository(), r.repository(), "{name:?}");
                assert_eq!(n.tag(), Some(DEFAULT_TAG), "{name:?}");
                assert_eq!(n.digest(), None, "{name:?}");
            }
            Err(e) => panic!("name {name:?} of {r:?} does not parse: {e}"),
        }
    }
}

fuzz_target!(|input: &str| {
    let (s, extra) = match input.split_once('\n') {
        Some((s, extra)) => (s, Some(extra)),
        None => (input, None),
    };
    let parsed = Reference::parse(s);
    assert_eq!(parsed.clone().ok(), s.parse::<Reference>().ok());
    let Ok(r) = parsed else {
        return;
    };
    check(&r);
    let Some(extra) = extra else {
        return;
    };
    if let Ok(t) = r.with_tag(extra) {
        assert_eq!(t.tag(), Some(extra));
        assert_eq!(t.digest(), None);
        // `parse` must accept the tag `with_tag` accepted.
        check(&t);
        reparse(&t, &format!("{}:{extra}", r.name()), "name:tag");
    }
    if let Ok(d) = r.with_digest(extra) {
        assert_eq!(d.digest(), Some(extra));
        assert_eq!(d.tag(), None);
        check(&d);
        reparse(&d, &format!("{}@{extra}", r.name()), "name@digest");
    }
});
