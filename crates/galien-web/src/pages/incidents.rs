//! The DPO's incident and breach register (TRACE-6): `GET /dpo/incidents` lists the incidents most
//! urgent first (open breaches with the CNIL clock, then by severity) with a form to register one by
//! hand (`POST`); `GET /dpo/incidents/{id}` shows one with its qualification form (`POST`): status,
//! severity, facts, people, data, effects, measures, and for a personal-data breach since when it is
//! known, when the CNIL was notified, whether patients must be informed (art. 34) and when they were.
//!
//! Only the DPO gets through: `galien_app::compliance::incidents` refuses anyone else (403). Dates are
//! typed in `datetime-local` fields and read as Paris time, which the form says. Bad input shows the form
//! again with the message (4xx) and changes nothing.

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::{page_error, refused, require};
use crate::pages::{
    DoneQuery, Frame, checked_form, frame, human_time, local_input, messages, parse_local, render,
    severity_class, status_of, with_open_incidents,
};
use crate::texts::T;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use galien_app::RequestContext;
use galien_app::compliance::incidents::{self, IncidentDetails, IncidentView, Qualification};
use galien_app::identity::session::Current;
use galien_core::identity::Role;
use galien_core::{ErrorCode, Lang};
use galien_store::{IncidentStatus, Severity};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The register's routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/dpo/incidents", get(list).post(register))
        .route("/dpo/incidents/{id}", get(show).post(qualify))
}

/// The anomaly rules that open incidents, each with a label `incidents.rule.<rule>`.
pub(crate) const RULES: &[&str] = &[
    "many_patients",
    "emergency_access",
    "off_hours",
    "failed_logins",
    "exports",
];

/// How far ahead of the server's clock a typed date may be (the DPO's own clock may run ahead).
const SKEW: Duration = Duration::minutes(5);

/// `text` with its `{}` replaced by `value`.
fn fill(text: &str, value: &str) -> String {
    text.replacen("{}", value, 1)
}

/// Where an incident came from: the rule's label, or "registered by the DPO".
fn rule_label(rule: Option<&str>, t: T) -> String {
    match rule {
        None => t.s("incidents.rule.manual").to_owned(),
        Some(r) if RULES.contains(&r) => t.s(&format!("incidents.rule.{r}")).to_owned(),
        Some(other) => other.to_owned(),
    }
}

fn severity_label(s: Severity, t: T) -> &'static str {
    t.s(&format!("incidents.severity.{}", s.as_str()))
}

fn status_label(s: IncidentStatus, t: T) -> &'static str {
    t.s(&format!("incidents.status.{}", s.as_str()))
}

/// "61 h", or "45 min" under an hour (rounded down); a no-break space keeps the unit with its number.
fn span(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    if minutes >= 60 {
        format!("{}\u{a0}h", minutes / 60)
    } else {
        format!("{minutes}\u{a0}min")
    }
}

/// Where a breach stands with the CNIL (GDPR art. 33).
#[derive(Debug, Clone)]
struct Cnil {
    /// "Notification CNIL : reste 61 h", "… en retard de 3 h", "CNIL notifiée le …".
    text: String,
    /// "échéance le …" while not notified.
    deadline: Option<String>,
    /// The style: done, time left, less than a day left, late.
    class: &'static str,
    /// Overdue (shown as a strong alert).
    late: bool,
}

fn cnil_of(v: &IncidentView, t: T, lang: Lang) -> Option<Cnil> {
    let i = &v.incident;
    if !i.is_breach {
        return None;
    }
    if let Some(at) = i.cnil_notified_at {
        return Some(Cnil {
            text: fill(t.s("incidents.cnil.notified"), &human_time(at, lang)),
            deadline: None,
            class: "cnil cnil-done",
            late: false,
        });
    }
    let (Some(left), Some(deadline)) = (v.time_left, v.cnil_deadline) else {
        return Some(Cnil {
            text: t.s("incidents.cnil.no_date").to_owned(),
            deadline: None,
            class: "cnil cnil-soon",
            late: false,
        });
    };
    let deadline = Some(fill(
        t.s("incidents.cnil.deadline"),
        &human_time(deadline, lang),
    ));
    Some(if left.is_negative() {
        Cnil {
            text: fill(t.s("incidents.cnil.late"), &span(-left)),
            deadline,
            class: "cnil cnil-late",
            late: true,
        }
    } else {
        Cnil {
            text: fill(t.s("incidents.cnil.left"), &span(left)),
            deadline,
            class: if left < Duration::hours(24) {
                "cnil cnil-soon"
            } else {
                "cnil cnil-left"
            },
            late: false,
        }
    })
}

