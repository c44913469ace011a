//! The keys of health data (DATA-1): the key-encryption key ring on disk (`keys/health/`), the blind
//! index keys, and the sealing key of emergency-access reasons. Patient data keys are unwrapped on
//! demand and never cached.
//!
//! Rotation without downtime: `galien keys rotate` writes a new key-encryption key and re-wraps every
//! data key (compare-and-set per row); a running node notices the new key file (the directory's
//! modification time) before wrapping a new patient's key, and reloads the ring when it meets a data
//! key wrapped by a key it does not know yet.

use galien_core::Entropy;
use galien_core::ids::PatientId;
use galien_crypto::envelope::{
    BlindIndexKey, DataKey, EnvelopeError, HEALTH_KEYS_DIR, KekId, KeyRing, WrappedKey,
};
use galien_crypto::keyfile::MasterKey;
use galien_crypto::seal::SealingKey;
use galien_store::{Store, WrappedDataKey};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;
use time::OffsetDateTime;

/// The health-data keys of one node.
pub struct HealthKeys {
    keys_dir: PathBuf,
    ring: RwLock<(KeyRing, Option<SystemTime>)>,
    /// Blind index of NIRs.
    pub nir_index: BlindIndexKey,
    /// Blind index of name + birth date.
    pub name_index: BlindIndexKey,
    /// Seals emergency-access reasons and the DPO's review notes.
    pub emergency: SealingKey,
}

impl std::fmt::Debug for HealthKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthKeys")
            .field("keys_dir", &self.keys_dir)
            .finish_non_exhaustive()
    }
}

fn owner(patient: PatientId) -> String {
    format!("patient:{patient}")
}

fn dir_mtime(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir.join(HEALTH_KEYS_DIR))
        .and_then(|m| m.modified())
        .ok()
}

impl HealthKeys {
    /// Loads (creating the first key-encryption key if none) the ring under `keys_dir`.
    pub fn load_or_create(
        keys_dir: &Path,
        master: &MasterKey,
        entropy: &dyn Entropy,
    ) -> Result<HealthKeys, EnvelopeError> {
        let ring = KeyRing::load_or_create(keys_dir, entropy)?;
        Ok(HealthKeys {
            keys_dir: keys_dir.to_path_buf(),
            ring: RwLock::new((ring, dir_mtime(keys_dir))),
            nir_index: BlindIndexKey::derive(master, "nir"),
            name_index: BlindIndexKey::derive(master, "name-birth-date"),
            emergency: SealingKey::derive(master, "emergency-reason"),
        })
    }

    /// Reloads the ring from disk if the key directory changed since it was read.
    fn refresh(&self, force: bool) -> Result<(), EnvelopeError> {
        let mtime = dir_mtime(&self.keys_dir);
        let stale = match self.ring.read() {
            Ok(guard) => force || guard.1 != mtime,
            Err(_) => true,
        };
        if stale {
            let ring = KeyRing::load(&self.keys_dir)?;
            let mut guard = self.ring.write().unwrap_or_else(|p| p.into_inner());
            *guard = (ring, mtime);
        }
        Ok(())
    }

    fn with_ring<T>(&self, f: impl FnOnce(&KeyRing) -> T) -> T {
        let guard = self.ring.read().unwrap_or_else(|p| p.into_inner());
        f(&guard.0)
    }

    /// A fresh data key for a new patient, and its wrapped form (by the newest key-encryption key).
    pub fn new_data_key(
        &self,
        patient: PatientId,
        entropy: &dyn Entropy,
    ) -> Result<(DataKey, WrappedDataKey), EnvelopeError> {
        self.refresh(false)?;
        let key = DataKey::generate(entropy);
        let wrapped = self.with_ring(|r| r.wrap(&key, &owner(patient), entropy));
        Ok((
            key,
            WrappedDataKey {
                kek: wrapped.kek.get(),
                bytes: wrapped.bytes,
            },
        ))
    }

