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
//!
//! A node keeps one [`Scanner`] between scans: it remembers, user by user, the patients reached
//! within the `many_patients` window as of the last record it scanned, so each record costs a few
//! map operations instead of a read of the user's recent trail. A user it knows nothing of yet (at
//! start-up, or after another node scanned part of the trail) is read once from the trail, with
//! one grouped query. And it does not ask the store again, for a minute, to open an incident that
//! it has just found open: a médecin on night duty reaches records outside working hours all
//! night long, and each of those records would otherwise cost a write transaction.

use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::ids::{AuditEventId, PatientId, UserId};
use galien_store::{AuditFilter, NewIncident, Severity};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    /// A fixed offset from UTC for these hours; `None`: the time of `zone`, the time the pages
    /// show.
    pub utc_offset: Option<UtcOffset>,
    /// The organisation's time zone.
    pub zone: galien_core::Zone,
}

impl AnomalySettings {
    /// `at` in the organisation's local time: the working hours and the reading hours are in it.
    pub fn local(&self, at: OffsetDateTime) -> OffsetDateTime {
        match self.utc_offset {
            Some(offset) => at.to_offset(offset),
            None => self.zone.local(at),
        }
    }
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
            utc_offset: None,
            zone: galien_core::Zone::default(),
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

/// The actions that reach a patient's health data (`many_patients`, `off_hours`).
const HEALTH_ACCESS: [AuditAction; 4] = [
    AuditAction::RecordRead,
    AuditAction::RecordWrite,
    AuditAction::RecordExport,
    AuditAction::RecordPrint,
];

fn is_health_access(e: &AuditEvent) -> bool {
    e.patient.is_some() && e.outcome == Outcome::Success && HEALTH_ACCESS.contains(&e.action)
}

/// How long a scanner takes an incident it raised (opened, or found open) to be still open, and
/// opens none for the same rule and subject: a closed incident is noticed within this delay.
const RAISED_TRUSTED_FOR: Duration = Duration::minutes(1);

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

/// The anomaly scanner of one node (see the module's documentation). A new one knows nothing and
/// reads what it needs from the trail; the findings are the same, only faster when it is kept.
#[derive(Debug, Default)]
pub struct Scanner {
    /// The last record that `reached` accounts for; `None` before a scan has completed.
    through: Option<u64>,
    /// By user: the patients whose records they reached within the `many_patients` window, with
    /// the time of the latest access. A user absent is read from the trail when next seen.
    reached: HashMap<UserId, HashMap<PatientId, OffsetDateTime>>,
    /// By (rule, subject): until when an incident raised for it is taken to be still open.
    raised: HashMap<(&'static str, String), OffsetDateTime>,
}

impl Scanner {
    /// A scanner that knows nothing yet.
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// Reads the audit trail from the scan cursor (at most `max_events`), runs the rules, opens
    /// the incidents, then moves the cursor. Returns how many incidents were opened.
    pub async fn scan(&mut self, app: &App, max_events: u32) -> Result<u32, AppError> {
        let rules = &app.settings.anomaly;
        let from = app.store.anomaly_cursor().await?;
        if self.through.take() != Some(from) {
            // A first scan, or another node scanned part of the trail meanwhile: what is
            // remembered no longer accounts for every record up to the cursor.
            self.reached.clear();
        }
        let events = app
            .store
            .audit_events(&AuditFilter {
                after_seq: Some(from),
                limit: Some(max_events.clamp(1, 1000)),
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = events.last() else {
            self.through = Some(from);
            return Ok(0);
        };
        let (last, latest) = (last.seq, last.event.at);
        let now = app.clock.now();
        self.raised.retain(|_, until| *until > now);
        let mut opened = 0;
        for (n, stored) in events.iter().enumerate() {
            // A page is up to a thousand records of rules on this runtime's thread: let the
            // requests waiting for it run between every few dozen.
            if n % 64 == 63 {
                tokio::task::yield_now().await;
            }
            for finding in self.check(app, rules, stored.seq, &stored.event).await? {
                let key = (finding.rule, finding.subject.clone());
                if self.raised.get(&key).is_some_and(|until| now < *until) {
                    continue;
                }
                if raise(app, &finding, now).await? {
                    opened += 1;
                }
                self.raised.insert(key, now + RAISED_TRUSTED_FOR);
            }
        }
        // What is older than two windows behind the newest record can no longer count.
        let horizon = latest - rules.many_patients_window * 2;
        self.reached.retain(|_, patients| {
            patients.retain(|_, at| *at >= horizon);
            !patients.is_empty()
        });
        self.through = Some(last);
        // Another node may have scanned the same range meanwhile; incidents are deduplicated anyway.
        app.store.claim_anomaly_range(from, last).await?;
        Ok(opened)
    }

    /// How many distinct patients `user` reached within the window ending at `e` (record `seq`),
    /// `e` included.
    async fn patients_reached(
        &mut self,
        app: &App,
        rules: &AnomalySettings,
        user: UserId,
        seq: u64,
        e: &AuditEvent,
        patient: PatientId,
    ) -> Result<usize, AppError> {
        let since = e.at - rules.many_patients_window;
        let patients = match self.reached.entry(user) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(unknown) => {
                let before = app
                    .store
                    .audit_patients_reached(user, &HEALTH_ACCESS, since, seq)
                    .await?;
                unknown.insert(before.into_iter().collect())
            }
        };
        let latest = patients.entry(patient).or_insert(e.at);
        *latest = (*latest).max(e.at);
        patients.retain(|_, at| *at >= since);
        Ok(patients.len())
    }

    /// The rules that fire on `e` (record `seq`), given the trail before it.
    async fn check(
        &mut self,
        app: &App,
        rules: &AnomalySettings,
        seq: u64,
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
            && let (Some(user), Some(patient)) = (e.actor.user, e.patient)
        {
            let local = rules.local(e.at);
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
            let reached = self
                .patients_reached(app, rules, user, seq, e, patient)
                .await?;
            if reached >= usize::try_from(rules.many_patients).unwrap_or(usize::MAX) {
                out.push(Finding {
                    rule: "many_patients",
                    subject: format!("user:{user}"),
                    finding: format!(
                        "L'utilisateur {user} a ouvert {reached} dossiers de patients distincts en {} minutes (seuil {}).",
                        rules.many_patients_window.whole_minutes(),
                        rules.many_patients
                    ),
                    severity: Severity::High,
                    window: rules.many_patients_window,
                });
            }
        }
        out.extend(burst_findings(app, rules, e).await?);
        Ok(out)
    }
}

/// The rules on rare events (failed sign-ins, exports), which read the trail of their window.
async fn burst_findings(
    app: &App,
    rules: &AnomalySettings,
    e: &AuditEvent,
) -> Result<Vec<Finding>, AppError> {
    let mut out = Vec::new();
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

/// One scan by a scanner that knows nothing yet (see [`Scanner::scan`]): the same incidents as a
/// kept scanner would open, each user's window read from the trail.
pub async fn scan(app: &App, max_events: u32) -> Result<u32, AppError> {
    Scanner::new().scan(app, max_events).await
}
