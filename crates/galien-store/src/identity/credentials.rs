//! WebAuthn credentials (security keys, passkeys: AUTH-2). The passkey state is kept as the JSON the
//! WebAuthn library serialises (text, so it round-trips byte for byte); its counter changes on each use.

use galien_core::ids::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Cols, to_micros};
use crate::{Store, StoreError};

/// A credential to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebauthnCredential {
    /// Row id.
    pub id: Uuid,
    /// Whose it is.
    pub user: UserId,
    /// The authenticator's credential id (unique).
    pub credential_id: Vec<u8>,
    /// The name the user gave it.
    pub name: String,
    /// The serialised passkey.
    pub passkey_json: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

/// A stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredential {
    /// Row id.
    pub id: Uuid,
    /// Whose it is.
    pub user: UserId,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// The name the user gave it.
    pub name: String,
    /// The serialised passkey.
    pub passkey_json: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it was last used to sign in.
    pub last_used_at: Option<OffsetDateTime>,
}

const INSERT: &str = "INSERT INTO webauthn_credentials (id, user_id, credential_id, name, \
     passkey_json, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT_OF_USER: &str = "SELECT id, user_id, credential_id, name, passkey_json, created_at, \
     last_used_at FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id";
const UPDATE: &str =
    "UPDATE webauthn_credentials SET passkey_json = $2, last_used_at = $3 WHERE id = $1";
const DELETE: &str = "DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2";

fn credential_from_row<R: Cols>(r: &R) -> Result<WebauthnCredential, StoreError> {
    Ok(WebauthnCredential {
        id: r.uuid(0)?,
        user: UserId::from_uuid(r.uuid(1)?),
        credential_id: r.bytes(2)?,
        name: r.text(3)?,
        passkey_json: r.text(4)?,
        created_at: r.time(5)?,
        last_used_at: r.opt_time(6)?,
    })
}

impl Store {
    /// Registers a credential. A credential id already registered (to anyone) is
    /// [`StoreError::Conflict`].
    pub async fn add_webauthn_credential(
        &self,
        c: NewWebauthnCredential,
    ) -> Result<(), StoreError> {
        let created_at = to_micros(c.created_at)?;
        let user = c.user.as_uuid();
        in_tx!(self, |conn| {
            sqlx::query(INSERT)
                .bind(c.id)
                .bind(user)
                .bind(c.credential_id)
                .bind(c.name)
                .bind(c.passkey_json)
                .bind(created_at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// `user`'s credentials, oldest first.
    pub async fn webauthn_credentials(
        &self,
        user: UserId,
    ) -> Result<Vec<WebauthnCredential>, StoreError> {
        let user = user.as_uuid();
        read!(self, |conn| {
            let rows = sqlx::query(SELECT_OF_USER)
                .bind(user)
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(credential_from_row).collect()
        })
    }

    /// Stores the passkey's new state after a successful use at `used_at`. [`StoreError::NotFound`]
    /// if there is no such credential.
    pub async fn update_webauthn_credential(
        &self,
        id: Uuid,
        passkey_json: String,
        used_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let used_at = to_micros(used_at)?;
        in_tx!(self, |conn| {
            let done = sqlx::query(UPDATE)
                .bind(id)
                .bind(passkey_json)
                .bind(used_at)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    /// Removes `user`'s credential `id`. `true` iff it existed and was `user`'s.
    pub async fn remove_webauthn_credential(
        &self,
        user: UserId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let user = user.as_uuid();
        in_tx!(self, |conn| {
            let done = sqlx::query(DELETE)
                .bind(user)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
