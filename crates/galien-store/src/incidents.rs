//! Security incidents and personal-data breaches (TRACE-5, TRACE-6), and the anomaly scan's cursor.

use galien_core::audit::AuditEvent;
use galien_core::ids::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::{Cols, corrupt};
use crate::patients::{read_only, traced_tx};
use crate::tokens::to_micros;
use crate::{Store, StoreError};

/// How bad an incident looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Needs review soon.
    Medium,
    /// Needs review now.
    High,
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    /// Not looked at yet.
    Open,
    /// Being looked at.
    Investigating,
    /// Dealt with.
    Closed,
}

macro_rules! text_enum_impl {
    ($ty:ident { $($variant:ident = $text:literal),* }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];
            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            /// Parses the stored text.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}
text_enum_impl!(Severity { Low = "low", Medium = "medium", High = "high" });
text_enum_impl!(IncidentStatus { Open = "open", Investigating = "investigating", Closed = "closed" });

/// An incident to open.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Its id.
    pub id: Uuid,
    /// When.
    pub opened_at: OffsetDateTime,
    /// The rule that opened it (`None`: registered by hand).
    pub rule: Option<String>,
    /// What the rule looked at.
    pub subject: Option<String>,
    /// The finding, without health data.
    pub finding: String,
    /// Severity.
    pub severity: Severity,
    /// Sealed details, when registered by hand.
    pub details: Option<Vec<u8>>,
    /// Who registered it (`None`: a rule).
    pub by: Option<UserId>,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Its id.
    pub id: Uuid,
    /// When it was opened.
    pub opened_at: OffsetDateTime,
    /// The rule that opened it.
    pub rule: Option<String>,
    /// What the rule looked at.
    pub subject: Option<String>,
    /// The finding.
    pub finding: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: IncidentStatus,
    /// Sealed details.
    pub details: Option<Vec<u8>>,
    /// Qualified as a personal-data breach.
    pub is_breach: bool,
    /// When the organisation became aware of the breach (start of the 72-hour clock).
    pub breach_aware_at: Option<OffsetDateTime>,
    /// When the CNIL was notified.
    pub cnil_notified_at: Option<OffsetDateTime>,
    /// Whether patients must be informed (art. 34): `None` not decided yet.
    pub inform_patients: Option<bool>,
    /// When they were informed.
    pub patients_informed_at: Option<OffsetDateTime>,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// By whom.
    pub updated_by: Option<UserId>,
}

/// The DPO's qualification of an incident (every field is written as given).
#[derive(Debug, Clone)]
pub struct IncidentUpdate {
    /// Status.
    pub status: IncidentStatus,
    /// Severity.
    pub severity: Severity,
    /// Sealed details.
    pub details: Option<Vec<u8>>,
    /// A breach, and since when the organisation knows.
    pub breach_aware_at: Option<OffsetDateTime>,
    /// When the CNIL was notified.
    pub cnil_notified_at: Option<OffsetDateTime>,
    /// Whether patients must be informed.
    pub inform_patients: Option<bool>,
    /// When they were informed.
    pub patients_informed_at: Option<OffsetDateTime>,
    /// When.
    pub at: OffsetDateTime,
    /// By whom.
    pub by: UserId,
}

macro_rules! select_incident {
    ($tail:literal) => {
        concat!(
            "SELECT id, opened_at, rule, subject, finding, severity, status, details, is_breach, \
             breach_aware_at, cnil_notified_at, inform_patients, patients_informed_at, updated_at, \
             updated_by FROM incidents ",
            $tail
        )
    };
}

fn from_row<R: Cols>(r: &R) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: r.uuid(0)?,
        opened_at: r.time(1)?,
        rule: r.opt_text(2)?,
        subject: r.opt_text(3)?,
        finding: r.text(4)?,
        severity: Severity::parse(&r.text(5)?).ok_or_else(|| corrupt("severity"))?,
        status: IncidentStatus::parse(&r.text(6)?).ok_or_else(|| corrupt("incident status"))?,
        details: r.opt_bytes(7)?,
        is_breach: r.int(8)? != 0,
        breach_aware_at: r.opt_time(9)?,
        cnil_notified_at: r.opt_time(10)?,
        inform_patients: r.opt_text(11)?.map(|s| s == "yes"),
        patients_informed_at: r.opt_time(12)?,
        updated_at: r.time(13)?,
        updated_by: r.opt_uuid(14)?.map(UserId::from_uuid),
    })
}

fn opt_micros(t: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    t.map(to_micros).transpose()
}

