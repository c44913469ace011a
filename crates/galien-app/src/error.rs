//! The application layer's error: a stable [`ErrorCode`] for people, and the cause for the log.

use galien_core::ErrorCode;
use galien_store::StoreError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An expected refusal, fully described by its code.
    #[error("{0}")]
    Refused(ErrorCode),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl AppError {
    /// The stable code shown to people.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Refused(code) => *code,
            AppError::Store(StoreError::NotFound) => ErrorCode::NotFound,
            AppError::Store(StoreError::Unavailable(_) | StoreError::Closed) => {
                ErrorCode::Unavailable
            }
            AppError::Store(_) => ErrorCode::Internal,
        }
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
