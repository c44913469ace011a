//! Clinical notes (sealed with the patient's data key), consents (GDPR-3), the patient summary that
//! gathers what the actor may see, and crypto-shredding.

use galien_access::{Action, Relationship, Relationships};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef};
use galien_core::identity::Actor;
use galien_core::ids::{AuditEventId, ConsentId, NoteId, PatientId, UserId};
use galien_core::patient::{ConsentMeans, ConsentSubject};
use galien_store::{
    Appointment, CareRelationship, Consent, Enrolment, NewConsent, NewNote, SummaryPermits,
};
use time::OffsetDateTime;

use super::access::{Asking, Ties, permit};
use super::records::{IdentityView, view_of};
use super::{open_text, place};
use crate::{App, AppError, RequestContext};

/// The longest clinical note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 20_000;

/// A clinical note, opened.
#[derive(Debug, Clone)]
pub struct NoteView {
    /// Its id.
    pub id: NoteId,
    /// Author's name.
    pub author_name: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// Written under an emergency access.
    pub emergency: bool,
    /// The text.
    pub text: String,
}

/// Adds a clinical note.
pub async fn add_note(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    text: &str,
) -> Result<NoteId, AppError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    let now = app.clock.now();
    let id = NoteId::generate(now, app.entropy.as_ref());
    let resource = Some(ResourceRef {
        kind: "clinical_note".into(),
        id: id.to_string(),
    });
    let write = asking.permit(Action::RecordWrite, resource).await?;
    let wrapped = app
        .store
        .data_key_for(&write)
        .await?
        .ok_or(AppError::Refused(ErrorCode::DataUnreadable))?;
    let key = app
        .health
        .data_key(patient, &wrapped)
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))?;
    let id_text = id.to_string();
    let body = key.seal(
        text.as_bytes(),
        &place("clinical_notes", &id_text, "body"),
        app.entropy.as_ref(),
    );
    app.store
        .add_clinical_note(
            write,
            NewNote {
                id,
                author: actor.user,
                created_at: now,
                body,
            },
        )
        .await?;
    Ok(id)
}

/// Records a consent (or a refusal) about `subject`.
pub async fn record_consent(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    subject: ConsentSubject,
    given: bool,
    means: ConsentMeans,
) -> Result<ConsentId, AppError> {
    let now = app.clock.now();
    let id = ConsentId::generate(now, app.entropy.as_ref());
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::ConsentRecord,
            Some(ResourceRef {
                kind: "consent".into(),
                id: id.to_string(),
            }),
        )
        .await?;
    app.store
        .record_consent(
            permit,
            NewConsent {
                id,
                subject,
                given,
                means,
                recorded_by: actor.user,
                recorded_at: now,
            },
        )
        .await?;
    Ok(id)
}

/// Withdraws a consent.
pub async fn withdraw_consent(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    consent: ConsentId,
) -> Result<bool, AppError> {
    let permit = permit(app, actor, ctx, Action::ConsentRecord, Some(patient)).await?;
    Ok(app
        .store
        .withdraw_consent(permit, consent, actor.user, app.clock.now())
        .await?)
}

/// What the actor may do on the summary page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Abilities {
    /// Reveal the NIR.
    pub reveal_nir: bool,
    /// Correct the identity.
    pub edit_identity: bool,
    /// Write a clinical note.
    pub write_note: bool,
    /// Manage the care team.
    pub manage_team: bool,
    /// Record a consent.
    pub record_consent: bool,
}

/// The patient summary: the identity, and each section the actor may see (`None` when not).
#[derive(Debug, Clone)]
pub struct Summary {
    /// Identity.
    pub identity: IdentityView,
    /// The actor's relationships with the patient, as read for this summary.
    relationships: Relationships,
    /// Clinical notes.
    pub notes: Option<Vec<NoteView>>,
    /// Care team.
    pub care_team: Option<Vec<CareRelationship>>,
    /// Consents.
    pub consents: Option<Vec<Consent>>,
    /// The current telemonitoring enrolment, shown with the notes (`Some(None)`: not enrolled).
    pub enrolment: Option<Option<Enrolment>>,
    /// The appointments, newest first (metadata: each reason is read under its own permit).
    pub appointments: Vec<Appointment>,
    /// What the actor may do.
    pub abilities: Abilities,
}

