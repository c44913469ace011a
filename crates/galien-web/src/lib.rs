//! Galien's HTTP face. Every request passes, in order: request id + span + metrics
//! ([`observe`]), panic catching, timeout, security headers ([`headers`]), then the routes.
//! Public routes live in [`router`]; authenticated routes will live in their own router behind the
//! authentication layer (CONVENTIONS 5) so a route mounted in the wrong place fails closed.

pub mod api;
pub mod assets;
pub mod auth;
pub mod client_cert;
pub mod csrf;
pub mod errors;
pub mod headers;
pub mod health;
pub mod i18n;
pub mod local_time;
pub mod metrics;
pub mod observe;
pub mod pages;
pub mod texts;
pub mod texts_appointments;
pub mod texts_call;
pub mod texts_dpo;
pub mod texts_incidents;
pub mod texts_lead;
pub mod texts_monitoring;
pub mod texts_patients;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use galien_app::App;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;

/// What handlers share: one allocation, so that each extractor's copy costs one reference count.
#[derive(Debug, Clone)]
pub struct WebState(Arc<WebParts>);

impl WebState {
    /// The shared state of `parts`.
    pub fn new(parts: WebParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for WebState {
    type Target = WebParts;

    fn deref(&self) -> &WebParts {
        &self.0
    }
}

/// The parts of [`WebState`].
#[derive(Debug)]
pub struct WebParts {
    /// Use cases and their capabilities.
    pub app: App,
    /// The Prometheus registry.
    pub metrics: Arc<metrics::Metrics>,
    /// Whether Galien serves HTTPS itself (cookies get `Secure`, responses get HSTS).
    pub tls: bool,
    /// This node's teleconsultation pages and their signaling relay.
    pub hub: galien_app::teleconsultation::hub::Hub,
    /// The sessions of this node's open sockets, looked at together every
    /// [`pages::call::ws::CHECK_EVERY`].
    pub sessions: galien_app::identity::watch::SessionWatch,
}

/// HTTP settings from the operator's configuration.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// A request taking longer is abandoned with `REQ-TIMEOUT` (503).
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Builds the whole application router. `extra` routes (extensions, test probes) get the same
/// middleware as Galien's own.
pub fn router(state: WebState, settings: HttpSettings, extra: Router) -> Router {
    local_time::set_zone(state.app.settings.time_zone);
    let tls = state.tls;
    let routes = Router::new()
        .route("/", get(pages::home::show))
        .route(
            "/enrol/{token}",
            get(pages::enrol::show).post(pages::enrol::submit),
        )
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route(
            "/login/factor",
            get(pages::login::factor).post(pages::login::factor_submit),
        )
        .route("/login/recovery", post(pages::login::recovery_submit))
        .route("/logout", post(pages::login::logout))
        .route("/account", get(pages::account::show))
        .route(
            "/account/totp",
            get(pages::account::totp_show).post(pages::account::totp_submit),
        )
        .route("/account/sessions/end", post(pages::account::end_session))
        .route("/account/password", post(pages::account::change_password))
        .route(
            "/account/recovery-codes",
            post(pages::account::new_recovery_codes),
        )
        .route(
            "/account/sessions/end-others",
            post(pages::account::end_others),
        )
        .route(
            "/account/step-up",
            get(pages::account::step_up).post(pages::account::step_up_submit),
        )
        .route(
            "/admin/users",
            get(pages::admin::show).post(pages::admin::invite),
        )
        .route("/admin/users/{id}/{action}", post(pages::admin::act))
        .route(
            "/admin/machines",
            get(pages::machines::show).post(pages::machines::create),
        )
        .route("/admin/machines/{id}/revoke", post(pages::machines::revoke))
        .route("/api/v1/token", post(api::token::token))
        .route("/api/v1/whoami", get(api::token::whoami))
        .route("/lang/{code}", get(i18n::switch))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/assets/{*file}", get(assets::serve))
        .merge(api::fhir_observations::routes())
        .merge(api::openapi::routes())
        .merge(pages::certificate::routes())
        .merge(pages::oidc::routes())
        .merge(pages::webauthn::routes())
        .merge(pages::dpo::routes())
        .merge(pages::register::routes())
        .merge(pages::patients::routes())
        .merge(pages::emergency_review::routes())
        .merge(pages::incidents::routes())
        .merge(pages::my_record::routes())
        .merge(pages::monitoring::routes())
        .merge(pages::appointments::routes())
        .merge(pages::call::routes())
        .merge(pages::ice::routes())
        .route_layer(axum::middleware::from_fn(observe::record_route))
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .with_state(state.clone())
        .merge(extra);

    let routes = routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                state,
                observe::observe,
            ))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                errors::panic_response,
            ))
            .layer(HandleErrorLayer::new(errors::timeout_response))
            .layer(tower::timeout::TimeoutLayer::new(settings.request_timeout))
            .layer(DefaultBodyLimit::max(settings.max_body_bytes)),
    );
    // Outermost, so that even timeouts and panics answer with the security headers.
    headers::apply(routes, tls)
}
