//! One appointment (`GET /appointments/{id}`) and what each person may do there: the patient's
//! consent before the call (GDPR-3, `POST …/consent`) then the waiting room; the médecin's call,
//! guests (`POST …/guests`: the single-use link shown once), closing and the no-show
//! (`POST …/no-show`); cancelling, confirmed (`POST …/cancel`). Buttons show by ability; the use
//! cases decide again, and their gate traces.

use super::{StatusBadge, appointment_id, badge, failed, kind_label, size_text, when};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::CsrfOnly;
use crate::pages::{Frame, checked_form, frame, messages, render, status_of};
use crate::texts::T;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::session::Current;
use galien_app::teleconsultation::{appointments, call, documents};
use galien_app::{AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::consultation::AppointmentStatus;
use galien_core::identity::Role;
use galien_core::ids::AppointmentId;
use serde::Deserialize;

/// A document of the appointment, as listed.
#[derive(Debug)]
pub(crate) struct DocRow {
    pub(crate) name: String,
    pub(crate) href: String,
    pub(crate) kind: &'static str,
    pub(crate) when: String,
    pub(crate) size: String,
    pub(crate) author: String,
}

/// A guest's single-use link, shown once.
#[derive(Debug)]
pub(crate) struct GuestLink {
    url: String,
    until: String,
}

/// What the page shows besides the appointment: a notice, a refusal, a link shown once.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    pub(crate) notice: Option<&'static str>,
    /// The call page sent the patient here to consent first.
    pub(crate) consent_first: bool,
    pub(crate) errors: Vec<String>,
    /// The activation link of the patient's new account (booking only).
    pub(crate) invitation: Option<String>,
    pub(crate) guest: Option<GuestLink>,
    pub(crate) guest_label: String,
}

#[derive(Template)]
#[template(path = "appointments_detail.html")]
struct DetailPage {
    frame: Frame,
    notice: Option<&'static str>,
    consent_first: bool,
    errors: Vec<String>,
    csrf: String,
    id: String,
    when: String,
    duration: u16,
    patient: String,
    /// The patient's record, for the professionals who see their identity.
    patient_href: Option<String>,
    practitioner: String,
    reason: Option<String>,
    status: StatusBadge,
    consented: bool,
    is_final: bool,
    consent_form: bool,
    patient_join: bool,
    practitioner_join: bool,
    may_invite: bool,
    may_close: bool,
    may_no_show: bool,
    may_cancel: bool,
    invitation: Option<String>,
    guest: Option<GuestLink>,
    guest_label: String,
    documents: Option<Vec<DocRow>>,
    back: (&'static str, &'static str),
}

/// The notice of `?done=…`.
pub(crate) fn notice_of(done: &str) -> &'static str {
    match done {
        "booked_mailed" => "apt.done.booked_mailed",
        "consent" => "apt.done.consent",
        "cancelled" => "apt.done.cancelled",
        "no_show" => "apt.done.no_show",
        "closed" => "apt.done.closed",
        _ => "apt.done.booked",
    }
}

/// Whether the appointment may still be cancelled or marked a no-show.
fn before_the_call(s: AppointmentStatus) -> bool {
    matches!(s, AppointmentStatus::Scheduled | AppointmentStatus::Waiting)
}

/// The documents of appointment `id`, for someone who reads the record (else `None`: the section
/// is left out, and nothing is asked of the gate that it would refuse).
async fn documents_of(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    v: &appointments::AppointmentView,
) -> Result<Option<Vec<DocRow>>, PageError> {
    let lang = ctx.lang;
    if v.reason.is_none() {
        return Ok(None);
    }
    let a = &v.appointment;
    let lines = documents::of_patient(&state.app, &current.actor(), ctx, a.patient).await;
    let lines = match lines {
        Ok(lines) => lines,
        Err(e) if e.code() == ErrorCode::AccessDenied => return Ok(None),
        Err(e) => return Err(failed(&e, lang)),
    };
    Ok(Some(
        lines
            .iter()
            .filter(|d| d.appointment == Some(a.id))
            .map(|d| doc_row(d, a.patient, v.is_patient, lang))
            .collect(),
    ))
}

/// A document as listed; the patient downloads from "Mes documents", others from the record.
pub(crate) fn doc_row(
    d: &documents::DocumentLine,
    patient: galien_core::ids::PatientId,
    own: bool,
    lang: galien_core::Lang,
) -> DocRow {
    DocRow {
        name: d.name.clone(),
        href: if own {
            format!("/me/documents/{}", d.id)
        } else {
            format!("/patients/{patient}/documents/{}", d.id)
        },
        kind: kind_label(d.kind, lang),
        when: when(d.created_at, lang),
        size: size_text(d.size_bytes, lang),
        author: d.author.clone().unwrap_or_else(|| "—".to_owned()),
    }
}