/// One incident in the register.
#[derive(Debug)]
struct Row {
    href: String,
    finding: String,
    rule: String,
    /// The rule's id (`failed_logins`…), `manual` for one registered by hand.
    rule_id: String,
    opened: String,
    severity: &'static str,
    severity_class: &'static str,
    status: &'static str,
    closed: bool,
    cnil: Option<Cnil>,
}

fn row(v: &IncidentView, t: T, lang: Lang) -> Row {
    let i = &v.incident;
    Row {
        href: format!("/dpo/incidents/{}", i.id),
        finding: i.finding.clone(),
        rule: rule_label(i.rule.as_deref(), t),
        rule_id: i.rule.clone().unwrap_or_else(|| "manual".to_owned()),
        opened: human_time(i.opened_at, lang),
        severity: severity_label(i.severity, t),
        severity_class: severity_class(i.severity),
        status: status_label(i.status, t),
        closed: i.status == IncidentStatus::Closed,
        cnil: cnil_of(v, t, lang),
    }
}

/// (value, label, selected) for a `<select>` of severities.
fn severities(t: T, selected: &str) -> Vec<(&'static str, &'static str, bool)> {
    Severity::ALL
        .iter()
        .map(|s| (s.as_str(), severity_label(*s, t), s.as_str() == selected))
        .collect()
}

/// The DPO only; checked before reading a form, so others get 403 whatever they send.
fn require_dpo(current: &Current, lang: Lang) -> Result<(), PageError> {
    require(current.user.role == Role::Dpo, lang)
}

async fn dpo_frame(state: &WebState, current: &Current, lang: Lang, here: String) -> Frame {
    with_open_incidents(frame(lang, here, Some(current)), &state.app, current).await
}

/// The form that registers an incident by hand.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    summary: String,
    severity: String,
    facts: String,
    affected_people: String,
    data_categories: String,
    effects: String,
    measures: String,
}

#[derive(Template)]
#[template(path = "dpo_incidents.html")]
struct ListPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    rows: Vec<Row>,
    form: RegisterForm,
    severities: Vec<(&'static str, &'static str, bool)>,
}

async fn list_page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    status: StatusCode,
    errors: Vec<String>,
    form: RegisterForm,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    let mut all = incidents::list(&state.app, &current.actor())
        .await
        .map_err(|e| page_error(&e, lang))?;
    // The store's order (open first, breaches first, by severity), except that open breaches not
    // yet notified come first, nearest CNIL deadline (or most overdue) first.
    all.sort_by_key(|v| {
        let pending = v.incident.status != IncidentStatus::Closed && v.cnil_deadline.is_some();
        (!pending, v.cnil_deadline.filter(|_| pending))
    });
    let selected = if form.severity.is_empty() {
        "medium".to_owned()
    } else {
        form.severity.clone()
    };
    let p = ListPage {
        frame: dpo_frame(state, current, lang, "/dpo/incidents".to_owned()).await,
        errors,
        notice: None,
        csrf: current.csrf_token(),
        rows: all.iter().map(|v| row(v, t, lang)).collect(),
        severities: severities(t, &selected),
        form: RegisterForm {
            csrf: String::new(),
            ..form
        },
    };
    Ok(render(status, &p))
}

/// `GET /dpo/incidents`: the register and the form to register one.
pub async fn list(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    require_dpo(&current, ctx.lang)?;
    list_page(
        &state,
        &current,
        &ctx,
        StatusCode::OK,
        Vec::new(),
        RegisterForm::default(),
    )
    .await
}

impl RegisterForm {
    fn details(&self) -> IncidentDetails {
        IncidentDetails {
            facts: self.facts.trim().to_owned(),
            affected_people: self.affected_people.trim().to_owned(),
            data_categories: self.data_categories.trim().to_owned(),
            effects: self.effects.trim().to_owned(),
            measures: self.measures.trim().to_owned(),
        }
    }
}

