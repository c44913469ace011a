//! Signing in through an OpenID Connect provider that asserts two factors (AUTH-2, Pro Santé
//! Connect style).
//!
//! [`begin`] builds the authorization request (code flow, PKCE S256, random `state` and `nonce`,
//! `acr_values` and `max_age` from the settings) and seals what the callback needs in a value the
//! web layer keeps in a short-lived cookie. [`finish`] checks the returned `state` against it,
//! exchanges the code (`client_secret_basic`), verifies the ID token (signature through the
//! provider's JWKS, `iss`, `aud`, `exp`, `nonce`), then decides on Galien's own rules:
//!
//! - `acr` is one of the configured `acr_values` (space-separated; Pro Santé Connect: `eidas1`);
//! - `amr` shows two factors of different kinds — see [`two_kinds_of_factor`];
//! - `auth_time` is at most [`MAX_AUTH_AGE`] old (by the injected clock), and not in the future
//!   beyond [`CLOCK_SKEW`];
//! - the RPPS claim maps to exactly one account, which must be active. Accounts are never created
//!   here: an unknown number is refused.
//!
//! Then a two-factor session opens with method [`AuthMethod::Oidc`]. Every refusal is traced as
//! `AuthLoginFailed` with a reason `CODE:detail` (e.g. `AUTH-OIDC-WEAK:amr`); a success as
//! `AuthLoginSucceeded` with reason `oidc`.
//!
//! The provider's metadata (and its JWKS) are fetched on first use and kept in memory
//! ([`ProviderCache`]); they are fetched again when a step fails in a way a key rotation or a
//! moved endpoint would explain.

mod provider;
mod rules;

pub use provider::{ExtraClaims, ProviderCache};
pub use rules::{FactorKind, factor_kind, parse_rpps, two_kinds_of_factor};

use super::session;
use super::{NextStep, SessionGrant};
use crate::trace::{self, Who};
use crate::{App, AppError, OidcSettings, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Assurance, AuthMethod, ProfessionalId};
use galien_store::{StoreError, User};
use openidconnect::core::{CoreAuthenticationFlow, CoreGenderClaim, CoreProviderMetadata};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IdTokenClaims, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use provider::{OidcClient, Tokens};
use rules::check_strength;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

/// The path of the callback, under the public URL.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// How long a started sign-in may take before its sealed state is refused (and the cookie's life).
pub const PENDING_TTL: Duration = Duration::minutes(10);

/// The oldest `auth_time` accepted: the person must have authenticated at the provider just now.
/// Also sent as `max_age`, so the provider asks again rather than reuse an older login.
pub const MAX_AUTH_AGE: Duration = Duration::minutes(5);

/// Tolerated difference between the provider's clock and ours for `auth_time` in the future.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);

/// Scopes asked for besides `openid` (always sent): the RPPS number comes with `rpps`.
const SCOPES: &[&str] = &["profile", "email", "rpps"];

/// Associated data binding a sealed state to its purpose.
const AAD: &[u8] = b"galien/oidc-pending/v1";

/// A refusal: the code shown to the person, the reason traced, and the detail logged.
#[derive(Debug)]
pub(super) struct Refusal {
    code: ErrorCode,
    reason: &'static str,
    detail: String,
    who: Who,
}

impl Refusal {
    fn new(code: ErrorCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            detail: detail.into(),
            who: Who::ANONYMOUS,
        }
    }

    pub(super) fn failed(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::OidcFailed, reason, detail)
    }

    pub(super) fn weak(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::OidcWeak, reason, detail)
    }

    pub(super) fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::OidcUnavailable, "unavailable", detail)
    }

    fn about(mut self, user: &User) -> Self {
        self.who = Who {
            user: Some(user.id),
            role: Some(user.role),
            assurance: None,
        };
        self
    }
}

/// An error and its sources on one line (for the log; never shown to people).
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A started sign-in: where to send the person, and what to keep for the callback.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL with every parameter.
    pub authorize_url: String,
    /// The sealed request state (state, nonce, PKCE verifier, start time), for a cookie.
    pub sealed_state: String,
}

