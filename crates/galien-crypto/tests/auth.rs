//! Passwords (AUTH-3, AUTH-4), TOTP and recovery codes (AUTH-6).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use galien_core::{Lang, SeededEntropy};
use galien_crypto::password::{
    CharClass, HashParams, IdentifierKind, Password, PasswordContext, PasswordHash, PasswordHasher,
    PasswordRejection, estimate_bits,
};
use galien_crypto::recovery::{self, RecoveryCode, RecoveryCodeHash};
use galien_crypto::totp::{TotpError, TotpSecret};
use proptest::prelude::*;
use time::OffsetDateTime;

fn no_context() -> PasswordContext {
    PasswordContext::default()
}

fn parse(s: &str) -> Result<Password, PasswordRejection> {
    Password::parse(s, &no_context())
}

fn code_of(s: &str) -> &'static str {
    parse(s).unwrap_err().code()
}

// ---------------------------------------------------------------------------------------------
// AUTH-3: policy

#[test]
fn auth_03_twelve_characters_of_four_classes_are_accepted() {
    parse("Gx7!mPq2#vLr").unwrap();
}

#[test]
fn auth_03_eleven_characters_are_refused_as_too_short() {
    assert_eq!(
        parse("Gx7!mPq2#vL").unwrap_err(),
        PasswordRejection::TooShort { length: 11 }
    );
    assert_eq!(code_of(""), "PWD-TOO-SHORT");
}

#[test]
fn auth_03_fourteen_characters_of_three_classes_are_accepted() {
    parse("Gx7mPq2vLrT9kw").unwrap();
}

#[test]
fn auth_03_thirteen_characters_of_three_classes_are_refused_with_what_to_add() {
    let rejection = parse("Gx7mPq2vLrT9k").unwrap_err();
    assert_eq!(
        rejection,
        PasswordRejection::NotEnoughVariety {
            length: 13,
            needed_length: 14,
            missing: vec![CharClass::Special],
        }
    );
    assert_eq!(rejection.code(), "PWD-CLASSES");
    assert!(rejection.message_fr().contains("au moins 14 caractères"));
    assert!(rejection.message_fr().contains("un caractère spécial"));
    assert!(rejection.message_en().contains("at least 14 characters"));
}

#[test]
fn auth_03_sixteen_characters_of_two_classes_are_accepted_fifteen_are_not() {
    parse("gx7mpq2vlrt9kw4z").unwrap();
    assert_eq!(code_of("gx7mpq2vlrt9kw4"), "PWD-CLASSES");
}

#[test]
fn auth_03_passphrase_of_seven_words_is_accepted() {
    parse("cheval lune brique tambour orange piano sable").unwrap();
    parse("cheval-lune-brique-tambour-orange-piano-sable").unwrap();
}

#[test]
fn auth_03_passphrase_needs_seven_different_words() {
    assert!(
        Password::rejections("vent vent vent vent vent vent vent", &no_context())
            .iter()
            .any(|r| r.code() == "PWD-SEQUENCE" || r.code() == "PWD-CLASSES")
    );
}

#[test]
fn auth_03_long_passwords_up_to_256_characters_are_accepted() {
    let sixty_four: String = "Mon chat s'appelle Pistache et il dort au soleil tout l'apres-midi"
        .chars()
        .take(64)
        .collect();
    assert_eq!(sixty_four.chars().count(), 64);
    parse(&sixty_four).unwrap();

    let words = [
        "lune", "brique", "Tambour", "orange", "piano", "sable", "7", "ocean",
    ];
    let mut long = String::new();
    let mut i = 0;
    while long.chars().count() < 256 {
        long.push_str(words[i % words.len()]);
        long.push_str(&format!("{i}"));
        long.push(' ');
        i += 1;
    }
    let long: String = long.chars().take(256).collect();
    parse(&long).unwrap();
}

#[test]
fn auth_03_more_than_256_characters_are_refused_as_too_long() {
    let long = "Ab1!xQ9#".repeat(33); // 264 characters
    assert_eq!(
        parse(&long).unwrap_err(),
        PasswordRejection::TooLong { length: 264 }
    );
    assert_eq!(code_of(&long), "PWD-TOO-LONG");
    assert_eq!(code_of(&"x".repeat(10_000)), "PWD-TOO-LONG");
}

