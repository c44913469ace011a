//! `GET /`: what this installation is, and whether it still awaits its first administrator.

use crate::WebState;
use crate::auth::Ctx;
use crate::errors::PageError;
use crate::i18n::UiLang;
use crate::pages::{Frame, frame};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use galien_core::Lang;

/// Strings of the home page.
#[derive(Debug)]
pub struct Texts {
    title: &'static str,
    lead: &'static str,
    awaiting_admin_title: &'static str,
    awaiting_admin_body: &'static str,
    acts_heading: &'static str,
    acts: [(&'static str, &'static str); 5],
    safeguards_heading: &'static str,
    safeguards: [&'static str; 5],
}

const FR: Texts = Texts {
    title: "Galien, la télémédecine sûre",
    lead: "Galien permet aux établissements et professionnels de santé de pratiquer les cinq actes de télémédecine avec les garanties demandées par la CNIL.",
    awaiting_admin_title: "Installation en attente de son premier administrateur",
    awaiting_admin_body: "Le lien d'enrôlement à usage unique a été affiché dans la console du serveur au démarrage. L'exploitant peut en obtenir un nouveau avec la commande « galien admin enrol-link ».",
    acts_heading: "Les actes de télémédecine",
    acts: [
        (
            "Téléconsultation",
            "Consultation à distance par vidéo : salle d'attente, messagerie, documents, compte rendu.",
        ),
        (
            "Téléexpertise",
            "Avis d'un ou plusieurs experts sur le dossier d'un patient, de façon asynchrone.",
        ),
        (
            "Télésurveillance",
            "Interprétation à distance des mesures du patient, alertes et décisions tracées.",
        ),
        (
            "Téléassistance",
            "Un médecin assiste en direct un autre professionnel de santé pendant un acte.",
        ),
        (
            "Régulation médicale",
            "Prise d'appel, priorisation et décision du médecin régulateur, horodatées.",
        ),
    ],
    safeguards_heading: "Les garanties",
    safeguards: [
        "Authentification forte de chaque utilisateur, comptes strictement personnels.",
        "Habilitations au plus juste, selon le rôle et la relation de soin.",
        "Chaque accès aux données de santé est tracé de façon infalsifiable.",
        "Données de santé chiffrées, NIR et INS protégés.",
        "Droits des patients : accès, rectification, journal des accès à leur dossier.",
    ],
};

const EN: Texts = Texts {
    title: "Galien, safe telemedicine",
    lead: "Galien lets health organisations and professionals practise the five telemedicine acts with the safeguards the CNIL requires.",
    awaiting_admin_title: "This installation awaits its first administrator",
    awaiting_admin_body: "The single-use enrolment link was printed on the server console at start-up. The operator can get a new one with the command \u{201c}galien admin enrol-link\u{201d}.",
    acts_heading: "Telemedicine acts",
    acts: [
        (
            "Teleconsultation",
            "Remote video consultation: waiting room, chat, documents, report.",
        ),
        (
            "Tele-expertise",
            "One or several experts give an opinion on a patient's case, asynchronously.",
        ),
        (
            "Telemonitoring",
            "Remote interpretation of the patient's measurements, with traced alerts and decisions.",
        ),
        (
            "Tele-assistance",
            "A doctor assists another health professional live during an act.",
        ),
        (
            "Medical regulation",
            "Call intake, priority and the regulating doctor's decision, all time-stamped.",
        ),
    ],
    safeguards_heading: "Safeguards",
    safeguards: [
        "Strong authentication for every user; strictly personal accounts.",
        "Least-privilege habilitations, by role and care relationship.",
        "Every access to health data leaves a tamper-evident trace.",
        "Health data encrypted; NIR and INS protected.",
        "Patients' rights: access, rectification, the log of who accessed their record.",
    ],
};

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
/// The home page.
pub struct HomePage {
    frame: Frame,
    t: &'static Texts,
    bootstrap_completed: bool,
}

/// `GET /`.
pub async fn show(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    headers: axum::http::HeaderMap,
    Ctx(ctx): Ctx,
) -> Result<HomePage, PageError> {
    // The home page is public; it greets a signed-in person without requiring a session.
    let raw = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .find_map(|c| c.trim().strip_prefix("galien_session="))
        })
        .map(str::to_owned);
    let current = match raw {
        Some(raw) => galien_app::identity::session::resolve(&state.app, &ctx, &raw)
            .await
            .ok(),
        None => None,
    };
    let bootstrap_completed = galien_app::bootstrap::completed(&state.app)
        .await
        .map_err(|e| PageError {
            code: e.code(),
            lang,
        })?;
    let mut page_frame = frame(lang, "/", current.as_ref());
    if let Some(c) = current.as_ref() {
        page_frame = super::with_open_incidents(page_frame, &state.app, c).await;
    }
    Ok(HomePage {
        frame: page_frame,
        t: match lang {
            Lang::Fr => &FR,
            Lang::En => &EN,
        },
        bootstrap_completed,
    })
}
