//! Teleconsultation (ACT-1, ACT-6): appointments and invitations ([`appointments`]), the call — its
//! waiting room, admission, chat and the signaling hub that relays WebRTC messages between the
//! pages of a call across nodes ([`call`], [`hub`]) —, documents shared during the call
//! ([`documents`]), closing with a report and a prescription as PDF ([`closing`]), and the FHIR
//! mapping of all this ([`fhir`]).
//!
//! Who takes part is a [`Joiner`]: a signed-in person, or a guest admitted by a single-use link.
//! Every access to the call's content (reason, chat, documents) goes through the gate with the
//! joiner as principal and leaves a trace.

pub mod appointments;
pub mod call;
pub mod closing;
pub mod documents;
pub mod fhir;
pub mod hub;

use galien_access::{AccessRequest, Action, Permit, Principal, Relationships};
use galien_core::ErrorCode;
use galien_core::audit::ResourceRef;
use galien_core::identity::Actor;
use galien_core::ids::{AppointmentId, ParticipantId, PatientId};
use galien_crypto::envelope::DataKey;

use crate::patients::access::{Asking, principal};
use crate::{App, AppError, RequestContext};

/// Bus topic: the waiting room or the people of a call changed (payload: the appointment id).
pub const LOBBY_TOPIC: &str = "call.lobby";
/// Bus topic: a signaling message for one peer.
pub const SIGNAL_TOPIC: &str = "call.signal";
/// Bus topic: a peer joined or left the mesh.
pub const PEER_TOPIC: &str = "call.peer";
/// Bus topic: a chat message or a document was added (ids only; each page reads it under its own
/// permit).
pub const CONTENT_TOPIC: &str = "call.content";
/// Bus topic: the consultation was closed: every page leaves.
pub const CLOSED_TOPIC: &str = "call.closed";

/// Who takes part in a call.
#[derive(Debug, Clone)]
pub enum Joiner {
    /// A signed-in person (patient, médecin, other professional).
    Person(Actor),
    /// A guest of one call, by their participant id (from their guest session).
    Guest(ParticipantId),
}

impl Joiner {
    fn principal(&self) -> Principal {
        match self {
            Joiner::Person(actor) => principal(actor),
            Joiner::Guest(participant) => Principal::Guest {
                participant: *participant,
            },
        }
    }

    /// The account, for a person.
    pub fn user(&self) -> Option<galien_core::ids::UserId> {
        match self {
            Joiner::Person(a) => Some(a.user),
            Joiner::Guest(_) => None,
        }
    }
}

/// Asks the gate for `action` on `patient` on behalf of `joiner`; a refusal is traced, then
/// reported as `ACC-DENIED`.
pub(crate) async fn permit_for(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    patient: PatientId,
    action: Action,
    resource: Option<ResourceRef>,
) -> Result<Permit, AppError> {
    match joiner {
        Joiner::Person(actor) => {
            Asking::new(app, actor, ctx, Some(patient))
                .await?
                .permit(action, resource)
                .await
        }
        Joiner::Guest(_) => {
            let relationships: Relationships = match joiner {
                Joiner::Guest(p) => app.store.guest_relationships(*p, patient).await?,
                Joiner::Person(_) => Relationships::none(),
            };
            let request = AccessRequest {
                principal: joiner.principal(),
                action,
                patient: Some(patient),
                relationships,
                resource,
                source: ctx.source(),
                at: app.clock.now(),
            };
            match app.gate.decide(request, app.entropy.as_ref()) {
                Ok(permit) => Ok(permit),
                Err(denial) => {
                    app.store.record_trace(denial.trace()).await?;
                    Err(AppError::Refused(ErrorCode::AccessDenied))
                }
            }
        }
    }
}

/// A permit of `joiner` for `action` on `patient` (see [`permit_for`]) with the patient's data key.
pub(crate) async fn keyed(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    patient: PatientId,
    action: Action,
    resource: Option<ResourceRef>,
) -> Result<(Permit, DataKey), AppError> {
    let permit = permit_for(app, joiner, ctx, patient, action, resource).await?;
    let key = key_for(app, &permit).await?;
    Ok((permit, key))
}

/// The patient's data key, reached with a write-side permit (borrowed, not consumed).
pub(crate) async fn key_for(app: &App, permit: &Permit) -> Result<DataKey, AppError> {
    let patient = permit
        .patient()
        .ok_or(AppError::Refused(ErrorCode::Internal))?;
    let wrapped = app
        .store
        .data_key_for(permit)
        .await?
        .ok_or(AppError::Refused(ErrorCode::DataUnreadable))?;
    app.health
        .data_key(patient, &wrapped)
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))
}

/// The resource naming one consultation in traces.
pub(crate) fn consultation_ref(id: AppointmentId) -> Option<ResourceRef> {
    Some(ResourceRef {
        kind: "consultation".into(),
        id: id.to_string(),
    })
}
