//! The patient's own pages (TRACE-4): `GET /me/record` ("Mon dossier": their record, read-only, as
//! `clinical::summary` gives it to them as "self") and `GET /me/access-log` ("Qui a consulté mon
//! dossier ?": who accessed the record, when, with which role, what, why and how it ended). A patient
//! account not yet linked to a record gets a kind explanation. Others get 403.
//!
//! Also mounts `POST /patients/{id}/account` ([`record::link_account`]), by which a secretary or a
//! doctor links the patient's account to their record (the patients' router is not ours to edit).

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::record::{self, ConsentRow, MemberRow, NoteRow};
use crate::pages::patients::{ins_label, label, page_error, require};
use crate::pages::{Frame, frame, human_time, render};
use crate::texts::T;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use galien_app::identity::session::Current;
use galien_app::patients::access_log::{self, AccessEntry};
use galien_app::patients::clinical::{self, Summary};
use galien_core::Lang;
use galien_core::audit::Outcome;
use galien_core::identity::Role;

/// The patient's routes, and the link of their account to the record.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/me/record", get(show))
        .route("/me/access-log", get(log))
        .route("/patients/{id}/account", post(record::link_account))
}

/// How many accesses the log shows (the newest).
pub(crate) const LOG_LIMIT: u32 = 200;

/// The kinds of data named in traces, each with a label `me.data.<kind>`.
pub(crate) const DATA_KINDS: &[&str] = &[
    "clinical_record",
    "clinical_note",
    "patient_identity",
    "patient_nir",
    "care_team",
    "consent",
    "access_log",
    "emergency_access",
];

/// The purposes recorded in traces, each with a label `me.purpose.<purpose>`.
pub(crate) const PURPOSES: &[&str] = &[
    "care_team",
    "act",
    "monitoring",
    "regulation",
    "emergency_access",
    "self",
];

fn role_label(role: Role, lang: Lang) -> &'static str {
    label(lang, role.label_fr(), role.label_en())
}

/// The kind of data touched, for the patient.
fn data_label(kind: Option<&str>, t: T) -> &'static str {
    match kind {
        None => "—",
        Some("care_team_member" | "care_relationship") => t.s("me.data.care_team"),
        Some(k) if DATA_KINDS.contains(&k) => t.s(&format!("me.data.{k}")),
        Some(_) => t.s("me.data.other"),
    }
}

/// Why, for the patient: the relationship that allowed it.
fn purpose_label(purpose: Option<&str>, t: T) -> String {
    match purpose {
        None => t.s("me.purpose.none").to_owned(),
        Some("emergency") => t.s("me.purpose.emergency_access").to_owned(),
        Some(p) if PURPOSES.contains(&p) => t.s(&format!("me.purpose.{p}")).to_owned(),
        Some(other) => other.to_owned(),
    }
}

/// The patient only.
pub(crate) fn require_patient(current: &Current, lang: Lang) -> Result<(), PageError> {
    require(current.user.role == Role::Patient, lang)
}

/// The record, read-only.
#[derive(Debug)]
struct Record {
    name: String,
    ins: &'static str,
    ins_class: &'static str,
    /// (text key, value)
    facts: Vec<(&'static str, String)>,
    notes: Option<Vec<NoteRow>>,
    team: Option<Vec<MemberRow>>,
    consents: Option<Vec<ConsentRow>>,
}

fn record_of(s: Summary, lang: Lang, now: time::OffsetDateTime) -> Record {
    let v = &s.identity;
    let mut facts = record::identity_facts(v, lang);
    // The patient's page has never listed the birth place.
    facts.retain(|(key, _)| *key != "patients.field.birth_place");
    let (ins, ins_class) = ins_label(v.ins_status, lang);
    Record {
        name: v.identity.display_name(),
        ins,
        ins_class,
        facts,
        notes: record::note_rows(&s, lang),
        team: record::team_rows(&s, lang, now),
        consents: record::consent_rows(&s, lang),
    }
}

#[derive(Template)]
#[template(path = "my_record.html")]
struct RecordPage {
    frame: Frame,
    /// `None`: the account is not linked to a record yet.
    record: Option<Record>,
}

/// `GET /me/record`: the patient's record, read-only.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    require_patient(&current, lang)?;
    let actor = current.actor();
    let own = access_log::own_record(&state.app, &actor)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let record = match own {
        None => None,
        Some(id) => {
            let s = clinical::summary(&state.app, &actor, &ctx, id)
                .await
                .map_err(|e| page_error(&e, lang))?;
            Some(record_of(s, lang, state.app.clock.now()))
        }
    };
    let p = RecordPage {
        frame: frame(lang, "/me/record", Some(&current)),
        record,
    };
    Ok(render(StatusCode::OK, &p))
}

/// One access, as the patient reads it.
#[derive(Debug)]
struct LogRow {
    when: String,
    who: String,
    role: &'static str,
    what: &'static str,
    data: &'static str,
    why: String,
    outcome: &'static str,
    refused: bool,
    emergency: bool,
}

fn log_row(e: &AccessEntry, t: T, lang: Lang) -> LogRow {
    LogRow {
        when: human_time(e.at, lang),
        who: e.who.clone(),
        role: e.role.map_or("—", |r| role_label(r, lang)),
        what: t.s(&format!("dpo.action.{}", e.action)),
        data: data_label(e.data.as_deref(), t),
        why: purpose_label(e.purpose.as_deref(), t),
        outcome: t.s(&format!("me.outcome.{}", e.outcome)),
        refused: e.outcome != Outcome::Success,
        emergency: e.emergency,
    }
}

#[derive(Template)]
#[template(path = "my_access_log.html")]
struct LogPage {
    frame: Frame,
    linked: bool,
    rows: Vec<LogRow>,
    /// The limit was reached (older accesses not shown).
    full: bool,
}

/// `GET /me/access-log`: who accessed the patient's record, newest first.
pub async fn log(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    require_patient(&current, lang)?;
    let actor = current.actor();
    let own = access_log::own_record(&state.app, &actor)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let entries = match own {
        None => Vec::new(),
        Some(id) => access_log::access_log(&state.app, &actor, &ctx, id, LOG_LIMIT)
            .await
            .map_err(|e| page_error(&e, lang))?,
    };
    let p = LogPage {
        frame: frame(lang, "/me/access-log", Some(&current)),
        linked: own.is_some(),
        full: entries.len() >= LOG_LIMIT as usize,
        rows: entries.iter().map(|e| log_row(e, t, lang)).collect(),
    };
    Ok(render(StatusCode::OK, &p))
}
