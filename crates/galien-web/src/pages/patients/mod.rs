//! Patients' records (DATA-2, ACC-3, ACC-4, GDPR-3): `/patients` (my patients, search by NIR or by
//! name and birth date), `/patients/new` (registration), and each record's pages in [`record`].
//!
//! Every page asks `galien_app::patients`, whose gate decides and traces; a refusal becomes a 403
//! page with nothing of the record in it. Searches are POSTed: a NIR, a name or a birth date never
//! lands in a URL (history, proxies, logs). Only two-factor sessions get here ([`Strong`]).

pub mod record;

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::{PageError, status_for};
use crate::pages::{
    DoneQuery, Frame, checked_form, frame, messages, render, sees_patients, status_of,
};
use crate::texts::T;
use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, extract::Path};
use galien_app::AppError;
use galien_app::identity::session::Current;
use galien_app::patients::care;
use galien_app::patients::records::{self, IdentityInput, PatientCard, RawIdentity};
use galien_core::identity::Role;
use galien_core::ids::PatientId;
use galien_core::nir::Nir;
use galien_core::patient::{InsStatus, Sex};
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;
use time::Date;

/// The patients' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/patients", get(list).post(search))
        .route("/patients/new", get(new_form).post(register))
        .route("/patients/{id}", get(record::show))
        .route("/patients/{id}/nir", post(record::reveal_nir))
        .route(
            "/patients/{id}/identity",
            get(record::identity_form).post(record::identity_submit),
        )
        .route("/patients/{id}/notes", post(record::add_note))
        .route("/patients/{id}/consents", post(record::record_consent))
        .route(
            "/patients/{id}/consents/{cid}/withdraw",
            post(record::withdraw_consent),
        )
        .route("/patients/{id}/team", post(record::add_member))
        .route("/patients/{id}/team/{rid}/end", post(record::end_member))
        .route("/patients/{id}/emergency", post(record::open_emergency))
}

/// One of two labels, by language.
pub(crate) fn label(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// A date for people: `01/12/1984` in French, `1984-12-01` in English.
pub(crate) fn human_date(d: Date, lang: Lang) -> String {
    match lang {
        Lang::Fr => format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year()),
        Lang::En => format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
    }
}

/// `YYYY-MM-DD`, as date inputs want it.
pub(crate) fn iso_date(d: Date) -> String {
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The error page for a use case's refusal (storage failures logged, never shown).
pub(crate) fn page_error(e: &AppError, lang: Lang) -> PageError {
    if let AppError::Store(err) = e {
        tracing::error!(error = %err, "storage failed while serving a patient page");
    }
    PageError {
        code: e.code(),
        lang,
    }
}

/// An error page for `code`.
pub(crate) fn refused(code: ErrorCode, lang: Lang) -> PageError {
    PageError { code, lang }
}

/// Through when `allowed`; else the 403 page, nothing shown.
pub(crate) fn require(allowed: bool, lang: Lang) -> Result<(), PageError> {
    if allowed {
        Ok(())
    } else {
        Err(refused(ErrorCode::AccessDenied, lang))
    }
}

/// A patient id from the path; one that does not parse is a page that does not exist.
pub(crate) fn patient_id(raw: &str, lang: Lang) -> Result<PatientId, PageError> {
    raw.parse().map_err(|_| refused(ErrorCode::NotFound, lang))
}

/// The INS status's label and the class that colours it (identitovigilance: seen at a glance).
pub(crate) fn ins_label(status: InsStatus, lang: Lang) -> (&'static str, &'static str) {
    let class = match status {
        InsStatus::Qualified => "ins ins-qualified",
        InsStatus::Validated | InsStatus::Retrieved => "ins ins-partial",
        InsStatus::Provisional => "ins ins-provisional",
    };
    (label(lang, status.label_fr(), status.label_en()), class)
}

/// A patient in a list.
#[derive(Debug)]
pub(crate) struct CardRow {
    href: String,
    name: String,
    birth_date: String,
    sex: &'static str,
    ins: &'static str,
    ins_class: &'static str,
}

fn card_row(c: &PatientCard, lang: Lang) -> CardRow {
    let (ins, ins_class) = ins_label(c.ins_status, lang);
    CardRow {
        href: format!("/patients/{}", c.id),
        name: c.display_name.clone(),
        birth_date: human_date(c.birth_date, lang),
        sex: label(lang, c.sex.label_fr(), c.sex.label_en()),
        ins,
        ins_class,
    }
}

/// The roles offered the registration link (the gate decides in the end).
fn may_register(role: Role) -> bool {
    matches!(
        role,
        Role::Medecin | Role::Infirmier | Role::SageFemme | Role::Arm | Role::Secretaire
    )
}

/// The search form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    /// `nir` or `name`.
    by: String,
    nir: String,
    name: String,
    birth_date: String,
}