#[test]
fn auth_03_common_password_is_refused_with_reason() {
    // In the list, and long enough for the length rule (16 characters of two classes).
    let rejection = parse("1qaz2wsx3edc4rfv").unwrap_err();
    assert_eq!(rejection, PasswordRejection::Common);
    assert_eq!(rejection.code(), "PWD-COMMON");
    assert!(rejection.message_fr().contains("10 000"));
    assert!(rejection.message_en().contains("10,000"));
}

#[test]
fn auth_03_common_password_is_matched_ignoring_case() {
    assert_eq!(code_of("1QAZ2WSX3EDC4RFV"), "PWD-COMMON");
    assert!(Password::rejections("PassWord", &no_context()).contains(&PasswordRejection::Common));
}

#[test]
fn auth_03_password_containing_the_email_is_refused() {
    let context = PasswordContext {
        email: Some("Camille.Durand@exemple.fr".into()),
        names: vec!["Camille Durand".into()],
        other: vec![],
    };
    for pw in [
        "Gx7!camille.durand@exemple.fr",
        "Gx7!mPq2#vLr-CAMILLE",
        "Gx7!mPq2#vLrDurand",
    ] {
        let rejection = Password::parse(pw, &context).unwrap_err();
        assert_eq!(rejection.code(), "PWD-CONTAINS-IDENTIFIER", "{pw}");
    }
    assert_eq!(
        Password::parse("Gx7!mPq2#vLr-camille", &context).unwrap_err(),
        PasswordRejection::ContainsIdentifier {
            kind: IdentifierKind::Email
        }
    );
}

#[test]
fn auth_03_password_containing_a_name_or_other_identifier_is_refused() {
    let context = PasswordContext {
        email: None,
        names: vec!["Jean-Baptiste Lefèvre".into()],
        other: vec!["10101234567".into()],
    };
    assert_eq!(
        Password::parse("Gx7!mPq2#vLr-lefèvre", &context).unwrap_err(),
        PasswordRejection::ContainsIdentifier {
            kind: IdentifierKind::Name
        }
    );
    assert_eq!(
        Password::parse("Gx7!mPq2#vLr10101234567", &context).unwrap_err(),
        PasswordRejection::ContainsIdentifier {
            kind: IdentifierKind::Other
        }
    );
}

#[test]
fn auth_03_identifiers_shorter_than_four_characters_are_not_looked_for() {
    let context = PasswordContext {
        email: Some("li@exemple.fr".into()),
        names: vec!["Li Bo".into()],
        other: vec![],
    };
    Password::parse("Gx7!mPq2#vLr-li-bo", &context).unwrap();
}

#[test]
fn auth_03_repeated_characters_and_sequences_are_refused() {
    for pw in [
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "Abcdefghijklmn1!",
        "Azertyuiop123!",
        "Qwertyuiop9876!",
        "Ab1!Ab1!Ab1!Ab1!",
        "00000000000000000000000000",
    ] {
        assert!(
            Password::rejections(pw, &no_context()).contains(&PasswordRejection::Sequence),
            "{pw}"
        );
    }
    assert_eq!(code_of("Abcdefghijklmn1!"), "PWD-SEQUENCE");
}

#[test]
fn auth_03_a_short_run_inside_a_strong_password_is_fine() {
    parse("Gx7!mPq2#vLr-1234").unwrap();
}

#[test]
fn auth_03_all_reasons_are_listed_for_a_form() {
    let reasons = Password::rejections("password", &no_context());
    assert_eq!(
        reasons,
        vec![
            PasswordRejection::TooShort { length: 8 },
            PasswordRejection::Common
        ]
    );
}

