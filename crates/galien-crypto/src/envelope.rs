//! Envelope encryption of health data at rest (DATA-1).
//!
//! Each patient gets one random 256-bit [`DataKey`]; it seals that patient's health data and
//! identifiers with XChaCha20-Poly1305, bound to the [`Place`] (table, row, column) each
//! ciphertext belongs to. The data key is stored only wrapped ([`WrappedKey`]) by a
//! key-encryption key (KEK) from the [`KeyRing`]: files kept in the data directory's
//! `keys/health/` directory, apart from the database. Rotation adds a new KEK
//! ([`KeyRing::rotate`]); existing data keys keep unwrapping with their old KEK until they are
//! re-wrapped ([`KeyRing::rewrap`]), after which the old KEK can be deleted
//! ([`KeyRing::retire`]). The data itself is never re-encrypted, so rotation loses nothing.
//!
//! Encrypted identifiers (NIR, name + birth date) are found by equality through a keyed blind
//! index ([`BlindIndexKey`], HMAC-SHA-256 under a key derived from the master key).
//!
//! Formats (all little pieces come from RustCrypto crates; nothing is hand-rolled):
//! * KEK file `kek-NNNNN.key` (id zero-padded to 5 digits): exactly 32 raw random bytes, mode
//!   0600, in a 0700 directory. Files are written to a temporary file, synced, then linked into
//!   place without ever replacing an existing file, and the directory is synced.
//! * Sealed value and wrapped key: `version (1) || nonce (24) || ciphertext + tag (16)`.
//! * Associated data: a version tag, then each field as a big-endian `u64` length and its bytes.

use crate::keyfile::MasterKey;
use crate::seal::SealingKey;
use galien_core::Entropy;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The directory, under the data directory's `keys/` directory, that holds the KEK files.
pub const HEALTH_KEYS_DIR: &str = "health";

const KEY_LEN: usize = 32;
const KEK_PREFIX: &str = "kek-";
const KEK_SUFFIX: &str = ".key";
const WRAP_AAD_TAG: &[u8] = b"galien/envelope/wrap/v1";
const PLACE_AAD_TAG: &[u8] = b"galien/envelope/place/v1";

/// Why an envelope operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Reading or writing a key file or the key directory failed.
    #[error("health key ring: {0}")]
    Io(#[from] std::io::Error),
    /// The key directory holds no key-encryption key.
    #[error(
        "no health key-encryption key found; restore the keys/{HEALTH_KEYS_DIR} directory from your backup"
    )]
    NoKeys,
    /// A KEK file is not exactly 32 bytes, not a regular file, or is readable by other users.
    #[error(
        "key file {} is damaged (expected exactly {KEY_LEN} bytes) or readable by other users (run `chmod 600` on it); restore it from your backup",
        .0.display()
    )]
    BadKeyFile(PathBuf),
    /// The key ring lacks the KEK that wrapped this data key (retired, or the file is missing).
    #[error("key-encryption key {0} is not in the key ring")]
    UnknownKek(KekId),
    /// A sealed value or wrapped key did not open: wrong key, wrong place or owner, or altered.
    #[error("encrypted value cannot be opened (wrong key, wrong place, or altered)")]
    Open,
    /// The current KEK cannot be retired; rotate first.
    #[error("the current key-encryption key cannot be retired; rotate first")]
    CurrentKek,
}

/// The number of a key-encryption key; the highest one in the ring is the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KekId(u32);

impl KekId {
    /// The id `n`.
    pub fn new(n: u32) -> Self {
        Self(n)
    }

    /// The number, for storing next to a wrapped key.
    pub fn get(self) -> u32 {
        self.0
    }

    fn file_name(self) -> String {
        format!("{KEK_PREFIX}{:05}{KEK_SUFFIX}", self.0)
    }

    /// The id named by a KEK file name, only in its canonical spelling (`kek-00001.key`).
    fn from_file_name(name: &str) -> Option<Self> {
        let digits = name.strip_prefix(KEK_PREFIX)?.strip_suffix(KEK_SUFFIX)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = Self(digits.parse().ok()?);
        (id.file_name() == name).then_some(id)
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kek-{:05}", self.0)
    }
}

/// A 256-bit key-encryption key as read from its file; wiped on drop.
struct Kek(Zeroizing<[u8; KEY_LEN]>);

/// The key ring: every KEK found in `<keys_dir>/health/kek-<00001>.key` (32 random bytes, file
/// 0600, dir 0700). `Debug` shows the directory and ids, never key bytes.
pub struct KeyRing {
    dir: PathBuf,
    keks: BTreeMap<KekId, Kek>,
    current: KekId,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("dir", &self.dir)
            .field("ids", &self.ids())
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// A data key wrapped by the KEK `kek`: `version || nonce || ciphertext + tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The KEK that wrapped it (stored next to the bytes).
    pub kek: KekId,
    /// The wrapped key.
    pub bytes: Vec<u8>,
}