/// The summary. A refused identity read is `ACC-DENIED` (traced); sections are fetched only when the
/// policies allow them, each under its own traced permit, all in one read of the store: the
/// appointments come with the identity, the telemonitoring enrolment with the notes.
pub async fn summary(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<Summary, AppError> {
    summary_as(Asking::new(app, actor, ctx, Some(patient)).await?).await
}

/// [`summary`] of the patient of `ties`, on the relationships read with the actor's session.
pub async fn summary_with_ties(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    ties: Ties,
) -> Result<Summary, AppError> {
    summary_as(Asking::with_ties(app, actor, ctx, ties).await?).await
}

async fn summary_as(asking: Asking<'_>) -> Result<Summary, AppError> {
    let app = asking.app();
    // Every section the actor may see, each under its own permit, read from one snapshot; a
    // section not allowed is left out without a trace (as `allows` would), never read.
    let permits = SummaryPermits {
        identity: asking.permit(Action::IdentityRead, None).await?,
        notes: asking.permit_if_allowed(Action::RecordRead, None),
        team: asking.permit_if_allowed(Action::CareTeamRead, None),
        consents: asking.permit_if_allowed(Action::ConsentRead, None),
    };
    let rows = app.store.patient_summary(permits).await?;
    let (identity, key) = view_of(app, &rows.patient)?;
    let notes = match rows.notes {
        Some(rows) => {
            let mut out = Vec::with_capacity(rows.len());
            for n in rows {
                let id = n.id.to_string();
                out.push(NoteView {
                    text: open_text(&key, &n.body, &place("clinical_notes", &id, "body"))?,
                    id: n.id,
                    author_name: n.author_name,
                    created_at: n.created_at,
                    emergency: n.emergency,
                });
            }
            Some(out)
        }
        None => None,
    };
    let care_team = rows.team;
    let consents = rows.consents;
    let abilities = Abilities {
        reveal_nir: identity.has_nir && asking.allows(Action::NirRead),
        edit_identity: asking.allows(Action::IdentityWrite),
        write_note: asking.allows(Action::RecordWrite),
        manage_team: asking.allows(Action::CareTeamManage),
        record_consent: asking.allows(Action::ConsentRecord),
    };
    Ok(Summary {
        identity,
        relationships: asking.relationships().clone(),
        notes,
        care_team,
        consents,
        enrolment: rows.enrolment,
        appointments: rows.appointments,
        abilities,
    })
}

impl Summary {
    /// The actor's relationships with the patient.
    pub fn relationships(&self) -> &Relationships {
        &self.relationships
    }
}

/// Whether the actor could open an emergency access to this patient (a médecin without another
/// relationship): what the refusal page offers.
pub async fn may_break_glass(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<bool, AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    Ok(asking.allows(Action::EmergencyOpen)
        && !asking.relationships().contains(Relationship::Emergency))
}

/// Destroys the patient's data key (crypto-shredding, at the end of retention): identity, NIR and
/// clinical text become unreadable for good; the act is traced. `false` if it was already done.
pub async fn shred(
    app: &App,
    ctx: &RequestContext,
    by: Option<UserId>,
    patient: PatientId,
    reason: &str,
) -> Result<bool, AppError> {
    let now = app.clock.now();
    let trace = AuditEvent {
        id: AuditEventId::generate(now, app.entropy.as_ref()),
        at: now,
        actor: AuditActor {
            user: by,
            client: by.is_none().then(|| "galien-retention".to_owned()),
            ..AuditActor::default()
        },
        action: AuditAction::RecordShredded,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "patient_data_key".into(),
            id: patient.to_string(),
        }),
        patient: Some(patient),
        purpose: Some("retention".into()),
        emergency: false,
        source: ctx.source(),
        reason: Some(reason.to_owned()),
    };
    Ok(app.store.shred_patient_key(patient, trace).await?)
}
