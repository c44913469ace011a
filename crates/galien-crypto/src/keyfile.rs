//! The master key file: 32 random bytes, created once with mode 0600 inside the 0700 data
//! directory, never printed. Later key material (data keys, audit signing key) is derived from or
//! wrapped by it, so the file must be backed up separately from the database.

use galien_core::Entropy;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"GALIENK1";
const KEY_LEN: usize = 32;

/// Why a key file could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not a Galien key file, or is damaged.
    #[error(
        "key file {path} is damaged or not a Galien key file (expected {expected} bytes starting with GALIENK1); restore it from your backup"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The expected size.
        expected: usize,
    },
    /// Other users can read the file.
    #[error("key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its current mode.
        mode: u32,
    },
}

/// A 256-bit key loaded from a file. `Debug` is redacted; memory is wiped on drop.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl MasterKey {
    /// The key bytes, for the KDF or AEAD that uses them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Whether [`load_or_create`] found an existing key or made a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The file existed and was loaded.
    Loaded,
    /// The file was created now.
    Created,
}

/// Loads an existing key; a missing file is an error (operator tools must never mint a new master key).
pub fn load(path: &Path) -> Result<MasterKey, KeyFileError> {
    if !path.exists() {
        return Err(KeyFileError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "master key not found; restore it from your backup",
            ),
        });
    }
    // The file exists, so load_or_create only loads; no entropy is drawn.
    load_or_create(path, &galien_core::OsEntropy).map(|(k, _)| k)
}

/// Loads the key at `path`, or creates it (mode 0600, written then synced) if it does not exist.
pub fn load_or_create(
    path: &Path,
    entropy: &dyn Entropy,
) -> Result<(MasterKey, KeyOrigin), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    match OpenOptions::new().read(true).open(path) {
        Ok(mut file) => {
            let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::TooOpen {
                    path: path.to_owned(),
                    mode,
                });
            }
            let mut buf = Zeroizing::new(Vec::new());
            file.read_to_end(&mut buf).map_err(io)?;
            let malformed = || KeyFileError::Malformed {
                path: path.to_owned(),
                expected: MAGIC.len() + KEY_LEN,
            };
            let body = buf.strip_prefix(MAGIC.as_slice()).ok_or_else(malformed)?;
            let key: [u8; KEY_LEN] = body.try_into().map_err(|_| malformed())?;
            Ok((MasterKey(Zeroizing::new(key)), KeyOrigin::Loaded))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            entropy.fill(key.as_mut());
            let tmp = path.with_extension("tmp");
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io)?;
            let mut content = Zeroizing::new(MAGIC.to_vec());
            content.extend_from_slice(key.as_ref());
            file.write_all(&content).map_err(io)?;
            file.sync_all().map_err(io)?;
            fs::rename(&tmp, path).map_err(io)?;
            if let Some(dir) = path.parent() {
                fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            Ok((MasterKey(key), KeyOrigin::Created))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::OsEntropy;

    #[test]
    fn key_is_created_0600_then_loaded_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (k1, o1) = load_or_create(&path, &OsEntropy).unwrap();
        assert_eq!(o1, KeyOrigin::Created);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (k2, o2) = load_or_create(&path, &OsEntropy).unwrap();
        assert_eq!(o2, KeyOrigin::Loaded);
        assert_eq!(k1.expose(), k2.expose());
        assert!(
            !format!("{k1:?}").contains(&format!("{}", k1.expose()[0]))
                || format!("{k1:?}").contains("redacted")
        );
    }

    #[test]
    fn damaged_or_open_key_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, b"GALIENK1short").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&path, &OsEntropy),
            Err(KeyFileError::Malformed { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, &OsEntropy).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