#[derive(Template)]
#[template(path = "patients_list.html")]
struct ListPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    may_register: bool,
    mine: Vec<CardRow>,
    form: SearchForm,
    results: Option<Vec<CardRow>>,
}

/// Only the roles that work with records reach the list (others: 403, nothing shown).
fn require_care(current: &Current, lang: Lang) -> Result<(), PageError> {
    require(sees_patients(current.user.role), lang)
}

/// What the list shows besides "my patients".
#[derive(Debug, Default)]
struct Listed {
    errors: Vec<String>,
    notice: Option<&'static str>,
    form: SearchForm,
    results: Option<Vec<CardRow>>,
}

impl Listed {
    /// The search form again, with a message.
    fn refused(errors: Vec<String>, form: SearchForm) -> Listed {
        Listed {
            errors,
            form,
            ..Listed::default()
        }
    }
}

async fn list_page(
    state: &WebState,
    current: &Current,
    ctx: &galien_app::RequestContext,
    status: StatusCode,
    listed: Listed,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let mine = care::my_patients(&state.app, &current.actor(), ctx)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let p = ListPage {
        frame: frame(lang, "/patients", Some(current)),
        errors: listed.errors,
        notice: listed.notice,
        csrf: current.csrf_token(),
        may_register: may_register(current.user.role),
        mine: mine.iter().map(|c| card_row(c, lang)).collect(),
        form: SearchForm {
            csrf: String::new(),
            ..listed.form
        },
        results: listed.results,
    };
    Ok(render(status, &p))
}

/// `GET /patients`: my patients and the search forms.
pub async fn list(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    require_care(&current, ctx.lang)?;
    let notice = match q.done.as_deref() {
        Some("registered") => Some("patients.done.registered"),
        _ => None,
    };
    let listed = Listed {
        notice,
        ..Listed::default()
    };
    list_page(&state, &current, &ctx, StatusCode::OK, listed).await
}

/// `POST /patients`: a search, by NIR or by name and birth date.
pub async fn search(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<SearchForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    require_care(&current, lang)?;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let actor = current.actor();
    let bad = |status: StatusCode, message: String, form: SearchForm| {
        list_page(
            &state,
            &current,
            &ctx,
            status,
            Listed::refused(vec![message], form),
        )
    };
    let found = if form.by == "nir" {
        let Ok(nir) = Nir::parse(&form.nir) else {
            let code = ErrorCode::NirInvalid;
            return bad(
                status_for(code.class()),
                code.message(lang).to_owned(),
                form,
            )
            .await;
        };
        records::search_by_nir(&state.app, &actor, &ctx, &nir).await
    } else {
        let date = records::parse_date(&form.birth_date);
        let (Some(date), false) = (date, form.name.trim().is_empty()) else {
            return bad(
                StatusCode::BAD_REQUEST,
                t.s("patients.search.name_needed").to_owned(),
                form,
            )
            .await;
        };
        records::search_by_name(&state.app, &actor, &ctx, &form.name, date).await
    };
    match found {
        Ok(cards) => {
            let rows = cards.iter().map(|c| card_row(c, lang)).collect();
            let listed = Listed {
                form,
                results: Some(rows),
                ..Listed::default()
            };
            list_page(&state, &current, &ctx, StatusCode::OK, listed).await
        }
        Err(e) if e.code() == ErrorCode::AccessDenied => Err(page_error(&e, lang)),
        Err(e) => {
            let status = status_of(&e);
            let listed = Listed::refused(messages(&e, lang), form);
            list_page(&state, &current, &ctx, status, listed).await
        }
    }
}

/// The identity form's fields as typed (registration and correction).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct IdentityFields {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
    pub(crate) birth_name: String,
    pub(crate) used_name: String,
    pub(crate) first_names: String,
    pub(crate) used_first_name: String,
    pub(crate) sex: String,
    pub(crate) birth_date: String,
    pub(crate) birth_place: String,
    pub(crate) nir: String,
    pub(crate) ins_status: String,
    pub(crate) phone: String,
    pub(crate) email: String,
    pub(crate) address: String,
    pub(crate) referring_doctor: String,
}