/// The page of appointment `id` with `status`, or the error page when the gate refuses.
pub(crate) async fn page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    id: AppointmentId,
    status: StatusCode,
    shown: Shown,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    let v = appointments::view(&state.app, &current.actor(), ctx, id)
        .await
        .map_err(|e| failed(&e, lang))?;
    let documents = documents_of(state, current, ctx, &v).await?;
    let a = &v.appointment;
    let is_final = a.status.is_final();
    let consented = a.consent.is_some();
    let role = current.user.role;
    let patient_href = match (&v.patient_name, v.is_patient) {
        (Some(_), false) if crate::pages::sees_patients(role) => {
            Some(format!("/patients/{}", a.patient))
        }
        _ => None,
    };
    let back = if v.is_patient {
        ("/me/appointments", "apt.back.mine")
    } else {
        ("/appointments", "apt.back.day")
    };
    let p = DetailPage {
        frame: frame(lang, format!("/appointments/{id}"), Some(current)),
        notice: shown.notice,
        consent_first: shown.consent_first && v.is_patient && !consented && !is_final,
        errors: shown.errors,
        csrf: current.csrf_token(),
        id: id.to_string(),
        when: when(a.scheduled_at, lang),
        duration: a.duration_minutes,
        patient: v
            .patient_name
            .clone()
            .unwrap_or_else(|| t.s("apt.patient.unknown").to_owned()),
        patient_href,
        practitioner: a.practitioner_name.clone(),
        reason: v.reason.clone(),
        status: badge(a.status, lang),
        consented,
        is_final,
        consent_form: v.is_patient && !consented && !is_final,
        patient_join: v.is_patient && consented && !is_final,
        practitioner_join: v.is_practitioner && !is_final,
        may_invite: v.is_practitioner && !is_final,
        may_close: v.is_practitioner && !is_final,
        may_no_show: (v.is_practitioner || role == Role::Secretaire) && before_the_call(a.status),
        may_cancel: v.may_manage && before_the_call(a.status),
        invitation: shown.invitation,
        guest: shown.guest,
        guest_label: shown.guest_label,
        documents,
        back,
    };
    Ok(render(status, &p))
}

/// The query of the page: the change just made, or `consent=required` (from the call page).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailQuery {
    done: Option<String>,
    consent: Option<String>,
}

/// `GET /appointments/{id}`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let id = appointment_id(&id, ctx.lang)?;
    let shown = Shown {
        notice: q.done.as_deref().map(notice_of),
        consent_first: q.consent.as_deref() == Some("required"),
        ..Shown::default()
    };
    page(&state, &current, &ctx, id, StatusCode::OK, shown).await
}

/// A refusal that is the error page rather than a message on the appointment's page.
fn refuses_the_page(e: &AppError) -> bool {
    matches!(
        e.code(),
        ErrorCode::AccessDenied
            | ErrorCode::NotFound
            | ErrorCode::DataUnreadable
            | ErrorCode::CallClosed
    )
}

/// The use case's answer to a button: back to the page with `?done=…`, or the refusal — the error
/// page (gate, closed call) or the page again with the message (nothing was changed).
async fn settle(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    id: AppointmentId,
    result: Result<(), AppError>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/appointments/{id}?done={done}")).into_response()),
        Err(e) if refuses_the_page(&e) => Err(failed(&e, ctx.lang)),
        Err(e) => {
            let shown = Shown {
                errors: messages(&e, ctx.lang),
                ..Shown::default()
            };
            page(state, current, ctx, id, status_of(&e), shown).await
        }
    }
}

/// `POST /appointments/{id}/consent`: the patient consents to the teleconsultation (GDPR-3).
pub async fn consent(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    checked_form(&current, form, ctx.lang, |f| &f.csrf)?;
    let id = appointment_id(&id, ctx.lang)?;
    let given = appointments::consent(&state.app, &current.actor(), &ctx, id)
        .await
        .map(|_| ());
    settle(&state, &current, &ctx, id, given, "consent").await
}

/// The cancellation form: the box that confirms it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    confirm: String,
}

/// `POST /appointments/{id}/cancel`: cancels, once the box is ticked.
pub async fn cancel(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CancelForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let id = appointment_id(&id, lang)?;
    if form.confirm != "yes" {
        let shown = Shown {
            errors: vec![T { lang }.s("apt.cancel.confirm_needed").to_owned()],
            ..Shown::default()
        };
        return page(&state, &current, &ctx, id, StatusCode::BAD_REQUEST, shown).await;
    }
    let to = AppointmentStatus::Cancelled;
    let done = appointments::end_without_call(&state.app, &current.actor(), &ctx, id, to).await;
    settle(&state, &current, &ctx, id, done, "cancelled").await
}

/// `POST /appointments/{id}/no-show`: the patient did not come.
pub async fn no_show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    checked_form(&current, form, ctx.lang, |f| &f.csrf)?;
    let id = appointment_id(&id, ctx.lang)?;
    let to = AppointmentStatus::NoShow;
    let done = appointments::end_without_call(&state.app, &current.actor(), &ctx, id, to).await;
    settle(&state, &current, &ctx, id, done, "no_show").await
}

/// The guest form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GuestForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    label: String,
}

/// `POST /appointments/{id}/guests`: the médecin invites a guest; the page shows the single-use
/// link once (it carries no health data).
pub async fn invite_guest(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<GuestForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let id = appointment_id(&id, lang)?;
    match call::invite_guest(&state.app, &current.actor(), &ctx, id, &form.label).await {
        Ok(invitation) => {
            let shown = Shown {
                guest: Some(GuestLink {
                    url: invitation.url,
                    until: when(invitation.expires_at, lang),
                }),
                ..Shown::default()
            };
            page(&state, &current, &ctx, id, StatusCode::OK, shown).await
        }
        Err(e) if refuses_the_page(&e) => Err(failed(&e, lang)),
        Err(e) => {
            let errors = if e.code() == ErrorCode::FormInvalid {
                vec![T { lang }.s("apt.guest.label_needed").to_owned()]
            } else {
                messages(&e, lang)
            };
            let shown = Shown {
                errors,
                guest_label: form.label,
                ..Shown::default()
            };
            page(&state, &current, &ctx, id, status_of(&e), shown).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act1_notices_and_the_moments_a_button_shows() {
        assert_eq!(notice_of("consent"), "apt.done.consent");
        assert_eq!(notice_of("anything"), "apt.done.booked");
        assert!(before_the_call(AppointmentStatus::Waiting));
        assert!(!before_the_call(AppointmentStatus::InProgress));
        assert!(!before_the_call(AppointmentStatus::Cancelled));
    }
}