    /// Unwraps a patient's data key, reloading the ring once if it was wrapped by a key-encryption
    /// key this node has not seen yet (a rotation by another process).
    pub fn data_key(
        &self,
        patient: PatientId,
        wrapped: &WrappedDataKey,
    ) -> Result<DataKey, EnvelopeError> {
        let w = WrappedKey {
            kek: KekId::new(wrapped.kek),
            bytes: wrapped.bytes.clone(),
        };
        match self.with_ring(|r| r.unwrap(&w, &owner(patient))) {
            Err(EnvelopeError::UnknownKek(_)) => {
                self.refresh(true)?;
                self.with_ring(|r| r.unwrap(&w, &owner(patient)))
            }
            other => other,
        }
    }

    /// The current key-encryption key id.
    pub fn current_kek(&self) -> u32 {
        self.with_ring(|r| r.current().get())
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The new key-encryption key.
    pub new_kek: u32,
    /// Data keys re-wrapped.
    pub rewrapped: u64,
    /// Old key-encryption keys deleted (only those that no longer wrap anything).
    pub retired: Vec<u32>,
    /// Old key-encryption keys kept because data keys still use them.
    pub kept: Vec<u32>,
}

/// Writes a new key-encryption key and re-wraps every patient data key under it, row by row with
/// compare-and-set (a node serving requests meanwhile loses nothing). With `retire`, deletes the old
/// key-encryption keys that no longer wrap any data key.
pub async fn rotate(
    store: &Store,
    keys: &HealthKeys,
    entropy: &dyn Entropy,
    now: impl Fn() -> OffsetDateTime,
    retire: bool,
) -> Result<RotationReport, crate::AppError> {
    let io = |e: EnvelopeError| crate::AppError::Keys(e.to_string());
    let ring = keys.with_ring(|r| r.rotate(entropy)).map_err(io)?;
    {
        let mut guard = keys.ring.write().unwrap_or_else(|p| p.into_inner());
        *guard = (ring, dir_mtime(&keys.keys_dir));
    }
    let current = keys.current_kek();
    let mut rewrapped = 0u64;
    // Passes until no key is left under an old key-encryption key (new patients registered by a node
    // that had not yet seen the new key are caught by the next pass).
    for _pass in 0..10 {
        let mut after = None;
        let mut seen = 0usize;
        loop {
            let batch = store.patient_keys_to_rewrap(current, after, 500).await?;
            if batch.is_empty() {
                break;
            }
            seen += batch.len();
            for (patient, old) in batch {
                after = Some(patient);
                let w = WrappedKey {
                    kek: KekId::new(old.kek),
                    bytes: old.bytes.clone(),
                };
                let new = keys
                    .with_ring(|r| r.rewrap(&w, &owner(patient), entropy))
                    .map_err(io)?;
                let new = WrappedDataKey {
                    kek: new.kek.get(),
                    bytes: new.bytes,
                };
                if store.replace_patient_key(patient, old, new, now()).await? {
                    rewrapped += 1;
                }
            }
        }
        if seen == 0 {
            break;
        }
    }
    let counts = store.patient_key_counts().await?;
    let mut retired = Vec::new();
    let mut kept = Vec::new();
    let ids = keys.with_ring(|r| r.ids());
    for id in ids.into_iter().filter(|id| id.get() != current) {
        let in_use = counts.iter().any(|(k, n)| *k == id.get() && *n > 0);
        if retire && !in_use {
            let ring = keys.with_ring(|r| r.retire(id)).map_err(io)?;
            let mut guard = keys.ring.write().unwrap_or_else(|p| p.into_inner());
            *guard = (ring, dir_mtime(&keys.keys_dir));
            retired.push(id.get());
        } else {
            kept.push(id.get());
        }
    }
    Ok(RotationReport {
        new_kek: current,
        rewrapped,
        retired,
        kept,
    })
}
