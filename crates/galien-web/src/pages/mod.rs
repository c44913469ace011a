//! Server-rendered pages, one module per page or flow. Texts come from [`crate::texts`].

pub mod account;
pub mod admin;
pub mod appointments;
pub mod call;
pub mod certificate;
pub mod dpo;
pub mod emergency_review;
pub mod enrol;
pub mod home;
pub mod ice;
pub mod incidents;
pub mod login;
pub mod machines;
pub mod monitoring;
pub mod my_record;
pub mod oidc;
pub mod patients;
pub mod register;
pub mod webauthn;

use crate::errors::status_for;
use crate::i18n::{Chrome, chrome};
use crate::texts::T;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use galien_app::AppError;
use galien_app::identity::session::Current;
use galien_core::{Lang, Zone};
use serde::Deserialize;
use time::{OffsetDateTime, PrimitiveDateTime};

/// What every page's frame shows.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page language.
    pub lang: Lang,
    /// Header and footer strings.
    pub chrome: &'static Chrome,
    /// This page's path (for the language switch and form actions).
    pub here: String,
    /// The signed-in person, if any.
    pub nav: Option<Nav>,
    /// The text catalogue.
    pub t: T,
}

/// The signed-in person in the header.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Display name.
    pub name: String,
    /// The session's CSRF token (for the sign-out form).
    pub csrf: String,
    /// Shows the administration link.
    pub is_admin: bool,
    /// Shows the audit trail link (the DPO, TRACE-3).
    pub is_dpo: bool,
    /// Shows the patients link (the roles that care for or register patients).
    pub sees_patients: bool,
    /// Shows the "Télésurveillance" link (the health professionals' alert board, ACT-3).
    pub sees_monitoring: bool,
    /// Shows the "Mon dossier" link (a patient's own record and its access log, TRACE-4).
    pub is_patient: bool,
    /// Shows the "Rendez-vous" link (médecins, secretariat, sages-femmes: ACT-1).
    pub sees_appointments: bool,
    /// For the DPO: open incidents, as a badge on the "Incidents" link (TRACE-6). Counted only
    /// where [`with_open_incidents`] is called, not on every page.
    pub open_incidents: Option<u64>,
    /// Two factors done.
    pub strong: bool,
}

/// Builds the frame of a page.
pub fn frame(lang: Lang, here: impl Into<String>, current: Option<&Current>) -> Frame {
    frame_with(lang, here, current.map(nav_of))
}

/// Builds the frame of a page with the header of `nav` (none: the sign-in link).
pub fn frame_with(lang: Lang, here: impl Into<String>, nav: Option<Nav>) -> Frame {
    Frame {
        lang,
        chrome: chrome(lang),
        here: here.into(),
        nav,
        t: T { lang },
    }
}

/// The header of the person of `c`.
pub fn nav_of(c: &Current) -> Nav {
    Nav {
        name: c.user.display_name.clone(),
        csrf: c.csrf_token(),
        is_admin: c.user.role == galien_core::identity::Role::Administrateur,
        is_dpo: c.user.role == galien_core::identity::Role::Dpo,
        sees_patients: sees_patients(c.user.role),
        sees_monitoring: c.user.role.is_health_professional(),
        is_patient: c.user.role == galien_core::identity::Role::Patient,
        sees_appointments: appointments::books(c.user.role),
        open_incidents: None,
        strong: c.is_strong(),
    }
}

/// The frame with the DPO's count of open incidents filled in (the badge of the "Incidents" link):
/// one query, so it is meant for the DPO's pages and the home page only (today the incident pages
/// call it). Nothing for anyone else, and nothing (no badge) if the count cannot be read.
pub async fn with_open_incidents(
    mut frame: Frame,
    app: &galien_app::App,
    current: &Current,
) -> Frame {
    if current.user.role != galien_core::identity::Role::Dpo || !current.is_strong() {
        return frame;
    }
    let count = galien_app::compliance::incidents::open_count(app, &current.actor()).await;
    if let (Some(nav), Ok(n)) = (frame.nav.as_mut(), count) {
        nav.open_incidents = Some(n);
    }
    frame
}

/// Whether `role` works with patients' records (care, regulation, secretariat): the "Patients" link.
pub fn sees_patients(role: galien_core::identity::Role) -> bool {
    use galien_core::identity::Role;
    matches!(
        role,
        Role::Medecin
            | Role::Infirmier
            | Role::Pharmacien
            | Role::SageFemme
            | Role::AutreProfessionnel
            | Role::Arm
            | Role::Secretaire
    )
}

/// Messages for a person from a refusal (every password rule broken is listed).
pub fn messages(e: &AppError, lang: Lang) -> Vec<String> {
    match e {
        AppError::Password(rejections) => {
            let mut out = vec![e.code().message(lang).to_owned()];
            out.extend(rejections.iter().map(|r| r.message(lang)));
            out
        }
        AppError::Store(err) => {
            tracing::error!(error = %err, "storage failed while serving a form");
            vec![e.code().message(lang).to_owned()]
        }
        _ => vec![e.code().message(lang).to_owned()],
    }
}

