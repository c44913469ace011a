//! Tamper evidence for the audit trail (TRACE-2).
//!
//! * Each record's hash chains it to the previous one: [`record_hash`] =
//!   SHA-256(`"galien.audit.record.v1\0"` ‖ prev (32 bytes) ‖ seq (u64 BE) ‖ len (u64 BE) ‖ canonical).
//!   The first record's `prev` is [`GENESIS`] (32 zero bytes).
//! * The record hashes are the leaves of an RFC 6962 Merkle tree ([`merkle_root`], [`CompactRange`]):
//!   leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of
//!   two below n; the empty tree's root is SHA-256 of nothing.
//! * A [`TreeHead`] (size, root, time) is signed with Ed25519 ([`AuditSigningKey`]). Its signed bytes
//!   are `"galien.audit.tree-head.v1\0"` ‖ size (u64 BE) ‖ root (32 bytes) ‖ at (i64 BE, µs since the
//!   Unix epoch, UTC).
//!
//! The chain alone is not keyed: someone able to rewrite the database could rewrite the chain after a
//! record. Signed checkpoints (and copies of them held outside, `galien audit checkpoint --export`) are
//! what such a rewrite cannot forge.

use crate::keyfile::{KeyFileError, KeyOrigin};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use galien_core::Entropy;
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use ed25519_dalek::VerifyingKey;

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// The `prev` of the first record.
pub const GENESIS: Hash = [0u8; 32];

/// The audit signing key's file name, in `<data_dir>/keys/`.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";

const RECORD_DOMAIN: &[u8] = b"galien.audit.record.v1\0";
const TREE_HEAD_DOMAIN: &[u8] = b"galien.audit.tree-head.v1\0";
/// Same layout as the master key file (see [`crate::keyfile`]): magic then 32 bytes (the Ed25519 seed).
const MAGIC: &[u8; 8] = b"GALIENK1";
const SEED_LEN: usize = 32;

/// The hash of record `seq` whose canonical bytes are `canonical`, chained to `prev`.
pub fn record_hash(prev: &Hash, seq: u64, canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(RECORD_DOMAIN);
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(
        u64::try_from(canonical.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    h.update(canonical);
    h.finalize().into()
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// RFC 6962 Merkle tree hash over leaves of any length (the recursive definition; O(n)).
pub fn merkle_root_of<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => leaf_hash(one.as_ref()),
        _ => {
            // Largest power of two strictly below n (n ≥ 2).
            let k = 1usize << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
            let (left, right) = leaves.split_at(k);
            node_hash(&merkle_root_of(left), &merkle_root_of(right))
        }
    }
}

/// RFC 6962 Merkle tree hash over record hashes.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    merkle_root_of(leaves)
}

/// An append-only Merkle tree kept as its frontier: the roots of the perfect subtrees that make up
/// its leaves, largest first (one per set bit of `size`). Appending is O(log n) and the root is
/// O(log n), so a checkpoint extends the previous one instead of rescanning the trail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    frontier: Vec<Hash>,
}

/// Stored frontier bytes that do not describe a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Merkle frontier")]
pub struct MalformedFrontier;

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf whose data is `data` (for the audit trail: a record hash).
    pub fn push(&mut self, data: &[u8]) {
        let mut h = leaf_hash(data);
        let mut s = self.size;
        while s & 1 == 1 {
            match self.frontier.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break, // unreachable: one frontier entry per set bit
            }
            s >>= 1;
        }
        self.frontier.push(h);
        self.size += 1;
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let mut iter = self.frontier.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// `size` (u64 BE) followed by the frontier hashes, for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.frontier.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.frontier {
            out.extend_from_slice(h);
        }
        out
    }

    /// The inverse of [`CompactRange::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MalformedFrontier> {
        let (size, rest) = bytes.split_first_chunk::<8>().ok_or(MalformedFrontier)?;
        let size = u64::from_be_bytes(*size);
        let (chunks, tail) = rest.as_chunks::<32>();
        if !tail.is_empty() || chunks.len() != usize::try_from(size.count_ones()).unwrap_or(0) {
            return Err(MalformedFrontier);
        }
        Ok(Self {
            size,
            frontier: chunks.to_vec(),
        })
    }
}

/// The state of the trail at one moment: how many records, their Merkle root, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of records covered (seq 1..=size).
    pub size: u64,
    /// Merkle root of their record hashes.
    pub root: Hash,
    /// When the head was signed (kept to the microsecond).
    pub at: OffsetDateTime,
}

impl TreeHead {
    /// The bytes that are signed (see the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TREE_HEAD_DOMAIN.len() + 48);
        out.extend_from_slice(TREE_HEAD_DOMAIN);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.root);
        out.extend_from_slice(&galien_core::audit::to_micros(self.at).to_be_bytes());
        out
    }
}

