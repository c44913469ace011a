//! Machine identities (AUTH-9): devices, gateways and other systems authenticate with their own
//! credentials (a client secret, stored as a PHC hash), obtain short-lived access tokens (only their
//! digest is stored) limited to the client's scopes, and are revocable. Revoking a client reaches its
//! tokens at once: every token read says whether its client is revoked.

use galien_core::ids::UserId;
use galien_crypto::token::TokenDigest;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Cols, corrupt, to_micros};
use crate::{Store, StoreError};

/// A machine client to register.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMachineClient {
    /// Its identifier (the OAuth `client_id`).
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// `device` or `system`.
    pub kind: String,
    /// PHC hash of its secret.
    pub secret_hash: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// Who registered it.
    pub created_by: UserId,
}

/// A stored machine client.
#[derive(Clone, PartialEq, Eq)]
pub struct MachineClient {
    /// Its identifier.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// `device` or `system`.
    pub kind: String,
    /// PHC hash of its secret.
    pub secret_hash: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// Who registered it.
    pub created_by: UserId,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

macro_rules! debug_client {
    ($ty:ident, $($field:ident),*) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .field("secret_hash", &"<redacted>")
                    .finish()
            }
        }
    };
}
debug_client!(
    NewMachineClient,
    id,
    name,
    kind,
    scopes,
    created_at,
    created_by
);
debug_client!(
    MachineClient,
    id,
    name,
    kind,
    scopes,
    created_at,
    created_by,
    revoked_at
);

/// An access token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    /// SHA-256 of the bearer token.
    pub digest: TokenDigest,
    /// The client it was issued to.
    pub client: Uuid,
    /// What it allows (a subset of the client's scopes, checked by the caller).
    pub scopes: Vec<String>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// A stored access token, with its client's revocation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// SHA-256 of the bearer token.
    pub digest: TokenDigest,
    /// The client it was issued to.
    pub client: Uuid,
    /// What it allows.
    pub scopes: Vec<String>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// Whether its client has been revoked (then the token is worthless, whatever its expiry).
    pub client_revoked: bool,
}

const INSERT_CLIENT: &str = "INSERT INTO machine_clients (id, name, kind, secret_hash, scopes, \
     created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)";
macro_rules! select_client {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, kind, secret_hash, scopes, created_at, created_by, revoked_at \
             FROM machine_clients ",
            $tail
        )
    };
}
const REVOKE_CLIENT: &str =
    "UPDATE machine_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
const CLIENT_REVOKED_AT: &str = "SELECT revoked_at FROM machine_clients WHERE id = $1";
const INSERT_TOKEN: &str = "INSERT INTO machine_access_tokens (digest, client_id, scopes, \
     created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const SELECT_TOKEN: &str = "SELECT t.digest, t.client_id, t.scopes, t.created_at, t.expires_at, \
     c.revoked_at FROM machine_access_tokens t JOIN machine_clients c ON c.id = t.client_id \
     WHERE t.digest = $1";

fn scopes_to_json(scopes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(scopes).map_err(|_| StoreError::Other("cannot encode scopes".into()))
}

fn scopes_from_json(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| corrupt("scopes"))
}

fn client_from_row<R: Cols>(r: &R) -> Result<MachineClient, StoreError> {
    Ok(MachineClient {
        id: r.uuid(0)?,
        name: r.text(1)?,
        kind: r.text(2)?,
        secret_hash: r.text(3)?,
        scopes: scopes_from_json(&r.text(4)?)?,
        created_at: r.time(5)?,
        created_by: UserId::from_uuid(r.uuid(6)?),
        revoked_at: r.opt_time(7)?,
    })
}

fn token_from_row<R: Cols>(r: &R) -> Result<AccessToken, StoreError> {
    Ok(AccessToken {
        digest: TokenDigest::from_slice(&r.bytes(0)?).ok_or_else(|| corrupt("token digest"))?,
        client: r.uuid(1)?,
        scopes: scopes_from_json(&r.text(2)?)?,
        created_at: r.time(3)?,
        expires_at: r.time(4)?,
        client_revoked: r.opt_int(5)?.is_some(),
    })
}

impl Store {
    /// Registers a machine client. `kind` must be `device` or `system` (else [`StoreError::Other`]);
    /// a duplicate id is [`StoreError::Conflict`].
    pub async fn create_machine_client(&self, c: NewMachineClient) -> Result<(), StoreError> {
        let scopes = scopes_to_json(&c.scopes)?;
        let (created_at, created_by) = (to_micros(c.created_at)?, c.created_by.as_uuid());
        in_tx!(self, |conn| {
            sqlx::query(INSERT_CLIENT)
                .bind(c.id)
                .bind(c.name)
                .bind(c.kind)
                .bind(c.secret_hash)
                .bind(scopes)
                .bind(created_at)
                .bind(created_by)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The client, revoked or not, or [`StoreError::NotFound`].
    pub async fn machine_client(&self, id: Uuid) -> Result<MachineClient, StoreError> {
        read!(self, |conn| {
            let row = sqlx::query(select_client!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            client_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }

    /// Every client, revoked ones included, oldest first.
    pub async fn machine_clients(&self) -> Result<Vec<MachineClient>, StoreError> {
        read!(self, |conn| {
            let rows = sqlx::query(select_client!("ORDER BY created_at, id"))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(client_from_row).collect()
        })
    }

    /// Revokes the client, and with it every token it holds. `true` iff it was active; `false` if it
    /// was already revoked (the first revocation time is kept); [`StoreError::NotFound`] if absent.
    pub async fn revoke_machine_client(
        &self,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = to_micros(at)?;
        in_tx!(self, |conn| {
            let done = sqlx::query(REVOKE_CLIENT)
                .bind(id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() > 0 {
                return Ok(true);
            }
            let exists: Option<(Option<i64>,)> = sqlx::query_as(CLIENT_REVOKED_AT)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            exists.map(|_| false).ok_or(StoreError::NotFound)
        })
    }

    /// Stores an access token. [`StoreError::NotFound`] if the client does not exist;
    /// [`StoreError::Conflict`] if it is revoked (no new token for a revoked client) or the digest is
    /// already stored.
    pub async fn create_access_token(&self, t: NewAccessToken) -> Result<(), StoreError> {
        let digest = t.digest.as_bytes().to_vec();
        let scopes = scopes_to_json(&t.scopes)?;
        let (created_at, expires_at) = (to_micros(t.created_at)?, to_micros(t.expires_at)?);
        let client = t.client;
        in_tx!(self, |conn| {
            let found: Option<(Option<i64>,)> = sqlx::query_as(CLIENT_REVOKED_AT)
                .bind(client)
                .fetch_optional(&mut *conn)
                .await?;
            match found {
                None => return Err(StoreError::NotFound),
                Some((Some(_),)) => {
                    return Err(StoreError::Conflict("machine client revoked".into()));
                }
                Some((None,)) => {}
            }
            sqlx::query(INSERT_TOKEN)
                .bind(digest)
                .bind(client)
                .bind(scopes)
                .bind(created_at)
                .bind(expires_at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The access token with this digest (the caller checks `expires_at` and `client_revoked`), or
    /// [`StoreError::NotFound`].
    pub async fn access_token(&self, digest: &TokenDigest) -> Result<AccessToken, StoreError> {
        let digest = digest.as_bytes().to_vec();
        read!(self, |conn| {
            let row = sqlx::query(SELECT_TOKEN)
                .bind(digest)
                .fetch_optional(&mut *conn)
                .await?;
            token_from_row(&row.ok_or(StoreError::NotFound)?)
        })
    }
}
