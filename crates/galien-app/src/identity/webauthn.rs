//! Security keys and passkeys (WebAuthn) as the second factor (AUTH-2).
//!
//! Each ceremony has two steps. `begin_*` draws a challenge and returns the options for the
//! browser together with the ceremony state, sealed with `keys.pending_webauthn` and bound (AAD) to
//! the session's public handle and to the kind of ceremony, with an expiry. `finish_*` opens that
//! state (a forged, altered, expired or foreign state is refused and traced: it is never trusted
//! unsealed) and checks the browser's answer: challenge, origin (= `public_url`), RP id (= its host),
//! signature, and the key's counter (a counter going back means a cloned key: refused).
//!
//! * Registration during enrolment (session method `Enrolment`) replaces TOTP enrolment: recovery
//!   codes are issued, an invited account becomes active, every session ends and a new two-factor
//!   session (`PasswordWebauthn`) begins, exactly as [`super::totp::confirm`] does (AUTH-6, AUTH-7).
//! * Registration from a strong session (another key) needs a fresh factor and ends the other
//!   sessions (a factor change, AUTH-7).
//! * Authentication after the password renews the session to two factors; from a strong session it
//!   is a step-up (a fresh factor for a sensitive action).
//! * Failures are counted by the brute-force protection (AUTH-5) and traced.
//!
//! Keys are registered as WebAuthn "security keys" (user verification preferred, not required):
//! the password is the other factor. The challenge itself is drawn by webauthn-rs's own RNG, not the
//! injected [`galien_core::Entropy`]; tests do not need to predict it.

use super::login::fail as login_failed;
use super::session::{self, Current};
use super::{NextStep, SessionGrant, throttle, totp};
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{Assurance, AuthMethod};
use galien_core::{ErrorCode, Lang};
use galien_crypto::recovery::RecoveryCode;
use galien_store::{NewWebauthnCredential, StoreError, WebauthnCredential};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, Url, Webauthn, WebauthnBuilder,
};

/// The relying party's name shown by browsers and authenticators.
pub const RP_NAME: &str = "Galien";

/// How long a ceremony may take between its two steps (the browser's own timeout is 5 minutes).
const CEREMONY_TTL: time::Duration = time::Duration::minutes(5);

/// Longest name a person may give a key (characters).
const NAME_MAX: usize = 60;

/// The two kinds of ceremony; a state sealed for one never opens for the other.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Register,
    Authenticate,
}

impl Kind {
    fn aad(self, current: &Current) -> String {
        let kind = match self {
            Kind::Register => "register",
            Kind::Authenticate => "authenticate",
        };
        format!("sessions/{}/webauthn-{kind}", current.session.handle)
    }
}

/// The first step of a ceremony: what the browser needs, and the sealed state to send back.
#[derive(Debug, Clone, Serialize)]
pub struct Ceremony {
    /// The options for `navigator.credentials.create()` / `.get()` (`{"publicKey": …}`, binary
    /// fields in base64url).
    pub options: serde_json::Value,
    /// The ceremony state, sealed to this session; returned unchanged with the answer.
    pub state: String,
}

/// What a completed registration led to.
#[derive(Debug)]
pub enum Registered {
    /// The account's first factor: a new two-factor session, and recovery codes to show once.
    Enrolled {
        /// The new session.
        grant: SessionGrant,
        /// The recovery codes (shown once).
        codes: Vec<RecoveryCode>,
    },
    /// Another key for an account that already had a factor; the current session goes on.
    Added,
}

/// What a completed authentication led to.
#[derive(Debug)]
pub enum Authenticated {
    /// Second factor after the password: a new two-factor session.
    SignedIn(SessionGrant),
    /// A fresh factor on a strong session (step-up).
    SteppedUp,
}

#[derive(Serialize, Deserialize)]
struct Sealed<S> {
    /// Unix time after which the state is refused.
    expires: i64,
    state: S,
}

/// Whether security keys work with this installation's address: WebAuthn needs a domain name
/// (an IP address cannot be a relying party id).
pub fn available(app: &App) -> bool {
    relying_party(app).is_ok()
}

/// The relying party: id = host of `public_url`, origin = `public_url`.
fn relying_party(app: &App) -> Result<Webauthn, AppError> {
    let unavailable = || AppError::Refused(ErrorCode::WebauthnUnavailable);
    let origin = Url::parse(&app.settings.public_url).map_err(|_| unavailable())?;
    let rp_id = origin.domain().ok_or_else(unavailable)?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(RP_NAME).build())
        .map_err(|_| unavailable())
}

