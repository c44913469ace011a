//! Anomaly rules (TRACE-5): a scan reads the audit trail from where it stopped and opens a security
//! incident when a rule fires. Each rule's threshold is configurable (`[anomaly]` in the TOML file):
//!
//! | rule | fires when | severity |
//! |---|---|---|
//! | `many_patients` | one user opened at least `many_patients` distinct patients within `many_patients_minutes` | high |
//! | `emergency_access` | an emergency access (break-the-glass) was opened | medium |
//! | `off_hours` | a user accessed health data outside `working_hours_start`–`working_hours_end` (local time) | low |
//! | `failed_logins` | at least `failed_logins` failed sign-ins on one account, or from one address, within `failed_logins_minutes` | high |
//! | `exports` | one user made at least `exports` exports within `exports_minutes` | medium |
//!
//! An incident is not opened twice for the same rule and subject while one is open within the
//! rule's window. The scan claims each range of the trail with compare-and-set, so several nodes
//! share the work.

use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::ids::AuditEventId;
use galien_store::{AuditFilter, NewIncident, Severity};
use time::{Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::{App, AppError};

/// Thresholds of the anomaly rules.
#[derive(Debug, Clone)]
pub struct AnomalySettings {
    /// Distinct patients opened by one user…
    pub many_patients: u32,
    /// …within this window.
    pub many_patients_window: Duration,
    /// Failed sign-ins on one account or from one address…
    pub failed_logins: u32,
    /// …within this window.
    pub failed_logins_window: Duration,
    /// Exports by one user…
    pub exports: u32,
    /// …within this window.
    pub exports_window: Duration,
    /// Working hours, local time: accesses at or after `start` and before `end` are ordinary.
    pub working_hours: (u8, u8),
    /// The local time's offset from UTC.
    pub utc_offset: UtcOffset,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            many_patients: 20,
            many_patients_window: Duration::minutes(10),
            failed_logins: 10,
            failed_logins_window: Duration::minutes(15),
            exports: 5,
            exports_window: Duration::minutes(60),
            working_hours: (7, 20),
            utc_offset: UtcOffset::from_hms(1, 0, 0).unwrap_or(UtcOffset::UTC),
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: &'static str,
    /// What it looked at (`user:…`, `account:…`, `ip:…`, `event:…`).
    pub subject: String,
    /// In words, without health data.
    pub finding: String,
    /// How bad.
    pub severity: Severity,
    /// Do not open it again for the same subject within this window.
    pub window: Duration,
}

fn is_health_access(e: &AuditEvent) -> bool {
    e.patient.is_some()
        && e.outcome == Outcome::Success
        && matches!(
            e.action,
            AuditAction::RecordRead
                | AuditAction::RecordWrite
                | AuditAction::RecordExport
                | AuditAction::RecordPrint
        )
}

async fn window_events(
    app: &App,
    filter: AuditFilter,
    until: OffsetDateTime,
) -> Result<Vec<AuditEvent>, AppError> {
    let mut filter = filter;
    filter.to = Some(until + Duration::microseconds(1));
    filter.limit = Some(1000);
    Ok(app
        .store
        .audit_events(&filter)
        .await?
        .into_iter()
        .map(|e| e.event)
        .collect())
}

/// The rules that fire on `e`, given the trail before it.
pub async fn check(
    app: &App,
    rules: &AnomalySettings,
    e: &AuditEvent,
) -> Result<Vec<Finding>, AppError> {
    let mut out = Vec::new();
    if e.action == AuditAction::AccessEmergency && e.outcome == Outcome::Success {
        out.push(Finding {
            rule: "emergency_access",
            subject: format!("event:{}", e.id),
            finding: format!(
                "Accès d'urgence ouvert par l'utilisateur {} au dossier {} : à revoir.",
                e.actor.user.map_or("?".into(), |u| u.to_string()),
                e.patient.map_or("?".into(), |p| p.to_string())
            ),
            severity: Severity::Medium,
            window: Duration::days(1),
        });
    }
    if is_health_access(e)
        && let Some(user) = e.actor.user
    {
        let local = e.at.to_offset(rules.utc_offset);
        let hour = local.hour();
        let (start, end) = rules.working_hours;
        if hour < start || hour >= end {
            out.push(Finding {
                rule: "off_hours",
                subject: format!("user:{user}"),
                finding: format!(
                    "Accès à des données de santé à {:02}:{:02} (heure locale), hors des heures ouvrées {start}h–{end}h, par l'utilisateur {user}.",
                    hour,
                    local.minute()
                ),
                severity: Severity::Low,
                window: Duration::hours(12),
            });
        }
        let recent = window_events(
            app,
            AuditFilter {
                user: Some(user),
                from: Some(e.at - rules.many_patients_window),
                ..AuditFilter::default()
            },
            e.at,
        )
        .await?;
        let mut patients: Vec<_> = recent
            .iter()
            .filter(|x| is_health_access(x))
            .filter_map(|x| x.patient)
            .collect();
        patients.sort();
        patients.dedup();
        if patients.len() >= usize::try_from(rules.many_patients).unwrap_or(usize::MAX) {
            out.push(Finding {
                rule: "many_patients",
                subject: format!("user:{user}"),
                finding: format!(
                    "L'utilisateur {user} a ouvert {} dossiers de patients distincts en {} minutes (seuil {}).",
                    patients.len(),
                    rules.many_patients_window.whole_minutes(),
                    rules.many_patients
                ),
                severity: Severity::High,
                window: rules.many_patients_window,
            });
        }
    }
    if e.action == AuditAction::AuthLoginFailed {
        let recent = window_events(
            app,
            AuditFilter {
                action: Some(AuditAction::AuthLoginFailed),
                from: Some(e.at - rules.failed_logins_window),
                ..AuditFilter::default()
            },
            e.at,
        )
        .await?;
        let threshold = usize::try_from(rules.failed_logins).unwrap_or(usize::MAX);
        let minutes = rules.failed_logins_window.whole_minutes();
        if let Some(account) = e.resource.as_ref().filter(|r| r.kind == "user") {
            let n = recent
                .iter()
                .filter(|x| x.resource.as_ref() == Some(account))
                .count();
            if n >= threshold {
                out.push(Finding {
                    rule: "failed_logins",
                    subject: format!("account:{}", account.id),
                    finding: format!(
                        "{n} échecs de connexion sur le compte {} en {minutes} minutes (seuil {}).",
                        account.id, rules.failed_logins
                    ),
                    severity: Severity::High,
                    window: rules.failed_logins_window,
                });
            }
        }
        if let Some(ip) = &e.source.ip {
            let n = recent
                .iter()
                .filter(|x| x.source.ip.as_ref() == Some(ip))
                .count();
            if n >= threshold {
                out.push(Finding {
                    rule: "failed_logins",
                    subject: format!("ip:{ip}"),
                    finding: format!(
                        "{n} échecs de connexion depuis l'adresse {ip} en {minutes} minutes (seuil {}).",
                        rules.failed_logins
                    ),
                    severity: Severity::High,
                    window: rules.failed_logins_window,
                });
            }
        }
    }
    if matches!(
        e.action,
        AuditAction::RecordExport | AuditAction::AuditExported
    ) && e.outcome == Outcome::Success
        && let Some(user) = e.actor.user
    {
        let recent = window_events(
            app,
            AuditFilter {
                user: Some(user),
                from: Some(e.at - rules.exports_window),
                ..AuditFilter::default()
            },
            e.at,
        )
        .await?;
        let n = recent
            .iter()
            .filter(|x| {
                matches!(
                    x.action,
                    AuditAction::RecordExport | AuditAction::AuditExported
                ) && x.outcome == Outcome::Success
            })
            .count();
        if n >= usize::try_from(rules.exports).unwrap_or(usize::MAX) {
            out.push(Finding {
                rule: "exports",
                subject: format!("user:{user}"),
                finding: format!(
                    "L'utilisateur {user} a fait {n} exports en {} minutes (seuil {}).",
                    rules.exports_window.whole_minutes(),
                    rules.exports
                ),
                severity: Severity::Medium,
                window: rules.exports_window,
            });
        }
    }
    Ok(out)
}

/// Opens the incident of a finding (unless one is already open for its rule and subject), traced.
pub async fn raise(app: &App, f: &Finding, at: OffsetDateTime) -> Result<bool, AppError> {
    let id: Uuid = AuditEventId::generate(at, app.entropy.as_ref()).as_uuid();
    let trace = AuditEvent {
        id: AuditEventId::generate(at, app.entropy.as_ref()),
        at,
        actor: AuditActor {
            client: Some("galien-anomaly".into()),
            ..AuditActor::default()
        },
        action: AuditAction::IncidentOpened,
        outcome: Outcome::Success,
        resource: Some(ResourceRef {
            kind: "incident".into(),
            id: id.to_string(),
        }),
        patient: None,
        purpose: Some("security".into()),
        emergency: false,
        source: Source::default(),
        reason: Some(format!("ANOMALY:{}", f.rule)),
    };
    let opened = app
        .store
        .open_incident(
            NewIncident {
                id,
                opened_at: at,
                rule: Some(f.rule.to_owned()),
                subject: Some(f.subject.clone()),
                finding: f.finding.clone(),
                severity: f.severity,
                details: None,
                by: None,
            },
            Some(at - f.window),
            trace,
        )
        .await?;
    if opened {
        // The DPO is told in the application (open incidents in the header) and by mail. The mail
        // names no person and no data: the finding stays in Galien.
        let link = format!("{}/dpo/incidents/{id}", app.settings.public_url);
        crate::notify::mail_dpos(
            app,
            "Galien : incident de sécurité à examiner / security incident to review",
            &format!(
                "Une règle de détection d'anomalie a ouvert un incident de sécurité ({}).\n\
                 Examinez-le dans Galien : {link}\n\n\
                 An anomaly rule opened a security incident ({}). Review it in Galien: {link}\n",
                f.rule, f.rule
            ),
        )
        .await;
    }
    Ok(opened)
}

/// Reads the audit trail from the scan cursor (at most `max_events`), runs the rules, opens the
/// incidents, then moves the cursor. Returns how many incidents were opened.
pub async fn scan(app: &App, max_events: u32) -> Result<u32, AppError> {
    let rules = &app.settings.anomaly;
    let from = app.store.anomaly_cursor().await?;
    let events = app
        .store
        .audit_events(&AuditFilter {
            after_seq: Some(from),
            limit: Some(max_events.clamp(1, 1000)),
            ..AuditFilter::default()
        })
        .await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let now = app.clock.now();
    let mut opened = 0;
    for stored in &events {
        let e = &stored.event;
        for finding in check(app, rules, e).await? {
            if raise(app, &finding, now).await? {
                opened += 1;
            }
        }
    }
    // Another node may have scanned the same range meanwhile; incidents are deduplicated anyway.
    app.store.claim_anomaly_range(from, last).await?;
    Ok(opened)
}
