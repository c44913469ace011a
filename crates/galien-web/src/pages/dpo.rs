//! The DPO's view of the audit trail (TRACE-3): `GET /api/audit/events` (JSON, or a FHIR `Bundle`
//! of `AuditEvent` with `format=fhir`) and the page `GET /dpo/audit` (search form and results,
//! paged by `after_seq`). Only the DPO with a two-factor session gets through (ACC-2: traces name
//! patients); every search is traced by `galien_app::compliance::audit::search`.

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::{ApiError, PageError, status_for};
use crate::observe::current_request_id;
use crate::pages::{Frame, frame, human_time, render};
use crate::texts::T;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use galien_app::compliance::audit::{self, Purpose};
use galien_app::compliance::fhir;
use galien_core::audit::AuditAction;
use galien_core::ids::{PatientId, UserId};
use galien_core::{ErrorCode, Lang};
use galien_store::{AuditFilter, StoredAuditEvent};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// The DPO's routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/audit/events", get(api_events))
        .route("/dpo/audit", get(show))
}

/// The largest page (as the store allows).
const MAX_LIMIT: u32 = 1000;
/// The page size when none is asked for.
const DEFAULT_LIMIT: u32 = 100;

/// What the API answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Format {
    #[default]
    Json,
    Fhir,
}

/// A parsed query; `raw` keeps what was typed, to refill the form.
#[derive(Debug, Default)]
struct Search {
    filter: AuditFilter,
    format: Format,
    raw: Vec<(String, String)>,
}

/// The parameter that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadParam(String);

/// Where a bare day (`2026-11-28`) of a search starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Days {
    /// At midnight UTC: the API, as its OpenAPI document says.
    Utc,
    /// At midnight in the organisation's time zone: the page, whose times are in it.
    Local(galien_core::Zone),
}

/// `2026-11-28T09:00:00Z`, or a day `2026-11-28` (starting as `days` says). A day given as `to`
/// includes that day.
fn parse_time(value: &str, end_of_day: bool, days: Days) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(t);
    }
    let day = Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let day = if end_of_day { day.next_day()? } else { day };
    Some(match days {
        Days::Utc => day.midnight().assume_utc(),
        Days::Local(zone) => zone.midnight(day),
    })
}

