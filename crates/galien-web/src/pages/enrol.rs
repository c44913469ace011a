//! `GET /enrol/{token}`: tells the holder of an enrolment link whether it is valid, until when,
//! and what enrolment will ask; or exactly why it is not (invalid, expired, already used).

use crate::WebState;
use crate::errors::PageError;
use crate::i18n::{Chrome, UiLang, chrome};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use galien_core::Lang;
use time::format_description::well_known::Rfc3339;

/// Strings of the enrolment page.
#[derive(Debug)]
pub struct Texts {
    title: &'static str,
    valid: &'static str,
    expires: &'static str,
    what_next: &'static str,
    steps: [&'static str; 3],
    keep_private: &'static str,
}

const FR: Texts = Texts {
    title: "Enrôlement du premier administrateur",
    valid: "Ce lien d'enrôlement est valide.",
    expires: "Il fonctionne une seule fois et expire le",
    what_next: "L'enrôlement vous demandera, dans cet ordre :",
    steps: [
        "de choisir un mot de passe robuste (au moins 12 caractères de 4 types, ou une phrase de passe) ;",
        "d'enregistrer un second facteur : application d'authentification (TOTP) ou clé de sécurité (WebAuthn) ;",
        "de conserver vos codes de secours en lieu sûr.",
    ],
    keep_private: "Ne transmettez ce lien à personne : il donne les droits d'administration de cette installation.",
};

const EN: Texts = Texts {
    title: "First administrator enrolment",
    valid: "This enrolment link is valid.",
    expires: "It works once and expires on",
    what_next: "Enrolment will ask you, in this order:",
    steps: [
        "to choose a strong password (at least 12 characters of 4 kinds, or a passphrase);",
        "to register a second factor: an authenticator app (TOTP) or a security key (WebAuthn);",
        "to keep your recovery codes somewhere safe.",
    ],
    keep_private: "Do not share this link: it grants administration rights over this installation.",
};

#[derive(Template, WebTemplate)]
#[template(path = "enrol.html")]
/// The enrolment page.
pub struct EnrolPage {
    lang: Lang,
    chrome: &'static Chrome,
    here: String,
    t: &'static Texts,
    expires_iso: String,
    expires_human: String,
}

/// `GET /enrol/{token}`.
pub async fn show(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    Path(token): Path<String>,
) -> Result<EnrolPage, PageError> {
    let valid = galien_app::bootstrap::check_link(&state.app, &token)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    Ok(EnrolPage {
        lang,
        chrome: chrome(lang),
        here: format!("/enrol/{token}"),
        t: match lang {
            Lang::Fr => &FR,
            Lang::En => &EN,
        },
        expires_iso: valid.expires_at.format(&Rfc3339).unwrap_or_default(),
        expires_human: crate::pages::human_time(valid.expires_at, lang),
    })
}
