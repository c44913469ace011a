//! "Mon compte": identity, second factors (enrolment and replacement of the authenticator app,
//! recovery codes shown once), the list of one's sessions with "end this one" and "end all others"
//! (AUTH-7), and the step-up page for sensitive actions.

use crate::WebState;
use crate::auth::{Ctx, Signed, Strong, session_cookie};
use crate::errors::PageError;
use crate::i18n::is_local_path;
use crate::pages::login::{CodeForm, CsrfOnly, FactorPage};
use crate::pages::{Frame, frame, human_time, messages, render, status_of};
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use galien_app::identity::session::{self, Current};
use galien_app::identity::{login, totp};
use galien_core::{ErrorCode, Lang};
use serde::Deserialize;

/// One row of the sessions table.
#[derive(Debug)]
struct SessionRow {
    handle: String,
    started: String,
    seen: String,
    from: String,
    device: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    frame: Frame,
    notice: Option<&'static str>,
    name: String,
    email: String,
    role: &'static str,
    professional_id: Option<String>,
    totp_since: Option<String>,
    recovery_left: u32,
    sessions: Vec<SessionRow>,
    csrf: String,
    fresh: bool,
    errors: Vec<String>,
    events: Vec<EventRow>,
    webauthn_keys: crate::pages::webauthn::KeysSection,
}

/// One recent security event.
#[derive(Debug)]
struct EventRow {
    when: String,
    what: &'static str,
    from: String,
    alert: bool,
}

/// Query of `GET /account`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountQuery {
    done: Option<String>,
}

fn device_of(user_agent: Option<&str>, lang: Lang) -> String {
    let Some(ua) = user_agent else {
        return crate::texts::T { lang }.s("account.unknown").to_owned();
    };
    let browser = ["Firefox", "Edg", "Chrome", "Safari"]
        .into_iter()
        .find(|b| ua.contains(b))
        .map(|b| if b == "Edg" { "Edge" } else { b });
    let os = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"]
        .into_iter()
        .find(|o| ua.contains(o));
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} · {o}"),
        (Some(b), None) => b.to_owned(),
        _ => ua.chars().take(60).collect(),
    }
}

/// `GET /account`.
pub async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    account_page(
        &state,
        &current,
        ctx.lang,
        q.done.as_deref(),
        StatusCode::OK,
        Vec::new(),
    )
    .await
}

async fn account_page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    done: Option<&str>,
    status: StatusCode,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let state = state.clone();
    let current = current.clone();
    let sessions = session::list(&state.app, &current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let unknown = crate::texts::T { lang }.s("account.unknown");
    let rows = sessions
        .iter()
        .map(|s| SessionRow {
            handle: s.handle.clone(),
            started: human_time(s.created_at, lang),
            seen: human_time(s.last_seen_at, lang),
            from: s.ip.clone().unwrap_or_else(|| unknown.to_owned()),
            device: device_of(s.user_agent.as_deref(), lang),
            current: s.handle == current.session.handle,
        })
        .collect();
    let user = &current.user;
    let notice = match done {
        Some("session") => Some("account.session_ended"),
        Some("others") => Some("account.others_ended"),
        Some("password") => Some("account.password_changed"),
        _ => None,
    };
    let events = galien_app::identity::account::recent_security_events(&state.app, &current, 10)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?
        .into_iter()
        .map(|e| {
            let key = format!("event.{}", e.event.action.as_str());
            let what = crate::texts::all()
                .find(|(k, _, _)| *k == key)
                .map_or("event.other", |(k, _, _)| *k);
            EventRow {
                when: human_time(e.event.at, lang),
                what,
                from: e
                    .event
                    .source
                    .ip
                    .clone()
                    .unwrap_or_else(|| unknown.to_owned()),
                alert: e.event.outcome != galien_core::audit::Outcome::Success,
            }
        })
        .collect();
    let page = AccountPage {
        fresh: current.has_fresh_factor(&state.app),
        errors,
        events,
        frame: frame(lang, "/account", Some(&current)),
        notice,
        name: user.display_name.clone(),
        email: user.email.as_str().to_owned(),
        role: match lang {
            Lang::Fr => user.role.label_fr(),
            Lang::En => user.role.label_en(),
        },
        professional_id: user
            .professional_id
            .as_ref()
            .map(|p| p.stored().replace(':', " ").to_uppercase()),
        totp_since: user.totp.as_ref().map(|t| human_time(t.enrolled_at, lang)),
        recovery_left: user.recovery_codes_remaining,
        sessions: rows,
        csrf: current.csrf_token(),
        webauthn_keys: crate::pages::webauthn::keys_section(&state, &current, lang, done).await?,
    };
    Ok(render(status, &page))
}

/// The password change form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    current_password: String,
    new_password: String,
}

/// `POST /account/password`.
pub async fn change_password(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = crate::pages::checked_form(&current, form, lang, |f| &f.csrf)?;
    match galien_app::identity::account::change_password(
        &state.app,
        &ctx,
        &current,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(e) => {
            account_page(
                &state,
                &current,
                lang,
                None,
                status_of(&e),
                messages(&e, lang),
            )
            .await
        }
    }
}

