//! The patient's own measurements (ACT-3): `GET /me/measures` shows a form to enter a measurement
//! by hand and the patient's charts; `POST /me/measures` records it through
//! `alerts::record_own` (converted to the measure's unit, refused when the unit does not fit, the
//! value is implausible or the time is in the future: 4xx, the form again, nothing stored). The
//! time is typed and read as Paris time, which the form says. Only patients get here; an account not yet
//! linked to a record is told why.

use super::chart::{Chart, fill, measure_label};
use super::{PeriodLink, charts, days_of, period_links};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::my_record::require_patient;
use crate::pages::patients::page_error;
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
use galien_app::identity::session::Current;
use galien_app::patients::access_log;
use galien_app::telemonitoring::alerts;
use galien_app::telemonitoring::ingest::Stored;
use galien_app::{AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::measure::Measure;
use serde::Deserialize;

/// A typed number: a decimal comma is accepted, spaces are ignored.
pub(crate) fn parse_value(raw: &str) -> Option<f64> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MeasureForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    measure: String,
    value: String,
    unit: String,
    at: String,
}

/// A measure in the select: (value, label, unit, selected).
type MeasureOption = (&'static str, &'static str, &'static str, bool);

#[derive(Template)]
#[template(path = "monitoring_own.html")]
struct OwnPage {
    frame: Frame,
    errors: Vec<String>,
    notice: Option<&'static str>,
    csrf: String,
    /// The account is linked to a record.
    linked: bool,
    form: MeasureForm,
    measures: Vec<MeasureOption>,
    /// Latest time accepted (now, UTC), for the input's `max`.
    max_at: String,
    periods: Vec<PeriodLink>,
    charts: Vec<Chart>,
}

/// What the page shows besides the charts.
#[derive(Debug, Default)]
struct Shown {
    errors: Vec<String>,
    notice: Option<&'static str>,
    form: MeasureForm,
}

async fn page(
    state: &WebState,
    current: &Current,
    ctx: &RequestContext,
    status: StatusCode,
    days: i64,
    shown: Shown,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    let actor = current.actor();
    let own = access_log::own_record(&state.app, &actor)
        .await
        .map_err(|e| page_error(&e, lang))?;
    let now = state.app.clock.now();
    let charts = match own {
        None => Vec::new(),
        Some(id) => {
            let series = alerts::series(&state.app, &actor, ctx, id, days)
                .await
                .map_err(|e| page_error(&e, lang))?;
            charts(&series, days, now, t)
        }
    };
    let mut form = shown.form;
    let selected = Measure::parse(&form.measure).unwrap_or(Measure::Weight);
    if form.unit.trim().is_empty() {
        form.unit = selected.unit().to_owned();
    }
    if form.at.trim().is_empty() {
        form.at = local_input(now);
    }
    form.measure = selected.as_str().to_owned();
    let p = OwnPage {
        frame: frame(lang, format!("/me/measures?days={days}"), Some(current)),
        errors: shown.errors,
        notice: shown.notice,
        csrf: current.csrf_token(),
        linked: own.is_some(),
        form: MeasureForm {
            csrf: String::new(),
            ..form
        },
        measures: Measure::ALL
            .iter()
            .map(|m| {
                (
                    m.as_str(),
                    measure_label(*m, lang),
                    m.unit(),
                    *m == selected,
                )
            })
            .collect(),
        max_at: local_input(now),
        periods: period_links("/me/measures", days, t),
        charts,
    };
    Ok(render(status, &p))
}

/// Query of the page: the charts' period, and which change was just made.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OwnQuery {
    days: Option<String>,
    done: Option<String>,
    measure: Option<String>,
}

/// `GET /me/measures`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<OwnQuery>,
) -> Result<Response, PageError> {
    require_patient(&current, ctx.lang)?;
    let notice = match q.done.as_deref() {
        Some("recorded") => Some("monitoring.own.done"),
        Some("duplicate") => Some("monitoring.own.duplicate"),
        _ => None,
    };
    let shown = Shown {
        notice,
        form: MeasureForm {
            measure: q.measure.unwrap_or_default(),
            ..MeasureForm::default()
        },
        ..Shown::default()
    };
    let days = days_of(q.days.as_deref());
    page(&state, &current, &ctx, StatusCode::OK, days, shown).await
}

/// `POST /me/measures`: records the measurement, then the page again with a notice.
pub async fn submit(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<MeasureForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    let form = checked_form(&current, form, lang, |f| &f.csrf)?;
    require_patient(&current, lang)?;
    let days = super::DEFAULT_DAYS;
    let again = |status: StatusCode, errors: Vec<String>, form: MeasureForm| {
        let shown = Shown {
            errors,
            form,
            ..Shown::default()
        };
        page(&state, &current, &ctx, status, days, shown)
    };
    let Some(measure) = Measure::parse(&form.measure) else {
        let errors = vec![ErrorCode::FormInvalid.message(lang).to_owned()];
        return again(StatusCode::BAD_REQUEST, errors, form).await;
    };
    let Some(value) = parse_value(&form.value) else {
        let errors = vec![t.s("monitoring.own.value_invalid").to_owned()];
        return again(StatusCode::BAD_REQUEST, errors, form).await;
    };
    let at = match parse_local(&form.at) {
        Ok(at) => at.unwrap_or_else(|| state.app.clock.now()),
        Err(()) => {
            let errors = vec![t.z("monitoring.own.at_invalid")];
            return again(StatusCode::BAD_REQUEST, errors, form).await;
        }
    };
    let unit = match form.unit.trim() {
        "" => measure.unit(),
        u => u,
    };
    let recorded =
        alerts::record_own(&state.app, &current.actor(), &ctx, measure, value, unit, at).await;
    match recorded {
        Ok(Stored::Created(_)) => {
            Ok(Redirect::to("/me/measures?done=recorded#courbes").into_response())
        }
        Ok(Stored::Duplicate) => {
            Ok(Redirect::to("/me/measures?done=duplicate#courbes").into_response())
        }
        Err(e) if e.code() == ErrorCode::AccessDenied => Err(page_error(&e, lang)),
        Err(e) => {
            let errors = explain(&e, measure, t);
            again(status_of(&e), errors, form).await
        }
    }
}

/// A refusal in the patient's words.
fn explain(e: &AppError, measure: Measure, t: T) -> Vec<String> {
    let lang = t.lang;
    match e.code() {
        ErrorCode::ObservationUnitInvalid => vec![
            e.code().message(lang).to_owned(),
            fill(
                t.s("monitoring.own.unit_expected"),
                &[measure_label(measure, lang), measure.unit()],
            ),
        ],
        ErrorCode::ObservationInFuture => vec![t.s("monitoring.own.in_future").to_owned()],
        ErrorCode::NotFound => vec![t.s("monitoring.own.not_linked").to_owned()],
        _ => messages(e, lang),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn typed_values_and_times_are_read_as_people_type_them() {
        assert_eq!(parse_value("72,4"), Some(72.4));
        assert_eq!(parse_value(" 1 250 "), Some(1250.0));
        assert_eq!(parse_value("soixante"), None);
        assert_eq!(parse_value("NaN"), None);
        let at = datetime!(2026-11-28 07:30 UTC);
        assert_eq!(local_input(at), "2026-11-28T08:30");
        assert_eq!(parse_local("2026-11-28T08:30"), Ok(Some(at)));
        assert_eq!(parse_local("2026-11-28 08:30:00"), Ok(Some(at)));
        assert_eq!(parse_local(""), Ok(None));
        assert!(parse_local("28/11/2026").is_err());
    }
}
