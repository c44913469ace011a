//! Language choice (query `?lang=`, then the `galien_lang` cookie, then `Accept-Language`, then
//! French) and the strings shared by every page.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use galien_core::Lang;
use serde::Deserialize;

/// The language of the person making the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiLang(pub Lang);

const COOKIE: &str = "galien_lang";

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UiLang(lang_of(parts)))
    }
}

/// The language for a request: explicit query, remembered cookie, browser preference, French.
pub fn lang_of(parts: &Parts) -> Lang {
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::from_tag)
    });
    let from_cookie = || {
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .find_map(|c| c.trim().strip_prefix("galien_lang="))
                    .and_then(Lang::from_tag)
            })
    };
    let from_header = || {
        parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::negotiate)
    };
    from_query
        .or_else(from_cookie)
        .or_else(from_header)
        .unwrap_or_default()
}

/// Query of `/lang/{code}`.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /lang/{code}?next=/path`: remembers the language and goes back (same site only).
pub async fn switch(
    State(state): State<crate::WebState>,
    Path(code): Path<String>,
    Query(q): Query<Next>,
) -> Response {
    let lang = Lang::from_tag(&code).unwrap_or_default();
    let target = q
        .next
        .filter(|n| is_local_path(n))
        .unwrap_or_else(|| "/".to_owned());
    let secure = if state.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
        lang.tag()
    );
    let mut response = Redirect::to(&target).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Only paths on this site: `/x`, never `//evil`, `/\evil` or `https://…` (no open redirect).
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && !p.chars().any(char::is_control)
}

/// Strings of the page frame.
#[derive(Debug)]
pub struct Chrome {
    /// Skip link text.
    pub skip: &'static str,
    /// Beside the brand.
    pub tagline: &'static str,
    /// Label of the language navigation.
    pub lang_nav: &'static str,
    /// Footer text.
    pub footer: &'static str,
}

/// The frame strings in `lang`.
pub fn chrome(lang: Lang) -> &'static Chrome {
    match lang {
        Lang::Fr => &Chrome {
            skip: "Aller au contenu",
            tagline: "Télémédecine",
            lang_nav: "Langue",
            footer: "Galien — plateforme de télémédecine. Données de santé chiffrées, accès tracés.",
        },
        Lang::En => &Chrome {
            skip: "Skip to content",
            tagline: "Telemedicine",
            lang_nav: "Language",
            footer: "Galien — telemedicine platform. Health data encrypted, every access traced.",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert!(is_local_path("/"));
        assert!(is_local_path("/enrol/abc"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn query_beats_cookie_beats_header() {
        let req = |uri: &str, cookie: Option<&str>, accept: Option<&str>| {
            let mut b = axum::http::Request::builder().uri(uri);
            if let Some(c) = cookie {
                b = b.header(header::COOKIE, c);
            }
            if let Some(a) = accept {
                b = b.header(header::ACCEPT_LANGUAGE, a);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert_eq!(
            lang_of(&req("/?lang=en", Some("galien_lang=fr"), Some("fr"))),
            Lang::En
        );
        assert_eq!(
            lang_of(&req("/", Some("x=1; galien_lang=en"), Some("fr"))),
            Lang::En
        );
        assert_eq!(lang_of(&req("/", None, Some("en-US,en;q=0.9"))), Lang::En);
        assert_eq!(lang_of(&req("/", None, None)), Lang::Fr);
    }
}
