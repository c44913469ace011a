//! The TLS client certificate of a request's connection (CPS card style, AUTH-2). The server's
//! connection acceptor (crate `galien`, `client_cert.rs`) inserts these extensions into every
//! request of a connection after the handshake; a client cannot forge them (they come from the
//! TLS layer, never from headers).

use std::sync::Arc;

/// The leaf certificate (DER) the client presented on this connection. rustls has verified it
/// against `tls.client_ca` (and `tls.client_crl`) before any request is read: an unverified
/// certificate never gets this far.
#[derive(Clone)]
pub struct ClientCertificate(pub Arc<Vec<u8>>);

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientCertificate({} bytes)", self.0.len())
    }
}

/// Present on every request when this node asks clients for a certificate (`tls.client_ca`):
/// the sign-in page then offers certificate sign-in even to a browser that sent none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertificatesAsked;

/// Whether to offer certificate sign-in on this request: the node asks for client certificates,
/// or this connection presented one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateOffer(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CertificateOffer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ext = &parts.extensions;
        Ok(CertificateOffer(
            ext.get::<ClientCertificatesAsked>().is_some()
                || ext.get::<ClientCertificate>().is_some(),
        ))
    }
}

/// The connection's verified client certificate, if it presented one.
#[derive(Debug, Clone)]
pub struct PresentedCertificate(pub Option<ClientCertificate>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PresentedCertificate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PresentedCertificate(
            parts.extensions.get::<ClientCertificate>().cloned(),
        ))
    }
}