/// `POST /dpo/incidents`: registers an incident, then shows it to be qualified.
pub async fn register(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    require_dpo(&current, lang)?;
    let again = |status, errors, form| list_page(&state, &current, &ctx, status, errors, form);
    let Some(severity) = Severity::parse(&form.severity) else {
        let errors = vec![ErrorCode::FormInvalid.message(lang).to_owned()];
        return again(StatusCode::BAD_REQUEST, errors, form).await;
    };
    let summary = form.summary.trim();
    if summary.is_empty() || summary.chars().count() > 500 {
        let errors = vec![t.s("incidents.summary_required").to_owned()];
        return again(StatusCode::BAD_REQUEST, errors, form).await;
    }
    match incidents::register(
        &state.app,
        &current.actor(),
        &ctx,
        summary,
        severity,
        &form.details(),
    )
    .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/dpo/incidents/{id}?done=registered")).into_response()),
        Err(e) if e.code() == ErrorCode::AccessDenied => Err(page_error(&e, lang)),
        Err(e) => again(status_of(&e), messages(&e, lang), form).await,
    }
}

/// The qualification form, as typed (dates as `datetime-local` values, UTC).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct QualifyForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: String,
    severity: String,
    facts: String,
    affected_people: String,
    data_categories: String,
    effects: String,
    measures: String,
    /// Ticked: a personal-data breach.
    breach: String,
    aware_at: String,
    cnil_notified_at: String,
    /// `yes`, `no` or `undecided`.
    inform_patients: String,
    patients_informed_at: String,
}

impl QualifyForm {
    /// The form filled from the incident; "known since" defaults to now.
    fn prefill(v: &IncidentView, now: OffsetDateTime) -> QualifyForm {
        let i = &v.incident;
        let d = &v.details;
        let local = |o: Option<OffsetDateTime>| o.map(local_input).unwrap_or_default();
        QualifyForm {
            csrf: String::new(),
            status: i.status.as_str().to_owned(),
            severity: i.severity.as_str().to_owned(),
            facts: d.facts.clone(),
            affected_people: d.affected_people.clone(),
            data_categories: d.data_categories.clone(),
            effects: d.effects.clone(),
            measures: d.measures.clone(),
            breach: if i.is_breach {
                "on".into()
            } else {
                String::new()
            },
            aware_at: local_input(i.breach_aware_at.unwrap_or(now)),
            cnil_notified_at: local(i.cnil_notified_at),
            inform_patients: match i.inform_patients {
                Some(true) => "yes",
                Some(false) => "no",
                None => "undecided",
            }
            .to_owned(),
            patients_informed_at: local(i.patients_informed_at),
        }
    }

    /// What the use case records, or every message about what is wrong.
    fn qualification(&self, now: OffsetDateTime, t: T) -> Result<Qualification, Vec<String>> {
        let mut errors = Vec::new();
        let invalid = || ErrorCode::FormInvalid.message(t.lang).to_owned();
        let status = IncidentStatus::parse(&self.status);
        let severity = Severity::parse(&self.severity);
        if status.is_none() || severity.is_none() {
            errors.push(invalid());
        }
        let inform_patients = match self.inform_patients.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            "undecided" | "" => None,
            _ => {
                errors.push(invalid());
                None
            }
        };
        let mut date = |raw: &str, label: &str| match parse_local(raw) {
            Ok(Some(at)) if at > now + SKEW => {
                errors.push(fill(t.s("incidents.error.future"), t.s(label)));
                None
            }
            Ok(at) => at,
            Err(()) => {
                errors.push(fill(t.s("incidents.error.date"), t.s(label)));
                None
            }
        };
        let breach = !self.breach.is_empty();
        let aware = if breach {
            date(&self.aware_at, "incidents.field.aware_at")
        } else {
            None
        };
        let cnil = date(&self.cnil_notified_at, "incidents.field.cnil_notified_at");
        let informed = date(
            &self.patients_informed_at,
            "incidents.field.patients_informed_at",
        );
        if breach && aware.is_none() && self.aware_at.trim().is_empty() {
            errors.push(t.s("incidents.error.aware_needed").to_owned());
        }
        let typed = |raw: &str| !raw.trim().is_empty();
        if !breach && (typed(&self.cnil_notified_at) || typed(&self.patients_informed_at)) {
            errors.push(t.s("incidents.error.not_breach").to_owned());
        }
        if let (Some(a), Some(c)) = (aware, cnil)
            && c < a
        {
            errors.push(t.s("incidents.error.cnil_before").to_owned());
        }
        if inform_patients == Some(false) && typed(&self.patients_informed_at) {
            errors.push(t.s("incidents.error.informed_not_needed").to_owned());
        }
        match (status, severity) {
            (Some(status), Some(severity)) if errors.is_empty() => Ok(Qualification {
                status,
                severity,
                details: IncidentDetails {
                    facts: self.facts.trim().to_owned(),
                    affected_people: self.affected_people.trim().to_owned(),
                    data_categories: self.data_categories.trim().to_owned(),
                    effects: self.effects.trim().to_owned(),
                    measures: self.measures.trim().to_owned(),
                },
                breach_aware_at: aware,
                cnil_notified_at: cnil,
                inform_patients,
                patients_informed_at: informed,
            }),
            _ => {
                errors.dedup();
                Err(errors)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "dpo_incident.html")]
struct DetailPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    action: String,
    finding: String,
    rule: String,
    subject: Option<String>,
    opened: String,
    severity: &'static str,
    severity_class: &'static str,
    status: &'static str,
    cnil: Option<Cnil>,
    updated: String,
    form: QualifyForm,
    statuses: Vec<(&'static str, &'static str, bool)>,
    severities: Vec<(&'static str, &'static str, bool)>,
    /// (value, label, checked) of "must patients be informed?".
    informs: Vec<(&'static str, &'static str, bool)>,
    /// Latest date accepted (now, UTC).
    max: String,
}

