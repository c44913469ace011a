//! The organisation's time zone, as pages show and forms read times (`time_zone` in the
//! configuration; `Europe/Paris` by default). Stored instants, traces, the API and FHIR stay UTC.
//!
//! The zone is the node's, fixed when its router is built ([`crate::router`]) from
//! `AppSettings::time_zone`, and the same for every request: the formatting helpers of the pages
//! read it here rather than each page's builder carrying it. Nodes of one installation share their
//! configuration; a second router built in the same process with another zone keeps the first
//! (a test of another zone runs in a process of its own, as nextest runs every test).

use galien_core::Zone;
use std::sync::OnceLock;

static ZONE: OnceLock<Zone> = OnceLock::new();

/// The zone of this node's pages (Paris until a router is built: unit tests).
pub fn zone() -> Zone {
    ZONE.get().copied().unwrap_or_default()
}

/// Fixes the zone of this node's pages; a different zone asked later is refused with a warning.
pub(crate) fn set_zone(zone: Zone) {
    let kept = *ZONE.get_or_init(|| zone);
    if kept != zone {
        tracing::warn!(
            kept = %kept,
            asked = %zone,
            "this process already shows pages in another time zone; keeping it"
        );
    }
}
