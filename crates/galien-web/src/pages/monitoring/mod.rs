//! Telemonitoring pages (ACT-3).
//!
//! - `GET /monitoring`: the board of the health professionals: open alerts of the patients they
//!   follow, most severe and oldest first, with "I am on it" (`POST /monitoring/alerts/{id}/ack`)
//!   and the decision that closes an alert (`POST /monitoring/alerts/{id}/close`). The table body
//!   is also served alone (`GET /monitoring/rows`) so that `assets/monitoring.js` swaps it in when
//!   the board's WebSocket ([`live`], `GET /monitoring/ws`) says alerts changed.
//! - `GET /monitoring/patients/{id}`: one patient's charts ([`chart`]), `?days=7|30|90`.
//! - `GET|POST /me/measures`: the patient enters a measurement by hand and sees their charts
//!   ([`own`]).
//! - `POST /patients/{id}/monitoring` and `/patients/{id}/monitoring/devices`: the enrolment and
//!   device forms of the record's summary ([`section`], handlers in `patients::record`).
//!
//! Every read goes through `galien_app::telemonitoring`, whose gate decides and traces; refusals
//! are 403 pages with nothing of the record. Only two-factor sessions get here ([`Strong`]).

pub mod chart;
pub mod live;
pub mod own;
pub mod section;

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::{CsrfOnly, page_error, patient_id, record, refused, require};
use crate::pages::{DoneQuery, Frame, checked_form, frame, human_time, render, severity_class};
use crate::texts::T;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chart::{Chart, Spark};
use galien_app::identity::session::Current;
use galien_app::patients::records;
use galien_app::telemonitoring::Programme;
use galien_app::telemonitoring::alerts::{self, Decision, Series};
use galien_app::{AppError, RequestContext};
use galien_core::ids::PatientId;
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The telemonitoring routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/monitoring", get(board))
        .route("/monitoring/rows", get(rows))
        .route("/monitoring/ws", get(live::socket))
        .route("/monitoring/alerts/{id}/ack", post(acknowledge))
        .route("/monitoring/alerts/{id}/close", post(close))
        .route("/monitoring/patients/{id}", get(patient))
        .route("/monitoring/patients/{id}/thresholds", post(set_thresholds))
        .route("/me/measures", get(own::show).post(own::submit))
        .route("/patients/{id}/monitoring", post(record::enrol_monitoring))
        .route(
            "/patients/{id}/monitoring/devices",
            post(record::attach_device),
        )
}

/// The rules that open alerts, each with a label `monitoring.rule.<rule>`.
pub(crate) const RULES: &[&str] = &["threshold_low", "threshold_high", "trend_weight_gain"];

/// The statuses of an alert on the board, each with a label `monitoring.status.<status>`.
pub(crate) const STATUSES: &[&str] = &["open", "acknowledged"];

/// The periods a chart covers, in days (the first is the board's sparklines, the default of
/// charts is [`DEFAULT_DAYS`]).
pub(crate) const PERIODS: &[i64] = &[7, 30, 90];

/// A chart's period when none (or one not offered) is asked for.
pub(crate) const DEFAULT_DAYS: i64 = 30;

/// The sparklines' period.
const SPARK_DAYS: i64 = 7;

/// Sparklines are drawn for this many patients at most (each is one traced read of the record).
const SPARK_PATIENTS: usize = 30;

/// Health professionals only (médecin, infirmier, sage-femme, pharmacien, autre professionnel).
pub(crate) fn require_professional(current: &Current, lang: Lang) -> Result<(), PageError> {
    require(current.user.role.is_health_professional(), lang)
}

/// The label of a rule (the rule itself if unknown).
pub(crate) fn rule_label(rule: &str, t: T) -> String {
    if RULES.contains(&rule) {
        t.s(&format!("monitoring.rule.{rule}")).to_owned()
    } else {
        rule.to_owned()
    }
}

/// "il y a 12 min", "il y a 3 h", "il y a 2 j".
pub(crate) fn ago(d: Duration, t: T) -> String {
    let minutes = d.whole_minutes().max(0);
    if minutes < 1 {
        t.s("monitoring.ago.now").to_owned()
    } else if minutes < 60 {
        chart::fill(t.s("monitoring.ago.min"), &[&minutes.to_string()])
    } else if minutes < 48 * 60 {
        chart::fill(t.s("monitoring.ago.h"), &[&(minutes / 60).to_string()])
    } else {
        chart::fill(
            t.s("monitoring.ago.d"),
            &[&(minutes / (24 * 60)).to_string()],
        )
    }
}

/// A programme's name in `lang`.
pub(crate) fn programme_label(p: Programme, t: T) -> &'static str {
    t.s(&format!("monitoring.programme.{}", p.as_str()))
}

