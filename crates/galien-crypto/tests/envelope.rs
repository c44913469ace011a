//! Envelope encryption of health data at rest, key rotation and blind indexes (DATA-1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use galien_core::{OsEntropy, SeededEntropy};
use galien_crypto::envelope::{
    BlindIndexKey, DataKey, EnvelopeError, HEALTH_KEYS_DIR, KekId, KeyRing, Place,
};
use galien_crypto::keyfile::{self, MasterKey};

const OWNER: &str = "patient:0190f5a4-7c1e-7d3a-9b2e-4f5a6b7c8d9e";

fn place<'a>(table: &'a str, row: &'a str, column: &'a str) -> Place<'a> {
    Place { table, row, column }
}

fn kek_files(keys_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(keys_dir.join(HEALTH_KEYS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn master(seed: u64) -> MasterKey {
    let dir = tempfile::tempdir().unwrap();
    keyfile::load_or_create(&dir.path().join("master.key"), &SeededEntropy::new(seed))
        .unwrap()
        .0
}

#[test]
fn data1_seal_open_round_trip() {
    let e = SeededEntropy::new(1);
    let key = DataKey::generate(&e);
    let at = place("patients", "42", "nir");
    let sealed = key.seal(b"1 84 12 76 451 089 46", &at, &e);
    assert_eq!(
        key.open(&sealed, &at).unwrap().as_slice(),
        b"1 84 12 76 451 089 46"
    );
    assert!(
        !sealed.windows(b"451 089".len()).any(|w| w == b"451 089"),
        "plaintext must not appear in the ciphertext"
    );
    assert_ne!(
        key.seal(b"x", &at, &e),
        key.seal(b"x", &at, &e),
        "fresh nonce each time"
    );
    let empty = key.seal(b"", &at, &e);
    assert!(key.open(&empty, &at).unwrap().is_empty());
    let other = DataKey::generate(&e);
    assert!(matches!(other.open(&sealed, &at), Err(EnvelopeError::Open)));
    assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
}

#[test]
fn data1_ciphertext_moved_to_another_place_does_not_open() {
    let e = SeededEntropy::new(2);
    let key = DataKey::generate(&e);
    let sealed = key.seal(b"diabete type 2", &place("notes", "7", "body"), &e);
    for elsewhere in [
        place("letters", "7", "body"),
        place("notes", "8", "body"),
        place("notes", "7", "title"),
        // Same concatenation, different split: the length prefixes tell them apart.
        place("notes7", "", "body"),
        place("notes", "7b", "ody"),
    ] {
        assert!(
            matches!(key.open(&sealed, &elsewhere), Err(EnvelopeError::Open)),
            "{elsewhere:?} must not open"
        );
    }
}

#[test]
fn data1_tampered_ciphertext_does_not_open() {
    let e = SeededEntropy::new(3);
    let key = DataKey::generate(&e);
    let at = place("patients", "1", "name");
    let sealed = key.seal(b"Dupont", &at, &e);
    for i in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;
        assert!(
            matches!(key.open(&tampered, &at), Err(EnvelopeError::Open)),
            "flipping byte {i} must be detected"
        );
    }
    for len in 0..sealed.len() {
        assert!(matches!(
            key.open(&sealed[..len], &at),
            Err(EnvelopeError::Open)
        ));
    }
}

#[test]
fn data1_wrapped_key_is_bound_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let e = SeededEntropy::new(4);
    let ring = KeyRing::load_or_create(dir.path(), &e).unwrap();
    let key = DataKey::generate(&e);
    let at = place("patients", "1", "nir");
    let sealed = key.seal(b"secret", &at, &e);

    let wrapped = ring.wrap(&key, OWNER, &e);
    assert_eq!(wrapped.kek, ring.current());
    let unwrapped = ring.unwrap(&wrapped, OWNER).unwrap();
    assert_eq!(unwrapped.open(&sealed, &at).unwrap().as_slice(), b"secret");

    assert!(matches!(
        ring.unwrap(&wrapped, "patient:someone-else"),
        Err(EnvelopeError::Open)
    ));
    let mut tampered = wrapped.clone();
    let last = tampered.bytes.len() - 1;
    tampered.bytes[last] ^= 1;
    assert!(matches!(
        ring.unwrap(&tampered, OWNER),
        Err(EnvelopeError::Open)
    ));
    assert!(matches!(
        ring.unwrap(
            &galien_crypto::envelope::WrappedKey {
                kek: KekId::new(99),
                bytes: wrapped.bytes.clone()
            },
            OWNER
        ),
        Err(EnvelopeError::UnknownKek(id)) if id == KekId::new(99)
    ));
    let debug = format!("{ring:?}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn data1_rotation_keeps_old_keys_usable_until_rewrapped_and_retired() {
    let dir = tempfile::tempdir().unwrap();
    let e = SeededEntropy::new(5);
    let ring = KeyRing::load_or_create(dir.path(), &e).unwrap();
    let old = ring.current();
    assert_eq!(old, KekId::new(1));
    let key = DataKey::generate(&e);
    let at = place("consultations", "c-1", "report");
    let sealed = key.seal(b"compte rendu", &at, &e);
    let wrapped_old = ring.wrap(&key, OWNER, &e);

    let ring = ring.rotate(&e).unwrap();
    let new = ring.current();
    assert_eq!(new, KekId::new(2));
    assert_ne!(new, old);
    assert_eq!(ring.ids(), vec![old, new]);
    assert!(ring.contains(old) && ring.contains(new));
    assert_eq!(kek_files(dir.path()), ["kek-00001.key", "kek-00002.key"]);
    assert_eq!(
        mode(&dir.path().join(HEALTH_KEYS_DIR).join("kek-00002.key")),
        0o600
    );

    // The old wrapped key still unwraps after rotation.
    let k = ring.unwrap(&wrapped_old, OWNER).unwrap();
    assert_eq!(k.open(&sealed, &at).unwrap().as_slice(), b"compte rendu");

    let rewrapped = ring.rewrap(&wrapped_old, OWNER, &e).unwrap();
    assert_eq!(rewrapped.kek, new);
    assert!(matches!(
        ring.rewrap(&wrapped_old, "patient:other", &e),
        Err(EnvelopeError::Open)
    ));

    assert!(matches!(ring.retire(new), Err(EnvelopeError::CurrentKek)));
    let ring = ring.retire(old).unwrap();
    assert_eq!(ring.ids(), vec![new]);
    assert!(!ring.contains(old));
    assert_eq!(kek_files(dir.path()), ["kek-00002.key"]);

    // Data sealed before the rotation still opens through the re-wrapped key.
    let k = ring.unwrap(&rewrapped, OWNER).unwrap();
    assert_eq!(k.open(&sealed, &at).unwrap().as_slice(), b"compte rendu");
    assert!(matches!(
        ring.unwrap(&wrapped_old, OWNER),
        Err(EnvelopeError::UnknownKek(id)) if id == old
    ));
    assert!(matches!(
        ring.retire(old),
        Err(EnvelopeError::UnknownKek(_))
    ));

    // A fresh load sees the same ring, and the next rotation continues numbering.
    let reloaded = KeyRing::load(dir.path()).unwrap();
    assert_eq!(reloaded.ids(), vec![new]);
    let ring = reloaded.rotate(&e).unwrap();
    assert_eq!(ring.current(), KekId::new(3));
    assert_eq!(ring.current().to_string(), "kek-00003");
}

#[test]
fn data1_retiring_the_current_kek_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load_or_create(dir.path(), &OsEntropy).unwrap();
    assert!(matches!(
        ring.retire(ring.current()),
        Err(EnvelopeError::CurrentKek)
    ));
    assert_eq!(kek_files(dir.path()), ["kek-00001.key"]);
    // A stale ring cannot retire the KEK another ring made current meanwhile.
    let rotated = ring.rotate(&OsEntropy).unwrap();
    assert!(matches!(
        ring.retire(rotated.current()),
        Err(EnvelopeError::CurrentKek)
    ));
}

#[test]
fn data1_load_or_create_makes_one_private_key_file_and_load_needs_one() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    assert!(matches!(KeyRing::load(&keys), Err(EnvelopeError::NoKeys)));
    fs::create_dir_all(keys.join(HEALTH_KEYS_DIR)).unwrap();
    assert!(matches!(KeyRing::load(&keys), Err(EnvelopeError::NoKeys)));
    fs::remove_dir(keys.join(HEALTH_KEYS_DIR)).unwrap();
    fs::remove_dir(&keys).unwrap();

    let ring = KeyRing::load_or_create(&keys, &OsEntropy).unwrap();
    assert_eq!(ring.ids(), vec![KekId::new(1)]);
    assert_eq!(kek_files(&keys), ["kek-00001.key"]);
    let dir = keys.join(HEALTH_KEYS_DIR);
    assert_eq!(mode(&dir), 0o700);
    let file = dir.join("kek-00001.key");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(fs::read(&file).unwrap().len(), 32);
    assert_eq!(KeyRing::load(&keys).unwrap().ids(), vec![KekId::new(1)]);
}