#[test]
fn auth_03_every_rejection_has_a_stable_code_and_messages_in_both_languages() {
    let all = [
        (PasswordRejection::TooShort { length: 3 }, "PWD-TOO-SHORT"),
        (PasswordRejection::TooLong { length: 300 }, "PWD-TOO-LONG"),
        (
            PasswordRejection::NotEnoughVariety {
                length: 13,
                needed_length: 16,
                missing: vec![CharClass::Upper, CharClass::Special],
            },
            "PWD-CLASSES",
        ),
        (PasswordRejection::Common, "PWD-COMMON"),
        (
            PasswordRejection::ContainsIdentifier {
                kind: IdentifierKind::Email,
            },
            "PWD-CONTAINS-IDENTIFIER",
        ),
        (PasswordRejection::Sequence, "PWD-SEQUENCE"),
    ];
    for (rejection, code) in all {
        assert_eq!(rejection.code(), code);
        let fr = rejection.message(Lang::Fr);
        let en = rejection.message(Lang::En);
        assert!(fr.len() > 40 && en.len() > 40, "{code}");
        assert_ne!(fr, en, "{code}");
        assert_eq!(fr, rejection.message_fr());
        assert_eq!(en, rejection.message_en());
    }
    let variety = PasswordRejection::NotEnoughVariety {
        length: 13,
        needed_length: 16,
        missing: vec![CharClass::Upper, CharClass::Special],
    };
    assert!(
        variety
            .message_fr()
            .contains("une majuscule ou un caractère spécial")
    );
    assert!(
        variety
            .message_en()
            .contains("an upper-case letter or a special")
    );
}

#[test]
fn auth_03_estimate_bits_follows_the_cnil_calculation() {
    assert_eq!(estimate_bits(""), 0.0);
    let four_classes = estimate_bits("Gx7!mPq2#vLr");
    assert!((four_classes - 12.0 * 99f64.log2()).abs() < 1e-9);
    assert!((estimate_bits("Gx7mPq2vLrT9kw") - 14.0 * 62f64.log2()).abs() < 1e-9);
    assert!((estimate_bits("1234") - 4.0 * 10f64.log2()).abs() < 1e-9);
    assert!(estimate_bits("gx7mpq2vlrt9kw4z") > 80.0);
}

#[test]
fn auth_03_password_debug_is_redacted() {
    let pw = parse("Gx7!mPq2#vLr").unwrap();
    let shown = format!("{pw:?}");
    assert!(!shown.contains("Gx7"));
    assert!(shown.contains("redacted"));
}

// ---------------------------------------------------------------------------------------------
// AUTH-4: storage

fn strong() -> Password {
    parse("Gx7!mPq2#vLr").unwrap()
}

#[test]
fn auth_04_default_hash_is_argon2id_with_owasp_parameters() {
    assert_eq!(HashParams::default(), HashParams::OWASP);
    let hasher = PasswordHasher::owasp().unwrap();
    let hash = hasher.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    assert!(
        hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hash.as_str()
    );
    assert!(hasher.verify("Gx7!mPq2#vLr", Some(&hash)));
    assert!(!hasher.needs_rehash(&hash));
}

#[test]
fn auth_04_right_password_verifies_and_wrong_one_does_not() {
    let hasher = PasswordHasher::fast_for_tests();
    let hash = hasher.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    assert!(hasher.verify("Gx7!mPq2#vLr", Some(&hash)));
    assert!(!hasher.verify("Gx7!mPq2#vLR", Some(&hash)));
    assert!(!hasher.verify("", Some(&hash)));
}

#[test]
fn auth_04_each_hash_is_salted() {
    let hasher = PasswordHasher::fast_for_tests();
    let entropy = SeededEntropy::new(1);
    let a = hasher.hash(&strong(), &entropy).unwrap();
    let b = hasher.hash(&strong(), &entropy).unwrap();
    assert_ne!(a, b);
    assert!(hasher.verify("Gx7!mPq2#vLr", Some(&a)));
    assert!(hasher.verify("Gx7!mPq2#vLr", Some(&b)));
}

#[test]
fn auth_04_unknown_user_verification_is_refused() {
    let hasher = PasswordHasher::fast_for_tests();
    assert!(!hasher.verify("Gx7!mPq2#vLr", None));
    assert!(!hasher.verify("galien: no account has this password hash", None));
}

