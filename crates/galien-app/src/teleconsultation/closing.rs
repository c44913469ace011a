//! Closing a teleconsultation (ACT-1): the médecin writes the report (compte rendu) and, when
//! needed, a prescription (ordonnance); both are rendered as PDF in-process (`galien-pdf`), sealed
//! into the patient's documents and sent to the referring médecin (an in-app document, a link by
//! e-mail). Closing ends the room: every page leaves and nobody can rejoin.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::consultation::DocumentKind;
use galien_core::identity::Actor;
use galien_core::ids::{AppointmentId, CareRelationshipId, DocumentId};
use galien_store::{CareKind, Closing, NewCareRelationship};
use time::Duration;

use super::documents::{Sealing, seal};
use super::{consultation_ref, key_for};
use crate::patients::access::Asking;
use crate::{App, AppError, RequestContext};

/// Longest report, in characters.
pub const MAX_REPORT_CHARS: usize = 20_000;
/// Most prescription lines.
pub const MAX_LINES: usize = 20;
/// How long the referring médecin may open the patient's record to read what was sent.
pub const RECIPIENT_ACCESS: Duration = Duration::days(30);

/// One prescription line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The medication (DCI, dosage form).
    pub medication: String,
    /// Posology.
    pub dosage: String,
    /// Duration.
    pub duration: String,
}

/// What the médecin wrote.
#[derive(Debug, Clone, Default)]
pub struct Conclusion {
    /// The report's body.
    pub report: String,
    /// Its conclusion.
    pub conclusion: String,
    /// The prescription lines (none: no prescription).
    pub lines: Vec<Line>,
    /// Notes on the prescription.
    pub notes: String,
    /// The patient's weight, when it matters for the prescription.
    pub weight_kg: String,
}

/// What closing produced.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The report.
    pub report: DocumentId,
    /// The prescription, if any.
    pub prescription: Option<DocumentId>,
    /// The referring médecin was sent both.
    pub sent_to_referring: bool,
}