/// A data key (256-bit), zeroized on drop, `Debug` redacted, not `Clone` (so it cannot be copied
/// into logs or other structures by accident).
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Where a ciphertext belongs; its encoding is the AEAD associated data (length-prefixed fields,
/// a version tag), so a ciphertext moved to another table, row or column does not open.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The table (e.g. `patients`).
    pub table: &'a str,
    /// The row's identifier (e.g. the patient's UUID).
    pub row: &'a str,
    /// The column (e.g. `nir`).
    pub column: &'a str,
}

impl Place<'_> {
    /// The associated data: version tag, then table, row and column, each length-prefixed.
    fn aad(&self) -> Vec<u8> {
        encode_aad(PLACE_AAD_TAG, &[self.table, self.row, self.column])
    }
}

/// Keyed blind index (HMAC-SHA-256) for equality look-ups of encrypted identifiers (NIR, name +
/// birth date). `Debug` is redacted; the key is wiped on drop.
pub struct BlindIndexKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndexKey(<redacted>)")
    }
}

impl BlindIndexKey {
    /// The blind-index key for `purpose` (e.g. `nir`), derived from the master key with HKDF
    /// (purpose `blind-index/<purpose>`), so each index has its own key.
    pub fn derive(master: &MasterKey, purpose: &str) -> BlindIndexKey {
        BlindIndexKey(crate::seal::derive(
            master,
            &format!("blind-index/{purpose}"),
        ))
    }

    /// HMAC-SHA-256 of the exact `value` (callers normalise it first).
    pub fn index(&self, value: &str) -> [u8; 32] {
        // HMAC accepts keys of any length, so a 32-byte key is always valid.
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(self.0.as_ref()) else {
            return [0u8; 32];
        };
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate(entropy: &dyn Entropy) -> DataKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        entropy.fill(key.as_mut());
        DataKey(key)
    }

    /// Encrypts `plaintext` bound to `place`: `version || nonce || ciphertext + tag`.
    pub fn seal(&self, plaintext: &[u8], place: &Place<'_>, entropy: &dyn Entropy) -> Vec<u8> {
        seal_with(&self.0, plaintext, &place.aad(), entropy)
    }

    /// Decrypts a value sealed with this key at the same `place`.
    pub fn open(
        &self,
        sealed: &[u8],
        place: &Place<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        open_with(&self.0, sealed, &place.aad())
    }
}

impl KeyRing {
    /// Loads every KEK in `<keys_dir>/health/`, creating the directory (0700) and KEK 1 when
    /// there is none.
    pub fn load_or_create(
        keys_dir: &Path,
        entropy: &dyn Entropy,
    ) -> Result<KeyRing, EnvelopeError> {
        let dir = keys_dir.join(HEALTH_KEYS_DIR);
        match Self::load(keys_dir) {
            Err(EnvelopeError::NoKeys) => {}
            other => return other,
        }
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        match write_new_kek(&dir, KekId(1), entropy) {
            Ok(()) => {}
            // Another process created it at the same time: load theirs.
            Err(EnvelopeError::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Self::load(keys_dir)
    }

    /// Loads every KEK in `<keys_dir>/health/`; [`EnvelopeError::NoKeys`] when there is none
    /// (operator tools must never mint keys silently). Unrelated files are ignored.
    pub fn load(keys_dir: &Path) -> Result<KeyRing, EnvelopeError> {
        let dir = keys_dir.join(HEALTH_KEYS_DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EnvelopeError::NoKeys);
            }
            Err(e) => return Err(e.into()),
        };
        let mut keks = BTreeMap::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(KekId::from_file_name) else {
                continue;
            };
            keks.insert(id, read_kek(&entry.path())?);
        }
        let current = *keks.keys().next_back().ok_or(EnvelopeError::NoKeys)?;
        Ok(KeyRing { dir, keks, current })
    }

    /// The KEK new wrappings use: the highest id.
    pub fn current(&self) -> KekId {
        self.current
    }

    /// Every KEK id in the ring, ascending.
    pub fn ids(&self) -> Vec<KekId> {
        self.keks.keys().copied().collect()
    }

    /// Whether the ring holds the KEK `id`.
    pub fn contains(&self, id: KekId) -> bool {
        self.keks.contains_key(&id)
    }

    /// Writes a new KEK (next id) atomically (temp file + fsync + rename + fsync dir) and returns
    /// the ring that includes it. The new file never replaces an existing one: if another process
    /// rotated meanwhile, this fails with an `AlreadyExists` I/O error and nothing is lost.
    pub fn rotate(&self, entropy: &dyn Entropy) -> Result<KeyRing, EnvelopeError> {
        let keys_dir = self.keys_dir();
        let on_disk = Self::load(&keys_dir)?;
        let next = on_disk
            .current
            .0
            .max(self.current.0)
            .checked_add(1)
            .map(KekId)
            .ok_or_else(|| std::io::Error::other("no key-encryption key id left"))?;
        write_new_kek(&self.dir, next, entropy)?;
        Self::load(&keys_dir)
    }

    /// Deletes the KEK file `id` (refuses the current one). Used after every data key was
    /// re-wrapped: data keys still wrapped by `id` can no longer be opened.
    pub fn retire(&self, id: KekId) -> Result<KeyRing, EnvelopeError> {
        let keys_dir = self.keys_dir();
        let on_disk = Self::load(&keys_dir)?;
        if id == self.current || id == on_disk.current {
            return Err(EnvelopeError::CurrentKek);
        }
        if !on_disk.contains(id) {
            return Err(EnvelopeError::UnknownKek(id));
        }
        fs::remove_file(self.dir.join(id.file_name()))?;
        sync_dir(&self.dir)?;
        Self::load(&keys_dir)
    }

    /// Wraps `key` with the current KEK; the associated data binds `owner` (e.g.
    /// `patient:<uuid>`) and the KEK id, so a wrapped key copied to another owner does not open.
    pub fn wrap(&self, key: &DataKey, owner: &str, entropy: &dyn Entropy) -> WrappedKey {
        let kek = self.current;
        let bytes = match self.keks.get(&kek) {
            Some(k) => seal_with(&k.0, key.0.as_ref(), &wrap_aad(kek, owner), entropy),
            // A ring always holds its current KEK (load refuses an empty directory).
            None => Vec::new(),
        };
        WrappedKey { kek, bytes }
    }

    /// Unwraps a data key: [`EnvelopeError::UnknownKek`] when the ring lacks its KEK,
    /// [`EnvelopeError::Open`] when authentication fails (wrong owner, altered bytes).
    pub fn unwrap(&self, wrapped: &WrappedKey, owner: &str) -> Result<DataKey, EnvelopeError> {
        let kek = self
            .keks
            .get(&wrapped.kek)
            .ok_or(EnvelopeError::UnknownKek(wrapped.kek))?;
        let plain = open_with(&kek.0, &wrapped.bytes, &wrap_aad(wrapped.kek, owner))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(EnvelopeError::Open);
        }
        key.copy_from_slice(&plain);
        Ok(DataKey(key))
    }

    /// Unwraps `wrapped` and wraps it again with the current KEK (the data it seals is unchanged).
    pub fn rewrap(
        &self,
        wrapped: &WrappedKey,
        owner: &str,
        entropy: &dyn Entropy,
    ) -> Result<WrappedKey, EnvelopeError> {
        let key = self.unwrap(wrapped, owner)?;
        Ok(self.wrap(&key, owner, entropy))
    }

    /// The `keys/` directory this ring was loaded from.
    fn keys_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .map_or_else(|| self.dir.clone(), Path::to_path_buf)
    }
}