impl IdentityFields {
    /// What the use case parses.
    pub(crate) fn raw(&self) -> RawIdentity {
        RawIdentity {
            birth_name: self.birth_name.clone(),
            used_name: self.used_name.clone(),
            first_names: self.first_names.clone(),
            used_first_name: self.used_first_name.clone(),
            sex: self.sex.clone(),
            birth_date: self.birth_date.clone(),
            birth_place: self.birth_place.clone(),
            nir: self.nir.clone(),
            ins_status: self.ins_status.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            referring_doctor: self.referring_doctor.clone(),
        }
    }
}

/// The registration and correction form.
#[derive(Template)]
#[template(path = "patients_identity.html")]
pub(crate) struct IdentityPage {
    pub(crate) frame: Frame,
    pub(crate) errors: Vec<String>,
    pub(crate) csrf: String,
    /// Correcting a recorded identity (else registering).
    pub(crate) editing: bool,
    /// Where the form posts.
    pub(crate) action: String,
    /// Where "cancel" goes.
    pub(crate) back: String,
    /// A NIR is recorded (correction: an empty field keeps it).
    pub(crate) has_nir: bool,
    pub(crate) form: IdentityFields,
    /// (value, label, selected)
    pub(crate) sexes: Vec<(&'static str, &'static str, bool)>,
    /// (value, label, selected)
    pub(crate) statuses: Vec<(&'static str, &'static str, bool)>,
    /// Latest birth date accepted.
    pub(crate) today: String,
}

impl IdentityPage {
    /// The page for `form`: registration when `record` is `None`, else the correction of that
    /// record (and whether it has a NIR).
    pub(crate) fn new(
        lang: Lang,
        current: &Current,
        record: Option<(PatientId, bool)>,
        errors: Vec<String>,
        form: IdentityFields,
        today: Date,
    ) -> IdentityPage {
        let (here, back, has_nir) = match record {
            Some((id, has_nir)) => (
                format!("/patients/{id}/identity"),
                format!("/patients/{id}"),
                has_nir,
            ),
            None => ("/patients/new".to_owned(), "/patients".to_owned(), false),
        };
        let status = if form.ins_status.is_empty() {
            "provisional"
        } else {
            form.ins_status.as_str()
        };
        let sexes = Sex::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    label(lang, s.label_fr(), s.label_en()),
                    s.as_str() == form.sex,
                )
            })
            .collect();
        let statuses = InsStatus::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    label(lang, s.label_fr(), s.label_en()),
                    s.as_str() == status,
                )
            })
            .collect();
        IdentityPage {
            frame: frame(lang, here.clone(), Some(current)),
            errors,
            csrf: current.csrf_token(),
            editing: record.is_some(),
            action: here,
            back,
            has_nir,
            form: IdentityFields {
                csrf: String::new(),
                ..form
            },
            sexes,
            statuses,
            today: iso_date(today),
        }
    }
}

/// `GET /patients/new`.
pub async fn new_form(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    require_care(&current, ctx.lang)?;
    let p = IdentityPage::new(
        ctx.lang,
        &current,
        None,
        Vec::new(),
        IdentityFields::default(),
        state.app.clock.now().date(),
    );
    Ok(render(StatusCode::OK, &p))
}

/// `POST /patients/new`: registers the patient, then shows their record.
pub async fn register(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<IdentityFields>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    let today = state.app.clock.now().date();
    let again = |status: StatusCode, errors: Vec<String>, form: IdentityFields| {
        let p = IdentityPage::new(lang, &current, None, errors, form, today);
        Ok(render(status, &p))
    };
    let input = match IdentityInput::parse(&form.raw(), today) {
        Ok(input) => input,
        Err(code) => {
            return again(
                status_for(code.class()),
                vec![code.message(lang).to_owned()],
                form,
            );
        }
    };
    match records::register(&state.app, &current.actor(), &ctx, input).await {
        Ok(id) => Ok(Redirect::to(&format!("/patients/{id}?done=registered")).into_response()),
        Err(e) if e.code() == ErrorCode::AccessDenied => Err(page_error(&e, lang)),
        Err(e) => again(status_of(&e), messages(&e, lang), form),
    }
}

/// A form with nothing but the CSRF token (buttons).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
}

/// Two path segments (the record and one of its items).
pub(crate) type TwoIds = Path<(String, String)>;
