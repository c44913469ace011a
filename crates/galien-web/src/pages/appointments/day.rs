//! A day of teleconsultations (ACT-1): `GET /appointments?day=YYYY-MM-DD` (today by default; days and times in Paris time):
//! a médecin sees his own, the secretariat and the sages-femmes everyone's, each with its time,
//! patient, médecin, status and what can be done; previous and next days are one link away. A
//! patient is sent to "Mes rendez-vous".

use super::{StatusBadge, badge, books, clock_time, failed};
use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::patients::{human_date, iso_date, refused, require};
use crate::pages::{Frame, frame, render};
use crate::texts::T;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use galien_app::patients::records;
use galien_app::teleconsultation::appointments::{self, AppointmentLine};
use galien_core::identity::Role;
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;
use time::Date;

/// The query: which day.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DayQuery {
    day: Option<String>,
}

/// One appointment of the day.
#[derive(Debug)]
struct Row {
    href: String,
    time: String,
    patient: String,
    patient_href: Option<String>,
    practitioner: String,
    status: StatusBadge,
    /// The médecin of the call, while it is open: the call link.
    join_href: Option<String>,
}

#[derive(Template)]
#[template(path = "appointments_day.html")]
struct DayPage {
    frame: Frame,
    /// Only the viewer's own appointments (a médecin).
    own: bool,
    caption: String,
    day: String,
    prev: String,
    next: String,
    today: String,
    is_today: bool,
    rows: Vec<Row>,
}

fn row(l: &AppointmentLine, viewer: galien_core::ids::UserId, lang: Lang, t: T) -> Row {
    let a = &l.appointment;
    let open = !a.status.is_final();
    Row {
        href: format!("/appointments/{}", a.id),
        time: clock_time(a.scheduled_at),
        patient: l
            .patient_name
            .clone()
            .unwrap_or_else(|| t.s("apt.patient.unknown").to_owned()),
        patient_href: l
            .patient_name
            .as_ref()
            .map(|_| format!("/patients/{}", a.patient)),
        practitioner: a.practitioner_name.clone(),
        status: badge(a.status, lang),
        join_href: (open && a.practitioner == viewer)
            .then(|| format!("/consultations/{}/call", a.id)),
    }
}

/// `GET /appointments`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<DayQuery>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let t = T { lang };
    if current.user.role == Role::Patient {
        return Ok(Redirect::to("/me/appointments").into_response());
    }
    require(books(current.user.role), lang)?;
    let zone = crate::local_time::zone();
    let today = zone.today(state.app.clock.now());
    let day: Date = match q.day.as_deref().map(str::trim) {
        None | Some("") => today,
        Some(raw) => {
            records::parse_date(raw).ok_or_else(|| refused(ErrorCode::FormInvalid, lang))?
        }
    };
    let start = zone.midnight(day);
    let end = zone.midnight(day.next_day().unwrap_or(day));
    let lines = appointments::day(&state.app, &current.actor(), &ctx, start, end)
        .await
        .map_err(|e| failed(&e, lang))?;
    let viewer = current.user.id;
    let rows = lines.iter().map(|l| row(l, viewer, lang, t)).collect();
    let near = |d: Option<Date>| d.map(iso_date).unwrap_or_else(|| iso_date(day));
    let p = DayPage {
        frame: frame(
            lang,
            format!("/appointments?day={}", iso_date(day)),
            Some(&current),
        ),
        own: current.user.role == Role::Medecin,
        caption: t
            .s("apt.day.caption")
            .replacen("{}", &human_date(day, lang), 1),
        day: iso_date(day),
        prev: near(day.previous_day()),
        next: near(day.next_day()),
        today: iso_date(today),
        is_today: day == today,
        rows,
    };
    Ok(render(StatusCode::OK, &p))
}