/// (value, label) of every decision.
pub(crate) fn decisions(t: T) -> Vec<(&'static str, &'static str)> {
    Decision::ALL
        .iter()
        .map(|d| {
            (
                d.as_str(),
                t.s(&format!("monitoring.decision.{}", d.as_str())),
            )
        })
        .collect()
}

/// The `days` asked for, if offered; else [`DEFAULT_DAYS`].
pub(crate) fn days_of(raw: Option<&str>) -> i64 {
    raw.and_then(|d| d.trim().parse().ok())
        .filter(|d| PERIODS.contains(d))
        .unwrap_or(DEFAULT_DAYS)
}

/// The links that change a chart's period.
#[derive(Debug, Clone)]
pub(crate) struct PeriodLink {
    pub(crate) href: String,
    pub(crate) label: String,
    pub(crate) current: bool,
}

pub(crate) fn period_links(base: &str, days: i64, t: T) -> Vec<PeriodLink> {
    PERIODS
        .iter()
        .map(|d| PeriodLink {
            href: format!("{base}?days={d}#courbes"),
            label: chart::fill(t.s("monitoring.period.days"), &[&d.to_string()]),
            current: *d == days,
        })
        .collect()
}

/// One alert on the board.
#[derive(Debug)]
pub(crate) struct AlertRow {
    id: String,
    patient: String,
    patient_href: String,
    severity: &'static str,
    severity_class: &'static str,
    measure: &'static str,
    rule: String,
    age: String,
    opened: String,
    opened_iso: String,
    outside_hours: bool,
    status: &'static str,
    open: bool,
    spark: Option<Spark>,
}

/// The board's rows, as the actor may see them, with a sparkline per patient (one series read
/// per patient shown, the first [`SPARK_PATIENTS`] only).
async fn alert_rows(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
) -> Result<Vec<AlertRow>, AppError> {
    let lang = ctx.lang;
    let t = T { lang };
    let actor = current.actor();
    let board = alerts::board(&state.app, &actor, ctx).await?;
    let now = state.app.clock.now();
    let mut series: BTreeMap<PatientId, Vec<Series>> = BTreeMap::new();
    for r in &board {
        let p = r.alert.patient;
        if series.contains_key(&p) || series.len() >= SPARK_PATIENTS {
            continue;
        }
        let read = alerts::series(&state.app, &actor, ctx, p, SPARK_DAYS).await;
        let read = read.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no sparkline for a patient on the board");
            Vec::new()
        });
        series.insert(p, read);
    }
    Ok(board
        .iter()
        .map(|r| {
            let a = &r.alert;
            let spark = a.measure.and_then(|m| {
                series
                    .get(&a.patient)?
                    .iter()
                    .find(|s| s.measure == m)
                    .and_then(|s| chart::spark(s, SPARK_DAYS, now, t))
            });
            AlertRow {
                id: a.id.to_string(),
                patient: r.patient.display_name.clone(),
                patient_href: format!("/monitoring/patients/{}", a.patient),
                severity: t.s(&format!("monitoring.severity.{}", a.severity.as_str())),
                severity_class: severity_class(a.severity),
                measure: a.measure.map_or("—", |m| chart::measure_label(m, lang)),
                rule: rule_label(&a.rule, t),
                age: ago(now - a.opened_at, t),
                opened: human_time(a.opened_at, lang),
                opened_iso: a
                    .opened_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                outside_hours: a.outside_hours,
                status: if STATUSES.contains(&a.status.as_str()) {
                    t.s(&format!("monitoring.status.{}", a.status))
                } else {
                    "—"
                },
                open: a.status == "open",
                spark,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "monitoring_board.html")]
struct BoardPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    rows: Vec<AlertRow>,
    decisions: Vec<(&'static str, &'static str)>,
}

/// The table body alone, for the live update.
#[derive(Template)]
#[template(path = "monitoring_rows.html")]
struct RowsFragment {
    frame: Frame,
    csrf: String,
    rows: Vec<AlertRow>,
    decisions: Vec<(&'static str, &'static str)>,
}

async fn board_page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    status: StatusCode,
    errors: Vec<String>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let rows = alert_rows(state, current, ctx)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let p = BoardPage {
        frame: frame(lang, "/monitoring", Some(current)),
        errors,
        notice,
        csrf: current.csrf_token(),
        rows,
        decisions: decisions(T { lang }),
    };
    Ok(render(status, &p))
}

/// `GET /monitoring`: the board.
pub async fn board(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    require_professional(&current, ctx.lang)?;
    let notice = match q.done.as_deref() {
        Some("ack") => Some("monitoring.done.ack"),
        Some("closed") => Some("monitoring.done.closed"),
        Some("stale") => Some("monitoring.done.stale"),
        _ => None,
    };
    board_page(&state, &current, &ctx, StatusCode::OK, Vec::new(), notice).await
}

