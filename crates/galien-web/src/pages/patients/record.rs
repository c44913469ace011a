//! One patient's record: the summary (`GET /patients/{id}`), the NIR shown on purpose, the identity
//! correction, clinical notes, consents, the care team, and the emergency access offered on the
//! refusal page (ACC-4). What the page shows comes from `clinical::summary`: a section the gate did
//! not allow is `None` and absent from the page; a button shows only when its ability is true.

use super::{
    CsrfOnly, IdentityFields, IdentityPage, TwoIds, human_date, ins_label, iso_date, label,
    page_error, patient_id, refused,
};
use crate::WebState;
use crate::auth::{Ctx, Strong, StrongAbout};
use crate::errors::{PageError, status_for};
use crate::pages::{
    DoneQuery, Frame, checked_form, frame, human_time, messages, render, status_of,
};
use crate::texts::T;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::identity::session::Current;
use galien_app::patients::access::Ties;
use galien_app::patients::clinical::{self, Summary};
use galien_app::patients::{access_log, care, records};
use galien_app::{AppError, RequestContext};
use galien_core::identity::Email;
use galien_core::ids::{CareRelationshipId, ConsentId, PatientId};
use galien_core::patient::{ConsentMeans, ConsentSubject};
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;

/// A clinical note as shown (the summary and the patient's own record).
#[derive(Debug)]
pub(crate) struct NoteRow {
    pub(crate) author: String,
    pub(crate) when: String,
    pub(crate) emergency: bool,
    pub(crate) text: String,
}

/// A care team member as shown (the summary and the patient's own record).
#[derive(Debug)]
pub(crate) struct MemberRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) since: String,
    pub(crate) until: String,
    pub(crate) active: bool,
}

/// A consent as shown (the summary and the patient's own record).
#[derive(Debug)]
pub(crate) struct ConsentRow {
    pub(crate) id: String,
    pub(crate) subject: &'static str,
    pub(crate) given: bool,
    pub(crate) means: &'static str,
    pub(crate) by: String,
    pub(crate) when: String,
    pub(crate) withdrawn: Option<String>,
}

/// The identity as (text key, value) rows, `—` for what is not recorded.
pub(crate) fn identity_facts(v: &records::IdentityView, lang: Lang) -> Vec<(&'static str, String)> {
    let i = &v.identity;
    let none = || "—".to_owned();
    let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(none);
    vec![
        ("patients.field.birth_name", i.birth_name.clone()),
        ("patients.field.used_name", or_dash(&i.used_name)),
        ("patients.field.first_names", i.first_names.clone()),
        (
            "patients.field.used_first_name",
            or_dash(&i.used_first_name),
        ),
        (
            "patients.field.sex",
            label(lang, i.sex.label_fr(), i.sex.label_en()).to_owned(),
        ),
        ("patients.field.birth_date", human_date(i.birth_date, lang)),
        (
            "patients.field.birth_place",
            i.birth_place
                .as_ref()
                .map_or_else(none, |c| c.as_str().to_owned()),
        ),
        ("patients.field.phone", or_dash(&i.phone)),
        ("patients.field.email", or_dash(&i.email)),
        ("patients.field.address", or_dash(&i.address)),
        (
            "patients.field.referring_doctor",
            or_dash(&i.referring_doctor),
        ),
    ]
}

/// The notes of a summary, if the gate let them be read.
pub(crate) fn note_rows(s: &Summary, lang: Lang) -> Option<Vec<NoteRow>> {
    s.notes.as_ref().map(|notes| {
        notes
            .iter()
            .map(|n| NoteRow {
                author: n.author_name.clone(),
                when: human_time(n.created_at, lang),
                emergency: n.emergency,
                text: n.text.clone(),
            })
            .collect()
    })
}

