//! Enrolment links: single-use tokens (the first administrator now, invitations later). Only the token's
//! SHA-256 digest is stored. SQL text here is shared by both dialects.

use galien_core::ids::UserId;
use galien_crypto::token::TokenDigest;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ConsumeError, StoreError};

/// What an enrolment token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Creates the first administrator of a new installation.
    FirstAdministrator,
    /// Invites a person to create an account.
    Invitation,
}

impl TokenPurpose {
    /// The stored text: `first_administrator` / `invitation`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::FirstAdministrator => "first_administrator",
            TokenPurpose::Invitation => "invitation",
        }
    }

    /// Parses the stored text.
    pub fn from_stored(s: &str) -> Option<TokenPurpose> {
        match s {
            "first_administrator" => Some(TokenPurpose::FirstAdministrator),
            "invitation" => Some(TokenPurpose::Invitation),
            _ => None,
        }
    }
}

/// A token to store. Times are kept to the microsecond.
#[derive(Debug, Clone)]
pub struct NewEnrolmentToken {
    /// Row id.
    pub id: Uuid,
    /// SHA-256 of the secret token (the secret itself is never stored).
    pub digest: TokenDigest,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The account an invitation enrols; `None` for first-administrator tokens.
    pub user: Option<UserId>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// A stored token and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentToken {
    /// Row id.
    pub id: Uuid,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The account an invitation enrols; `None` for first-administrator tokens.
    pub user: Option<UserId>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// When it was consumed, if it was.
    pub used_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// `(id, purpose, user_id, created_at, expires_at, used_at, revoked_at)` as read from either backend.
pub(crate) type TokenRow = (
    Uuid,
    String,
    Option<Uuid>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

/// Revokes the open tokens of one purpose AND one user (`$3`; NULL: the user-less first-administrator
/// tokens), so that re-inviting one person never voids another person's invitation.
pub(crate) const REVOKE_OPEN: &str = "UPDATE enrolment_tokens SET revoked_at = $1 \
     WHERE purpose = $2 AND ((user_id IS NULL AND $3 IS NULL) OR user_id = $3) \
     AND used_at IS NULL AND revoked_at IS NULL";
pub(crate) const INSERT: &str = "INSERT INTO enrolment_tokens (id, digest, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SELECT_BY_DIGEST: &str = "SELECT id, purpose, user_id, created_at, expires_at, used_at, revoked_at FROM enrolment_tokens WHERE digest = $1";
pub(crate) const CONSUME: &str = "UPDATE enrolment_tokens SET used_at = $2 \
     WHERE digest = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING id, purpose, user_id, created_at, expires_at, used_at, revoked_at";
pub(crate) const BOOTSTRAP_COMPLETED: &str = "SELECT COUNT(*) FROM enrolment_tokens WHERE purpose = 'first_administrator' AND used_at IS NOT NULL";

/// Microseconds since the Unix epoch (UTC); sub-microsecond precision is dropped.
pub(crate) fn to_micros(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| StoreError::Other("timestamp out of range".into()))
}

/// The inverse of [`to_micros`].
pub(crate) fn from_micros(us: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|_| StoreError::Other("stored timestamp out of range".into()))
}

/// Binds-ready form of a new token.
pub(crate) struct NewTokenParams {
    pub id: Uuid,
    pub digest: Vec<u8>,
    pub purpose: &'static str,
    pub user: Option<Uuid>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl NewTokenParams {
    pub fn from(t: &NewEnrolmentToken) -> Result<Self, StoreError> {
        Ok(Self {
            id: t.id,
            digest: t.digest.as_bytes().to_vec(),
            purpose: t.purpose.as_str(),
            user: t.user.map(|u| u.as_uuid()),
            created_at: to_micros(t.created_at)?,
            expires_at: to_micros(t.expires_at)?,
        })
    }
}

pub(crate) fn from_row(row: TokenRow) -> Result<EnrolmentToken, StoreError> {
    let (id, purpose, user, created_at, expires_at, used_at, revoked_at) = row;
    Ok(EnrolmentToken {
        id,
        purpose: TokenPurpose::from_stored(&purpose).ok_or_else(|| {
            StoreError::Other("unknown enrolment token purpose in database".into())
        })?,
        user: user.map(UserId::from_uuid),
        created_at: from_micros(created_at)?,
        expires_at: from_micros(expires_at)?,
        used_at: used_at.map(from_micros).transpose()?,
        revoked_at: revoked_at.map(from_micros).transpose()?,
    })
}

/// Why a token that the atomic `CONSUME` update did not take cannot be consumed (`None`: it is absent).
pub(crate) fn refusal(existing: Option<EnrolmentToken>, now: OffsetDateTime) -> ConsumeError {
    match existing {
        None => ConsumeError::NotFound,
        Some(t) if t.used_at.is_some() => ConsumeError::AlreadyUsed,
        Some(t) if t.revoked_at.is_some() => ConsumeError::Revoked,
        Some(t) if t.expires_at <= now => ConsumeError::Expired,
        // The row changed between the update and the read (cannot happen while tokens are only ever
        // consumed or revoked, never reopened): report it as used, the conservative answer.
        Some(_) => ConsumeError::AlreadyUsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_round_trip() {
        let t = datetime!(2026-03-01 12:34:56.123456 UTC);
        assert_eq!(from_micros(to_micros(t).unwrap()).unwrap(), t);
        let before_epoch = datetime!(1960-01-01 0:00:00.000001 UTC);
        assert_eq!(
            from_micros(to_micros(before_epoch).unwrap()).unwrap(),
            before_epoch
        );
    }

    #[test]
    fn purposes_round_trip() {
        for p in [TokenPurpose::FirstAdministrator, TokenPurpose::Invitation] {
            assert_eq!(TokenPurpose::from_stored(p.as_str()), Some(p));
        }
    }
}