impl Store {
    /// Opens an incident, with `trace` in the same transaction. When `dedup_since` is given and an
    /// incident of the same rule and subject was opened since then and is not closed, nothing is
    /// opened and `false` is returned.
    pub async fn open_incident(
        &self,
        incident: NewIncident,
        dedup_since: Option<OffsetDateTime>,
        trace: AuditEvent,
    ) -> Result<bool, StoreError> {
        let at = to_micros(incident.opened_at)?;
        let since = opt_micros(dedup_since)?;
        traced_tx!(self, vec![trace], |conn| {
            if let Some(since) = since {
                let dup = sqlx::query(
                    "SELECT 1 FROM incidents WHERE rule = $1 AND subject = $2 AND opened_at >= $3 \
                     AND status <> 'closed' LIMIT 1",
                )
                .bind(incident.rule.clone())
                .bind(incident.subject.clone())
                .bind(since)
                .fetch_optional(&mut *conn)
                .await?;
                if dup.is_some() {
                    return Err(StoreError::Conflict("incident already open".into()));
                }
            }
            sqlx::query(
                "INSERT INTO incidents (id, opened_at, rule, subject, finding, severity, status, \
                 details, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $2, $8)",
            )
            .bind(incident.id)
            .bind(at)
            .bind(incident.rule.clone())
            .bind(incident.subject.clone())
            .bind(incident.finding.clone())
            .bind(incident.severity.as_str())
            .bind(incident.details.clone())
            .bind(incident.by.map(|u| u.as_uuid()))
            .execute(&mut *conn)
            .await?;
            Ok::<_, StoreError>(true)
        })
        .or_else(|e| match e {
            StoreError::Conflict(m) if m == "incident already open" => Ok(false),
            other => Err(other),
        })
    }

    /// Incidents, most urgent first: open breaches, then open/investigating by severity and age,
    /// then closed ones (newest first). At most 500.
    pub async fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        read_only!(self, |conn| {
            let rows = sqlx::query(select_incident!(
                "ORDER BY CASE status WHEN 'closed' THEN 1 ELSE 0 END, is_breach DESC, \
                 CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, opened_at DESC \
                 LIMIT 500"
            ))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()
        })
    }

    /// How many incidents are not closed.
    pub async fn open_incident_count(&self) -> Result<u64, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query("SELECT COUNT(*) FROM incidents WHERE status <> 'closed'")
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, StoreError>(u64::try_from(row.int(0)?).unwrap_or(0))
        })
    }

    /// One incident, or [`StoreError::NotFound`].
    pub async fn incident(&self, id: Uuid) -> Result<Incident, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query(select_incident!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            from_row(&row)
        })
    }

    /// Records the DPO's qualification, with `trace` in the same transaction.
    pub async fn update_incident(
        &self,
        id: Uuid,
        u: IncidentUpdate,
        trace: AuditEvent,
    ) -> Result<(), StoreError> {
        let inform = u.inform_patients.map(|b| if b { "yes" } else { "no" });
        let (aware, cnil, informed, at) = (
            opt_micros(u.breach_aware_at)?,
            opt_micros(u.cnil_notified_at)?,
            opt_micros(u.patients_informed_at)?,
            to_micros(u.at)?,
        );
        traced_tx!(self, vec![trace], |conn| {
            let done = sqlx::query(
                "UPDATE incidents SET status = $2, severity = $3, details = $4, is_breach = $5, \
                 breach_aware_at = $6, cnil_notified_at = $7, inform_patients = $8, \
                 patients_informed_at = $9, updated_at = $10, updated_by = $11 WHERE id = $1",
            )
            .bind(id)
            .bind(u.status.as_str())
            .bind(u.severity.as_str())
            .bind(u.details.clone())
            .bind(i64::from(aware.is_some()))
            .bind(aware)
            .bind(cnil)
            .bind(inform)
            .bind(informed)
            .bind(at)
            .bind(u.by.as_uuid())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok::<(), StoreError>(())
        })
    }

    /// The last audit seq the anomaly scan has read.
    pub async fn anomaly_cursor(&self) -> Result<u64, StoreError> {
        read_only!(self, |conn| {
            let row = sqlx::query("SELECT seq FROM anomaly_cursor WHERE id = 1")
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, StoreError>(u64::try_from(row.int(0)?).unwrap_or(0))
        })
    }

    /// Moves the cursor from `from` to `to` if no other node moved it meanwhile (`true` iff moved):
    /// the node that moves it owns the scan of that range.
    pub async fn claim_anomaly_range(&self, from: u64, to: u64) -> Result<bool, StoreError> {
        let (from, to) = (
            i64::try_from(from).map_err(|_| corrupt("cursor"))?,
            i64::try_from(to).map_err(|_| corrupt("cursor"))?,
        );
        traced_tx!(self, Vec::new(), |conn| {
            let done = sqlx::query("UPDATE anomaly_cursor SET seq = $2 WHERE id = 1 AND seq = $1")
                .bind(from)
                .bind(to)
                .execute(&mut *conn)
                .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }
}