/// A tree head with its signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// The head.
    pub head: TreeHead,
    /// Ed25519 signature of [`TreeHead::canonical_bytes`].
    pub signature: [u8; 64],
    /// [`key_id`] of the signing key.
    pub key_id: String,
}

impl SignedTreeHead {
    /// Whether `key` made the signature.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        self.key_id == key_id(key) && verify(key, &self.head, &self.signature)
    }

    /// A JSON object for an outside party to keep: `size`, `root` (hex), `at` (RFC 3339), `signature`
    /// (base64), `public_key` (base64), `key_id`. Every value comes from a fixed alphabet, so no escaping
    /// is needed.
    pub fn to_json(&self, key: &VerifyingKey) -> String {
        let at = self
            .head
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        format!(
            "{{\"size\":{},\"root\":\"{}\",\"at\":\"{}\",\"signature\":\"{}\",\"public_key\":\"{}\",\"key_id\":\"{}\"}}",
            self.head.size,
            hex::encode(self.head.root),
            at,
            B64.encode(self.signature),
            public_key_base64(key),
            self.key_id,
        )
    }
}

/// A short, stable name for a public key: the first 8 bytes of SHA-256(public key), hex.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(digest.get(..8).unwrap_or_default())
}

/// The public key, base64 (32 bytes).
pub fn public_key_base64(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// The public key, hex.
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// Parses a base64 public key, as exported.
pub fn verifying_key_from_base64(s: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(s.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Parses a base64 signature, as exported.
pub fn signature_from_base64(s: &str) -> Option<[u8; 64]> {
    B64.decode(s.trim()).ok()?.try_into().ok()
}

/// Whether `sig` is `key`'s signature of `head` (strict Ed25519 verification).
pub fn verify(key: &VerifyingKey, head: &TreeHead, sig: &[u8]) -> bool {
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    key.verify_strict(&head.canonical_bytes(), &sig).is_ok()
}

/// What a retention purge removed (TRACE-7): records `1..=through` (of which `removed` were still
/// stored), the hash of record `through` so the remaining chain still links, and when. Signed with
/// the audit key so a forged marker cannot hide a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeMarker {
    /// The last seq removed.
    pub through: u64,
    /// Records removed by this purge.
    pub removed: u64,
    /// The hash of record `through`: the `prev_hash` of the first remaining record.
    pub last_hash: Hash,
    /// Records older than this were due for removal.
    pub cutoff: OffsetDateTime,
    /// When the purge ran.
    pub at: OffsetDateTime,
}

impl PurgeMarker {
    /// The signed bytes: a domain tag, then every field at fixed width.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = b"galien-audit-purge-v1".to_vec();
        out.extend_from_slice(&self.through.to_be_bytes());
        out.extend_from_slice(&self.removed.to_be_bytes());
        out.extend_from_slice(&self.last_hash);
        out.extend_from_slice(&galien_core::audit::to_micros(self.cutoff).to_be_bytes());
        out.extend_from_slice(&galien_core::audit::to_micros(self.at).to_be_bytes());
        out
    }

    /// Whether `signature` is `key`'s over this marker.
    pub fn verify(&self, key: &VerifyingKey, signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verify_strict(&self.canonical_bytes(), &sig).is_ok()
    }
}

/// The Ed25519 key that signs tree heads. `Debug` is redacted; the secret is wiped on drop.
pub struct AuditSigningKey(SigningKey);

impl std::fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditSigningKey(<redacted>, key_id {})", self.key_id())
    }
}

impl AuditSigningKey {
    /// A fresh key from `entropy`.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        entropy.fill(seed.as_mut());
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// [`key_id`] of the public half.
    pub fn key_id(&self) -> String {
        key_id(&self.verifying_key())
    }

    /// Signs `head`.
    pub fn sign(&self, head: &TreeHead) -> [u8; 64] {
        self.0.sign(&head.canonical_bytes()).to_bytes()
    }

    /// Signs a purge marker.
    pub fn sign_purge(&self, marker: &PurgeMarker) -> [u8; 64] {
        self.0.sign(&marker.canonical_bytes()).to_bytes()
    }

    /// Signs `head` and names the key.
    pub fn sign_head(&self, head: TreeHead) -> SignedTreeHead {
        SignedTreeHead {
            signature: self.sign(&head),
            key_id: self.key_id(),
            head,
        }
    }