/// `GET /monitoring/rows`: the board's table body (same checks as the board). Without a usable
/// session: 401, not a redirect, so that the script reloads the page (which leads to sign-in).
pub async fn rows(
    State(state): State<WebState>,
    session: Result<Strong, crate::auth::NoSession>,
    Ctx(ctx): Ctx,
) -> Response {
    let lang = ctx.lang;
    let Ok(Strong(current)) = session else {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    };
    if let Err(e) = require_professional(&current, lang) {
        return e.into_response();
    }
    let rows = match alert_rows(&state, &current, &ctx).await {
        Ok(rows) => rows,
        Err(e) => return page_error(&e, lang).into_response(),
    };
    let count = rows.len();
    let fragment = RowsFragment {
        frame: frame(lang, "/monitoring", Some(&current)),
        csrf: current.csrf_token(),
        rows,
        decisions: decisions(T { lang }),
    };
    let mut response = render(StatusCode::OK, &fragment);
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        response.headers_mut().insert("x-galien-alerts", v);
    }
    response
}

/// An alert id from the path; one that does not parse is an alert that does not exist.
fn alert_id(raw: &str, lang: Lang) -> Result<Uuid, PageError> {
    raw.parse().map_err(|_| refused(ErrorCode::NotFound, lang))
}

/// Where a change on the board goes back to.
fn back(done: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/monitoring?done={done}#{anchor}")).into_response()
}

/// `POST /monitoring/alerts/{id}/ack`: "I am on it".
pub async fn acknowledge(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    checked_form(&current, form, lang, |f| &f.csrf)?;
    require_professional(&current, lang)?;
    let id = alert_id(&id, lang)?;
    match alerts::acknowledge(&state.app, &current.actor(), &ctx, id).await {
        Ok(true) => Ok(back("ack", &format!("alerte-{id}"))),
        Ok(false) => Ok(back("stale", "tableau")),
        Err(e) => Err(page_error(&e, lang)),
    }
}

/// The decision that closes an alert.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CloseForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    decision: String,
    note: String,
}

/// `POST /monitoring/alerts/{id}/close`: records the decision (and its note) and closes the alert.
pub async fn close(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    require_professional(&current, lang)?;
    let id = alert_id(&id, lang)?;
    let Some(decision) = Decision::parse(&form.decision) else {
        let errors = vec![T { lang }.s("monitoring.decision.required").to_owned()];
        return board_page(
            &state,
            &current,
            &ctx,
            StatusCode::BAD_REQUEST,
            errors,
            None,
        )
        .await;
    };
    match alerts::close(&state.app, &current.actor(), &ctx, id, decision, &form.note).await {
        Ok(true) => Ok(back("closed", "tableau")),
        Ok(false) => Ok(back("stale", "tableau")),
        Err(e) => Err(page_error(&e, lang)),
    }
}

/// The enrolment as shown (programme, reading hours, since).
#[derive(Debug, Clone)]
pub(crate) struct EnrolmentFacts {
    pub(crate) programme: String,
    pub(crate) hours: String,
    pub(crate) since: String,
}

/// The patient's enrolment, if any: read only after the gate let the actor read the record (its
/// programme names a condition). A storage failure is logged and shown as nothing.
pub(crate) async fn enrolment_facts(
    state: &WebState,
    patient: PatientId,
    t: T,
) -> Result<Option<EnrolmentFacts>, AppError> {
    let e = state.app.store.monitoring_enrolment(patient).await?;
    Ok(e.as_ref().map(|e| facts_of(e, t)))
}

/// An enrolment as pages show it.
pub(crate) fn facts_of(e: &galien_store::Enrolment, t: T) -> EnrolmentFacts {
    EnrolmentFacts {
        programme: Programme::parse(&e.programme)
            .map_or_else(|| e.programme.clone(), |p| programme_label(p, t).to_owned()),
        hours: e.reading_hours.clone(),
        since: crate::pages::patients::human_date(e.since.date(), t.lang),
    }
}

#[derive(Template)]
#[template(path = "monitoring_patient.html")]
struct PatientPage {
    frame: Frame,
    name: String,
    periods: Vec<PeriodLink>,
    enrolment: Option<EnrolmentFacts>,
    charts: Vec<Chart>,
    /// Links to the record's summary (a professional who may read it).
    record_href: String,
    /// The patient's thresholds, editable by a médecin: (measure code, label, unit, low, high).
    thresholds: Vec<(String, String, String, String, String)>,
    /// The médecin may edit them.
    edit_thresholds: bool,
    /// Where the thresholds form posts.
    thresholds_action: String,
    /// The session's CSRF token.
    csrf: String,
}

/// Query of the charts: the period, in days.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DaysQuery {
    days: Option<String>,
}

