//! Per-request observability: a fresh request id (header `x-request-id`, every log line of the
//! request, error bodies), one span, one access log line, and the Prometheus request metrics.
//! Logs carry the route *template* (`/enrol/{token}`), never the path: paths can hold secrets.

use crate::WebState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use galien_core::ids::RequestId;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// Filled by [`record_route`] once the router has matched.
#[derive(Debug, Clone, Default)]
struct RouteSlot(Arc<Mutex<Option<String>>>);

/// Outer middleware: id, span, timing, metrics, access log.
pub async fn observe(State(state): State<WebState>, mut req: Request, next: Next) -> Response {
    let id = RequestId::generate(state.app.clock.now(), state.app.entropy.as_ref());
    let method = req.method().clone();
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(id);
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id, next.run(req).instrument(span.clone()))
        .await;
    let elapsed = started.elapsed();
    let route = slot
        .0
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
        if let Some(slot) = req.extensions().get::<RouteSlot>() {
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(path);
        }
    }
    next.run(req).await
}
