//! The data directory: created 0700 on first start, refused if other users can read it, locked so
//! that two processes never share one.

use std::fs::{self, DirBuilder, File};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An open, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    // Held for the life of the process: the lock is released when the file closes.
    _lock: File,
    created: bool,
}

/// Why the data directory cannot be used; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The parent does not exist.
    #[error(
        "data directory {0}: its parent directory does not exist; create it or choose another path with --data-dir"
    )]
    NoParent(PathBuf),
    /// Creating or opening failed.
    #[error("data directory {path}: {source}; choose a writable path with --data-dir")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// Not a directory.
    #[error(
        "data directory {0} exists but is not a directory; choose another path with --data-dir"
    )]
    NotADirectory(PathBuf),
    /// Group or others have access.
    #[error(
        "data directory {path} is accessible to other users (mode {mode:o}); run `chmod 700 {path}`"
    )]
    TooOpen {
        /// The directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Another process holds the lock.
    #[error(
        "data directory {0} is in use by another Galien process; stop it first or choose another --data-dir"
    )]
    Locked(PathBuf),
}

impl DataDir {
    /// Opens (creating with mode 0700 if absent) and locks the directory.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let io = |source| DataDirError::Io {
            path: path.to_owned(),
            source,
        };
        let created = match fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => return Err(DataDirError::NotADirectory(path.to_owned())),
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(DataDirError::TooOpen {
                        path: path.to_owned(),
                        mode,
                    });
                }
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                match fs::metadata(parent) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(DataDirError::NotADirectory(parent.to_owned())),
                    Err(_) => return Err(DataDirError::NoParent(path.to_owned())),
                }
                DirBuilder::new().mode(0o700).create(path).map_err(io)?;
                // The umask may have removed bits we want; it never adds any, but be explicit.
                fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io)?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                let parent = path.parent().unwrap_or(path);
                return Err(DataDirError::NotADirectory(parent.to_owned()));
            }
            Err(e) => return Err(io(e)),
        };
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("galien.lock"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(DataDirError::Locked(path.to_owned())),
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(DataDir {
            path: path.to_owned(),
            _lock: lock,
            created,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this start created it.
    pub fn created(&self) -> bool {
        self.created
    }

    /// A subdirectory (mode 0700), created if needed.
    pub fn subdir(&self, name: &str) -> Result<PathBuf, DataDirError> {
        let p = self.path.join(name);
        if !p.exists() {
            DirBuilder::new()
                .mode(0o700)
                .create(&p)
                .map_err(|source| DataDirError::Io {
                    path: p.clone(),
                    source,
                })?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_0700_and_locks() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data");
        let d = DataDir::open(&path).unwrap();
        assert!(d.created());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(matches!(DataDir::open(&path), Err(DataDirError::Locked(_))));
        drop(d);
        assert!(!DataDir::open(&path).unwrap().created());
    }

    #[test]
    fn refuses_open_directories_files_and_missing_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            DataDir::open(&open)
                .unwrap_err()
                .to_string()
                .contains("chmod 700")
        );
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(
            DataDir::open(&file),
            Err(DataDirError::NotADirectory(_))
        ));
        assert!(matches!(
            DataDir::open(&file.join("data")),
            Err(DataDirError::NotADirectory(_))
        ));
        assert!(matches!(
            DataDir::open(&tmp.path().join("a/b/c")),
            Err(DataDirError::NoParent(_))
        ));
        assert!(!tmp.path().join("a").exists());
    }
}
