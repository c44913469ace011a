//! Documents of a patient's record (ACT-1): files shared during a call (checked by their bytes,
//! sealed with the patient's data key), the report and prescription written at closing, and the
//! documents sent to a professional.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome, ResourceRef};
use galien_core::consultation::{DocumentKind, UploadRefusal, check_upload, clean_file_name};
use galien_core::identity::Actor;
use galien_core::ids::{AppointmentId, DocumentId, ParticipantId, PatientId};
use galien_crypto::envelope::DataKey;
use galien_store::{Appointment, DocumentMeta, NewDocument};
use time::OffsetDateTime;

use super::{Joiner, consultation_ref, key_for, keyed, permit_for};
use crate::patients::access::Asking;
use crate::patients::{open_text, place};
use crate::{App, AppError, RequestContext};

/// A document as lists show it.
#[derive(Debug, Clone)]
pub struct DocumentLine {
    /// Its id.
    pub id: DocumentId,
    /// The call.
    pub appointment: Option<AppointmentId>,
    /// What it is.
    pub kind: DocumentKind,
    /// Its file name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size_bytes: u64,
    /// Who added it.
    pub author: Option<String>,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A document's bytes, to download.
#[derive(Debug)]
pub struct DocumentFile {
    /// Its file name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// The content.
    pub bytes: Vec<u8>,
}

fn line(key: &DataKey, d: &DocumentMeta) -> Result<DocumentLine, AppError> {
    Ok(DocumentLine {
        id: d.id,
        appointment: d.appointment,
        kind: d.kind,
        name: open_text(key, &d.name, &place("documents", &d.id.to_string(), "name"))?,
        media_type: d.media_type.clone(),
        size_bytes: d.size_bytes,
        author: d.author_name.clone(),
        created_at: d.created_at,
    })
}

/// Seals a document for the patient of `key`.
pub(crate) fn seal(app: &App, key: &DataKey, d: Sealing<'_>) -> NewDocument {
    let id_text = d.id.to_string();
    NewDocument {
        id: d.id,
        appointment: d.appointment,
        kind: d.kind,
        name: key.seal(
            d.name.as_bytes(),
            &place("documents", &id_text, "name"),
            app.entropy.as_ref(),
        ),
        media_type: d.media_type.to_owned(),
        size_bytes: u64::try_from(d.bytes.len()).unwrap_or(u64::MAX),
        content: key.seal(
            d.bytes,
            &place("documents", &id_text, "content"),
            app.entropy.as_ref(),
        ),
        author: d.author,
        participant: d.participant,
        created_at: d.at,
    }
}

/// What [`seal`] needs.
#[derive(Debug)]
pub(crate) struct Sealing<'a> {
    pub id: DocumentId,
    pub appointment: Option<AppointmentId>,
    pub kind: DocumentKind,
    pub name: &'a str,
    pub media_type: &'a str,
    pub bytes: &'a [u8],
    pub author: Option<galien_core::ids::UserId>,
    pub participant: Option<ParticipantId>,
    pub at: OffsetDateTime,
}

/// Shares a file in a call: refused (and traced) when empty, over 10 MiB or not a PDF/JPEG/PNG by
/// its bytes; otherwise sealed into the patient's record and announced to the call's pages.
pub async fn share(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
    participant: ParticipantId,
    file_name: &str,
    bytes: &[u8],
) -> Result<DocumentId, AppError> {
    let now = app.clock.now();
    let id = DocumentId::generate(now, app.entropy.as_ref());
    let permit = permit_for(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "document".into(),
            id: id.to_string(),
        }),
    )
    .await?;
    let media_type = match check_upload(bytes) {
        Ok(t) => t,
        Err(refusal) => {
            let code = match refusal {
                UploadRefusal::Empty => ErrorCode::DocumentEmpty,
                UploadRefusal::TooLarge => ErrorCode::DocumentTooLarge,
                UploadRefusal::WrongType => ErrorCode::DocumentType,
            };
            let mut t = permit.trace().clone();
            t.action = AuditAction::RecordWrite;
            t.outcome = Outcome::Failure;
            t.reason = Some(format!("UPLOAD-REFUSED:{}", code.as_str()));
            app.store.record_trace(&t).await?;
            return Err(AppError::Refused(code));
        }
    };
    if appointment.status.is_final() {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let key = key_for(app, &permit).await?;
    let name = clean_file_name(file_name);
    let doc = seal(
        app,
        &key,
        Sealing {
            id,
            appointment: Some(appointment.id),
            kind: DocumentKind::Shared,
            name: &name,
            media_type,
            bytes,
            author: joiner.user(),
            participant: Some(participant),
            at: now,
        },
    );
    app.store.add_document(permit, doc).await?;
    let _ = app
        .store
        .bus()
        .publish(
            super::CONTENT_TOPIC,
            serde_json::json!({ "room": appointment.id, "document": id }),
        )
        .await;
    Ok(id)
}

