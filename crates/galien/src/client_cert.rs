//! Hands the verified TLS client certificate of a connection to the handlers (AUTH-2, CPS card
//! style). [`ClientCertAcceptor`] wraps axum-server's rustls acceptor: once the handshake is done
//! (so rustls has verified the chain, the dates and the revocation list), it reads the peer's
//! certificates from the rustls connection and wraps the connection's service so that every
//! request on it carries a [`ClientCertificate`] (the leaf, DER), plus the
//! [`ClientCertificatesAsked`] marker when this node asks for client certificates.

use axum::http::Request;
use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::RustlsAcceptor;
use galien_web::client_cert::{ClientCertificate, ClientCertificatesAsked};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_rustls::server::TlsStream;

/// The rustls acceptor, plus the connection's client certificate in each request's extensions.
#[derive(Clone)]
pub struct ClientCertAcceptor {
    inner: RustlsAcceptor<DefaultAcceptor>,
    asked: bool,
}

impl std::fmt::Debug for ClientCertAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertAcceptor")
            .field("asked", &self.asked)
            .finish_non_exhaustive()
    }
}

impl ClientCertAcceptor {
    /// Wraps `inner`; `asked` says whether the TLS configuration asks for client certificates.
    pub fn new(inner: RustlsAcceptor<DefaultAcceptor>, asked: bool) -> Self {
        Self { inner, asked }
    }
}

type AcceptFuture<St, Sv> = Pin<Box<dyn Future<Output = io::Result<(St, Sv)>> + Send>>;

impl<I, S> Accept<I, S> for ClientCertAcceptor
where
    RustlsAcceptor<DefaultAcceptor>: Accept<I, S, Stream = TlsStream<I>>,
    <RustlsAcceptor<DefaultAcceptor> as Accept<I, S>>::Future: Send + 'static,
    <RustlsAcceptor<DefaultAcceptor> as Accept<I, S>>::Service: Send + 'static,
    I: Send + 'static,
{
    type Stream = TlsStream<I>;
    type Service = ClientCertService<<RustlsAcceptor<DefaultAcceptor> as Accept<I, S>>::Service>;
    type Future = AcceptFuture<Self::Stream, Self::Service>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let handshake = self.inner.accept(stream, service);
        let asked = self.asked;
        Box::pin(async move {
            let (stream, service) = handshake.await.inspect_err(|e| {
                // Expired, revoked or foreign client certificates end here (as do scanners).
                tracing::info!(error = %e, "TLS handshake refused");
            })?;
            let (_, connection) = stream.get_ref();
            // rustls puts the end-entity certificate first.
            let leaf = connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| ClientCertificate(Arc::new(der.as_ref().to_vec())));
            Ok((
                stream,
                ClientCertService {
                    inner: service,
                    leaf,
                    asked,
                },
            ))
        })
    }
}

/// A connection's service that adds its client certificate to every request.
#[derive(Clone, Debug)]
pub struct ClientCertService<S> {
    inner: S,
    leaf: Option<ClientCertificate>,
    asked: bool,
}

impl<S, B> tower::Service<Request<B>> for ClientCertService<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Whatever an earlier layer may have put there, the connection's own values win.
        let extensions = req.extensions_mut();
        extensions.remove::<ClientCertificate>();
        extensions.remove::<ClientCertificatesAsked>();
        if let Some(leaf) = &self.leaf {
            extensions.insert(leaf.clone());
        }
        if self.asked {
            extensions.insert(ClientCertificatesAsked);
        }
        self.inner.call(req)
    }
}