async fn detail_page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    v: &IncidentView,
    shown: (StatusCode, Vec<String>, Option<&'static str>),
    form: Option<QualifyForm>,
) -> Response {
    let (status, errors, notice) = shown;
    let t = T { lang };
    let now = state.app.clock.now();
    let i = &v.incident;
    let form = form.unwrap_or_else(|| QualifyForm::prefill(v, now));
    let p = DetailPage {
        frame: dpo_frame(state, current, lang, format!("/dpo/incidents/{}", i.id)).await,
        errors,
        notice,
        csrf: current.csrf_token(),
        action: format!("/dpo/incidents/{}", i.id),
        finding: i.finding.clone(),
        rule: rule_label(i.rule.as_deref(), t),
        subject: i.subject.clone(),
        opened: human_time(i.opened_at, lang),
        severity: severity_label(i.severity, t),
        severity_class: severity_class(i.severity),
        status: status_label(i.status, t),
        cnil: cnil_of(v, t, lang),
        updated: human_time(i.updated_at, lang),
        statuses: IncidentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), status_label(*s, t), s.as_str() == form.status))
            .collect(),
        severities: severities(t, &form.severity),
        informs: [
            ("yes", "incidents.inform.yes"),
            ("no", "incidents.inform.no"),
            ("undecided", "incidents.inform.undecided"),
        ]
        .into_iter()
        .map(|(value, key)| {
            let checked = value == form.inform_patients
                || (value == "undecided" && form.inform_patients.is_empty());
            (value, t.s(key), checked)
        })
        .collect(),
        max: local_input(now),
        form: QualifyForm {
            csrf: String::new(),
            ..form
        },
    };
    render(status, &p)
}

fn incident_id(raw: &str, lang: Lang) -> Result<Uuid, PageError> {
    raw.parse().map_err(|_| refused(ErrorCode::NotFound, lang))
}

/// `GET /dpo/incidents/{id}`: the incident and its qualification form.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    require_dpo(&current, lang)?;
    let id = incident_id(&id, lang)?;
    let v = incidents::get(&state.app, &current.actor(), id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let notice = match q.done.as_deref() {
        Some("registered") => Some("incidents.done.registered"),
        Some("qualified") => Some("incidents.done.qualified"),
        _ => None,
    };
    let shown = (StatusCode::OK, Vec::new(), notice);
    Ok(detail_page(&state, &current, lang, &v, shown, None).await)
}

