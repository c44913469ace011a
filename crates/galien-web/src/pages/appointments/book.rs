//! Booking a teleconsultation (ACT-1): `GET /appointments/new` (the form; `?patient=<id>` when
//! coming from the patient's summary), `POST /appointments/new/search` (finding the patient by NIR
//! or by name and birth date, POSTed so that neither lands in a URL), `POST /appointments/new`.
//!
//! A booking that created the patient's account shows its activation link once, on the
//! appointment's page (the link is a secret: it never goes into a redirect's URL).

use super::{books, detail, failed, medecins};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::{PageError, status_for};
use crate::pages::patients::{human_date, patient_id, require};
use crate::pages::{
    Frame, checked_form, frame, local_input, messages, parse_local, render, status_of,
};
use crate::texts::T;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::RequestContext;
use galien_app::identity::session::Current;
use galien_app::patients::records;
use galien_app::teleconsultation::appointments::{self, Booking, MAX_REASON_CHARS};
use galien_core::ErrorCode;
use galien_core::identity::Role;
use galien_core::ids::{PatientId, UserId};
use galien_core::nir::Nir;
use serde::Deserialize;

/// Minutes offered when the form is new.
pub(crate) const DEFAULT_DURATION: &str = "20";

/// The booking form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BookFields {
    #[serde(rename = "_csrf")]
    csrf: String,
    patient: String,
    practitioner: String,
    at: String,
    duration: String,
    reason: String,
    referring: String,
}

/// The patient search as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SearchFields {
    #[serde(rename = "_csrf")]
    csrf: String,
    /// `nir` or `name`.
    by: String,
    nir: String,
    name: String,
    birth_date: String,
}

/// The chosen patient.
#[derive(Debug)]
struct Chosen {
    name: String,
    birth_date: String,
}

/// A patient found by the search.
#[derive(Debug)]
struct Found {
    href: String,
    name: String,
    birth_date: String,
}

#[derive(Template)]
#[template(path = "appointments_new.html")]
struct BookPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    patient: Option<Chosen>,
    search: SearchFields,
    results: Option<Vec<Found>>,
    /// (value, name, selected)
    medecins: Vec<(String, String, bool)>,
    /// (value, name, selected); the first is "none".
    referrers: Vec<(String, String, bool)>,
    form: BookFields,
    /// Earliest time offered (`datetime-local`, UTC).
    min_at: String,
    max_reason: usize,
}

/// What the page shows besides the form.
#[derive(Debug, Default)]
struct Shown {
    errors: Vec<String>,
    patient: Option<PatientId>,
    search: SearchFields,
    results: Option<Vec<Found>>,
    form: BookFields,
}

async fn page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    status: StatusCode,
    shown: Shown,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let patient = match shown.patient {
        None => None,
        Some(id) => {
            let (view, _) = records::identity(&state.app, &current.actor(), ctx, id)
                .await
                .map_err(|e| failed(&e, lang))?;
            Some(Chosen {
                name: view.identity.display_name(),
                birth_date: human_date(view.identity.birth_date, lang),
            })
        }
    };
    let list = medecins(state, lang).await?;
    let mut form = shown.form;
    if form.practitioner.is_empty() && current.user.role == Role::Medecin {
        form.practitioner = current.user.id.to_string();
    }
    if form.duration.is_empty() {
        form.duration = DEFAULT_DURATION.to_owned();
    }
    let options = |selected: &str| -> Vec<(String, String, bool)> {
        list.iter()
            .map(|(id, name)| {
                let id = id.to_string();
                let on = id == selected;
                (id, name.clone(), on)
            })
            .collect()
    };
    let medecins = options(&form.practitioner);
    let mut referrers = vec![(
        String::new(),
        T { lang }.s("apt.field.none").to_owned(),
        form.referring.is_empty(),
    )];
    referrers.extend(options(&form.referring));
    let p = BookPage {
        frame: frame(lang, "/appointments/new", Some(current)),
        errors: shown.errors,
        csrf: current.csrf_token(),
        patient,
        search: SearchFields {
            csrf: String::new(),
            ..shown.search
        },
        results: shown.results,
        medecins,
        referrers,
        form: BookFields {
            csrf: String::new(),
            ..form
        },
        min_at: local_input(state.app.clock.now()),
        max_reason: MAX_REASON_CHARS,
    };
    Ok(render(status, &p))
}

/// The query of the form: the patient chosen beforehand.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FormQuery {
    patient: Option<String>,
}

/// `GET /appointments/new`.
pub async fn form(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<FormQuery>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    require(books(current.user.role), lang)?;
    let patient = match q.patient.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(patient_id(raw, lang)?),
    };
    let shown = Shown {
        patient,
        form: BookFields {
            patient: patient.map(|p| p.to_string()).unwrap_or_default(),
            ..BookFields::default()
        },
        ..Shown::default()
    };
    page(&state, &current, &ctx, StatusCode::OK, shown).await
}