/// `tag`, then each field as a big-endian `u64` length followed by its bytes.
fn encode_aad(tag: &[u8], fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + fields.iter().map(|f| 8 + f.len()).sum::<usize>());
    out.extend_from_slice(tag);
    for field in fields {
        let len = u64::try_from(field.len()).unwrap_or(u64::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

fn wrap_aad(kek: KekId, owner: &str) -> Vec<u8> {
    let id = kek.0.to_string();
    encode_aad(WRAP_AAD_TAG, &[&id, owner])
}

/// The same construction as [`SealingKey`] (XChaCha20-Poly1305, `version || nonce || ct+tag`).
fn seal_with(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8], entropy: &dyn Entropy) -> Vec<u8> {
    SealingKey::from_bytes(key).seal(plaintext, aad, entropy)
}

fn open_with(
    key: &[u8; KEY_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    SealingKey::from_bytes(key)
        .open(sealed, aad)
        .map_err(|_| EnvelopeError::Open)
}

/// Reads one KEK file: a regular file, not accessible to group or others, exactly 32 bytes.
fn read_kek(path: &Path) -> Result<Kek, EnvelopeError> {
    let bad = || EnvelopeError::BadKeyFile(path.to_owned());
    let with_path =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let file = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(with_path)?;
    let meta = file.metadata().map_err(with_path)?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return Err(bad());
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    // One byte more than a key, to tell "exactly 32" from "longer".
    file.take(u64::try_from(KEY_LEN + 1).unwrap_or(u64::MAX))
        .read_to_end(&mut buf)
        .map_err(with_path)?;
    let key: [u8; KEY_LEN] = buf.as_slice().try_into().map_err(|_| bad())?;
    Ok(Kek(Zeroizing::new(key)))
}

/// Writes KEK `id` into `dir`: temporary file (0600) + fsync, then linked to its final name
/// (atomic, and never replacing an existing KEK), then the directory is synced.
fn write_new_kek(dir: &Path, id: KekId, entropy: &dyn Entropy) -> Result<(), EnvelopeError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    entropy.fill(key.as_mut());
    let mut suffix = [0u8; 8];
    entropy.fill(&mut suffix);
    let tmp = dir.join(format!(".{}.tmp-{}", id.file_name(), hex::encode(suffix)));
    let dest = dir.join(id.file_name());
    let result = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(key.as_ref())?;
        file.sync_all()?;
        drop(file);
        // link(2) is atomic and fails if `dest` exists, unlike rename(2), which would silently
        // replace (and so destroy) a KEK another process wrote meanwhile.
        fs::hard_link(&tmp, &dest)
    })();
    let removed = fs::remove_file(&tmp);
    result?;
    removed?;
    sync_dir(dir)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