/// The care team of a summary, if the gate let it be read.
pub(crate) fn team_rows(
    s: &Summary,
    lang: Lang,
    now: time::OffsetDateTime,
) -> Option<Vec<MemberRow>> {
    s.care_team.as_ref().map(|team| {
        team.iter()
            .map(|m| {
                let r = m.kind.relationship();
                MemberRow {
                    id: m.id.to_string(),
                    name: m.user_name.clone(),
                    role: label(lang, m.role.label_fr(), m.role.label_en()),
                    kind: label(lang, r.label_fr(), r.label_en()),
                    since: human_time(m.since, lang),
                    until: m
                        .ended_at
                        .or(m.until)
                        .map_or_else(|| "—".to_owned(), |u| human_time(u, lang)),
                    active: m.is_active(now),
                }
            })
            .collect()
    })
}

/// The consents of a summary, if the gate let them be read.
pub(crate) fn consent_rows(s: &Summary, lang: Lang) -> Option<Vec<ConsentRow>> {
    s.consents.as_ref().map(|consents| {
        consents
            .iter()
            .map(|c| ConsentRow {
                id: c.id.to_string(),
                subject: label(lang, c.subject.label_fr(), c.subject.label_en()),
                given: c.given,
                means: label(lang, c.means.label_fr(), c.means.label_en()),
                by: c.recorded_by_name.clone(),
                when: human_time(c.recorded_at, lang),
                withdrawn: c.withdrawn_at.map(|w| human_time(w, lang)),
            })
            .collect()
    })
}

/// What the summary's forms held when one was refused (shown again, nothing changed).
#[derive(Debug, Default)]
struct Typed {
    note: String,
    member_email: String,
    member_until: String,
    account_email: String,
    /// The telemonitoring forms (ACT-3).
    monitoring: crate::pages::monitoring::section::Typed,
}

/// What a summary shows besides the record: the NIR asked for, a notice, a refusal.
#[derive(Debug, Default)]
struct Shown {
    nir: Option<String>,
    notice: Option<&'static str>,
    errors: Vec<String>,
    typed: Typed,
}

impl Shown {
    /// The summary again after a refused change.
    fn refused(errors: Vec<String>, typed: Typed) -> Shown {
        Shown {
            errors,
            typed,
            ..Shown::default()
        }
    }
}

#[derive(Template)]
#[template(path = "patients_summary.html")]
struct SummaryPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    id: String,
    name: String,
    emergency: bool,
    ins: &'static str,
    ins_class: &'static str,
    relation: String,
    /// (text key, value)
    facts: Vec<(&'static str, String)>,
    has_nir: bool,
    nir: Option<String>,
    may_reveal: bool,
    may_edit: bool,
    notes: Option<Vec<NoteRow>>,
    may_write_note: bool,
    team: Option<Vec<MemberRow>>,
    may_manage_team: bool,
    consents: Option<Vec<ConsentRow>>,
    may_record_consent: bool,
    subjects: Vec<(&'static str, &'static str)>,
    means: Vec<(&'static str, &'static str)>,
    typed: Typed,
    today: String,
    /// The telemonitoring section (ACT-3), for those who read the clinical record.
    monitoring: Option<crate::pages::monitoring::section::Section>,
    /// The "Rendez-vous et documents" section (ACT-1).
    appointments: Option<crate::pages::appointments::section::Section>,
}

fn summary_page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    s: Summary,
    shown: Shown,
) -> SummaryPage {
    let now = state.app.clock.now();
    let v = &s.identity;
    let i = &v.identity;
    let facts = identity_facts(v, lang);
    let (ins, ins_class) = ins_label(v.ins_status, lang);
    let relation = s
        .relationships()
        .iter()
        .map(|r| label(lang, r.label_fr(), r.label_en()))
        .collect::<Vec<_>>()
        .join(", ");
    let emergency = s.relationships().iter().any(|r| r.as_str() == "emergency");
    let notes = note_rows(&s, lang);
    let team = team_rows(&s, lang, now);
    let consents = consent_rows(&s, lang);
    let id = v.id.to_string();
    SummaryPage {
        frame: frame(lang, format!("/patients/{id}"), Some(current)),
        errors: shown.errors,
        notice: shown.notice,
        csrf: current.csrf_token(),
        name: i.display_name(),
        emergency,
        ins,
        ins_class,
        relation,
        facts,
        has_nir: v.has_nir,
        nir: shown.nir,
        may_reveal: s.abilities.reveal_nir,
        may_edit: s.abilities.edit_identity,
        notes,
        may_write_note: s.abilities.write_note,
        team,
        may_manage_team: s.abilities.manage_team,
        consents,
        may_record_consent: s.abilities.record_consent,
        subjects: ConsentSubject::ALL
            .iter()
            .map(|c| (c.as_str(), label(lang, c.label_fr(), c.label_en())))
            .collect(),
        means: ConsentMeans::ALL
            .iter()
            .map(|c| (c.as_str(), label(lang, c.label_fr(), c.label_en())))
            .collect(),
        typed: shown.typed,
        today: iso_date(now.date()),
        monitoring: None,
        appointments: None,
        id,
    }
}

