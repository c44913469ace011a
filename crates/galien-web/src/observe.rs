//! Per-request observability: a fresh request id (header `x-request-id`, every log line of the
//! request, error bodies), one span, one access log line, and the Prometheus request metrics.
//! Logs carry the route *template* (`/enrol/{token}`), never the path: paths can hold secrets.
//! It also completes error pages: a [`PageError`] answered by a handler is drawn again here with
//! the navigation of the person the request's session extractor found, and a language switch
//! that comes back to the same address.

use crate::WebState;
use crate::errors::PageError;
use crate::pages::Nav;
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use galien_app::identity::session::Current;
use galien_core::ids::RequestId;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// What the inner layers learn about the request, for the outer middleware: the route template
/// (filled by [`record_route`] once the router has matched) and the session a session extractor
/// resolved (by [`remember_session`]).
#[derive(Debug, Clone, Default)]
struct RequestSlots(Arc<Slots>);

#[derive(Debug, Default)]
struct Slots {
    route: Mutex<Option<String>>,
    nav: OnceLock<Nav>,
}

/// Keeps the header of the session the request's extractor resolved (not the session itself:
/// two small strings), so that an error page answered later on this request shows that person's
/// navigation. The first one kept wins.
pub(crate) fn remember_session(parts: &Parts, current: &Current) {
    if let Some(slots) = parts.extensions.get::<RequestSlots>()
        && slots.0.nav.get().is_none()
    {
        let _ = slots.0.nav.set(crate::pages::nav_of(current));
    }
}

/// Outer middleware: id, span, timing, metrics, access log.
pub async fn observe(State(state): State<WebState>, mut req: Request, next: Next) -> Response {
    let id = RequestId::generate(state.app.clock.now(), state.app.entropy.as_ref());
    let method = req.method().clone();
    let uri = req.uri().clone();
    let slot = RequestSlots::default();
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(id);
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id, next.run(req).instrument(span.clone()))
        .await;
    if let Some(error) = response.extensions_mut().remove::<PageError>() {
        // Only a page read again can come back to its address after a language switch.
        let here = match method {
            Method::GET | Method::HEAD => uri.path_and_query().map_or("/", |pq| pq.as_str()),
            _ => "/",
        };
        let page = REQUEST_ID.sync_scope(id, || error.page(slot.0.nav.get().cloned(), here));
        *response.body_mut() = page.into_body();
    }
    let elapsed = started.elapsed();
    let route = slot
        .0
        .route
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status();
    state
        .metrics
        .observe_request(method.as_str(), &route, status.as_u16(), elapsed);
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                latency_ms,
                route,
                "request failed"
            );
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, route, "request");
        }
    });
    response
}

/// Inner middleware (route layer): records the matched route template.
pub async fn record_route(req: Request, next: Next) -> Response {
    if let Some(path) = req.extensions().get::<MatchedPath>() {
        let path = path.as_str().to_owned();
        tracing::Span::current().record("route", path.as_str());
        if let Some(slot) = req.extensions().get::<RequestSlots>() {
            *slot.0.route.lock().unwrap_or_else(PoisonError::into_inner) = Some(path);
        }
    }
    next.run(req).await
}
