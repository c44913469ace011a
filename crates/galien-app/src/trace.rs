//! Recording security events in the audit trail (TRACE-1). A use case whose trace cannot be made
//! durable fails: the caller reports an error rather than act untraced.

use crate::{App, AppError, RequestContext};
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef};
use galien_core::identity::{Assurance, Role};
use galien_core::ids::{AuditEventId, UserId};

/// Who to name in a trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who {
    /// The account, when known.
    pub user: Option<UserId>,
    /// Its role.
    pub role: Option<Role>,
    /// Its assurance level at that moment.
    pub assurance: Option<Assurance>,
}

impl Who {
    /// Nobody identified (e.g. a failed sign-in with an unknown address).
    pub const ANONYMOUS: Who = Who {
        user: None,
        role: None,
        assurance: None,
    };
}

/// Appends one security event; `subject` is the account acted upon when it is not the actor.
pub async fn security(
    app: &App,
    ctx: &RequestContext,
    who: Who,
    action: AuditAction,
    outcome: Outcome,
    reason: Option<&str>,
    subject: Option<UserId>,
) -> Result<(), AppError> {
    let at = app.clock.now();
    let event = AuditEvent {
        id: AuditEventId::generate(at, app.entropy.as_ref()),
        at,
        actor: AuditActor {
            user: who.user,
            role: who.role,
            assurance: who.assurance,
            client: None,
        },
        action,
        outcome,
        resource: subject.map(|u| ResourceRef {
            kind: "user".to_owned(),
            id: u.to_string(),
        }),
        patient: None,
        purpose: None,
        emergency: false,
        source: ctx.source(),
        reason: reason.map(str::to_owned),
    };
    app.store.append_audit(&event).await?;
    Ok(())
}

/// Appends a security event whose actor is a machine client (AUTH-9).
pub async fn machine(
    app: &App,
    ctx: &RequestContext,
    client: uuid::Uuid,
    action: AuditAction,
    outcome: Outcome,
) -> Result<(), AppError> {
    let at = app.clock.now();
    let event = AuditEvent {
        id: AuditEventId::generate(at, app.entropy.as_ref()),
        at,
        actor: AuditActor {
            user: None,
            role: None,
            assurance: None,
            client: Some(client.to_string()),
        },
        action,
        outcome,
        resource: None,
        patient: None,
        purpose: None,
        emergency: false,
        source: ctx.source(),
        reason: None,
    };
    app.store.append_audit(&event).await?;
    Ok(())
}