fn seal<S: Serialize>(
    app: &App,
    current: &Current,
    kind: Kind,
    state: S,
) -> Result<String, AppError> {
    let sealed = Sealed {
        expires: (app.clock.now() + CEREMONY_TTL).unix_timestamp(),
        state,
    };
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&sealed)
            .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn state: {e}"))))?,
    );
    let bytes =
        app.keys
            .pending_webauthn
            .seal(&json, kind.aad(current).as_bytes(), app.entropy.as_ref());
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Opens a sealed state; `None` when forged, altered, sealed for another session or ceremony, or
/// expired.
fn unseal<S: DeserializeOwned>(
    app: &App,
    current: &Current,
    kind: Kind,
    sealed: &str,
) -> Option<S> {
    let raw = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
    let json = app
        .keys
        .pending_webauthn
        .open(&raw, kind.aad(current).as_bytes())
        .ok()?;
    let sealed: Sealed<S> = serde_json::from_slice(&json).ok()?;
    (app.clock.now().unix_timestamp() <= sealed.expires).then_some(sealed.state)
}

fn stored_key(c: &WebauthnCredential) -> Result<SecurityKey, AppError> {
    serde_json::from_str(&c.passkey_json).map_err(|e| {
        AppError::Store(StoreError::Other(format!(
            "WebAuthn credential {} does not parse: {e}",
            c.id
        )))
    })
}

/// webauthn-rs asks security keys for credProtect "userVerificationRequired" while it only
/// prefers user verification; Chromium refuses that combination (`NotSupportedError`: "protection
/// policy is inconsistent"). For a second factor the right level is "user verification optional
/// with the credential id list": the key answers only to a site that names the credential (we
/// always do), with a touch, and a PIN where the key has one. Not enforced, so keys without
/// credProtect still register; webauthn-rs does not check the level it asked for.
fn relax_cred_protect(options: &mut serde_json::Value) {
    if let Some(ext) = options
        .get_mut("publicKey")
        .and_then(|pk| pk.get_mut("extensions"))
        .and_then(serde_json::Value::as_object_mut)
    {
        if ext.contains_key("credentialProtectionPolicy") {
            ext.insert(
                "credentialProtectionPolicy".to_owned(),
                serde_json::Value::from("userVerificationOptionalWithCredentialIDList"),
            );
        }
        ext.remove("enforceCredentialProtectionPolicy");
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(v)
        .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn options: {e}"))))
}

/// The person's keys, oldest first.
pub async fn list(app: &App, current: &Current) -> Result<Vec<WebauthnCredential>, AppError> {
    Ok(app.store.webauthn_credentials(current.user.id).await?)
}

/// Whether `current` may register a key now: while enrolling a first factor, or with a fresh
/// factor (the same rule as for the authenticator app).
pub fn may_register(app: &App, current: &Current) -> bool {
    totp::may_enrol(app, current)
}

/// Registration, step one.
pub async fn begin_registration(app: &App, current: &Current) -> Result<Ceremony, AppError> {
    if !may_register(app, current) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let rp = relying_party(app)?;
    let user = &current.user;
    let exclude = app
        .store
        .webauthn_credentials(user.id)
        .await?
        .iter()
        .map(|c| c.credential_id.clone())
        .collect::<Vec<_>>();
    let (options, state) = rp
        .start_securitykey_registration(
            user.id.as_uuid(),
            user.email.as_str(),
            &user.display_name,
            Some(exclude),
            None,
            None,
        )
        .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn registration: {e}"))))?;
    let mut options = to_json(&options)?;
    relax_cred_protect(&mut options);
    Ok(Ceremony {
        options,
        state: seal(app, current, Kind::Register, state)?,
    })
}

/// Registration, step two: checks the authenticator's answer and stores the key under `name`.
pub async fn finish_registration(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    credential: &serde_json::Value,
    state: &str,
    name: &str,
) -> Result<Registered, AppError> {
    if !may_register(app, current) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let rp = relying_party(app)?;
    let keys = throttle::Keys::new(Some(current.user.id), "", ctx);
    let before = throttle::gate(app, &keys).await?;
    let Some(state) = unseal::<SecurityKeyRegistration>(app, current, Kind::Register, state) else {
        registration_failed(app, ctx, current, &keys, before, "AUTH-WEBAUTHN-STATE").await?;
        return Err(AppError::Refused(ErrorCode::CsrfInvalid));
    };
    let checked = serde_json::from_value::<RegisterPublicKeyCredential>(credential.clone())
        .map_err(|e| e.to_string())
        .and_then(|c| {
            rp.finish_securitykey_registration(&c, &state)
                .map_err(|e| e.to_string())
        });
    let key = match checked {
        Ok(key) => key,
        Err(why) => {
            tracing::info!(error = %why, "WebAuthn registration refused");
            registration_failed(app, ctx, current, &keys, before, "AUTH-WEBAUTHN-INVALID").await?;
            return Err(AppError::Refused(ErrorCode::WebauthnInvalid));
        }
    };
    let now = app.clock.now();
    let passkey_json = serde_json::to_string(&key)
        .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn credential: {e}"))))?;
    let added = app
        .store
        .add_webauthn_credential(NewWebauthnCredential {
            id: row_id(app),
            user: current.user.id,
            credential_id: AsRef::<[u8]>::as_ref(key.cred_id()).to_vec(),
            name: key_name(name, ctx.lang),
            passkey_json,
            created_at: now,
        })
        .await;
    match added {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            registration_failed(app, ctx, current, &keys, before, "AUTH-WEBAUTHN-KNOWN").await?;
            return Err(AppError::Refused(ErrorCode::WebauthnKeyKnown));
        }
        Err(e) => return Err(e.into()),
    }
    throttle::succeed(app, &keys).await?;
    if current.session.method == AuthMethod::Enrolment {
        let (grant, codes) = super::enrol::complete_factor(
            app,
            ctx,
            current,
            "webauthn",
            AuthMethod::PasswordWebauthn,
        )
        .await?;
        return Ok(Registered::Enrolled { grant, codes });
    }
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthFactorEnrolled,
        Outcome::Success,
        Some("webauthn"),
        Some(current.user.id),
    )
    .await?;
    // A factor change ends the person's other sessions (AUTH-7).
    app.store
        .end_user_sessions(
            current.user.id,
            Some(&current.session.digest),
            "factor_changed",
            now,
        )
        .await?;
    Ok(Registered::Added)
}