fn trimmed(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Closes the consultation `id` (its médecin only, under `record.write`).
pub async fn close(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
    c: Conclusion,
) -> Result<Closed, AppError> {
    let report = c.report.trim();
    let lines: Vec<Line> = c
        .lines
        .into_iter()
        .filter(|l| !(l.medication.trim().is_empty() && l.dosage.trim().is_empty()))
        .collect();
    if report.is_empty()
        || report.chars().count() > MAX_REPORT_CHARS
        || lines.len() > MAX_LINES
        || lines
            .iter()
            .any(|l| l.medication.trim().is_empty() || l.dosage.trim().is_empty())
    {
        return Err(AppError::Refused(ErrorCode::ReportInvalid));
    }
    let a = app.store.appointment(id).await?;
    if a.practitioner != actor.user {
        // Only the médecin of the call closes it; anyone else's attempt is traced.
        super::call::trace_refusal(
            app,
            Some(&super::Joiner::Person(actor.clone())),
            ctx,
            id,
            Some(a.patient),
            "ACCESS-DENIED:consultation.close",
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    if a.status.is_final() {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let asking = Asking::new(app, actor, ctx, Some(a.patient)).await?;
    let (identity, _) = crate::patients::records::identity(app, actor, ctx, a.patient).await?;
    let permit = asking
        .permit(Action::RecordWrite, consultation_ref(id))
        .await?;
    let key = key_for(app, &permit).await?;
    let reason = {
        let read = asking
            .permit(Action::RecordRead, consultation_ref(id))
            .await?;
        let sealed = app.store.appointment_reason(read, id).await?;
        crate::patients::open_text(
            &key,
            &sealed,
            &crate::patients::place("appointments", &id.to_string(), "reason"),
        )?
    };
    let me = app.store.user(actor.user).await?;
    let now = app.clock.now();
    let lang = ctx.lang;
    let organisation = galien_pdf::Organisation {
        name: me
            .organisation
            .clone()
            .unwrap_or_else(|| "Galien — téléconsultation".to_owned()),
        address_lines: Vec::new(),
        phone: None,
    };
    let prescriber = galien_pdf::Prescriber {
        name: me.display_name.clone(),
        profession: match lang {
            galien_core::Lang::Fr => "Médecin".to_owned(),
            galien_core::Lang::En => "Physician".to_owned(),
        },
        rpps: match &me.professional_id {
            Some(galien_core::identity::ProfessionalId::Rpps(n)) => Some(n.clone()),
            _ => None,
        },
    };
    let patient_line = galien_pdf::PatientLine {
        name: identity.identity.display_name(),
        birth_date: Some(identity.identity.birth_date),
        sex: Some(match lang {
            galien_core::Lang::Fr => identity.identity.sex.label_fr().to_owned(),
            galien_core::Lang::En => identity.identity.sex.label_en().to_owned(),
        }),
        weight_kg: trimmed(&c.weight_kg),
    };
    let report_id = DocumentId::generate(now, app.entropy.as_ref());
    let report_pdf = galien_pdf::report_pdf(&galien_pdf::Report {
        lang,
        organisation: organisation.clone(),
        author: prescriber.clone(),
        patient: patient_line.clone(),
        act_at: app.settings.time_zone.local(a.started_at.unwrap_or(now)),
        reason,
        body: report.to_owned(),
        conclusion: trimmed(&c.conclusion),
        document_id: report_id.to_string(),
    })
    .map_err(|e| {
        tracing::error!(error = %e, "report PDF failed");
        AppError::Refused(ErrorCode::Internal)
    })?;
    let (fr, en) = (
        "Compte rendu de téléconsultation",
        "Teleconsultation report",
    );
    let day = now.date();
    let name = |fr: &str, en: &str| match lang {
        galien_core::Lang::Fr => format!("{fr} {day}.pdf"),
        galien_core::Lang::En => format!("{en} {day}.pdf"),
    };
    let mut documents = vec![seal(
        app,
        &key,
        Sealing {
            id: report_id,
            appointment: Some(id),
            kind: DocumentKind::Report,
            name: &name(fr, en),
            media_type: "application/pdf",
            bytes: &report_pdf,
            author: Some(actor.user),
            participant: None,
            at: now,
        },
    )];
    let mut prescription = None;
    if !lines.is_empty() {
        let pid = DocumentId::generate(now, app.entropy.as_ref());
        let pdf = galien_pdf::prescription_pdf(&galien_pdf::Prescription {
            lang,
            organisation,
            prescriber,
            patient: patient_line,
            issued_at: app.settings.time_zone.local(now),
            lines: lines
                .iter()
                .map(|l| galien_pdf::PrescriptionLine {
                    medication: l.medication.trim().to_owned(),
                    dosage: l.dosage.trim().to_owned(),
                    duration: l.duration.trim().to_owned(),
                })
                .collect(),
            notes: trimmed(&c.notes),
            document_id: pid.to_string(),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "prescription PDF failed");
            AppError::Refused(ErrorCode::Internal)
        })?;
        documents.push(seal(
            app,
            &key,
            Sealing {
                id: pid,
                appointment: Some(id),
                kind: DocumentKind::Prescription,
                name: &name("Ordonnance", "Prescription"),
                media_type: "application/pdf",
                bytes: &pdf,
                author: Some(actor.user),
                participant: None,
                at: now,
            },
        ));
        prescription = Some(pid);
    }
    let recipients: Vec<_> = a
        .referring
        .into_iter()
        .filter(|r| *r != actor.user)
        .collect();
    let relationships = recipients
        .iter()
        .map(|r| NewCareRelationship {
            id: CareRelationshipId::generate(now, app.entropy.as_ref()),
            patient: a.patient,
            user: *r,
            kind: CareKind::Act,
            reference: Some(format!("appointment:{id}:recipient")),
            added_by: Some(actor.user),
            since: now,
            until: Some(now + RECIPIENT_ACCESS),
        })
        .collect();
    let closed = app
        .store
        .close_consultation(
            permit,
            Closing {
                appointment: id,
                by: actor.user,
                at: now,
                documents,
                recipients: recipients.clone(),
                recipient_relationships: relationships,
            },
        )
        .await?;
    if !closed {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let _ = app
        .store
        .bus()
        .publish(super::CLOSED_TOPIC, serde_json::json!({ "room": id }))
        .await;
    // The recipients and the patient hear of it by e-mail: a link, no health data.
    if let Some(mailer) = app.mailer.as_ref() {
        let mut to = Vec::new();
        for r in &recipients {
            if let Ok(u) = app.store.user(*r).await {
                to.push((
                    u.email,
                    format!("{}/documents/received", app.settings.public_url),
                ));
            }
        }
        if let Some(user) = identity.account
            && let Ok(u) = app.store.user(user).await
        {
            to.push((u.email, format!("{}/me/documents", app.settings.public_url)));
        }
        for (email, url) in to {
            let body = format!(
                "Bonjour,\n\nUn nouveau document vous attend dans Galien : {url}\n\n\
                 Ce message ne contient aucune information médicale.\n\n-- \nGalien\n\n\
                 (English) A new document is waiting for you in Galien: {url}\n"
            );
            if let Err(e) = mailer
                .send(&email, "Nouveau document — Galien", &body)
                .await
            {
                tracing::warn!(error = %e, "could not mail a document notice");
            }
        }
    }
    Ok(Closed {
        report: report_id,
        prescription,
        sent_to_referring: !recipients.is_empty(),
    })
}
