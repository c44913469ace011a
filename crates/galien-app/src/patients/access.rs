//! Asking the gate: the actor's relationships with the patient come from the store (read once per
//! use case), the decision from the Cedar policies; a refusal is traced before it is reported.

use galien_access::{AccessRequest, Action, Permit, Principal, Relationships};
use galien_core::ErrorCode;
use galien_core::audit::ResourceRef;
use galien_core::identity::Actor;
use galien_core::ids::{PatientId, UserId};
use time::OffsetDateTime;

use crate::{App, AppError, RequestContext};

/// The gate's principal for a signed-in person.
pub fn principal(actor: &Actor) -> Principal {
    Principal::User {
        id: actor.user,
        role: actor.role,
        assurance: actor.assurance,
    }
}

/// A person's relationships with one patient, read at `at` together with their session
/// ([`crate::identity::session::resolve_about`]): the gate's facts for that request without a
/// second round trip. Only that function makes them.
#[derive(Debug, Clone)]
pub struct Ties {
    user: UserId,
    patient: PatientId,
    relationships: Relationships,
    at: OffsetDateTime,
}

impl Ties {
    pub(crate) fn read(
        user: UserId,
        patient: PatientId,
        relationships: Relationships,
        at: OffsetDateTime,
    ) -> Ties {
        Ties {
            user,
            patient,
            relationships,
            at,
        }
    }

    /// The patient they are about.
    pub fn patient(&self) -> PatientId {
        self.patient
    }
}

/// One actor asking about one patient (or the registry) during one use case.
#[derive(Debug)]
pub struct Asking<'a> {
    app: &'a App,
    actor: &'a Actor,
    ctx: &'a RequestContext,
    patient: Option<PatientId>,
    relationships: Relationships,
    at: OffsetDateTime,
}

impl<'a> Asking<'a> {
    /// Reads the actor's relationships with `patient` (none for the registry).
    pub async fn new(
        app: &'a App,
        actor: &'a Actor,
        ctx: &'a RequestContext,
        patient: Option<PatientId>,
    ) -> Result<Asking<'a>, AppError> {
        let at = app.clock.now();
        let relationships = match patient {
            Some(p) => app.store.relationships(actor.user, p, at).await?,
            None => Relationships::none(),
        };
        Ok(Asking {
            app,
            actor,
            ctx,
            patient,
            relationships,
            at,
        })
    }

    /// The actor asking about the patient of `ties`, on the relationships read with the actor's
    /// session; read again (as [`Asking::new`]) should they be another person's.
    pub async fn with_ties(
        app: &'a App,
        actor: &'a Actor,
        ctx: &'a RequestContext,
        ties: Ties,
    ) -> Result<Asking<'a>, AppError> {
        if ties.user != actor.user {
            return Asking::new(app, actor, ctx, Some(ties.patient)).await;
        }
        Ok(Asking {
            app,
            actor,
            ctx,
            patient: Some(ties.patient),
            relationships: ties.relationships,
            at: ties.at,
        })
    }

    fn request(&self, action: Action, resource: Option<ResourceRef>) -> AccessRequest {
        AccessRequest {
            principal: principal(self.actor),
            action,
            patient: self.patient,
            relationships: self.relationships.clone(),
            resource,
            source: self.ctx.source(),
            at: self.at,
        }
    }

    /// The application asked.
    pub fn app(&self) -> &'a App {
        self.app
    }

    /// The relationships read.
    pub fn relationships(&self) -> &Relationships {
        &self.relationships
    }

    /// A permit for `action`, or `ACC-DENIED` once the refusal is durable in the audit trail.
    /// `resource` names a more precise object (a note, a member) in the trace.
    pub async fn permit(
        &self,
        action: Action,
        resource: Option<ResourceRef>,
    ) -> Result<Permit, AppError> {
        match self
            .app
            .gate
            .decide(self.request(action, resource), self.app.entropy.as_ref())
        {
            Ok(permit) => Ok(permit),
            Err(denial) => {
                self.app.store.record_trace(denial.trace()).await?;
                Err(AppError::Refused(ErrorCode::AccessDenied))
            }
        }
    }

    /// A permit for `action` if the policies grant it, `None` otherwise — a refusal here is not
    /// traced, exactly as with [`Asking::allows`]: for a section a page shows only when allowed. One
    /// evaluation instead of `allows` then `permit`; a permit returned is traced when used, like
    /// any other.
    pub fn permit_if_allowed(
        &self,
        action: Action,
        resource: Option<ResourceRef>,
    ) -> Option<Permit> {
        self.app
            .gate
            .decide(self.request(action, resource), self.app.entropy.as_ref())
            .ok()
    }

    /// Whether a permit for `action` would be granted: only to decide which sections and buttons a
    /// page offers. Nothing is read and nothing is traced; a section is fetched with a real permit.
    pub fn allows(&self, action: Action) -> bool {
        self.app.gate.check(&self.request(action, None))
    }
}

/// A permit for `action` on `patient` (or the registry), or `ACC-DENIED` after the refusal was traced.
pub async fn permit(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    action: Action,
    patient: Option<PatientId>,
) -> Result<Permit, AppError> {
    Asking::new(app, actor, ctx, patient)
        .await?
        .permit(action, None)
        .await
}
