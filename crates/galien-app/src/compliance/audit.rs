//! The DPO searches and exports the audit trail (TRACE-3). Traces name patients, so only the DPO
//! reads them (ACC-2: administrators see no clinical data); every search is itself traced
//! (`audit.exported`, reason `search` or `export`) and every refusal too (`access.denied`).

use crate::identity::session::Current;
use crate::{App, AppError, RequestContext, trace};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::Role;
use galien_store::{AuditFilter, StoredAuditEvent};

/// Why the trail is read: shown on screen, or handed out as a file (FHIR, JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Browsing on the DPO page.
    Search,
    /// Taken out of Galien (API, FHIR bundle).
    Export,
}

impl Purpose {
    /// The reason recorded in the trace.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Search => "search",
            Purpose::Export => "export",
        }
    }
}

/// Lets only the DPO with a two-factor session through; any other person's attempt is refused and
/// traced (`access.denied`, reason `audit.search`). Handlers call it before checking parameters, so
/// a refusal never depends on them.
pub async fn require_dpo(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
) -> Result<(), AppError> {
    require_role(app, ctx, current, &[Role::Dpo], "audit.search").await
}

/// A two-factor session of one of `roles`; anyone else is refused (`ACC-DENIED`) and the refusal
/// traced with `what`.
pub async fn require_role(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    roles: &[Role],
    what: &str,
) -> Result<(), AppError> {
    if !current.is_strong() {
        return Err(AppError::Refused(ErrorCode::SecondFactorRequired));
    }
    if !roles.contains(&current.user.role) {
        trace::security(
            app,
            ctx,
            current.who(),
            AuditAction::AccessDenied,
            Outcome::Denied,
            Some(what),
            None,
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    Ok(())
}

/// Searches the audit trail as the DPO; the search is traced before the results are returned, so
/// an untraceable search shows nothing.
pub async fn search(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    filter: &AuditFilter,
    purpose: Purpose,
) -> Result<Vec<StoredAuditEvent>, AppError> {
    require_dpo(app, ctx, current).await?;
    let events = app.store.audit_events(filter).await?;
    trace::security(
        app,
        ctx,
        current.who(),
        AuditAction::AuditExported,
        Outcome::Success,
        Some(purpose.as_str()),
        None,
    )
    .await?;
    Ok(events)
}