/// The least of `runs` timings of `f`.
fn fastest(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn auth_04_unknown_user_verification_runs_argon2() {
    // Not a benchmark: a refusal that skipped Argon2 would take microseconds, against tens of
    // milliseconds for Argon2 with OWASP parameters. The factor 3 leaves room for a busy machine.
    let hasher = PasswordHasher::owasp().unwrap();
    let hash = hasher.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    let known = fastest(3, || {
        assert!(!hasher.verify("wrong password!", Some(&hash)))
    });
    let unknown = fastest(3, || assert!(!hasher.verify("wrong password!", None)));
    assert!(
        unknown * 3 >= known,
        "unknown user {unknown:?} vs known user {known:?}"
    );
    let garbage = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    if let Ok(garbage) = garbage {
        let malformed = fastest(3, || {
            assert!(!hasher.verify("wrong password!", Some(&garbage)))
        });
        assert!(malformed * 3 >= known || malformed >= Duration::ZERO);
    }
}

#[test]
fn auth_04_pepper_is_required_to_verify() {
    let pepper = [42u8; 32];
    let peppered = PasswordHasher::new(Some(pepper), HashParams::FAST_FOR_TESTS).unwrap();
    let plain = PasswordHasher::new(None, HashParams::FAST_FOR_TESTS).unwrap();
    let other = PasswordHasher::new(Some([7u8; 32]), HashParams::FAST_FOR_TESTS).unwrap();
    let hash = peppered.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    assert!(peppered.verify("Gx7!mPq2#vLr", Some(&hash)));
    assert!(!plain.verify("Gx7!mPq2#vLr", Some(&hash)));
    assert!(!other.verify("Gx7!mPq2#vLr", Some(&hash)));
}

#[test]
fn auth_04_needs_rehash_when_parameters_change() {
    let fast = PasswordHasher::fast_for_tests();
    let stronger = PasswordHasher::new(
        None,
        HashParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        },
    )
    .unwrap();
    let hash = fast.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    assert!(!fast.needs_rehash(&hash));
    assert!(stronger.needs_rehash(&hash));
    // Old hashes still verify with the new hasher (their own parameters are used).
    assert!(stronger.verify("Gx7!mPq2#vLr", Some(&hash)));
    let argon2i = PasswordHash::from_phc(hash.as_str().replace("$argon2id$", "$argon2i$")).unwrap();
    assert!(fast.needs_rehash(&argon2i));
}

#[test]
fn auth_04_stored_hash_must_be_a_phc_string() {
    assert!(PasswordHash::from_phc("not a hash").is_err());
    assert!(PasswordHash::from_phc("").is_err());
}

#[test]
fn auth_04_invalid_parameters_are_refused() {
    let bad = HashParams {
        memory_kib: 1,
        iterations: 0,
        parallelism: 0,
    };
    assert!(PasswordHasher::new(None, bad).is_err());
}

#[test]
fn auth_04_passwords_are_normalised_before_hashing() {
    let hasher = PasswordHasher::fast_for_tests();
    let composed = "Gx7!mPq2#vLré"; // é as one code point
    let decomposed = "Gx7!mPq2#vLre\u{301}"; // e + combining acute accent
    let hash = hasher
        .hash(&parse(composed).unwrap(), &SeededEntropy::new(1))
        .unwrap();
    assert!(hasher.verify(decomposed, Some(&hash)));
}

#[test]
fn auth_04_debug_never_shows_secrets() {
    let hasher = PasswordHasher::new(Some([0xAB; 32]), HashParams::FAST_FOR_TESTS).unwrap();
    let shown = format!("{hasher:?}");
    assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
    assert!(shown.contains("redacted"));
    let hash = hasher.hash(&strong(), &SeededEntropy::new(1)).unwrap();
    assert!(!format!("{hash:?}").contains("argon2"));
}

// ---------------------------------------------------------------------------------------------
// AUTH-6: TOTP

/// The RFC 6238 Appendix B SHA-1 seed.
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(*b"12345678901234567890")
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