async fn registration_failed(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    keys: &throttle::Keys,
    before: (u32, u32),
    reason: &str,
) -> Result<(), AppError> {
    let locked = throttle::fail(app, keys, before).await?;
    let outcome = if reason == "AUTH-WEBAUTHN-STATE" {
        Outcome::Denied
    } else {
        Outcome::Failure
    };
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthFactorEnrolled,
        outcome,
        Some(reason),
        Some(current.user.id),
    )
    .await?;
    if locked {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AuthLocked,
            Outcome::Success,
            Some(reason),
            Some(current.user.id),
        )
        .await?;
    }
    Ok(())
}

fn key_name(typed: &str, lang: Lang) -> String {
    let name: String = typed
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_MAX)
        .collect::<String>()
        .trim()
        .to_owned();
    if name.is_empty() {
        match lang {
            Lang::Fr => "Clé de sécurité".to_owned(),
            Lang::En => "Security key".to_owned(),
        }
    } else {
        name
    }
}

fn row_id(app: &App) -> Uuid {
    galien_core::ids::UserId::generate(app.clock.now(), app.entropy.as_ref()).as_uuid()
}

/// Authentication, step one: after the password (second factor), or on a strong session (step-up).
pub async fn begin_authentication(app: &App, current: &Current) -> Result<Ceremony, AppError> {
    if !(current.is_strong() || current.pending() == NextStep::SecondFactor) {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let rp = relying_party(app)?;
    let stored = app.store.webauthn_credentials(current.user.id).await?;
    if stored.is_empty() {
        return Err(AppError::Refused(ErrorCode::WebauthnInvalid));
    }
    let keys = stored
        .iter()
        .map(stored_key)
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = rp
        .start_securitykey_authentication(&keys)
        .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn authentication: {e}"))))?;
    Ok(Ceremony {
        options: to_json(&options)?,
        state: seal(app, current, Kind::Authenticate, state)?,
    })
}

/// Authentication, step two: checks the assertion, updates the key's counter and backup state.
pub async fn finish_authentication(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    credential: &serde_json::Value,
    state: &str,
) -> Result<Authenticated, AppError> {
    if !(current.is_strong() || current.pending() == NextStep::SecondFactor) {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let rp = relying_party(app)?;
    let keys = throttle::Keys::new(Some(current.user.id), "", ctx);
    let before = throttle::gate(app, &keys).await?;
    let who = current.who();
    let Some(state) = unseal::<SecurityKeyAuthentication>(app, current, Kind::Authenticate, state)
    else {
        authentication_failed(app, ctx, &keys, before, who, "AUTH-WEBAUTHN-STATE").await?;
        return Err(AppError::Refused(ErrorCode::CsrfInvalid));
    };
    let checked = serde_json::from_value::<PublicKeyCredential>(credential.clone())
        .map_err(|e| e.to_string())
        .and_then(|c| {
            rp.finish_securitykey_authentication(&c, &state)
                .map_err(|e| e.to_string())
        });
    let result = match checked {
        Ok(r) => r,
        Err(why) => {
            tracing::info!(error = %why, "WebAuthn assertion refused");
            authentication_failed(app, ctx, &keys, before, who, "AUTH-WEBAUTHN-INVALID").await?;
            return Err(AppError::Refused(ErrorCode::WebauthnInvalid));
        }
    };
    // The state only allows this account's keys, so the key is one of them.
    let now = app.clock.now();
    let stored = app.store.webauthn_credentials(current.user.id).await?;
    let mut found = None;
    for c in &stored {
        let mut key = stored_key(c)?;
        if key.update_credential(&result).is_some() {
            found = Some((c.id, key));
            break;
        }
    }
    let Some((row, key)) = found else {
        // Removed between the two steps.
        authentication_failed(app, ctx, &keys, before, who, "AUTH-WEBAUTHN-INVALID").await?;
        return Err(AppError::Refused(ErrorCode::WebauthnInvalid));
    };
    let passkey_json = serde_json::to_string(&key)
        .map_err(|e| AppError::Store(StoreError::Other(format!("WebAuthn credential: {e}"))))?;
    app.store
        .update_webauthn_credential(row, passkey_json, now)
        .await?;
    throttle::succeed(app, &keys).await?;
    if current.is_strong() {
        app.store.set_step_up(&current.session.digest, now).await?;
        trace::security(
            app,
            ctx,
            who,
            AuditAction::AuthStepUp,
            Outcome::Success,
            Some("webauthn"),
            None,
        )
        .await?;
        return Ok(Authenticated::SteppedUp);
    }
    let grant = session::renew(
        app,
        ctx,
        current,
        AuthMethod::PasswordWebauthn,
        Assurance::TwoFactors,
    )
    .await?;
    let who = Who {
        assurance: Some(Assurance::TwoFactors),
        ..who
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthLoginSucceeded,
        Outcome::Success,
        Some("password_webauthn"),
        None,
    )
    .await?;
    Ok(Authenticated::SignedIn(grant))
}

async fn authentication_failed(
    app: &App,
    ctx: &RequestContext,
    keys: &throttle::Keys,
    before: (u32, u32),
    who: Who,
    reason: &str,
) -> Result<(), AppError> {
    login_failed(app, ctx, keys, before, who, reason).await
}

/// Removes one of the person's keys; needs a fresh factor and refuses to remove the last factor.
/// The person's other sessions end (a factor change, AUTH-7).
pub async fn remove(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    id: Uuid,
) -> Result<(), AppError> {
    if !current.is_strong() {
        return Err(AppError::Refused(ErrorCode::SecondFactorRequired));
    }
    if !current.has_fresh_factor(app) {
        return Err(AppError::Refused(ErrorCode::StepUpRequired));
    }
    let stored = app.store.webauthn_credentials(current.user.id).await?;
    if !stored.iter().any(|c| c.id == id) {
        return Err(AppError::Refused(ErrorCode::NotFound));
    }
    let others = stored.len() - 1 + usize::from(current.user.totp.is_some());
    if others == 0 {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AuthFactorRemoved,
            Outcome::Denied,
            Some("AUTH-LAST-FACTOR"),
            Some(current.user.id),
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::LastFactor));
    }
    if !app
        .store
        .remove_webauthn_credential(current.user.id, id)
        .await?
    {
        return Err(AppError::Refused(ErrorCode::NotFound));
    }
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuthFactorRemoved,
        Outcome::Success,
        Some("webauthn"),
        Some(current.user.id),
    )
    .await?;
    app.store
        .end_user_sessions(
            current.user.id,
            Some(&current.session.digest),
            "factor_changed",
            app.clock.now(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_trimmed_bounded_and_never_empty() {
        assert_eq!(key_name("  Clé bleue \n", Lang::Fr), "Clé bleue");
        assert_eq!(key_name("", Lang::Fr), "Clé de sécurité");
        assert_eq!(key_name("\u{7}", Lang::En), "Security key");
        assert_eq!(
            key_name(&"x".repeat(200), Lang::En).chars().count(),
            NAME_MAX
        );
    }
}
