//! HTTPS with rustls (ring provider): certificate files, or a self-signed certificate generated
//! once in the data directory for a local trial.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("TLS {what} {path}: {problem}; give a PEM file with --tls-{what}")]
    File {
        /// `cert` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the pair (e.g. key does not match).
    #[error("TLS certificate and key are not usable together: {0}")]
    Pair(String),
    /// Generating or storing the self-signed certificate failed.
    #[error("self-signed certificate: {0}")]
    SelfSigned(String),
}

/// Installs the ring crypto provider once per process (there must be exactly one).
pub fn install_crypto_provider() {
    // Err means it is already installed (e.g. by a test in the same process): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads a certificate chain and key (PEM) before anything touches the disk.
pub fn load_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::File {
            what: "cert",
            path: cert.to_owned(),
            problem: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::File {
            what: "cert",
            path: cert.to_owned(),
            problem: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            what: "cert",
            path: cert.to_owned(),
            problem: "no certificate inside".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
        what: "key",
        path: key.to_owned(),
        problem: e.to_string(),
    })?;
    Ok((certs, key))
}

/// The rustls configuration for a certificate chain and key (HTTP/2 and HTTP/1.1).
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Pair(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Loads the self-signed pair from `dir`, generating it (key 0600) on first use.
pub fn self_signed_in(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("self-signed.crt");
    let key_path = dir.join("self-signed.key");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let generated = rcgen::generate_simple_self_signed(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|e| TlsError::SelfSigned(e.to_string()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert_path, generated.cert.pem().as_bytes())?;
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, content: &[u8]) -> Result<(), TlsError> {
    let fail = |e: std::io::Error| TlsError::SelfSigned(format!("{}: {e}", path.display()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(content).map_err(fail)?;
    f.sync_all().map_err(fail)
}