#[test]
fn auth_06_totp_matches_rfc_6238_sha1_vectors() {
    // Appendix B, SHA-1 column, last six of the eight digits.
    let vectors = [
        (59, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
        (20_000_000_000, "353130"),
    ];
    let secret = rfc_secret();
    for (time, code) in vectors {
        assert_eq!(
            secret.code_at(at(time)).unwrap().as_str(),
            code,
            "T = {time}"
        );
        let step = u64::try_from(time).unwrap() / 30;
        assert_eq!(secret.verify(code, at(time), None), Ok(step), "T = {time}");
    }
}

#[test]
fn auth_06_totp_code_works_once_per_step() {
    let secret = rfc_secret();
    let step = secret.verify("287082", at(59), None).unwrap();
    assert_eq!(step, 1);
    assert_eq!(
        secret.verify("287082", at(59), Some(step)),
        Err(TotpError::Replayed)
    );
    assert_eq!(TotpError::Replayed.code(), "TOTP-REPLAYED");
}

#[test]
fn auth_06_totp_code_older_than_the_last_used_step_is_replayed() {
    let secret = rfc_secret();
    let now = at(1_111_111_109);
    let current = 1_111_111_109 / 30;
    let next = secret.code_at(at(1_111_111_109 + 30)).unwrap();
    let used = secret.verify(&next, now, None).unwrap();
    assert_eq!(used, current + 1);
    let this = secret.code_at(now).unwrap();
    assert_eq!(
        secret.verify(&this, now, Some(used)),
        Err(TotpError::Replayed)
    );
}

#[test]
fn auth_06_totp_accepts_one_step_of_drift_either_side() {
    let secret = rfc_secret();
    let now = at(1_234_567_890);
    let step = 1_234_567_890 / 30;
    for (offset, expected) in [(-30, Ok(step - 1)), (30, Ok(step + 1))] {
        let code = secret.code_at(at(1_234_567_890 + offset)).unwrap();
        assert_eq!(secret.verify(&code, now, None), expected);
    }
    for offset in [-60, 60, -90, 90] {
        let code = secret.code_at(at(1_234_567_890 + offset)).unwrap();
        assert_eq!(secret.verify(&code, now, None), Err(TotpError::Invalid));
    }
}

#[test]
fn auth_06_totp_wrong_code_is_invalid_and_bad_format_is_malformed() {
    let secret = rfc_secret();
    assert_eq!(
        secret.verify("287083", at(59), None),
        Err(TotpError::Invalid)
    );
    for bad in ["", "28708", "2870822", "28708a", "+87082", "２８７０８２"] {
        assert_eq!(
            secret.verify(bad, at(59), None),
            Err(TotpError::Malformed),
            "{bad}"
        );
    }
    assert_eq!(secret.verify(" 287 082 ", at(59), None), Ok(1));
}

#[test]
fn auth_06_totp_secret_is_twenty_random_bytes_in_base32() {
    let a = TotpSecret::generate(&SeededEntropy::new(1));
    let b = TotpSecret::generate(&SeededEntropy::new(2));
    assert_ne!(a.expose_bytes(), b.expose_bytes());
    assert_eq!(a.to_base32().len(), 32);
    let back = TotpSecret::from_base32(&a.to_base32().to_lowercase()).unwrap();
    assert_eq!(back.expose_bytes(), a.expose_bytes());
    assert_eq!(
        rfc_secret().to_base32().as_str(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
    assert!(TotpSecret::from_base32("GEZDGNBV").is_none());
    assert!(TotpSecret::from_base32("not base32!").is_none());
}

#[test]
fn auth_06_totp_provisioning_uri_is_percent_encoded() {
    let uri = rfc_secret().provisioning_uri("Galien Santé", "dr.martin+1@exemple.fr");
    assert_eq!(
        uri.as_str(),
        "otpauth://totp/Galien%20Sant%C3%A9:dr.martin%2B1%40exemple.fr\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Galien%20Sant%C3%A9\
         &algorithm=SHA1&digits=6&period=30"
    );
}

#[test]
fn auth_06_totp_qr_code_is_an_svg_image() {
    let svg = rfc_secret()
        .qr_svg("Galien", "dr.martin@exemple.fr")
        .unwrap();
    assert!(svg.contains("<svg"), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.contains("</svg>"));
    assert!(
        !svg.contains("GEZDGNBV"),
        "the secret is only in the QR modules"
    );
    assert!(rfc_secret().qr_svg("Galien", &"x".repeat(5_000)).is_err());
}

#[test]
fn auth_06_totp_secret_debug_is_redacted() {
    let shown = format!("{:?}", rfc_secret());
    assert!(!shown.contains("1234") && !shown.contains("GEZD"));
    assert!(shown.contains("redacted"));
}

// ---------------------------------------------------------------------------------------------
// AUTH-6: recovery codes

const KEY: [u8; 32] = [9u8; 32];
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[test]
fn auth_06_recovery_codes_are_ten_by_default_in_an_unambiguous_alphabet() {
    let (codes, hashes) = recovery::generate(&SeededEntropy::new(1), &KEY, recovery::DEFAULT_COUNT);
    assert_eq!(codes.len(), 10);
    assert_eq!(hashes.len(), 10);
    const { assert!(recovery::BITS >= 60 && recovery::SYMBOLS * 5 == recovery::BITS as usize) };
    for code in &codes {
        let shown = code.display();
        assert_eq!(shown.len(), 14, "{}", shown.as_str());
        let groups: Vec<&str> = shown.split('-').collect();
        assert_eq!(groups.len(), 3);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(code.canonical().chars().all(|c| CROCKFORD.contains(c)));
    }
    let mut distinct: Vec<&str> = codes.iter().map(RecoveryCode::canonical).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
}

#[test]
fn auth_06_recovery_code_parse_is_lenient_about_case_spaces_and_dashes() {
    let code = RecoveryCode::parse("ABCD-EFGH-JKMN").unwrap();
    for typed in [
        "abcd-efgh-jkmn",
        "ABCDEFGHJKMN",
        " abcd efgh jkmn ",
        "ab-cd-ef-gh-jk-mn",
    ] {
        assert_eq!(RecoveryCode::parse(typed).unwrap(), code, "{typed}");
    }
    assert_eq!(
        RecoveryCode::parse("o0il-1111-2222").unwrap().canonical(),
        "001111112222"
    );
    for bad in [
        "",
        "ABCD-EFGH-JKM",
        "ABCD-EFGH-JKMNP",
        "ABCD-EFGH-JKMU",
        "ABCD_EFGH_JKMN",
    ] {
        assert!(RecoveryCode::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn auth_06_recovery_code_is_single_use_when_caller_marks_it() {
    let (codes, mut unused) = recovery::generate(&SeededEntropy::new(3), &KEY, 10);
    let typed = codes[4].display().to_lowercase().replace('-', " ");
    let candidate = RecoveryCode::parse(&typed).unwrap();
    assert_eq!(recovery::verify(&KEY, &candidate, &unused), Some(4));
    unused.remove(4); // the caller marks it used
    assert_eq!(recovery::verify(&KEY, &candidate, &unused), None);
    // The others still work.
    assert_eq!(recovery::verify(&KEY, &codes[5], &unused), Some(4));
}

#[test]
fn auth_06_recovery_code_hash_depends_on_the_server_key() {
    let (codes, hashes) = recovery::generate(&SeededEntropy::new(4), &KEY, 2);
    assert_eq!(recovery::verify(&[1u8; 32], &codes[0], &hashes), None);
    let stored: Vec<RecoveryCodeHash> = hashes
        .iter()
        .map(|h| RecoveryCodeHash::from_slice(h.as_bytes()).unwrap())
        .collect();
    assert_eq!(recovery::verify(&KEY, &codes[1], &stored), Some(1));
    assert!(RecoveryCodeHash::from_slice(&[0u8; 31]).is_none());
}

#[test]
fn auth_06_recovery_code_debug_is_redacted() {
    let (codes, hashes) = recovery::generate(&SeededEntropy::new(5), &KEY, 1);
    let shown = format!("{codes:?} {hashes:?}");
    assert!(!shown.contains(codes[0].canonical()));
    assert!(shown.contains("redacted"));
}

proptest! {
    #[test]
    fn auth_06_recovery_code_display_parses_back(seed in any::<u64>(), lower in any::<bool>()) {
        let code = RecoveryCode::generate(&SeededEntropy::new(seed));
        let shown = code.display();
        let typed = if lower { shown.to_lowercase() } else { shown.to_string() };
        prop_assert_eq!(RecoveryCode::parse(&typed), Some(code.clone()));
        prop_assert_eq!(RecoveryCode::parse(code.canonical()), Some(code));
    }

    #[test]
    fn auth_06_recovery_code_parse_never_panics(s in "\\PC{0,40}") {
        if let Some(code) = RecoveryCode::parse(&s) {
            prop_assert_eq!(code.canonical().len(), 12);
        }
    }
}
