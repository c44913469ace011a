//! What a use case knows about the request that triggered it: where it came from, for the traces
//! (TRACE-1). Built by the web layer, by the CLI (no address), or by tests.

use galien_core::Lang;
use galien_core::ids::RequestId;
use std::net::IpAddr;

/// The origin of a call.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent` (truncated to 256 characters).
    pub user_agent: Option<String>,
    /// The request id (also in logs and error pages).
    pub request_id: Option<RequestId>,
    /// The person's language.
    pub lang: Lang,
}

impl RequestContext {
    /// The address as stored in traces and session lists.
    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// The audit source of this request.
    pub fn source(&self) -> galien_core::audit::Source {
        galien_core::audit::Source {
            ip: self.ip_text(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id,
        }
    }
}