#[test]
fn data1_second_load_or_create_reads_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let e = SeededEntropy::new(6);
    let first = KeyRing::load_or_create(dir.path(), &e).unwrap();
    let key = DataKey::generate(&e);
    let at = place("patients", "p", "birth_date");
    let sealed = key.seal(b"1984-12-07", &at, &e);
    let wrapped = first.wrap(&key, OWNER, &e);
    drop((first, key));

    let second = KeyRing::load_or_create(dir.path(), &SeededEntropy::new(999)).unwrap();
    assert_eq!(second.ids(), vec![KekId::new(1)]);
    assert_eq!(kek_files(dir.path()), ["kek-00001.key"]);
    let key = second.unwrap(&wrapped, OWNER).unwrap();
    assert_eq!(key.open(&sealed, &at).unwrap().as_slice(), b"1984-12-07");
}

#[test]
fn data1_bad_key_files_are_refused_and_unrelated_files_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load_or_create(dir.path(), &OsEntropy).unwrap();
    let health = dir.path().join(HEALTH_KEYS_DIR);
    for unrelated in [
        "README",
        "kek-1.key",
        "kek-00002.key.bak",
        ".kek-00003.key.tmp-x",
    ] {
        fs::write(health.join(unrelated), b"not a key").unwrap();
    }
    assert_eq!(KeyRing::load(dir.path()).unwrap().ids(), ring.ids());

    let bad = health.join("kek-00002.key");
    fs::write(&bad, [7u8; 31]).unwrap();
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        KeyRing::load(dir.path()),
        Err(EnvelopeError::BadKeyFile(p)) if p == bad
    ));
    fs::write(&bad, [7u8; 33]).unwrap();
    assert!(matches!(
        KeyRing::load(dir.path()),
        Err(EnvelopeError::BadKeyFile(_))
    ));
    fs::write(&bad, [7u8; 32]).unwrap();
    assert_eq!(KeyRing::load(dir.path()).unwrap().current(), KekId::new(2));
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o640)).unwrap();
    let err = KeyRing::load(dir.path()).unwrap_err();
    assert!(matches!(err, EnvelopeError::BadKeyFile(_)));
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn data1_blind_index_is_deterministic_and_keyed() {
    let m = master(10);
    let nir = BlindIndexKey::derive(&m, "nir");
    let a = nir.index("184127645108946");
    assert_eq!(a, BlindIndexKey::derive(&m, "nir").index("184127645108946"));
    assert_ne!(a, nir.index("184127645108947"));
    assert_ne!(
        a,
        BlindIndexKey::derive(&m, "name-birth").index("184127645108946"),
        "another purpose gives another index"
    );
    assert_ne!(
        a,
        BlindIndexKey::derive(&master(11), "nir").index("184127645108946"),
        "another master key gives another index"
    );
    assert_eq!(format!("{nir:?}"), "BlindIndexKey(<redacted>)");
}
