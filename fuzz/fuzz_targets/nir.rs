//! `Nir::parse` (DATA-2) on arbitrary text. Beyond "no panic": a parsed NIR is normalised (15
//! characters, digits but for the Corsican letter), its key is the one computed from its
//! matricule, and it parses back to itself from every form it is shown or stored in; the masked
//! forms hide everything after the month. Surrounding spaces never change the verdict, and a
//! matricule followed by its computed key is never refused for its length, characters or key.
#![no_main]

use galien_core::nir::{Nir, NirError, compute_key};
use libfuzzer_sys::fuzz_target;

fn check_parsed(nir: &Nir) {
    let s = nir.as_str();
    assert_eq!(s.len(), 15, "{s}");
    assert!(
        s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 6 && (b == b'A' || b == b'B'))),
        "{s}"
    );
    assert_eq!(compute_key(nir.matricule()), Some(nir.key()));
    assert!((1..=97).contains(&nir.key()));
    assert!(matches!(nir.sex_digit(), 1 | 2 | 3 | 4 | 7 | 8));
    assert_eq!(nir.is_provisional(), matches!(nir.sex_digit(), 7 | 8));
    // Every form it is shown or stored in reads back as the same NIR.
    assert_eq!(Nir::parse(s).as_ref(), Ok(nir));
    assert_eq!(Nir::parse(&nir.formatted()).as_ref(), Ok(nir));
    assert_eq!(Nir::parse(&nir.as_str().to_lowercase()).as_ref(), Ok(nir));
    let json = serde_json::to_string(nir).expect("serialises");
    assert_eq!(serde_json::from_str::<Nir>(&json).ok().as_ref(), Some(nir));
    // Masked forms: the same shape, nothing after the month.
    let masked = nir.masked();
    assert_eq!(masked.chars().count(), nir.formatted().chars().count());
    assert_eq!(masked.get(..7), nir.formatted().get(..7));
    assert!(
        !masked.chars().skip(7).any(|c| c.is_ascii_alphanumeric()),
        "{masked}"
    );
    assert_eq!(nir.to_string(), masked);
    assert!(!format!("{nir:?}").contains(nir.matricule()));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Nir::parse(text);
    // Deterministic, and blind to surrounding spaces.
    assert_eq!(parsed, Nir::parse(text));
    assert_eq!(parsed, Nir::parse(&format!("  {text} ")));
    let compact = text.trim().chars().filter(|&c| c != ' ').count();
    assert_eq!(parsed == Err(NirError::Length), compact != 15, "{text:?}");
    if let Ok(nir) = &parsed {
        check_parsed(nir);
    }
    // The same text as a matricule, completed with its key: never refused for its length,
    // characters or key (only for what the key cannot see: sex, month, department).
    if data.len() >= 13
        && let Some(matricule) = text.get(..13)
        && let Some(key) = compute_key(matricule)
    {
        let candidate = format!("{matricule}{key:02}");
        match Nir::parse(&candidate) {
            Ok(nir) => check_parsed(&nir),
            Err(e) => assert!(
                matches!(e, NirError::Sex | NirError::Month | NirError::Department),
                "{candidate:?}: {e:?}"
            ),
        }
    }
});