/// `POST /account/recovery-codes`: new codes, shown once.
pub async fn new_recovery_codes(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if !form.is_ok_and(|Form(f)| current.csrf_ok(&f.csrf)) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    let codes = galien_app::identity::account::new_recovery_codes(&state.app, &ctx, &current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let page = RecoveryPage {
        frame: frame(lang, "/account", Some(&current)),
        codes: codes.iter().map(|c| c.display().to_string()).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    frame: Frame,
    errors: Vec<String>,
    csrf: String,
    sealed: String,
    qr_base64: String,
    secret: String,
    /// Offers a security key instead (WebAuthn works at this address).
    webauthn: bool,
}

fn totp_page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    status: StatusCode,
    setup: &totp::TotpSetup,
    errors: Vec<String>,
) -> Response {
    let page = TotpPage {
        frame: frame(lang, "/account/totp", Some(current)),
        errors,
        csrf: current.csrf_token(),
        sealed: setup.sealed.clone(),
        webauthn: galien_app::identity::webauthn::available(&state.app),
        qr_base64: STANDARD.encode(setup.qr_svg.as_bytes()),
        secret: setup
            .secret_base32
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mut r = render(status, &page);
    // The seed is on this page: never cache it anywhere.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// `GET /account/totp`: enrol (or replace, after a step-up) the authenticator app.
pub async fn totp_show(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if current.pending() == galien_app::identity::NextStep::SecondFactor {
        return Ok(Redirect::to("/login/factor").into_response());
    }
    if !totp::may_enrol(&state.app, &current) {
        return Ok(Redirect::to("/account/step-up?next=/account/totp").into_response());
    }
    let setup = totp::begin(&state.app, &current).map_err(|e| PageError {
        code: e.code(),
        lang,
    })?;
    Ok(totp_page(
        &state,
        &current,
        lang,
        StatusCode::OK,
        &setup,
        Vec::new(),
    ))
}

/// The confirmation form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TotpForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    sealed: String,
    code: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    frame: Frame,
    codes: Vec<String>,
}

/// `POST /account/totp`: confirms with a first code; shows the recovery codes once.
pub async fn totp_submit(
    State(state): State<WebState>,
    Signed(current): Signed,
    Ctx(ctx): Ctx,
    form: Result<Form<TotpForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = crate::pages::checked_form(&current, form, lang, |f| &f.csrf)?;
    match totp::confirm(&state.app, &ctx, &current, &form.sealed, &form.code).await {
        Ok((grant, codes)) => {
            let new_session =
                galien_app::identity::session::resolve(&state.app, &ctx, grant.token.expose())
                    .await
                    .map_err(|e| PageError {
                        code: e.code(),
                        lang,
                    })?;
            let page = RecoveryPage {
                frame: frame(lang, "/account", Some(&new_session)),
                codes: codes.iter().map(|c| c.display().to_string()).collect(),
            };
            let mut r = render(StatusCode::OK, &page);
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&grant, state.tls));
            Ok(r)
        }
        Err(e) => {
            let setup =
                totp::reopen(&state.app, &current, &form.sealed).map_err(|e2| PageError {
                    code: e2.code(),
                    lang,
                })?;
            Ok(totp_page(
                &state,
                &current,
                lang,
                status_of(&e),
                &setup,
                messages(&e, lang),
            ))
        }
    }
}

/// The end-one-session form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    handle: String,
}

/// `POST /account/sessions/end`.
pub async fn end_session(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<EndForm>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let form = crate::pages::checked_form(&current, form, lang, |f| &f.csrf)?;
    let ended = session::end_one(&state.app, &ctx, &current, &form.handle)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    if !ended {
        return Err(PageError {
            code: ErrorCode::NotFound,
            lang,
        });
    }
    Ok(Redirect::to("/account?done=session#sessions").into_response())
}

/// `POST /account/sessions/end-others`.
pub async fn end_others(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    if !form.is_ok_and(|Form(f)| current.csrf_ok(&f.csrf)) {
        return Err(PageError {
            code: ErrorCode::CsrfInvalid,
            lang,
        });
    }
    session::end_others(&state.app, &ctx, &current)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    Ok(Redirect::to("/account?done=others#sessions").into_response())
}

/// Query of the step-up page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: Option<String>,
}

async fn step_up_page(
    state: &WebState,
    current: &Current,
    lang: Lang,
    status: StatusCode,
    errors: Vec<String>,
    next: Option<String>,
) -> Response {
    let offer = match crate::pages::webauthn::factor_offer(state, current, lang).await {
        Ok(offer) => offer,
        Err(e) => return e.into_response(),
    };
    let page = FactorPage {
        frame: frame(lang, "/account/step-up", Some(current)),
        errors,
        csrf: current.csrf_token(),
        title_key: "stepup.title",
        lead_key: "stepup.lead",
        action: "/account/step-up",
        recovery: false,
        next: next.filter(|n| is_local_path(n)),
        offer,
    };
    render(status, &page)
}

/// `GET /account/step-up?next=…`.
pub async fn step_up(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    Query(q): Query<NextQuery>,
) -> Response {
    step_up_page(
        &state,
        &current,
        ctx.lang,
        StatusCode::OK,
        Vec::new(),
        q.next,
    )
    .await
}

/// `POST /account/step-up`.
pub async fn step_up_submit(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let lang = ctx.lang;
    let Ok(Form(form)) = form else {
        return step_up_page(
            &state,
            &current,
            lang,
            StatusCode::BAD_REQUEST,
            vec![ErrorCode::FormInvalid.message(lang).into()],
            None,
        )
        .await;
    };
    if !current.csrf_ok(&form.csrf) {
        return step_up_page(
            &state,
            &current,
            lang,
            StatusCode::FORBIDDEN,
            vec![ErrorCode::CsrfInvalid.message(lang).into()],
            form.next,
        )
        .await;
    }
    match login::step_up(&state.app, &ctx, &current, &form.code).await {
        Ok(()) => {
            let target = form
                .next
                .filter(|n| is_local_path(n))
                .unwrap_or_else(|| "/account".to_owned());
            Redirect::to(&target).into_response()
        }
        Err(e) => {
            step_up_page(
                &state,
                &current,
                lang,
                status_of(&e),
                messages(&e, lang),
                form.next,
            )
            .await
        }
    }
}
