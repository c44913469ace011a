//! Machine identities (AUTH-9): devices, gateways and other systems get their own credentials
//! (a client id and a 256-bit secret, stored hashed), limited scopes, short-lived bearer tokens
//! (OAuth 2.0 client credentials), and can be revoked at once — revocation kills their tokens.

use super::session::Current;
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::Role;
use galien_crypto::password::{Password, PasswordContext, PasswordHash};
use galien_crypto::token::SecretToken;
use galien_store::{MachineClient, NewAccessToken, NewMachineClient, StoreError};
use uuid::Uuid;

/// What a machine may be allowed to do.
pub const SCOPES: &[(&str, &str, &str)] = &[
    (
        "observations.write",
        "Envoyer des mesures de télésurveillance",
        "Send telemonitoring measurements",
    ),
    (
        "fhir.read",
        "Lire des ressources FHIR",
        "Read FHIR resources",
    ),
    (
        "audit.read",
        "Lire les traces (SIEM)",
        "Read audit records (SIEM)",
    ),
];

/// How long a bearer token lives.
pub const TOKEN_LIFETIME: time::Duration = time::Duration::minutes(10);

/// A machine authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct MachineActor {
    /// The client.
    pub client: Uuid,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl MachineActor {
    /// Whether `scope` was granted.
    pub fn may(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn require_admin(current: &Current) -> Result<(), AppError> {
    if !current.is_strong() {
        return Err(AppError::Refused(ErrorCode::SecondFactorRequired));
    }
    if current.user.role != Role::Administrateur {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    Ok(())
}

/// The PHC hash under which a client secret is stored.
pub fn hash_secret(app: &App, secret: &SecretToken) -> Result<String, AppError> {
    // A 256-bit random secret passes any policy; it is hashed like a password all the same, so a
    // database leak gives nothing usable.
    let password = Password::parse(secret.expose(), &PasswordContext::default()).map_err(|_| {
        AppError::Store(StoreError::Other(
            "generated secret refused by the policy".into(),
        ))
    })?;
    let phc = app
        .hasher
        .hash(&password, app.entropy.as_ref())
        .map_err(|e| AppError::Store(StoreError::Other(format!("hashing: {e}"))))?;
    Ok(phc.as_str().to_owned())
}

/// Registers a machine; returns it and its secret (shown once).
pub async fn create(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    name: &str,
    kind: &str,
    scopes: &[String],
) -> Result<(MachineClient, SecretToken), AppError> {
    require_admin(current)?;
    let name = super::enrol::parse_name(name)?;
    if !matches!(kind, "device" | "system") {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    if scopes.is_empty()
        || scopes
            .iter()
            .any(|s| !SCOPES.iter().any(|(k, _, _)| k == s))
    {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    // A device only ever sends measurements (least privilege).
    if kind == "device" && scopes.iter().any(|s| s != "observations.write") {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let secret = SecretToken::generate(app.entropy.as_ref());
    let now = app.clock.now();
    let id = galien_core::ids::UserId::generate(now, app.entropy.as_ref()).as_uuid();
    app.store
        .create_machine_client(NewMachineClient {
            id,
            name,
            kind: kind.to_owned(),
            secret_hash: hash_secret(app, &secret)?,
            scopes: scopes.to_vec(),
            created_at: now,
            created_by: current.user.id,
        })
        .await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::MachineClientCreated,
        Outcome::Success,
        Some(kind),
        None,
    )
    .await?;
    Ok((app.store.machine_client(id).await?, secret))
}

/// The registered machines.
pub async fn list(app: &App, current: &Current) -> Result<Vec<MachineClient>, AppError> {
    require_admin(current)?;
    Ok(app.store.machine_clients().await?)
}

/// Revokes a machine: its tokens stop working at once.
pub async fn revoke(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    id: Uuid,
) -> Result<(), AppError> {
    require_admin(current)?;
    if !app.store.revoke_machine_client(id, app.clock.now()).await? {
        return Err(AppError::Refused(ErrorCode::NotFound));
    }
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::MachineClientRevoked,
        Outcome::Success,
        None,
        None,
    )
    .await
}

/// A token issued by [`token`].
#[derive(Debug)]
pub struct IssuedToken {
    /// The bearer secret.
    pub token: SecretToken,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// OAuth 2.0 client credentials: a short-lived bearer token for a known, unrevoked client whose
/// secret matches, limited to the scopes it asks among those it holds.
pub async fn token(
    app: &App,
    ctx: &RequestContext,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
) -> Result<IssuedToken, AppError> {
    let who = Who::ANONYMOUS;
    let id = Uuid::parse_str(client_id.trim()).ok();
    let client = match id {
        Some(id) => match app.store.machine_client(id).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let stored = client
        .as_ref()
        .and_then(|c| PasswordHash::from_phc(c.secret_hash.clone()).ok());
    let ok = app.hasher.verify(secret, stored.as_ref());
    let Some(client) = client.filter(|c| ok && c.revoked_at.is_none()) else {
        trace::security(
            app,
            ctx,
            who,
            AuditAction::MachineTokenIssued,
            Outcome::Denied,
            Some("invalid_client"),
            None,
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::BadCredentials));
    };
    let scopes: Vec<String> = match requested {
        Some(r) if !r.trim().is_empty() => {
            let asked: Vec<String> = r.split_whitespace().map(str::to_owned).collect();
            if asked.iter().any(|s| !client.scopes.contains(s)) {
                return Err(AppError::Refused(ErrorCode::AccessDenied));
            }
            asked
        }
        _ => client.scopes.clone(),
    };
    let now = app.clock.now();
    let token = SecretToken::generate(app.entropy.as_ref());
    app.store
        .create_access_token(NewAccessToken {
            digest: token.digest(),
            client: client.id,
            scopes: scopes.clone(),
            created_at: now,
            expires_at: now + TOKEN_LIFETIME,
        })
        .await?;
    trace::machine(
        app,
        ctx,
        client.id,
        AuditAction::MachineTokenIssued,
        Outcome::Success,
    )
    .await?;
    Ok(IssuedToken {
        token,
        scopes,
        expires_in: TOKEN_LIFETIME.whole_seconds(),
    })
}

/// Resolves a bearer token; expired, unknown or revoked tokens are refused.
pub async fn authenticate(app: &App, raw: &str) -> Result<MachineActor, AppError> {
    let refused = || AppError::Refused(ErrorCode::AuthRequired);
    let token = SecretToken::parse(raw.trim()).ok_or_else(refused)?;
    let stored = match app.store.access_token(&token.digest()).await {
        Ok(t) => t,
        Err(StoreError::NotFound) => return Err(refused()),
        Err(e) => return Err(e.into()),
    };
    if stored.client_revoked || app.clock.now() >= stored.expires_at {
        return Err(refused());
    }
    Ok(MachineActor {
        client: stored.client,
        scopes: stored.scopes,
    })
}