/// `POST /dpo/incidents/{id}`: records the qualification, or shows the form again with what is
/// wrong (nothing changed).
pub async fn qualify(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<QualifyForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    require_dpo(&current, lang)?;
    let id = incident_id(&id, lang)?;
    let actor = current.actor();
    let v = incidents::get(&state.app, &actor, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let q = match form.qualification(state.app.clock.now(), T { lang }) {
        Ok(q) => q,
        Err(errors) => {
            let shown = (StatusCode::BAD_REQUEST, errors, None);
            return Ok(detail_page(&state, &current, lang, &v, shown, Some(form)).await);
        }
    };
    match incidents::qualify(&state.app, &actor, &ctx, id, q).await {
        Ok(()) => Ok(Redirect::to(&format!("/dpo/incidents/{id}?done=qualified")).into_response()),
        Err(e) => match e.code() {
            ErrorCode::AccessDenied | ErrorCode::NotFound => Err(page_error(&e, lang)),
            _ => {
                let shown = (status_of(&e), messages(&e, lang), None);
                Ok(detail_page(&state, &current, lang, &v, shown, Some(form)).await)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn local_inputs_are_read_as_paris_time() {
        assert_eq!(
            parse_local("2026-11-28T09:05"),
            Ok(Some(datetime!(2026-11-28 08:05 UTC)))
        );
        assert_eq!(
            parse_local(" 2026-07-14 09:05:30 "),
            Ok(Some(datetime!(2026-07-14 07:05:30 UTC)))
        );
        assert_eq!(parse_local(""), Ok(None));
        // The hour skipped when summer time begins does not exist.
        for bad in [
            "hier",
            "2026-13-01T00:00",
            "28/11/2026 09:05",
            "2026-03-29T02:30",
        ] {
            assert_eq!(parse_local(bad), Err(()), "{bad}");
        }
        assert_eq!(
            local_input(datetime!(2026-11-28 09:05:59 UTC)),
            "2026-11-28T10:05"
        );
        assert_eq!(
            local_input(datetime!(2026-07-14 09:05 UTC)),
            "2026-07-14T11:05"
        );
        assert_eq!(
            human_time(datetime!(2026-11-28 09:05 UTC), Lang::Fr),
            "28/11/2026 à 10:05"
        );
        assert_eq!(
            human_time(datetime!(2026-07-14 22:30 UTC), Lang::En),
            "2026-07-15 00:30"
        );
    }

    #[test]
    fn spans_round_down() {
        assert_eq!(
            span(Duration::hours(72) - Duration::seconds(30)),
            "71\u{a0}h"
        );
        assert_eq!(span(Duration::minutes(59)), "59\u{a0}min");
        assert_eq!(span(Duration::hours(3) + Duration::minutes(10)), "3\u{a0}h");
    }

    fn form() -> QualifyForm {
        QualifyForm {
            status: "investigating".into(),
            severity: "high".into(),
            breach: "on".into(),
            aware_at: "2026-11-28T08:00".into(),
            inform_patients: "undecided".into(),
            ..QualifyForm::default()
        }
    }

    #[test]
    fn qualifications_are_checked() {
        let now = datetime!(2026-11-28 09:00 UTC);
        let t = T { lang: Lang::Fr };
        let q = form().qualification(now, t).unwrap();
        // 08:00 in Paris, in winter.
        assert_eq!(q.breach_aware_at, Some(datetime!(2026-11-28 07:00 UTC)));
        assert_eq!(q.inform_patients, None);
        for (change, message) in [
            (
                ("aware_at", "2027-01-01T00:00"),
                "ne peut pas être dans le futur",
            ),
            (("aware_at", "demain"), "Date illisible"),
            (("aware_at", ""), "depuis quand"),
            (("cnil_notified_at", "2026-11-28T07:00"), "avant que"),
            (("breach", ""), "suppose une violation"),
            (("status", "archived"), "Certains champs"),
        ] {
            let mut f = form();
            if change.0 == "breach" {
                f.breach = String::new();
                f.cnil_notified_at = "2026-11-28T08:30".into();
            }
            match change.0 {
                "aware_at" => f.aware_at = change.1.into(),
                "cnil_notified_at" => f.cnil_notified_at = change.1.into(),
                "status" => f.status = change.1.into(),
                _ => {}
            }
            let errors = f.qualification(now, t).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(message)),
                "{change:?}: {errors:?}"
            );
        }
        let mut f = form();
        f.inform_patients = "no".into();
        f.patients_informed_at = "2026-11-28T08:30".into();
        let errors = f.qualification(now, t).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("pas nécessaire")),
            "{errors:?}"
        );
    }
}
