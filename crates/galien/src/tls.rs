//! HTTPS with rustls (ring provider): certificate files, or a self-signed certificate generated
//! once in the data directory for a local trial.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig};
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
    /// The client-certificate authorities or their revocation list are not usable.
    #[error("{key} {}: {problem}; {fix}", path.display())]
    ClientAuth {
        /// `tls.client_ca` or `tls.client_crl`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// What to do.
        fix: &'static str,
    },
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
    server_config_with_clients(certs, key, None)
}

/// As [`server_config`], asking clients for a certificate when `clients` is given (see
/// [`client_verifier`]).
pub fn server_config_with_clients(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder = match clients {
        Some(verifier) => ServerConfig::builder().with_client_cert_verifier(verifier),
        None => ServerConfig::builder().with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Pair(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The verifier of client certificates (CPS card style, AUTH-2) for `tls.client_ca` and
/// `tls.client_crl`, read once at start.
///
/// - A browser without a certificate still connects (`allow_unauthenticated`): it signs in
///   another way. A certificate that *is* presented must chain to one of the authorities in
///   `ca` and be within its dates (system time), or the TLS handshake fails: such a client never
///   reaches Galien's pages.
/// - With a CRL, the presented (end-entity) certificate must be covered by one of the lists in
///   the file: revoked → handshake refused, and a certificate whose issuer has no list in the file
///   is refused too (unknown status fails closed). Intermediate authorities are not checked
///   against the lists (only the end entity), so the file needs the lists of the authorities that
///   issue cards. The lists' `nextUpdate` is not enforced: refresh the file and restart.
pub fn client_verifier(
    ca: &Path,
    crl: Option<&Path>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let ca_err = |problem: String| TlsError::ClientAuth {
        key: "tls.client_ca",
        path: ca.to_owned(),
        problem,
        fix: "give the PEM file of the authorities that issue client certificates",
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| ca_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(ca_err("no certificate inside".into()));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
    }
    let crls = match crl {
        Some(path) => load_crls(path)?,
        None => {
            tracing::warn!(
                "tls.client_ca without tls.client_crl: revoked client certificates are not refused"
            );
            Vec::new()
        }
    };
    let with_crls = !crls.is_empty();
    let mut builder = WebPkiClientVerifier::builder(Arc::new(roots)).allow_unauthenticated();
    if with_crls {
        builder = builder.with_crls(crls).only_check_end_entity_revocation();
    }
    builder.build().map_err(|e| match crl {
        Some(path) if with_crls => TlsError::ClientAuth {
            key: "tls.client_crl",
            path: path.to_owned(),
            problem: e.to_string(),
            fix: "give the PEM or DER revocation list(s) of those authorities",
        },
        _ => ca_err(e.to_string()),
    })
}

/// Revocation lists from a PEM file (one or more `X509 CRL` blocks) or a single DER list.
fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let err = |problem: String| TlsError::ClientAuth {
        key: "tls.client_crl",
        path: path.to_owned(),
        problem,
        fix: "give the PEM or DER revocation list(s) of the tls.client_ca authorities",
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let crls = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?
    } else {
        vec![CertificateRevocationListDer::from(bytes)]
    };
    if crls.is_empty() {
        return Err(err("no revocation list inside".into()));
    }
    Ok(crls)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_file(dir: &Path) -> PathBuf {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        path
    }

    #[test]
    fn client_authorities_and_lists_are_checked_at_start() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        assert!(client_verifier(&ca, None).is_ok());

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = client_verifier(&empty, None).err().unwrap().to_string();
        assert!(e.starts_with("tls.client_ca "), "{e}");

        let garbage = dir.path().join("garbage.crl");
        std::fs::write(&garbage, b"\x30\x03\x02\x01\x00").unwrap();
        let e = client_verifier(&ca, Some(&garbage))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("tls.client_crl "), "{e}");

        let missing = dir.path().join("missing.crl");
        let e = client_verifier(&ca, Some(&missing))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("tls.client_crl "), "{e}");
    }
}