/// Charts of `series` over `days` days, in the order of [`galien_core::measure::Measure::ALL`].
pub(crate) fn charts(series: &[Series], days: i64, now: OffsetDateTime, t: T) -> Vec<Chart> {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by_key(|s| {
        galien_core::measure::Measure::ALL
            .iter()
            .position(|m| *m == s.measure)
    });
    sorted
        .into_iter()
        .map(|s| chart::chart(s, days, now, t))
        .collect()
}

/// `GET /monitoring/patients/{id}`: the patient's charts. Refused: the 403 page, nothing of the
/// record.
pub async fn patient(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<DaysQuery>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    require_professional(&current, lang)?;
    let id = patient_id(&id, lang)?;
    let days = days_of(q.days.as_deref());
    let actor = current.actor();
    let (view, _) = records::identity(&state.app, &actor, &ctx, id)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let series = alerts::series(&state.app, &actor, &ctx, id, days)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let enrolment = enrolment_facts(&state, id, t)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let here = format!("/monitoring/patients/{id}");
    let p = PatientPage {
        frame: frame(lang, format!("{here}?days={days}"), Some(&current)),
        name: view.identity.display_name(),
        periods: period_links(&here, days, t),
        enrolment,
        charts: charts(&series, days, state.app.clock.now(), t),
        record_href: format!("/patients/{id}"),
        thresholds: threshold_rows(&series, lang),
        edit_thresholds: current.user.role == galien_core::identity::Role::Medecin,
        thresholds_action: format!("{here}/thresholds"),
        csrf: current.csrf_token(),
    };
    Ok(render(StatusCode::OK, &p))
}

fn threshold_rows(series: &[Series], lang: Lang) -> Vec<(String, String, String, String, String)> {
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    series
        .iter()
        .filter_map(|s| {
            let t = s.threshold?;
            Some((
                s.measure.as_str().to_owned(),
                match lang {
                    Lang::Fr => s.measure.label_fr(),
                    Lang::En => s.measure.label_en(),
                }
                .to_owned(),
                s.measure.unit_label().to_owned(),
                num(t.low),
                num(t.high),
            ))
        })
        .collect()
}

/// `POST /monitoring/patients/{id}/thresholds`: the médecin sets this patient's thresholds
/// (`low_<measure>`, `high_<measure>`, in the measure's unit; empty: no limit).
pub async fn set_thresholds(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    static EMPTY: String = String::new();
    let fields = checked_form(&current, form, lang, |f| f.get("_csrf").unwrap_or(&EMPTY))?;
    require_professional(&current, lang)?;
    let id = patient_id(&id, lang)?;
    let bad = PageError {
        code: ErrorCode::FormInvalid,
        lang,
    };
    let mut thresholds = galien_app::telemonitoring::Thresholds::new();
    for measure in galien_core::measure::Measure::ALL {
        let read = |side: &str| -> Result<Option<f64>, PageError> {
            match fields
                .get(&format!("{side}_{}", measure.as_str()))
                .map(|v| v.trim())
            {
                None | Some("") => Ok(None),
                Some(v) => v.replace(',', ".").parse().map(Some).map_err(|_| bad),
            }
        };
        let (low, high) = (read("low")?, read("high")?);
        if fields.contains_key(&format!("low_{}", measure.as_str()))
            || fields.contains_key(&format!("high_{}", measure.as_str()))
        {
            thresholds.insert(
                *measure,
                galien_app::telemonitoring::Threshold { low, high },
            );
        }
    }
    galien_app::telemonitoring::enrol::set_thresholds(
        &state.app,
        &current.actor(),
        &ctx,
        id,
        thresholds,
    )
    .await
    .map_err(|e| page_error(&e, lang))?;
    Ok(Redirect::to(&format!("/monitoring/patients/{id}?done=thresholds#seuils")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use galien_core::Lang;

    #[test]
    fn ages_and_periods_read_well() {
        let t = T { lang: Lang::Fr };
        assert_eq!(ago(Duration::seconds(20), t), "à l'instant");
        assert_eq!(ago(Duration::minutes(12), t), "il y a 12\u{a0}min");
        assert_eq!(ago(Duration::hours(3), t), "il y a 3\u{a0}h");
        assert_eq!(ago(Duration::days(3), t), "il y a 3\u{a0}j");
        let en = T { lang: Lang::En };
        assert_eq!(ago(Duration::minutes(5), en), "5\u{a0}min ago");
        assert_eq!(days_of(Some("90")), 90);
        assert_eq!(days_of(Some("12")), DEFAULT_DAYS);
        assert_eq!(days_of(None), DEFAULT_DAYS);
        assert_eq!(
            rule_label("trend_weight_gain", t),
            "Prise de poids rapide (+2 kg en 3 jours)"
        );
    }
}
