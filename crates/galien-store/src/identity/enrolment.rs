//! Accepting an enrolment link, atomically: the token is consumed and the account created (first
//! administrator) or given its password (invitation) in ONE transaction, so a link can never be spent
//! without its effect, nor take effect twice.

use galien_core::identity::AccountStatus;
use galien_core::ids::UserId;
use galien_crypto::token::TokenDigest;
use time::OffsetDateTime;

use super::conflict;
use super::to_micros;
use super::users::{EMAIL_KEY, NewUser, PROFESSIONAL_ID_KEY, UserParams, insert_user};
use crate::tokens::{self, EnrolmentToken, TokenPurpose, TokenRow};
use crate::{ConsumeError, Store, StoreError};

/// Why an enrolment link could not be accepted. Nothing was changed, except where noted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The token cannot be consumed (absent, expired, used, revoked). An invitation whose account is no
    /// longer [`AccountStatus::Invited`] (or that names no account) is void: it is revoked, and this is
    /// `Token(ConsumeError::Revoked)`.
    #[error(transparent)]
    Token(ConsumeError),
    /// Another account has this e-mail address; the token is not consumed.
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// Another account has this RPPS / ADELI number; the token is not consumed.
    #[error("an account with this professional identifier already exists")]
    ProfessionalIdTaken,
    /// The token exists but is for another purpose; it is not consumed.
    #[error("enrolment token of another purpose")]
    WrongPurpose,
    /// The database failed; nothing was changed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AcceptError {
    fn from(e: StoreError) -> Self {
        if e == conflict(EMAIL_KEY) {
            AcceptError::EmailTaken
        } else if e == conflict(PROFESSIONAL_ID_KEY) {
            AcceptError::ProfessionalIdTaken
        } else {
            AcceptError::Store(e)
        }
    }
}

/// [`tokens::CONSUME`] restricted to one purpose (`$3`).
const CONSUME_FOR: &str = "UPDATE enrolment_tokens SET used_at = $2 \
     WHERE digest = $1 AND purpose = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING id, purpose, user_id, created_at, expires_at, used_at, revoked_at";
/// Voids a consumed invitation whose account can no longer accept it.
const VOID: &str = "UPDATE enrolment_tokens SET used_at = NULL, revoked_at = $2 WHERE digest = $1";
/// The password of an invitation is set only while the account is still invited.
const SET_INVITED_PASSWORD: &str = "UPDATE users SET password_hash = $2, password_changed_at = $3, \
     updated_at = $3 WHERE id = $1 AND status = 'invited'";

/// Consumes the token `$digest` of `$purpose` at `$now` on `$conn` (same rules as
/// `consume_enrolment_token`): `Ok(token)`, or `Err(AcceptError)` having changed nothing. Database
/// failures leave the enclosing job with `?`.
macro_rules! consume {
    ($conn:ident, $digest:expr, $now:expr, $now_us:expr, $purpose:expr) => {{
        let taken: Option<TokenRow> = sqlx::query_as(CONSUME_FOR)
            .bind($digest.as_slice())
            .bind($now_us)
            .bind($purpose.as_str())
            .fetch_optional(&mut *$conn)
            .await?;
        match taken {
            Some(row) => Ok::<EnrolmentToken, AcceptError>(tokens::from_row(row)?),
            None => {
                let existing: Option<TokenRow> = sqlx::query_as(tokens::SELECT_BY_DIGEST)
                    .bind($digest.as_slice())
                    .fetch_optional(&mut *$conn)
                    .await?;
                Err(match existing.map(tokens::from_row).transpose()? {
                    Some(t) if t.purpose != $purpose => AcceptError::WrongPurpose,
                    other => AcceptError::Token(tokens::refusal(other, $now)),
                })
            }
        }
    }};
}

impl Store {
    /// Enrols the first administrator: in ONE transaction, consumes the
    /// [`TokenPurpose::FirstAdministrator`] token (same rules as [`Store::consume_enrolment_token`]) and
    /// creates `user` with the password `password_phc` (set at `now`). The account is stored as
    /// [`AccountStatus::Invited`], whatever `user.status` says, until a second factor is enrolled. Any
    /// refusal leaves both the token and the accounts untouched.
    pub async fn accept_first_admin(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
        user: NewUser,
        password_phc: &str,
    ) -> Result<(), AcceptError> {
        let user = NewUser {
            status: AccountStatus::Invited,
            ..user
        };
        let p = UserParams::new(&user, Some((password_phc, now)))?;
        let digest = digest.as_bytes().to_vec();
        let now_us = to_micros(now)?;
        let outcome: Result<Result<(), AcceptError>, StoreError> = in_tx!(self, |conn| {
            if let Err(refused) =
                consume!(conn, digest, now, now_us, TokenPurpose::FirstAdministrator)
            {
                return Ok(Err(refused));
            }
            // A clash returns Err, which rolls the consumption back.
            insert_user!(conn, p)?;
            Ok(Ok(()))
        });
        outcome?
    }

    /// Accepts an invitation: in ONE transaction, consumes the [`TokenPurpose::Invitation`] token and
    /// sets the password of the account it names, which must still be [`AccountStatus::Invited`].
    /// Returns that account. If the account is no longer invited (or the token names none), the token is
    /// revoked and the answer is `Token(ConsumeError::Revoked)`.
    pub async fn accept_invitation(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
        password_phc: &str,
    ) -> Result<UserId, AcceptError> {
        let digest = digest.as_bytes().to_vec();
        let phc = password_phc.to_owned();
        let now_us = to_micros(now)?;
        let outcome: Result<Result<UserId, AcceptError>, StoreError> = in_tx!(self, |conn| {
            let token = match consume!(conn, digest, now, now_us, TokenPurpose::Invitation) {
                Ok(token) => token,
                Err(refused) => return Ok(Err(refused)),
            };
            if let Some(user) = token.user {
                let done = sqlx::query(SET_INVITED_PASSWORD)
                    .bind(user.as_uuid())
                    .bind(phc)
                    .bind(now_us)
                    .execute(&mut *conn)
                    .await?;
                if done.rows_affected() > 0 {
                    return Ok(Ok(user));
                }
            }
            sqlx::query(VOID)
                .bind(digest.as_slice())
                .bind(now_us)
                .execute(&mut *conn)
                .await?;
            Ok(Err(AcceptError::Token(ConsumeError::Revoked)))
        });
        outcome?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_conflicts_map_to_the_taken_variants() {
        assert_eq!(
            AcceptError::from(conflict(EMAIL_KEY)),
            AcceptError::EmailTaken
        );
        assert_eq!(
            AcceptError::from(conflict(PROFESSIONAL_ID_KEY)),
            AcceptError::ProfessionalIdTaken
        );
        let other = StoreError::Conflict("unique constraint users_pkey violated".into());
        assert_eq!(AcceptError::from(other.clone()), AcceptError::Store(other));
    }
}