/// The refusal page: nothing of the record; the emergency access form when the actor may open one.
#[derive(Template)]
#[template(path = "patients_denied.html")]
struct DeniedPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    id: String,
    offer: bool,
    reason: String,
    duration: String,
    message: &'static str,
}

/// "4 h" or "90 min".
fn duration_text(d: time::Duration) -> String {
    let minutes = d.whole_minutes();
    if minutes >= 60 && minutes % 60 == 0 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

async fn denied(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    id: PatientId,
    status: StatusCode,
    errors: Vec<String>,
    reason: String,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let offer = clinical::may_break_glass(&state.app, &current.actor(), ctx, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let p = DeniedPage {
        frame: frame(lang, format!("/patients/{id}"), Some(current)),
        errors,
        csrf: current.csrf_token(),
        id: id.to_string(),
        offer,
        reason,
        duration: duration_text(state.app.settings.emergency_access),
        message: ErrorCode::AccessDenied.message(lang),
    };
    Ok(render(status, &p))
}

/// The summary with `status`, or the refusal page (403) when the gate refuses. `ties`: the
/// relationships read with the session, when the request came with them (else they are read).
async fn show_summary(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    id: PatientId,
    status: StatusCode,
    shown: Shown,
    ties: Option<Ties>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let actor = current.actor();
    let summary = match ties.filter(|t| t.patient() == id) {
        Some(ties) => clinical::summary_with_ties(&state.app, &actor, ctx, ties).await,
        None => clinical::summary(&state.app, &actor, ctx, id).await,
    };
    match summary {
        Ok(s) => {
            let typed = shown.typed.monitoring.clone();
            let t = T { lang };
            let section = crate::pages::monitoring::section::section(current, &s, id, typed, t);
            let appointments = crate::pages::appointments::section::section(current, lang, id, &s);
            let mut p = summary_page(state, current, lang, s, shown);
            p.monitoring = section;
            p.appointments = Some(appointments);
            Ok(render(status, &p))
        }
        Err(e) if e.code() == ErrorCode::AccessDenied => {
            denied(
                state,
                current,
                ctx,
                id,
                StatusCode::FORBIDDEN,
                Vec::new(),
                String::new(),
            )
            .await
        }
        Err(e) => Err(page_error(&e, lang)),
    }
}

/// `GET /patients/{id}`: the gate's facts come with the session (one read fewer).
pub async fn show(
    State(state): State<WebState>,
    StrongAbout(current, ties): StrongAbout,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let id = patient_id(&id, ctx.lang)?;
    let notice = match q.done.as_deref() {
        Some("registered") => Some("patients.done.registered"),
        Some("identity") => Some("patients.done.identity"),
        Some("note") => Some("patients.done.note"),
        Some("consent") => Some("patients.done.consent"),
        Some("consent_withdrawn") => Some("patients.done.consent_withdrawn"),
        Some("member") => Some("patients.done.member"),
        Some("member_ended") => Some("patients.done.member_ended"),
        Some("emergency") => Some("patients.done.emergency"),
        Some("account") => Some("patients.done.account"),
        Some("monitoring") => Some("monitoring.done.enrolled"),
        Some("device") => Some("monitoring.done.device"),
        _ => None,
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    show_summary(&state, &current, &ctx, id, StatusCode::OK, shown, ties).await
}

/// Back to the summary after a change, at the section changed.
fn back_to(id: PatientId, done: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/patients/{id}?done={done}#{anchor}")).into_response()
}

/// A refusal that shows as the error page rather than on the form: the gate's 403, a record that
/// does not exist or cannot be read.
fn refuses_the_page(e: &AppError) -> bool {
    matches!(
        e.code(),
        ErrorCode::AccessDenied | ErrorCode::NotFound | ErrorCode::DataUnreadable
    )
}

/// A change posted on one record's summary: who asks, the request, and the patient.
struct Change<'a> {
    state: &'a WebState,
    current: &'a Current,
    ctx: &'a RequestContext,
    id: PatientId,
}

/// The posted form of a change on a record (parsed and carrying this session's CSRF token, else the
/// error page and nothing changed), and the change on the patient named by the path.
fn posted<'a, F>(
    state: &'a WebState,
    current: &'a Current,
    ctx: &'a RequestContext,
    raw_id: &str,
    form: Result<Form<F>, FormRejection>,
    csrf: impl Fn(&F) -> &String,
) -> Result<(F, Change<'a>), PageError> {
    let form = checked_form(current, form, ctx.lang, csrf)?;
    let id = patient_id(raw_id, ctx.lang)?;
    let change = Change {
        state,
        current,
        ctx,
        id,
    };
    Ok((form, change))
}

impl Change<'_> {
    /// The use case's answer: back to the summary at the section changed (`?done=…#anchor`), or
    /// the refusal ([`Change::refused`]) with what was typed.
    async fn settle<V>(
        &self,
        result: Result<V, AppError>,
        done: &str,
        anchor: &str,
        typed: Typed,
    ) -> Result<Response, PageError> {
        match result {
            Ok(_) => Ok(back_to(self.id, done, anchor)),
            Err(e) => self.refused(e, typed).await,
        }
    }

    /// A refusal of a change: the gate's 403 as an error page; anything else, the summary again
    /// with the message (nothing was changed).
    async fn refused(&self, e: AppError, typed: Typed) -> Result<Response, PageError> {
        let lang = self.ctx.lang;
        if refuses_the_page(&e) {
            return Err(page_error(&e, lang));
        }
        let shown = Shown::refused(messages(&e, lang), typed);
        self.summary(status_of(&e), shown).await
    }

    /// The summary again with `errors` (a form that could not be read: 400, nothing changed).
    async fn again(&self, errors: Vec<String>, typed: Typed) -> Result<Response, PageError> {
        let shown = Shown::refused(errors, typed);
        self.summary(StatusCode::BAD_REQUEST, shown).await
    }

    async fn summary(&self, status: StatusCode, shown: Shown) -> Result<Response, PageError> {
        show_summary(
            self.state,
            self.current,
            self.ctx,
            self.id,
            status,
            shown,
            None,
        )
        .await
    }
}

