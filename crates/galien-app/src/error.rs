//! The application layer's error: a stable [`ErrorCode`] for people, and the cause for the log.

use galien_core::ErrorCode;
use galien_crypto::password::PasswordRejection;
use galien_store::StoreError;
use time::OffsetDateTime;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An expected refusal, fully described by its code.
    #[error("{0}")]
    Refused(ErrorCode),
    /// The password breaks the policy; every reason is listed for the person (AUTH-3).
    #[error("password refused: {}", .0.iter().map(|r| r.code()).collect::<Vec<_>>().join(", "))]
    Password(Vec<PasswordRejection>),
    /// Too many failures: locked until the given time (AUTH-5).
    #[error("locked until {0}")]
    Locked(OffsetDateTime),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The health-data key ring cannot be read or written.
    #[error("health-data keys: {0}")]
    Keys(String),
}

impl AppError {
    /// The stable code shown to people.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Refused(code) => *code,
            AppError::Password(_) => ErrorCode::WeakPassword,
            AppError::Locked(_) => ErrorCode::Locked,
            AppError::Store(StoreError::NotFound) => ErrorCode::NotFound,
            AppError::Store(StoreError::Unavailable(_) | StoreError::Closed) => {
                ErrorCode::Unavailable
            }
            AppError::Store(StoreError::Conflict(c)) if c.contains("patients_nir_index_key") => {
                ErrorCode::NirTaken
            }
            AppError::Store(StoreError::Conflict(c))
                if c.contains("care_relationships_active_member") =>
            {
                ErrorCode::AlreadyInCareTeam
            }
            AppError::Store(StoreError::Conflict(c)) if c.contains("appointments.status") => {
                ErrorCode::AppointmentState
            }
            AppError::Store(_) | AppError::Keys(_) => ErrorCode::Internal,
        }
    }
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::Refused(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_outages_are_unavailable_not_internal() {
        assert_eq!(
            AppError::Store(StoreError::Unavailable("x".into())).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            AppError::Store(StoreError::Closed).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            AppError::Store(StoreError::Other("x".into())).code(),
            ErrorCode::Internal
        );
        assert_eq!(
            AppError::Refused(ErrorCode::EnrolmentLinkUsed).code(),
            ErrorCode::EnrolmentLinkUsed
        );
    }
}