/// Traces an upload refused before its bytes could be read (over the size limit), with `code`.
pub async fn refuse(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
    code: ErrorCode,
) -> Result<(), AppError> {
    let permit = permit_for(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "document".into(),
            id: "-".into(),
        }),
    )
    .await?;
    let mut t = permit.trace().clone();
    t.action = AuditAction::RecordWrite;
    t.outcome = Outcome::Failure;
    t.reason = Some(format!("UPLOAD-REFUSED:{}", code.as_str()));
    app.store.record_trace(&t).await?;
    Ok(())
}

/// The documents of one call, under the joiner's `consultation.join` permit.
pub async fn of_call(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
) -> Result<Vec<DocumentLine>, AppError> {
    let (permit, key) = keyed(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        consultation_ref(appointment.id),
    )
    .await?;
    let docs = app.store.documents(permit, Some(appointment.id)).await?;
    docs.iter().map(|d| line(&key, d)).collect()
}

/// One document of a call, downloaded by someone taking part.
pub async fn download_from_call(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
    id: DocumentId,
) -> Result<DocumentFile, AppError> {
    let (permit, key) = keyed(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "document".into(),
            id: id.to_string(),
        }),
    )
    .await?;
    let (meta, sealed) = app.store.document(permit, id, Some(appointment.id)).await?;
    open_file(&key, &meta, &sealed)
}

fn open_file(key: &DataKey, meta: &DocumentMeta, sealed: &[u8]) -> Result<DocumentFile, AppError> {
    let id_text = meta.id.to_string();
    let bytes = key
        .open(sealed, &place("documents", &id_text, "content"))
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))?;
    Ok(DocumentFile {
        name: open_text(key, &meta.name, &place("documents", &id_text, "name"))?,
        media_type: meta.media_type.clone(),
        bytes: bytes.to_vec(),
    })
}

/// The patient's documents (their record's "Documents"), under a `record.read` permit: the
/// patient themself, the care team, the professionals of an act, a recipient.
pub async fn of_patient(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<Vec<DocumentLine>, AppError> {
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(Action::RecordRead, None)
        .await?;
    let key = key_for(app, &permit).await?;
    let docs = app.store.documents(permit, None).await?;
    docs.iter().map(|d| line(&key, d)).collect()
}

/// One document of the patient's record.
pub async fn download(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    id: DocumentId,
) -> Result<DocumentFile, AppError> {
    let permit = Asking::new(app, actor, ctx, Some(patient))
        .await?
        .permit(
            Action::RecordRead,
            Some(ResourceRef {
                kind: "document".into(),
                id: id.to_string(),
            }),
        )
        .await?;
    let key = key_for(app, &permit).await?;
    let (meta, sealed) = app.store.document(permit, id, None).await?;
    open_file(&key, &meta, &sealed)
}

/// Documents sent to the signed-in professional (the referring médecin): names read through the
/// gate, one permit per patient.
pub async fn received(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
) -> Result<Vec<(PatientId, DocumentLine)>, AppError> {
    let metas = app.store.received_documents(actor.user).await?;
    let mut out = Vec::with_capacity(metas.len());
    let mut patients: Vec<PatientId> = metas.iter().map(|m| m.patient).collect();
    patients.sort();
    patients.dedup();
    for patient in patients {
        // A recipient whose reading time is over is refused (and traced): those are skipped.
        let lines = match of_patient(app, actor, ctx, patient).await {
            Ok(lines) => lines,
            Err(AppError::Refused(_)) => continue,
            Err(e) => return Err(e),
        };
        for l in lines {
            if metas.iter().any(|m| m.id == l.id) {
                out.push((patient, l));
            }
        }
    }
    out.sort_by_key(|(_, l)| std::cmp::Reverse(l.created_at));
    Ok(out)
}
