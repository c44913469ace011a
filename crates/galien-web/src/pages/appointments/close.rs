//! Closing a teleconsultation (ACT-1): `GET /appointments/{id}/close` (the médecin's form: report,
//! conclusion, prescription lines, notes, weight) and `POST` (the report and prescription PDFs go
//! to the patient's documents and to the referring médecin; the room closes for good).
//!
//! Prescription lines are rows of three fields posted under the same names (`medication`, `dosage`,
//! `duration`), so that the "add a line" button (`/assets/appointments.js`) only copies a row;
//! without JavaScript the form offers [`ROWS`] rows.

use super::{StatusBadge, appointment_id, badge, failed, when};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::refused;
use crate::pages::{Frame, frame, messages, render, status_of};
use crate::texts::T;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::RequestContext;
use galien_app::identity::session::Current;
use galien_app::teleconsultation::appointments;
use galien_app::teleconsultation::closing::{self, Conclusion, Line, MAX_LINES, MAX_REPORT_CHARS};
use galien_core::ErrorCode;
use galien_core::ids::AppointmentId;

/// Prescription rows the form starts with.
pub(crate) const ROWS: usize = 3;

/// One prescription row as typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) medication: String,
    pub(crate) dosage: String,
    pub(crate) duration: String,
}

/// The closing form as typed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CloseFields {
    csrf: String,
    pub(crate) report: String,
    pub(crate) conclusion: String,
    pub(crate) rows: Vec<Row>,
    pub(crate) notes: String,
    pub(crate) weight_kg: String,
}

impl CloseFields {
    /// Reads the posted pairs in order: the n-th `medication`, `dosage` and `duration` make row n.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> CloseFields {
        let mut f = CloseFields::default();
        let (mut meds, mut doses, mut lengths) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in pairs {
            match k.as_str() {
                "_csrf" => f.csrf = v,
                "report" => f.report = v,
                "conclusion" => f.conclusion = v,
                "notes" => f.notes = v,
                "weight_kg" => f.weight_kg = v,
                "medication" => meds.push(v),
                "dosage" => doses.push(v),
                "duration" => lengths.push(v),
                _ => {}
            }
        }
        let n = meds.len().max(doses.len()).max(lengths.len());
        let take = |v: &mut std::vec::IntoIter<String>| v.next().unwrap_or_default();
        let (mut m, mut d, mut l) = (meds.into_iter(), doses.into_iter(), lengths.into_iter());
        f.rows = (0..n)
            .map(|_| Row {
                medication: take(&mut m),
                dosage: take(&mut d),
                duration: take(&mut l),
            })
            .collect();
        f
    }

    /// What the use case reads (empty rows are left out there).
    fn conclusion(&self) -> Conclusion {
        Conclusion {
            report: self.report.clone(),
            conclusion: self.conclusion.clone(),
            lines: self
                .rows
                .iter()
                .map(|r| Line {
                    medication: r.medication.clone(),
                    dosage: r.dosage.clone(),
                    duration: r.duration.clone(),
                })
                .collect(),
            notes: self.notes.clone(),
            weight_kg: self.weight_kg.clone(),
        }
    }

    /// The rows to show: what was typed, then empty rows up to [`ROWS`]; each with its number
    /// (from 1) and its legend ("Ligne 2").
    fn shown_rows(&self, t: T) -> Vec<ShownRow> {
        let mut rows: Vec<Row> = self.rows.clone();
        while rows.len() < ROWS {
            rows.push(Row::default());
        }
        rows.into_iter()
            .enumerate()
            .map(|(i, row)| ShownRow {
                n: i + 1,
                legend: t
                    .s("apt.close.line")
                    .replacen("{}", &(i + 1).to_string(), 1),
                row,
            })
            .collect()
    }
}

/// A prescription row on the page.
#[derive(Debug)]
pub(crate) struct ShownRow {
    n: usize,
    legend: String,
    row: Row,
}

