//! The processing register entry and the draft DPIA, written from the installation's
//! configuration (GDPR-1): `GET /dpo/register`, the page, and `GET /dpo/register.md`, the same as
//! a Markdown file to file or edit. The DPO and administrators, with a two-factor session; anyone
//! else is refused, and the refusal traced ([`galien_app::compliance::register::for_officer`]).

use crate::WebState;
use crate::auth::{Ctx, Strong};
use crate::errors::PageError;
use crate::pages::{Frame, frame, human_time, render, with_open_incidents};
use crate::texts::T;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use galien_app::compliance::register::{self, Item, Register, Section};

/// The register's routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/dpo/register", get(show))
        .route("/dpo/register.md", get(markdown))
}

#[derive(Template)]
#[template(path = "dpo_register.html")]
struct RegisterPage {
    frame: Frame,
    register: Vec<SectionView>,
    dpia: Vec<SectionView>,
    attention: Vec<Vec<Seg>>,
    generated: String,
}

/// A piece of a line: plain text, or code (a configuration key, a command) between backticks.
struct Seg {
    code: bool,
    text: String,
}

struct ItemView {
    label: String,
    lines: Vec<Vec<Seg>>,
    attention: bool,
}

struct SectionView {
    id: &'static str,
    title: String,
    items: Vec<ItemView>,
}

/// `line` cut at its backticks: what they enclose is shown as code.
fn segments(line: &str) -> Vec<Seg> {
    line.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| Seg {
            code: i % 2 == 1,
            text: part.to_owned(),
        })
        .collect()
}

fn view(sections: Vec<Section>) -> Vec<SectionView> {
    sections
        .into_iter()
        .map(|s| SectionView {
            id: s.id,
            title: s.title,
            items: s
                .items
                .into_iter()
                .map(
                    |Item {
                         label,
                         lines,
                         attention,
                     }| ItemView {
                        label,
                        lines: lines.iter().map(|l| segments(l)).collect(),
                        attention,
                    },
                )
                .collect(),
        })
        .collect()
}

/// The register in the person's language, if they may read it.
async fn officer_register(
    state: &WebState,
    current: &galien_app::identity::session::Current,
    ctx: &galien_app::RequestContext,
) -> Result<Register, PageError> {
    register::for_officer(&state.app, ctx, current, ctx.lang)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang: ctx.lang,
        })
}

async fn show(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let register = officer_register(&state, &current, &ctx).await?;
    let frame = with_open_incidents(
        frame(lang, "/dpo/register", Some(&current)),
        &state.app,
        &current,
    )
    .await;
    Ok(render(
        StatusCode::OK,
        &RegisterPage {
            frame,
            generated: human_time(register.generated_at, lang),
            attention: register.attention.iter().map(|a| segments(a)).collect(),
            register: view(register.register),
            dpia: view(register.dpia),
        },
    ))
}

async fn markdown(
    State(state): State<WebState>,
    Strong(current): Strong,
    Ctx(ctx): Ctx,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let register = officer_register(&state, &current, &ctx).await?;
    let t = T { lang };
    let generated = format!(
        "{} {}",
        t.s("register.generated"),
        human_time(register.generated_at, lang)
    );
    let day = crate::local_time::zone()
        .local(register.generated_at)
        .date();
    let name = format!("{}-{day}.md", t.s("register.file"));
    let mut response = register.to_markdown(lang, &generated).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn gdpr1_keys_and_commands_between_backticks_show_as_code() {
        let parts: Vec<(bool, String)> = segments("À compléter : `organisation.host` — HDS")
            .into_iter()
            .map(|s| (s.code, s.text))
            .collect();
        assert_eq!(
            parts,
            vec![
                (false, "À compléter : ".to_owned()),
                (true, "organisation.host".to_owned()),
                (false, " — HDS".to_owned()),
            ]
        );
        assert!(segments("").is_empty());
    }
}
