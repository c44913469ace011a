//! The provider's side: its metadata (with its JWKS) cached in memory, the client types, and the
//! HTTP adapter that carries `openidconnect`'s requests over reqwest 0.13.

use super::Refusal;
use crate::OidcSettings;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, Client, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl,
    StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Largest response accepted from the provider (discovery, JWKS, tokens, userinfo).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Claims beyond the standard ones (the RPPS number's claim is configurable).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    /// Every claim not modelled by `openidconnect`.
    #[serde(flatten)]
    pub other: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

pub(super) type Fields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub(super) type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
pub(super) type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider's metadata, fetched on first use, and the HTTP client that talks to it.
#[derive(Debug, Default)]
pub struct ProviderCache {
    http: OnceLock<Http>,
    metadata: Mutex<Option<Arc<CoreProviderMetadata>>>,
}

impl ProviderCache {
    pub(super) fn http(&self) -> Result<&Http, Refusal> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let client = reqwest::Client::builder()
            // Never follow a redirect from the provider (the library's advice against SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| Refusal::unavailable(format!("HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| Http(client)))
    }

    fn cached(&self) -> Option<Arc<CoreProviderMetadata>> {
        self.metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn forget(&self) {
        *self.metadata.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The metadata, from memory or fetched now (`fresh` forces a fetch).
    pub(super) async fn metadata(
        &self,
        settings: &OidcSettings,
        fresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>, Refusal> {
        if !fresh && let Some(m) = self.cached() {
            return Ok(m);
        }
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| Refusal::unavailable(format!("issuer URL: {e}")))?;
        let fetched = CoreProviderMetadata::discover_async(issuer, self.http()?)
            .await
            .map_err(|e| Refusal::unavailable(format!("discovery: {}", super::chain(&e))))?;
        let fetched = Arc::new(fetched);
        *self.metadata.lock().unwrap_or_else(PoisonError::into_inner) = Some(fetched.clone());
        Ok(fetched)
    }
}

/// `openidconnect`'s requests carried by reqwest 0.13: no redirects, bounded time and size.
#[derive(Debug, Clone)]
pub(super) struct Http(reqwest::Client);

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    #[error("{0}")]
    Reqwest(#[from] reqwest::Error),
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = self.0.execute(request).await?;
            let mut builder = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(builder.body(body)?)
        })
    }
}