#[derive(Template)]
#[template(path = "appointments_close.html")]
struct ClosePage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    id: String,
    patient: String,
    when: String,
    status: StatusBadge,
    form: CloseFields,
    rows: Vec<ShownRow>,
    max_lines: usize,
    max_report: usize,
}

/// The form for the médecin of the call, while it is open; else the error page.
async fn page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    id: AppointmentId,
    status: StatusCode,
    errors: Vec<String>,
    form: CloseFields,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let v = appointments::view(&state.app, &current.actor(), ctx, id)
        .await
        .map_err(|e| failed(&e, lang))?;
    if !v.is_practitioner {
        return Err(refused(ErrorCode::AccessDenied, lang));
    }
    if v.appointment.status.is_final() {
        return Err(refused(ErrorCode::CallClosed, lang));
    }
    let rows = form.shown_rows(T { lang });
    let p = ClosePage {
        frame: frame(lang, format!("/appointments/{id}/close"), Some(current)),
        errors,
        csrf: current.csrf_token(),
        id: id.to_string(),
        patient: v.patient_name.unwrap_or_else(|| "—".to_owned()),
        when: when(v.appointment.scheduled_at, lang),
        status: badge(v.appointment.status, lang),
        form: CloseFields {
            csrf: String::new(),
            ..form
        },
        rows,
        max_lines: MAX_LINES,
        max_report: MAX_REPORT_CHARS,
    };
    Ok(render(status, &p))
}

/// `GET /appointments/{id}/close`.
pub async fn form(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = appointment_id(&id, ctx.lang)?;
    let empty = CloseFields::default();
    page(
        &state,
        &current,
        &ctx,
        id,
        StatusCode::OK,
        Vec::new(),
        empty,
    )
    .await
}

/// `POST /appointments/{id}/close`: closes, then the appointment's page; a report without content
/// or a line without medication or dosage shows the form again (nothing changed).
pub async fn submit(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let Ok(Form(pairs)) = form else {
        return Err(refused(ErrorCode::FormInvalid, lang));
    };
    let form = CloseFields::from_pairs(pairs);
    if !current.csrf_ok(&form.csrf) {
        return Err(refused(ErrorCode::CsrfInvalid, lang));
    }
    let id = appointment_id(&id, lang)?;
    match closing::close(&state.app, &current.actor(), &ctx, id, form.conclusion()).await {
        Ok(_) => Ok(Redirect::to(&format!("/appointments/{id}?done=closed")).into_response()),
        Err(e) if e.code() == ErrorCode::ReportInvalid => {
            let errors = messages(&e, lang);
            page(&state, &current, &ctx, id, status_of(&e), errors, form).await
        }
        Err(e) => Err(failed(&e, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn act1_prescription_rows_are_read_in_order() {
        let f = CloseFields::from_pairs(pairs(&[
            ("_csrf", "x"),
            ("report", "Examen rassurant."),
            ("medication", "Paracétamol 1 g"),
            ("dosage", "1 cp x 3/j"),
            ("duration", "5 jours"),
            ("medication", "Ibuprofène 200 mg"),
            ("dosage", "1 cp si douleur"),
            ("duration", ""),
            ("medication", ""),
            ("dosage", ""),
            ("duration", ""),
            ("weight_kg", "72"),
        ]));
        assert_eq!(f.rows.len(), 3);
        assert_eq!(f.rows[1].medication, "Ibuprofène 200 mg");
        assert_eq!(f.rows[1].dosage, "1 cp si douleur");
        let c = f.conclusion();
        assert_eq!(c.lines.len(), 3, "empty rows are dropped by the use case");
        assert_eq!(c.weight_kg, "72");
        // A form posted without any row still shows three.
        let bare = CloseFields::from_pairs(pairs(&[("report", "x")]));
        let t = T {
            lang: galien_core::Lang::Fr,
        };
        let shown = bare.shown_rows(t);
        assert_eq!(shown.len(), ROWS);
        assert_eq!((shown[0].n, shown[2].legend.as_str()), (1, "Ligne 3"));
    }
}