fn parse_query(raw: Option<&str>, days: Days) -> Result<Search, BadParam> {
    let mut s = Search::default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
        .collect();
    for (key, value) in &pairs {
        if value.is_empty() {
            continue; // an empty form field means "any"
        }
        let bad = || BadParam(key.clone());
        let f = &mut s.filter;
        match key.as_str() {
            "user" => f.user = Some(value.parse::<UserId>().map_err(|_| bad())?),
            "patient" => f.patient = Some(value.parse::<PatientId>().map_err(|_| bad())?),
            "action" => f.action = Some(AuditAction::parse(value).ok_or_else(bad)?),
            "from" => f.from = Some(parse_time(value, false, days).ok_or_else(bad)?),
            "to" => f.to = Some(parse_time(value, true, days).ok_or_else(bad)?),
            "after_seq" => f.after_seq = Some(value.parse::<u64>().map_err(|_| bad())?),
            "limit" => {
                let n = value.parse::<u32>().map_err(|_| bad())?;
                if !(1..=MAX_LIMIT).contains(&n) {
                    return Err(bad());
                }
                f.limit = Some(n);
            }
            "format" => {
                s.format = match value.as_str() {
                    "json" => Format::Json,
                    "fhir" => Format::Fhir,
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        }
    }
    if let (Some(from), Some(to)) = (s.filter.from, s.filter.to)
        && from > to
    {
        return Err(BadParam("to".to_owned()));
    }
    s.raw = pairs;
    Ok(s)
}

/// The `after_seq` of the next page, when this one is full.
fn next_after(events: &[StoredAuditEvent], filter: &AuditFilter) -> Option<u64> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    (events.len() >= limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten()
}

/// The same search from `after_seq` on.
fn page_url(path: &str, raw: &[(String, String)], after_seq: Option<u64>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in raw {
        if k != "after_seq" && !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    if let Some(after) = after_seq {
        q.append_pair("after_seq", &after.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// A 400 naming the parameter.
#[derive(Debug, Serialize)]
struct BadParamBody {
    code: &'static str,
    message: &'static str,
    parameter: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

fn bad_param_response(param: BadParam, lang: Lang) -> Response {
    let code = ErrorCode::RequestInvalid;
    let body = BadParamBody {
        code: code.as_str(),
        message: code.message(lang),
        parameter: param.0,
        request_id: current_request_id().map(|id| id.to_string()),
    };
    (status_for(code.class()), Json(body)).into_response()
}

/// One record in the JSON answer.
#[derive(Debug, Serialize)]
struct JsonEvent<'a> {
    seq: u64,
    hash: String,
    event: &'a galien_core::audit::AuditEvent,
}

#[derive(Debug, Serialize)]
struct JsonList<'a> {
    events: Vec<JsonEvent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after_seq: Option<u64>,
}

/// `GET /api/audit/events`.
pub async fn api_events(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = ctx.lang;
    let api_error = |e: galien_app::AppError| {
        ApiError {
            code: e.code(),
            lang,
        }
        .into_response()
    };
    if let Err(e) = audit::require_dpo(&state.app, &ctx, &current).await {
        return api_error(e);
    }
    let search = match parse_query(query.as_deref(), Days::Utc) {
        Ok(s) => s,
        Err(p) => return bad_param_response(p, lang),
    };
    let events =
        match audit::search(&state.app, &ctx, &current, &search.filter, Purpose::Export).await {
            Ok(events) => events,
            Err(e) => return api_error(e),
        };
    let next = next_after(&events, &search.filter);
    match search.format {
        Format::Fhir => {
            let next_url = next.map(|n| page_url("/api/audit/events", &search.raw, Some(n)));
            let bundle = fhir::to_fhir_bundle(&events, state.app.clock.now(), next_url.as_deref());
            (
                [(axum::http::header::CONTENT_TYPE, "application/fhir+json")],
                bundle.to_string(),
            )
                .into_response()
        }
        Format::Json => Json(JsonList {
            events: events
                .iter()
                .map(|s| JsonEvent {
                    seq: s.seq,
                    hash: hex_of(&s.hash),
                    event: &s.event,
                })
                .collect(),
            next_after_seq: next,
        })
        .into_response(),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Row {
    seq: u64,
    when: String,
    user: String,
    role: String,
    action: &'static str,
    outcome: &'static str,
    denied: bool,
    emergency: bool,
    patient: String,
    ip: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "dpo_audit.html")]
struct AuditPage {
    frame: Frame,
    errors: Vec<String>,
    actions: Vec<(&'static str, &'static str, bool)>,
    user: String,
    patient: String,
    from: String,
    to: String,
    limit: String,
    rows: Vec<Row>,
    searched: bool,
    next: Option<String>,
    first: Option<String>,
    export: String,
}

fn row(s: &StoredAuditEvent, t: T, lang: Lang) -> Row {
    let e = &s.event;
    Row {
        seq: s.seq,
        when: human_time(e.at, lang),
        user: e
            .actor
            .user
            .map(|u| u.to_string())
            .or_else(|| e.actor.client.clone())
            .unwrap_or_else(|| t.s("dpo.nobody").to_owned()),
        role: e
            .actor
            .role
            .map(|r| match lang {
                Lang::Fr => r.label_fr(),
                Lang::En => r.label_en(),
            })
            .unwrap_or_default()
            .to_owned(),
        action: t.s(&format!("dpo.action.{}", e.action)),
        outcome: t.s(&format!("dpo.outcome.{}", e.outcome)),
        denied: e.outcome != galien_core::audit::Outcome::Success,
        emergency: e.emergency,
        patient: e.patient.map(|p| p.to_string()).unwrap_or_default(),
        ip: e.source.ip.clone().unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
    }
}

/// `GET /dpo/audit`: the form, and results when a search was made (any parameter given).
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let page_error = |e: galien_app::AppError| PageError {
        code: e.code(),
        lang,
    };
    audit::require_dpo(&state.app, &ctx, &current)
        .await
        .map_err(page_error)?;
    let t = T { lang };
    let (search, errors, status) =
        match parse_query(query.as_deref(), Days::Local(crate::local_time::zone())) {
            Ok(s) => (s, Vec::new(), StatusCode::OK),
            Err(p) => (
                Search::default(),
                vec![format!("{} {}", t.s("dpo.bad_param"), p.0)],
                StatusCode::BAD_REQUEST,
            ),
        };
    // The page alone shows the form; a submitted form (even empty) searches.
    let searched = errors.is_empty() && query.as_deref().is_some_and(|q| !q.is_empty());
    let events = if searched {
        audit::search(&state.app, &ctx, &current, &search.filter, Purpose::Search)
            .await
            .map_err(page_error)?
    } else {
        Vec::new()
    };
    let raw = |k: &str| {
        search
            .raw
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let next =
        next_after(&events, &search.filter).map(|n| page_url("/dpo/audit", &search.raw, Some(n)));
    let first = search
        .filter
        .after_seq
        .map(|_| page_url("/dpo/audit", &search.raw, None));
    let mut export_raw: Vec<(String, String)> = search
        .raw
        .iter()
        .filter(|(k, _)| k != "format")
        .cloned()
        .collect();
    export_raw.push(("format".to_owned(), "fhir".to_owned()));
    let selected = search.filter.action;
    let page_frame = super::with_open_incidents(
        frame(lang, "/dpo/audit", Some(&current)),
        &state.app,
        &current,
    )
    .await;
    let p = AuditPage {
        frame: page_frame,
        errors,
        actions: AuditAction::ALL
            .iter()
            .map(|a| {
                (
                    a.as_str(),
                    t.s(&format!("dpo.action.{a}")),
                    selected == Some(*a),
                )
            })
            .collect(),
        user: raw("user"),
        patient: raw("patient"),
        from: raw("from"),
        to: raw("to"),
        limit: raw("limit"),
        rows: events.iter().map(|s| row(s, t, lang)).collect(),
        searched,
        next,
        first,
        export: page_url("/api/audit/events", &export_raw, search.filter.after_seq),
    };
    Ok(render(status, &p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_named() {
        for (q, name) in [
            ("user=nope", "user"),
            ("patient=42", "patient"),
            ("action=auth.nothing", "action"),
            ("from=yesterday", "from"),
            ("to=2026-13-01", "to"),
            ("after_seq=-1", "after_seq"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("format=xml", "format"),
            ("colour=blue", "colour"),
            ("from=2026-11-29&to=2026-11-27", "to"),
        ] {
            assert_eq!(
                parse_query(Some(q), Days::Local(galien_core::Zone::EuropeParis)).unwrap_err(),
                BadParam(name.into()),
                "{q}"
            );
        }
    }

    #[test]
    fn good_parameters_fill_the_filter() {
        let q = "action=auth.login.failed&from=2026-11-28&to=2026-11-28&limit=5&after_seq=3&format=fhir&user=";
        let s = parse_query(Some(q), Days::Utc).unwrap();
        assert_eq!(s.filter.action, Some(AuditAction::AuthLoginFailed));
        assert_eq!((s.filter.limit, s.filter.after_seq), (Some(5), Some(3)));
        assert_eq!(s.format, Format::Fhir);
        assert_eq!(s.filter.user, None);
    }

    /// The API's days are UTC days. The page's days are the organisation's, as the times it
    /// lists: Paris is UTC+1 in November and UTC+2 in July, La Réunion UTC+4 all year. An instant
    /// is an instant either way.
    #[test]
    fn days_are_utc_on_the_api_and_local_on_the_page() {
        use galien_core::Zone::{EuropeParis, IndianReunion};
        use time::macros::datetime;
        let nov28 = "from=2026-11-28&to=2026-11-28";
        let paris = Days::Local(EuropeParis);
        for (q, days, from, to) in [
            (
                nov28,
                Days::Utc,
                datetime!(2026-11-28 00:00 UTC),
                Some(datetime!(2026-11-29 00:00 UTC)),
            ),
            (
                nov28,
                paris,
                datetime!(2026-11-27 23:00 UTC),
                Some(datetime!(2026-11-28 23:00 UTC)),
            ),
            (
                nov28,
                Days::Local(IndianReunion),
                datetime!(2026-11-27 20:00 UTC),
                Some(datetime!(2026-11-28 20:00 UTC)),
            ),
            (
                "from=2026-07-14",
                paris,
                datetime!(2026-07-13 22:00 UTC),
                None,
            ),
            (
                "from=2026-07-14T09:00:00Z",
                paris,
                datetime!(2026-07-14 09:00 UTC),
                None,
            ),
        ] {
            let s = parse_query(Some(q), days).unwrap();
            assert_eq!(
                (s.filter.from, s.filter.to),
                (Some(from), to),
                "{q} {days:?}"
            );
        }
    }
}