/// `POST /appointments/new/search`: finds the patient, by NIR or by name and birth date.
pub async fn search(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<SearchFields>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    require(books(current.user.role), lang)?;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let actor = current.actor();
    let again = |errors: Vec<String>, search: SearchFields| Shown {
        errors,
        search,
        ..Shown::default()
    };
    let found = if form.by == "nir" {
        let Ok(nir) = Nir::parse(&form.nir) else {
            let code = ErrorCode::NirInvalid;
            let shown = again(vec![code.message(lang).to_owned()], form);
            return page(&state, &current, &ctx, status_for(code.class()), shown).await;
        };
        records::search_by_nir(&state.app, &actor, &ctx, &nir).await
    } else {
        let date = records::parse_date(&form.birth_date);
        let (Some(date), false) = (date, form.name.trim().is_empty()) else {
            let errors = vec![T { lang }.s("patients.search.name_needed").to_owned()];
            let shown = again(errors, form);
            return page(&state, &current, &ctx, StatusCode::BAD_REQUEST, shown).await;
        };
        records::search_by_name(&state.app, &actor, &ctx, &form.name, date).await
    };
    match found {
        Ok(cards) => {
            let results = cards
                .iter()
                .map(|c| Found {
                    href: format!("/appointments/new?patient={}", c.id),
                    name: c.display_name.clone(),
                    birth_date: human_date(c.birth_date, lang),
                })
                .collect();
            let shown = Shown {
                search: form,
                results: Some(results),
                ..Shown::default()
            };
            page(&state, &current, &ctx, StatusCode::OK, shown).await
        }
        Err(e) if e.code() == ErrorCode::AccessDenied => Err(failed(&e, lang)),
        Err(e) => {
            let status = status_of(&e);
            let shown = again(messages(&e, lang), form);
            page(&state, &current, &ctx, status, shown).await
        }
    }
}

/// The booking as the use case wants it, or the message saying what is missing.
fn parse(form: &BookFields, t: T) -> Result<Booking, String> {
    let invalid = || ErrorCode::AppointmentInvalid.message(t.lang).to_owned();
    let Ok(patient) = form.patient.trim().parse::<PatientId>() else {
        return Err(t.s("apt.new.choose_patient_first").to_owned());
    };
    let practitioner: UserId = form.practitioner.trim().parse().map_err(|_| invalid())?;
    let at = match parse_local(&form.at) {
        Ok(Some(at)) => at,
        _ => return Err(invalid()),
    };
    let duration_minutes: u16 = form.duration.trim().parse().map_err(|_| invalid())?;
    let referring = match form.referring.trim() {
        "" => None,
        raw => Some(raw.parse::<UserId>().map_err(|_| invalid())?),
    };
    Ok(Booking {
        patient,
        practitioner,
        at,
        duration_minutes,
        reason: form.reason.clone(),
        referring,
    })
}

/// `POST /appointments/new`: books, then the appointment's page.
pub async fn submit(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<BookFields>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    require(books(current.user.role), lang)?;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let chosen = form.patient.trim().parse::<PatientId>().ok();
    let again = |status: StatusCode, errors: Vec<String>, form: BookFields| {
        let shown = Shown {
            errors,
            patient: chosen,
            form,
            ..Shown::default()
        };
        page(&state, &current, &ctx, status, shown)
    };
    let booking = match parse(&form, T { lang }) {
        Ok(b) => b,
        Err(message) => return again(StatusCode::BAD_REQUEST, vec![message], form).await,
    };
    match appointments::book(&state.app, &current.actor(), &ctx, booking).await {
        Ok(booked) => {
            let done = if booked.mailed {
                "booked_mailed"
            } else {
                "booked"
            };
            match booked.invitation_url {
                // The new account's activation link, shown once: no redirect.
                Some(url) => {
                    let shown = detail::Shown {
                        notice: Some(detail::notice_of(done)),
                        invitation: Some(url),
                        ..detail::Shown::default()
                    };
                    detail::page(&state, &current, &ctx, booked.id, StatusCode::OK, shown).await
                }
                None => {
                    let to = format!("/appointments/{}?done={done}", booked.id);
                    Ok(Redirect::to(&to).into_response())
                }
            }
        }
        Err(e) if matches!(e.code(), ErrorCode::AccessDenied | ErrorCode::NotFound) => {
            Err(failed(&e, lang))
        }
        Err(e) => again(status_of(&e), messages(&e, lang), form).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::Lang;

    #[test]
    fn act1_a_booking_form_is_parsed_or_says_what_is_missing() {
        let t = T { lang: Lang::Fr };
        let mut f = BookFields {
            patient: "0190a5e0-0000-7000-8000-000000000001".into(),
            practitioner: "0190a5e0-0000-7000-8000-000000000002".into(),
            at: "2026-12-01T09:30".into(),
            duration: "20".into(),
            reason: "Suivi tension".into(),
            ..BookFields::default()
        };
        let b = parse(&f, t).unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(b.duration_minutes, 20);
        assert!(b.referring.is_none());
        f.patient.clear();
        assert_eq!(
            parse(&f, t).err().as_deref(),
            Some(t.s("apt.new.choose_patient_first"))
        );
        f.patient = "0190a5e0-0000-7000-8000-000000000001".into();
        for (at, duration) in [("demain", "20"), ("2026-12-01T09:30", "vingt")] {
            f.at = at.into();
            f.duration = duration.into();
            assert_eq!(
                parse(&f, t).err().as_deref(),
                Some(ErrorCode::AppointmentInvalid.message(Lang::Fr))
            );
        }
    }
}