/// The status a page re-shown after `e` answers with.
pub fn status_of(e: &AppError) -> StatusCode {
    status_for(e.code().class())
}

/// Renders a template with a status.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            crate::errors::PageError {
                code: galien_core::ErrorCode::Internal,
                lang: Lang::Fr,
            }
            .into_response()
        }
    }
}

/// Query of a page after a change: which change was just made (`?done=…`, shown as a notice).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    /// The change just made.
    pub done: Option<String>,
}

/// The class that colours a severity.
pub(crate) fn severity_class(s: galien_store::Severity) -> &'static str {
    use galien_store::Severity;
    match s {
        Severity::High => "sev sev-high",
        Severity::Medium => "sev sev-medium",
        Severity::Low => "sev sev-low",
    }
}

/// `2026-11-28T10:00`, as `datetime-local` inputs want it, in the organisation's time zone (see
/// [`human_time`]).
pub(crate) fn local_input(at: OffsetDateTime) -> String {
    local_input_in(at, crate::local_time::zone())
}

fn local_input_in(at: OffsetDateTime, zone: Zone) -> String {
    let at = zone.local(at);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// A `datetime-local` value, read in the organisation's time zone: empty is `None`; seconds and a
/// space for `T` are accepted. A time that does not exist there (the hour skipped when summer
/// time begins) is refused like a malformed one; of an hour that occurs twice, the first is taken.
pub(crate) fn parse_local(raw: &str) -> Result<Option<OffsetDateTime>, ()> {
    parse_local_in(raw, crate::local_time::zone())
}

fn parse_local_in(raw: &str, zone: Zone) -> Result<Option<OffsetDateTime>, ()> {
    let raw = raw.trim().replacen(' ', "T", 1);
    if raw.is_empty() {
        return Ok(None);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let wall = PrimitiveDateTime::parse(&raw, minutes)
        .or_else(|_| PrimitiveDateTime::parse(&raw, seconds))
        .map_err(|_| ())?;
    zone.from_local(wall).map(Some).ok_or(())
}

/// Formats an instant for people, in the organisation's time zone (`time_zone`: Paris time,
/// summer time included, unless the organisation is overseas), as their clocks show it:
/// `28/11/2026 à 10:40` in French, `2026-11-28 10:40` in English. Stored instants stay UTC; the
/// API speaks UTC.
pub fn human_time(at: time::OffsetDateTime, lang: Lang) -> String {
    human_time_in(at, lang, crate::local_time::zone())
}

fn human_time_in(at: time::OffsetDateTime, lang: Lang, zone: Zone) -> String {
    let at = zone.local(at);
    match lang {
        Lang::Fr => format!(
            "{:02}/{:02}/{} à {:02}:{:02}",
            at.day(),
            u8::from(at.month()),
            at.year(),
            at.hour(),
            at.minute()
        ),
        Lang::En => format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
    }
}

/// A submitted form of a signed-in person: parsed (else `REQ-FORM-INVALID`), and carrying this
/// session's CSRF token (else `CSRF-INVALID`); nothing is changed when either fails.
pub fn checked_form<T>(
    current: &Current,
    form: Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
    lang: Lang,
    csrf: impl Fn(&T) -> &String,
) -> Result<T, crate::errors::PageError> {
    let refused = |code| crate::errors::PageError { code, lang };
    let Ok(axum::Form(form)) = form else {
        return Err(refused(galien_core::ErrorCode::FormInvalid));
    };
    if !current.csrf_ok(csrf(&form)) {
        return Err(refused(galien_core::ErrorCode::CsrfInvalid));
    }
    Ok(form)
}

#[cfg(test)]
mod zone_tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_organisation_overseas_reads_and_writes_its_own_time() {
        let reunion = Zone::IndianReunion;
        let at = datetime!(2026-11-28 03:30 UTC);
        assert_eq!(human_time_in(at, Lang::Fr, reunion), "28/11/2026 à 07:30");
        assert_eq!(human_time_in(at, Lang::En, reunion), "2026-11-28 07:30");
        assert_eq!(local_input_in(at, reunion), "2026-11-28T07:30");
        assert_eq!(parse_local_in("2026-11-28T07:30", reunion), Ok(Some(at)));
        // The hour Paris skips exists at La Réunion.
        assert!(
            parse_local_in("2026-03-29T02:30", reunion)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            parse_local_in("2026-03-29T02:30", Zone::EuropeParis),
            Err(())
        );
        // Tahiti is a day behind at 08:00 UTC.
        assert_eq!(
            human_time_in(
                datetime!(2026-11-28 08:00 UTC),
                Lang::Fr,
                Zone::PacificTahiti
            ),
            "27/11/2026 à 22:00"
        );
        // The default stays Paris.
        assert_eq!(human_time(at, Lang::Fr), "28/11/2026 à 04:30");
    }
}