    /// Loads the key at `path` (for instance `<data_dir>/keys/audit-signing.key`), refusing a file
    /// other users can read; never creates it.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new().read(true).open(path).map_err(io)?;
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
            expected: MAGIC.len() + SEED_LEN,
        };
        let body = buf.strip_prefix(MAGIC.as_slice()).ok_or_else(malformed)?;
        let seed: Zeroizing<[u8; SEED_LEN]> =
            Zeroizing::new(body.try_into().map_err(|_| malformed())?);
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// Loads the key at `path`, or creates it (mode 0600, written, synced, renamed into place) if it
    /// does not exist — like the master key file.
    pub fn load_or_create(
        path: &Path,
        entropy: &dyn Entropy,
    ) -> Result<(Self, KeyOrigin), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        match Self::load(path) {
            Ok(key) => return Ok((key, KeyOrigin::Loaded)),
            Err(KeyFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        entropy.fill(seed.as_mut());
        let tmp = path.with_extension("tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        let mut content = Zeroizing::new(MAGIC.to_vec());
        content.extend_from_slice(seed.as_ref());
        file.write_all(&content).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok((Self(SigningKey::from_bytes(&seed)), KeyOrigin::Created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::{OsEntropy, SeededEntropy};
    use time::macros::datetime;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn trace_02_rfc6962_test_vectors() {
        // From RFC 6962's reference implementation (certificate-transparency merkle tree tests).
        let leaves: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            (0x60..=0x6f).collect(),
        ];
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut range = CompactRange::new();
        assert_eq!(range.root(), h(roots[0]));
        for (n, root) in roots.iter().enumerate().skip(1) {
            assert_eq!(merkle_root_of(&leaves[..n]), h(root), "n = {n}");
            range.push(&leaves[n - 1]);
            assert_eq!(range.root(), h(root), "incremental n = {n}");
        }
    }

    #[test]
    fn trace_02_incremental_root_equals_recursive_root_up_to_300() {
        let leaves: Vec<Hash> = (0u64..300)
            .map(|i| record_hash(&GENESIS, i, &i.to_be_bytes()))
            .collect();
        let mut range = CompactRange::new();
        for n in 0..=leaves.len() {
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.root(), merkle_root(&leaves[..n]), "n = {n}");
            let restored = CompactRange::from_bytes(&range.to_bytes()).unwrap();
            assert_eq!(restored, range);
            if let Some(leaf) = leaves.get(n) {
                range.push(leaf);
            }
        }
        assert!(CompactRange::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 3]).is_err());
        assert!(CompactRange::from_bytes(&[1, 2]).is_err());
    }

    #[test]
    fn trace_02_record_hash_binds_prev_seq_and_content() {
        let a = record_hash(&GENESIS, 1, b"x");
        assert_ne!(a, record_hash(&GENESIS, 2, b"x"));
        assert_ne!(a, record_hash(&[1; 32], 1, b"x"));
        assert_ne!(a, record_hash(&GENESIS, 1, b"y"));
        assert_eq!(a, record_hash(&GENESIS, 1, b"x"));
    }

    #[test]
    fn trace_02_tree_heads_are_signed_and_verified() {
        let key = AuditSigningKey::generate(&SeededEntropy::new(3));
        let head = TreeHead {
            size: 7,
            root: [9; 32],
            at: datetime!(2026-03-01 10:00 UTC),
        };
        let signed = key.sign_head(head);
        let vk = key.verifying_key();
        assert!(signed.verify(&vk));
        assert!(verify(&vk, &head, &signed.signature));
        let mut other = head;
        other.size = 8;
        assert!(!verify(&vk, &other, &signed.signature));
        let stranger = AuditSigningKey::generate(&SeededEntropy::new(4));
        assert!(!signed.verify(&stranger.verifying_key()));
        assert!(!verify(&vk, &head, &[0u8; 10]));
        let json = signed.to_json(&vk);
        assert!(json.contains("\"size\":7"), "{json}");
        assert!(json.contains(&public_key_base64(&vk)));
        assert_eq!(verifying_key_from_base64(&public_key_base64(&vk)), Some(vk));
        assert_eq!(
            signature_from_base64(&B64.encode(signed.signature)),
            Some(signed.signature)
        );
        assert!(!format!("{key:?}").contains(&hex::encode(key.0.to_bytes())));
        assert_eq!(public_key_hex(&vk).len(), 64);
    }

    #[test]
    fn trace_02_signing_key_file_is_created_0600_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SIGNING_KEY_FILE);
        assert!(AuditSigningKey::load(&path).is_err());
        let (k1, o1) = AuditSigningKey::load_or_create(&path, &OsEntropy).unwrap();
        assert_eq!(o1, KeyOrigin::Created);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (k2, o2) = AuditSigningKey::load_or_create(&path, &OsEntropy).unwrap();
        assert_eq!(o2, KeyOrigin::Loaded);
        assert_eq!(k1.verifying_key(), k2.verifying_key());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            AuditSigningKey::load(&path),
            Err(KeyFileError::TooOpen { .. })
        ));
    }
}
