//! Security headers on every response (OPS-2). The CSP allows no inline script or style at all:
//! pages load `/assets/*` only.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; media-src 'self' blob:; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// HSTS, sent only when Galien serves TLS itself (two years, subdomains).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the security headers to every response of `router`.
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, tls: bool) -> Router<S> {
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        // Pages may show health data: no cache keeps them. Assets set their own policy.
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut router = router;
    for (name, value) in fixed {
        let layer = if name == header::CACHE_CONTROL {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        } else {
            SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
        };
        router = router.layer(layer);
    }
    if tls {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ));
    }
    router
}