/// `POST /patients/{id}/nir`: the summary again, with the NIR shown (traced as its own access).
pub async fn reveal_nir(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (_, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let nir = records::reveal_nir(&state.app, &current.actor(), &ctx, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let t = T { lang };
    let shown = Some(nir.map_or_else(|| t.s("patients.nir.none").to_owned(), |n| n.formatted()));
    let shown = Shown {
        nir: shown,
        ..Shown::default()
    };
    show_summary(&state, &current, &ctx, id, StatusCode::OK, shown, None).await
}

/// The identity form prefilled from the record (the NIR stays out: empty keeps it).
fn prefill(v: &records::IdentityView) -> IdentityFields {
    let i = &v.identity;
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    IdentityFields {
        csrf: String::new(),
        birth_name: i.birth_name.clone(),
        used_name: o(&i.used_name),
        first_names: i.first_names.clone(),
        used_first_name: o(&i.used_first_name),
        sex: i.sex.as_str().to_owned(),
        birth_date: iso_date(i.birth_date),
        birth_place: i
            .birth_place
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        nir: String::new(),
        ins_status: v.ins_status.as_str().to_owned(),
        phone: o(&i.phone),
        email: o(&i.email),
        address: o(&i.address),
        referring_doctor: o(&i.referring_doctor),
    }
}

/// `GET /patients/{id}/identity`: the correction form.
pub async fn identity_form(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let id = patient_id(&id, lang)?;
    let (view, _) = records::identity(&state.app, &current.actor(), &ctx, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let p = IdentityPage::new(
        lang,
        &current,
        Some((id, view.has_nir)),
        Vec::new(),
        prefill(&view),
        state.app.clock.now().date(),
    );
    Ok(render(StatusCode::OK, &p))
}

/// `POST /patients/{id}/identity`.
pub async fn identity_submit(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<IdentityFields>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let today = state.app.clock.now().date();
    let actor = current.actor();
    let (status, errors) = match records::IdentityInput::parse(&form.raw(), today) {
        Ok(input) => match records::update_identity(&state.app, &actor, &ctx, id, input).await {
            Ok(()) => return Ok(back_to(id, "identity", "identite")),
            Err(e) if refuses_the_page(&e) => return Err(page_error(&e, lang)),
            Err(e) => (status_of(&e), messages(&e, lang)),
        },
        Err(code) => (
            status_for(code.class()),
            vec![code.message(lang).to_owned()],
        ),
    };
    // Whether a NIR is recorded, for the hint (read under the same gate).
    let (view, _) = records::identity(&state.app, &actor, &ctx, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let p = IdentityPage::new(
        lang,
        &current,
        Some((id, view.has_nir)),
        errors,
        form,
        today,
    );
    Ok(render(status, &p))
}

/// The note form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    text: String,
}

/// `POST /patients/{id}/notes`.
pub async fn add_note(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, FormRejection>,
) -> Result<Response, PageError> {
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let added = clinical::add_note(&state.app, &current.actor(), &ctx, id, &form.text).await;
    let typed = Typed {
        note: form.text,
        ..Typed::default()
    };
    change.settle(added, "note", "notes", typed).await
}

/// The consent form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    subject: String,
    /// `yes` (given) or `no` (refused).
    decision: String,
    means: String,
}

/// `POST /patients/{id}/consents`.
pub async fn record_consent(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let given = match form.decision.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let (Some(subject), Some(given), Some(means)) = (
        ConsentSubject::parse(&form.subject),
        given,
        ConsentMeans::parse(&form.means),
    ) else {
        let e = AppError::Refused(ErrorCode::FormInvalid);
        return change.refused(e, Typed::default()).await;
    };
    let recorded = clinical::record_consent(
        &state.app,
        &current.actor(),
        &ctx,
        id,
        subject,
        given,
        means,
    )
    .await;
    let typed = Typed::default();
    change
        .settle(recorded, "consent", "consentements", typed)
        .await
}

/// `POST /patients/{id}/consents/{cid}/withdraw`.
pub async fn withdraw_consent(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path((id, cid)): TwoIds,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (_, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let cid: ConsentId = cid
        .parse()
        .map_err(|_| refused(ErrorCode::NotFound, lang))?;
    let withdrawn = clinical::withdraw_consent(&state.app, &current.actor(), &ctx, id, cid).await;
    let typed = Typed::default();
    change
        .settle(withdrawn, "consent_withdrawn", "consentements", typed)
        .await
}

/// The care team form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemberForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    email: String,
    /// `YYYY-MM-DD`, included; empty: until ended.
    until: String,
}

/// `POST /patients/{id}/team`.
pub async fn add_member(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<MemberForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let typed = Typed {
        member_email: form.email.clone(),
        member_until: form.until.clone(),
        ..Typed::default()
    };
    let Some(email) = Email::parse(&form.email) else {
        let e = AppError::Refused(ErrorCode::EmailInvalid);
        return change.refused(e, typed).await;
    };
    let today = state.app.clock.now().date();
    let until = match form.until.trim() {
        "" => None,
        raw => match records::parse_date(raw) {
            Some(day) if day >= today => day.next_day().map(|d| d.midnight().assume_utc()),
            _ => {
                let t = T { lang };
                let errors = vec![t.s("patients.team.until_invalid").to_owned()];
                return change.again(errors, typed).await;
            }
        },
    };
    let added = care::add_member(&state.app, &current.actor(), &ctx, id, &email, until).await;
    change.settle(added, "member", "equipe", typed).await
}

/// `POST /patients/{id}/team/{rid}/end`.
pub async fn end_member(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path((id, rid)): TwoIds,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (_, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let rid: CareRelationshipId = rid
        .parse()
        .map_err(|_| refused(ErrorCode::NotFound, lang))?;
    let ended = care::end_member(&state.app, &current.actor(), &ctx, id, rid).await;
    let typed = Typed::default();
    change.settle(ended, "member_ended", "equipe", typed).await
}

/// The emergency access form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmergencyForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    reason: String,
}

/// `POST /patients/{id}/emergency`: opens an emergency access (break-the-glass), then the record.
pub async fn open_emergency(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<EmergencyForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    match care::open_emergency(&state.app, &current.actor(), &ctx, id, &form.reason).await {
        Ok(_until) => Ok(back_to(id, "emergency", "contenu")),
        Err(e) if e.code() == ErrorCode::EmergencyReasonRequired => {
            let errors = messages(&e, lang);
            denied(
                &state,
                &current,
                &ctx,
                id,
                status_of(&e),
                errors,
                form.reason,
            )
            .await
        }
        Err(e) => Err(page_error(&e, lang)),
    }
}

/// The form linking the patient's own account to the record.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    account_email: String,
}

/// `POST /patients/{id}/account`: links the patient's own account (role patient) to the record, so
/// they read it as themselves and see who accessed it (TRACE-4). Routed by `my_record::routes`.
pub async fn link_account(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Result<Response, PageError> {
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let typed = Typed {
        account_email: form.account_email.clone(),
        ..Typed::default()
    };
    let Some(email) = Email::parse(&form.account_email) else {
        let e = AppError::Refused(ErrorCode::EmailInvalid);
        return change.refused(e, typed).await;
    };
    let linked = access_log::link_account(&state.app, &current.actor(), &ctx, id, &email).await;
    change.settle(linked, "account", "compte", typed).await
}

/// `POST /patients/{id}/monitoring`: enrols the patient in telemonitoring, recording their consent
/// and naming the monitoring professionals (ACT-3). Routed by `monitoring::routes`.
pub async fn enrol_monitoring(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<crate::pages::monitoring::section::EnrolForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let typed = Typed {
        monitoring: form.typed(),
        ..Typed::default()
    };
    let input = match form.read(T { lang }) {
        Ok(input) => input,
        Err(errors) => return change.again(errors, typed).await,
    };
    let enrolled = galien_app::telemonitoring::enrol::enrol(
        &state.app,
        &current.actor(),
        &ctx,
        id,
        input.programme,
        None,
        &input.hours,
        &input.monitors,
        input.means,
    )
    .await;
    change
        .settle(enrolled, "monitoring", "telesurveillance", typed)
        .await
}

/// `POST /patients/{id}/monitoring/devices`: attaches a device (a machine client of kind
/// `device`) to the patient's enrolment (ACT-3). Routed by `monitoring::routes`.
pub async fn attach_device(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<crate::pages::monitoring::section::DeviceForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (form, change) = posted(&state, &current, &ctx, &id, form, |f| &f.csrf)?;
    let id = change.id;
    let typed = Typed {
        monitoring: form.typed(),
        ..Typed::default()
    };
    let attached = match form.client() {
        Some(client) => {
            galien_app::telemonitoring::enrol::attach_device(
                &state.app,
                &current.actor(),
                &ctx,
                id,
                client,
            )
            .await
        }
        None => Err(AppError::Refused(ErrorCode::NotFound)),
    };
    match attached {
        Err(e) => match crate::pages::monitoring::section::device_refusal(e.code(), T { lang }) {
            Some(message) => change.again(vec![message], typed).await,
            None => change.refused(e, typed).await,
        },
        attached => {
            change
                .settle(attached, "device", "telesurveillance", typed)
                .await
        }
    }
}