/// What the provider sent back to the callback (query parameters).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// An OAuth error (`access_denied` when the person cancels).
    pub error: Option<String>,
}

/// What the sealed state holds.
#[derive(Debug)]
struct Pending {
    started: i64,
    state: String,
    nonce: String,
    verifier: String,
}

impl Pending {
    fn encode(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.started, self.state, self.nonce, self.verifier
        )
    }

    fn decode(text: &str) -> Option<Pending> {
        let mut parts = text.split('\n');
        let started = parts.next()?.parse().ok()?;
        let state = parts.next()?.to_owned();
        let nonce = parts.next()?.to_owned();
        let verifier = parts.next()?.to_owned();
        parts.next().is_none().then_some(Pending {
            started,
            state,
            nonce,
            verifier,
        })
    }
}

fn random_token(app: &App) -> String {
    let mut raw = [0u8; 32];
    app.entropy.fill(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

fn settings(app: &App) -> Result<&OidcSettings, AppError> {
    app.settings
        .oidc
        .as_ref()
        .ok_or(AppError::Refused(ErrorCode::NotFound))
}

fn client(
    app: &App,
    settings: &OidcSettings,
    metadata: &CoreProviderMetadata,
) -> Result<OidcClient, Refusal> {
    let redirect = RedirectUrl::new(format!("{}{CALLBACK_PATH}", app.settings.public_url))
        .map_err(|e| Refusal::unavailable(format!("redirect URL: {e}")))?;
    Ok(OidcClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// Starts a sign-in: the authorization URL (code flow, PKCE S256, `acr_values`, `max_age`) and the
/// sealed state to keep in the browser until the callback.
#[tracing::instrument(skip_all)]
pub async fn begin(app: &App) -> Result<Started, AppError> {
    let settings = settings(app)?;
    let metadata = app
        .oidc
        .metadata(settings, false)
        .await
        .map_err(|r| log_only(&r))?;
    let client = client(app, settings, &metadata).map_err(|r| log_only(&r))?;
    let pending = Pending {
        started: app.clock.now().unix_timestamp(),
        state: random_token(app),
        nonce: random_token(app),
        // 43 characters from 32 random bytes: the shortest verifier RFC 7636 allows, full strength.
        verifier: random_token(app),
    };
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
        pending.verifier.clone(),
    ));
    let (state, nonce) = (pending.state.clone(), pending.nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        .set_pkce_challenge(challenge)
        .set_max_age(std::time::Duration::from_secs(
            MAX_AUTH_AGE.whole_seconds().unsigned_abs(),
        ));
    for scope in SCOPES {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    for acr in settings.acr_values.split_whitespace() {
        request = request.add_auth_context_value(AuthenticationContextClass::new(acr.to_owned()));
    }
    let (url, _, _) = request.url();
    let sealed = app
        .keys
        .pending_oidc
        .seal(pending.encode().as_bytes(), AAD, app.entropy.as_ref());
    Ok(Started {
        authorize_url: url.to_string(),
        sealed_state: URL_SAFE_NO_PAD.encode(sealed),
    })
}

/// A refusal before any sign-in attempt (the provider cannot be reached): logged, not traced.
fn log_only(r: &Refusal) -> AppError {
    tracing::warn!(code = %r.code, detail = %r.detail, "OpenID Connect sign-in cannot start");
    AppError::Refused(r.code)
}

/// Finishes a sign-in from the provider's redirect: checks everything (see the module doc), then
/// opens a two-factor session for the one active account holding the asserted RPPS number.
#[tracing::instrument(skip_all)]
pub async fn finish(
    app: &App,
    ctx: &RequestContext,
    sealed_state: Option<&str>,
    callback: &Callback,
) -> Result<SessionGrant, AppError> {
    let settings = settings(app)?;
    match decide(app, settings, sealed_state, callback).await {
        Ok(user) => {
            let grant = session::open(
                app,
                ctx,
                &user,
                AuthMethod::Oidc,
                Assurance::TwoFactors,
                NextStep::Done,
            )
            .await?;
            let who = Who {
                user: Some(user.id),
                role: Some(user.role),
                assurance: Some(Assurance::TwoFactors),
            };
            trace::security(
                app,
                ctx,
                who,
                AuditAction::AuthLoginSucceeded,
                Outcome::Success,
                Some("oidc"),
                None,
            )
            .await?;
            Ok(grant)
        }
        Err(Step::Store(e)) => Err(e.into()),
        Err(Step::Refused(r)) => {
            tracing::warn!(code = %r.code, reason = r.reason, detail = %r.detail,
                "OpenID Connect sign-in refused");
            let outcome = if r.code == ErrorCode::OidcUnavailable {
                Outcome::Failure
            } else {
                Outcome::Denied
            };
            let reason = format!("{}:{}", r.code, r.reason);
            trace::security(
                app,
                ctx,
                r.who,
                AuditAction::AuthLoginFailed,
                outcome,
                Some(&reason),
                None,
            )
            .await?;
            Err(AppError::Refused(r.code))
        }
    }
}

/// Why [`decide`] stopped.
#[derive(Debug)]
enum Step {
    Refused(Refusal),
    Store(StoreError),
}

impl From<Refusal> for Step {
    fn from(r: Refusal) -> Self {
        Step::Refused(r)
    }
}

async fn decide(
    app: &App,
    settings: &OidcSettings,
    sealed_state: Option<&str>,
    callback: &Callback,
) -> Result<User, Step> {
    let pending = open_pending(app, sealed_state)?;
    if let Some(error) = &callback.error {
        // Only the characters OAuth error codes use, so the trace never carries arbitrary input.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        return Err(Refusal::failed("provider_error", format!("provider said {error}")).into());
    }
    let state_ok = callback
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())));
    if !state_ok {
        return Err(Refusal::failed("state", "state parameter does not match the cookie").into());
    }
    let Some(code) = callback.code.clone().filter(|c| !c.is_empty()) else {
        return Err(Refusal::failed("code", "no authorization code").into());
    };

    let metadata = app.oidc.metadata(settings, false).await?;
    let client = client(app, settings, &metadata)?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Refusal::unavailable(format!("token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()));
    let tokens = match exchange.request_async(app.oidc.http()?).await {
        Ok(t) => t,
        Err(e) => {
            if matches!(e, openidconnect::RequestTokenError::Request(_)) {
                // Unreachable endpoint: perhaps moved; look again next time.
                app.oidc.forget();
            }
            return Err(Refusal::failed("token", chain(&e)).into());
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return Err(Refusal::failed("id_token", "no ID token in the token response").into());
    };
    let nonce = Nonce::new(pending.nonce.clone());
    let clock = app.clock.clone();
    let now_chrono = move || {
        chrono::DateTime::from_timestamp(clock.now().unix_timestamp(), 0).unwrap_or_default()
    };
    let verified = {
        let verifier = client.id_token_verifier().set_time_fn(now_chrono.clone());
        id_token.claims(&verifier, &nonce).cloned()
    };
    let claims = match verified {
        Ok(c) => c,
        Err(ClaimsVerificationError::SignatureVerification(e)) => {
            // The provider may have rotated its keys: fetch its JWKS again, verify once more.
            let metadata = app.oidc.metadata(settings, true).await?;
            let client = self::client(app, settings, &metadata)?;
            let verifier = client.id_token_verifier().set_time_fn(now_chrono);
            id_token
                .claims(&verifier, &nonce)
                .cloned()
                .map_err(|e2| Refusal::failed("signature", format!("{e}; after refresh: {e2}")))?
        }
        Err(e) => return Err(Refusal::failed(verification_reason(&e), e.to_string()).into()),
    };

    check_strength(app, settings, &claims)?;

    let rpps = match rpps_of(&claims, settings) {
        Some(r) => Some(r),
        None => userinfo_rpps(app, settings, &client, &tokens, &claims).await,
    };
    let Some(rpps) = rpps else {
        return Err(Refusal::new(
            ErrorCode::OidcNoAccount,
            "rpps_claim",
            format!(
                "no valid RPPS number in claim {:?} of subject {}",
                settings.rpps_claim,
                claims.subject().as_str()
            ),
        )
        .into());
    };
    let user = match app.store.user_by_professional_id(&rpps).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => {
            return Err(Refusal::new(
                ErrorCode::OidcNoAccount,
                "no_account",
                format!("no account for {}", rpps.stored()),
            )
            .into());
        }
        Err(e) => return Err(Step::Store(e)),
    };
    match user.status {
        AccountStatus::Active => Ok(user),
        AccountStatus::Invited => Err(Refusal::new(
            ErrorCode::OidcNoAccount,
            "invited",
            "the account has not finished its activation",
        )
        .about(&user)
        .into()),
        AccountStatus::Suspended | AccountStatus::Deactivated => Err(Refusal::new(
            ErrorCode::AccountDisabled,
            "disabled",
            format!("the account is {}", user.status.as_str()),
        )
        .about(&user)
        .into()),
    }
}

fn open_pending(app: &App, sealed_state: Option<&str>) -> Result<Pending, Refusal> {
    let missing = || Refusal::failed("state_cookie", "no or unreadable sign-in state cookie");
    let raw = sealed_state
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or_else(missing)?;
    let opened = app
        .keys
        .pending_oidc
        .open(&raw, AAD)
        .map_err(|_| missing())?;
    let pending = std::str::from_utf8(&opened)
        .ok()
        .and_then(Pending::decode)
        .ok_or_else(missing)?;
    let started = OffsetDateTime::from_unix_timestamp(pending.started).map_err(|_| missing())?;
    let age = app.clock.now() - started;
    if age > PENDING_TTL || age < -CLOCK_SKEW {
        return Err(Refusal::failed(
            "state_expired",
            format!("sign-in started {age} ago"),
        ));
    }
    Ok(pending)
}

fn verification_reason(e: &ClaimsVerificationError) -> &'static str {
    match e {
        ClaimsVerificationError::Expired(_) => "expired",
        ClaimsVerificationError::InvalidAudience(_) => "audience",
        ClaimsVerificationError::InvalidIssuer(_) => "issuer",
        ClaimsVerificationError::InvalidNonce(_) => "nonce",
        ClaimsVerificationError::SignatureVerification(_) => "signature",
        _ => "id_token",
    }
}

fn rpps_of(
    claims: &IdTokenClaims<ExtraClaims, CoreGenderClaim>,
    settings: &OidcSettings,
) -> Option<ProfessionalId> {
    claims
        .additional_claims()
        .other
        .get(&settings.rpps_claim)
        .and_then(parse_rpps)
}

/// When the ID token does not carry the RPPS claim, the userinfo endpoint may (Pro Santé Connect
/// releases it there); its `sub` must be the ID token's.
async fn userinfo_rpps(
    app: &App,
    settings: &OidcSettings,
    client: &OidcClient,
    tokens: &Tokens,
    claims: &IdTokenClaims<ExtraClaims, CoreGenderClaim>,
) -> Option<ProfessionalId> {
    let http = app.oidc.http().ok()?;
    let request = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .ok()?;
    match request
        .request_async::<ExtraClaims, _, CoreGenderClaim>(http)
        .await
    {
        Ok(info) => info
            .additional_claims()
            .other
            .get(&settings.rpps_claim)
            .and_then(parse_rpps),
        Err(e) => {
            tracing::warn!(error = %chain(&e), "OpenID Connect userinfo failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_state_round_trips_and_rejects_extra_parts() {
        let p = Pending {
            started: 1_800_000_000,
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
        };
        let back = Pending::decode(&p.encode()).unwrap();
        assert_eq!(
            (back.started, back.state, back.nonce, back.verifier),
            (p.started, "s".into(), "n".into(), "v".into())
        );
        assert!(Pending::decode("1\ns\nn").is_none());
        assert!(Pending::decode("1\ns\nn\nv\nx").is_none());
    }
}
