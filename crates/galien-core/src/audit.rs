//! The audit trail's records (TRACE-1): who did what, to which patient's data, why, with what outcome,
//! when and from where. A record never carries health data itself: `reason` is a stable code
//! (`AUTH-BAD-PASSWORD`), `resource` names a kind and an id.
//!
//! [`canonical_bytes`] is the one encoding that is hashed, chained and signed (TRACE-2). It must never
//! change for a given version byte; the `canonical_encoding_is_pinned` test holds it to a golden value.
//!
//! # Canonical encoding, version 1
//!
//! Fields in this fixed order, nothing between them, no padding:
//!
//! | # | field | encoding |
//! |---|-------|----------|
//! | 0 | version | one byte `0x01` |
//! | 1 | `id` | 16 bytes (UUID) |
//! | 2 | `at` | i64 big-endian, microseconds since the Unix epoch, UTC (sub-microsecond digits dropped) |
//! | 3 | `actor.user` | option of 16 bytes |
//! | 4 | `actor.role` | option of text ([`Role::as_str`]) |
//! | 5 | `actor.assurance` | option of one byte (the level, 1 or 2) |
//! | 6 | `actor.client` | option of text |
//! | 7 | `action` | text ([`AuditAction::as_str`]) |
//! | 8 | `outcome` | text ([`Outcome::as_str`]) |
//! | 9 | `resource` | option of (text `kind`, text `id`) |
//! | 10 | `patient` | option of 16 bytes |
//! | 11 | `purpose` | option of text |
//! | 12 | `emergency` | one byte, `0x00` or `0x01` |
//! | 13 | `source.ip` | option of text |
//! | 14 | `source.user_agent` | option of text |
//! | 15 | `source.request_id` | option of 16 bytes |
//! | 16 | `reason` | option of text |
//!
//! *text* is a u32 big-endian byte length followed by the UTF-8 bytes; *option of X* is `0x00` when
//! absent, or `0x01` followed by X. Every field is either fixed-size or length-prefixed, so no two
//! events share an encoding. [`decode_canonical`] is the exact inverse and refuses anything else
//! (unknown version, unknown action, trailing bytes, `0x02` flags…).

use crate::identity::{Assurance, Role};
use crate::ids::{AuditEventId, PatientId, RequestId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The version byte that starts [`canonical_bytes`].
pub const CANONICAL_VERSION: u8 = 1;

/// One record of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id.
    pub id: AuditEventId,
    /// When it happened (UTC); kept to the microsecond.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who acted.
    pub actor: AuditActor,
    /// What was done.
    pub action: AuditAction,
    /// How it ended.
    pub outcome: Outcome,
    /// What it was done to.
    pub resource: Option<ResourceRef>,
    /// Whose data it concerns.
    pub patient: Option<PatientId>,
    /// Why (the purpose of access, the act of care).
    pub purpose: Option<String>,
    /// Emergency access ("bris de glace").
    pub emergency: bool,
    /// From where.
    pub source: Source,
    /// A stable code such as `AUTH-BAD-PASSWORD`; never health data.
    pub reason: Option<String>,
}

/// Who acted: a person (user, role, assurance) and/or a machine client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    /// The account, when known.
    pub user: Option<UserId>,
    /// Its role.
    pub role: Option<Role>,
    /// How strongly it was authenticated.
    pub assurance: Option<Assurance>,
    /// Machine client id.
    pub client: Option<String>,
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The kind of resource (`patient_record`, `document`, `account`…).
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Client address.
    pub ip: Option<String>,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id carried through logs.
    pub request_id: Option<RequestId>,
}

macro_rules! dotted_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The stable text stored, hashed and exchanged.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            /// Parses the stable text.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $( $text => Some($name::$variant), )* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

dotted_enum! {
    /// What was done. The text is stable: it is inside hashed records.
    AuditAction {
        /// A login succeeded.
        AuthLoginSucceeded = "auth.login.succeeded",
        /// A login failed.
        AuthLoginFailed = "auth.login.failed",
        /// The person logged out.
        AuthLogout = "auth.logout",
        /// A session was ended (by an administrator, or a password change).
        AuthSessionEnded = "auth.session.ended",
        /// A session expired.
        AuthSessionExpired = "auth.session.expired",
        /// A TOTP code was replayed.
        AuthTotpReplayed = "auth.totp.replayed",
        /// A recovery code was used.
        AuthRecoveryCodeUsed = "auth.recovery_code.used",
        /// A second factor was enrolled.
        AuthFactorEnrolled = "auth.factor.enrolled",
        /// A second factor was removed.
        AuthFactorRemoved = "auth.factor.removed",
        /// The password was changed.
        AuthPasswordChanged = "auth.password.changed",
        /// Step-up authentication.
        AuthStepUp = "auth.step_up",
        /// The account was locked after failures.
        AuthLocked = "auth.locked",
        /// Enrolment completed.
        AuthEnrolmentCompleted = "auth.enrolment.completed",
        /// A person was invited.
        AccountInvited = "account.invited",
        /// An account was activated.
        AccountActivated = "account.activated",
        /// An account was suspended.
        AccountSuspended = "account.suspended",
        /// An account was reactivated.
        AccountReactivated = "account.reactivated",
        /// An account was deactivated.
        AccountDeactivated = "account.deactivated",
        /// A machine client was created.
        MachineClientCreated = "machine.client.created",
        /// A machine client was revoked.
        MachineClientRevoked = "machine.client.revoked",
        /// A machine token was issued.
        MachineTokenIssued = "machine.token.issued",
        /// Health data was read.
        RecordRead = "record.read",
        /// Health data was written.
        RecordWrite = "record.write",
        /// Health data was exported.
        RecordExport = "record.export",
        /// Health data was printed.
        RecordPrint = "record.print",
        /// Access was refused.
        AccessDenied = "access.denied",
        /// Emergency access ("bris de glace").
        AccessEmergency = "access.emergency",
        /// The DPO reviewed an emergency access.
        AccessEmergencyReviewed = "access.emergency.reviewed",
        /// A patient's data key was destroyed (crypto-shredding).
        RecordShredded = "record.shredded",
        /// A security incident was opened (by an anomaly rule or by the DPO).
        IncidentOpened = "incident.opened",
        /// An incident was qualified or updated by the DPO.
        IncidentUpdated = "incident.updated",
        /// Someone took part in a teleconsultation (joined its call, chat or documents).
        ConsultationJoined = "consultation.joined",
        /// A teleconsultation was closed (its room ended for good).
        ConsultationClosed = "consultation.closed",
        /// Audit records were exported.
        AuditExported = "audit.exported",
        /// Audit records were purged after their retention period.
        AuditPurged = "audit.purged",
        /// An encrypted backup of the installation was made (DATA-7).
        BackupCreated = "backup.created",
        /// The installation was restored from a backup (DATA-7).
        BackupRestored = "backup.restored",
    }
}

dotted_enum! {
    /// How an action ended.
    Outcome {
        /// Done.
        Success = "success",
        /// Failed (bad credentials, error).
        Failure = "failure",
        /// Refused by an access rule.
        Denied = "denied",
    }
}

/// Why bytes are not a version-1 canonical event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a field.
    #[error("canonical audit record is truncated")]
    Truncated,
    /// Unknown version byte.
    #[error("unknown canonical audit record version {0}")]
    Version(u8),
    /// A flag byte other than 0 or 1.
    #[error("invalid flag byte in canonical audit record")]
    Flag,
    /// Text that is not UTF-8.
    #[error("invalid text in canonical audit record")]
    Text,
    /// An action, outcome, role or assurance this binary does not know.
    #[error("unknown {0} in canonical audit record")]
    Unknown(&'static str),
    /// A time out of range.
    #[error("time out of range in canonical audit record")]
    Time,
    /// Bytes after the last field.
    #[error("trailing bytes after canonical audit record")]
    Trailing,
}

/// Microseconds since the Unix epoch, saturating (an `OffsetDateTime` spans ±9999 years, well inside).
pub fn to_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000)).unwrap_or(i64::MAX)
}

/// The inverse of [`to_micros`].
pub fn from_micros(us: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).ok()
}

/// The event's `at` as it is kept (to the microsecond): what [`decode_canonical`] gives back.
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    from_micros(to_micros(at)).unwrap_or(at)
}

struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn uuid(&mut self, u: Uuid) {
        self.0.extend_from_slice(u.as_bytes());
    }
    fn text(&mut self, s: &str) {
        // Texts longer than 4 GiB cannot occur in a record; saturating keeps this total.
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                f(self, v);
            }
        }
    }
}

/// The deterministic, unambiguous bytes of an event (see the module documentation).
pub fn canonical_bytes(e: &AuditEvent) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.byte(CANONICAL_VERSION);
    w.uuid(e.id.as_uuid());
    w.0.extend_from_slice(&to_micros(e.at).to_be_bytes());
    w.opt(e.actor.user, |w, u| w.uuid(u.as_uuid()));
    w.opt(e.actor.role, |w, r| w.text(r.as_str()));
    w.opt(e.actor.assurance, |w, a| w.byte(a.level()));
    w.opt(e.actor.client.as_deref(), Writer::text);
    w.text(e.action.as_str());
    w.text(e.outcome.as_str());
    w.opt(e.resource.as_ref(), |w, r| {
        w.text(&r.kind);
        w.text(&r.id);
    });
    w.opt(e.patient, |w, p| w.uuid(p.as_uuid()));
    w.opt(e.purpose.as_deref(), Writer::text);
    w.byte(u8::from(e.emergency));
    w.opt(e.source.ip.as_deref(), Writer::text);
    w.opt(e.source.user_agent.as_deref(), Writer::text);
    w.opt(e.source.request_id, |w, r| w.uuid(r.as_uuid()));
    w.opt(e.reason.as_deref(), Writer::text);
    w.0
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError::Truncated)
    }
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }
    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Flag),
        }
    }
    fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        Ok(Uuid::from_bytes(self.array::<16>()?))
    }
    fn text(&mut self) -> Result<String, DecodeError> {
        let len = u32::from_be_bytes(self.array::<4>()?);
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Text)
    }
    fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.flag()? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Parses [`canonical_bytes`] back into the event (with `at` to the microsecond).
pub fn decode_canonical(bytes: &[u8]) -> Result<AuditEvent, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.byte()?;
    if version != CANONICAL_VERSION {
        return Err(DecodeError::Version(version));
    }
    let id = AuditEventId::from_uuid(r.uuid()?);
    let at = from_micros(i64::from_be_bytes(r.array::<8>()?)).ok_or(DecodeError::Time)?;
    let user = r.opt(|r| r.uuid().map(UserId::from_uuid))?;
    let role = r.opt(|r| Role::parse(&r.text()?).ok_or(DecodeError::Unknown("role")))?;
    let assurance = r.opt(|r| {
        Assurance::from_level(i64::from(r.byte()?)).ok_or(DecodeError::Unknown("assurance"))
    })?;
    let client = r.opt(Reader::text)?;
    let action = AuditAction::parse(&r.text()?).ok_or(DecodeError::Unknown("action"))?;
    let outcome = Outcome::parse(&r.text()?).ok_or(DecodeError::Unknown("outcome"))?;
    let resource = r.opt(|r| {
        Ok(ResourceRef {
            kind: r.text()?,
            id: r.text()?,
        })
    })?;
    let patient = r.opt(|r| r.uuid().map(PatientId::from_uuid))?;
    let purpose = r.opt(Reader::text)?;
    let emergency = r.flag()?;
    let ip = r.opt(Reader::text)?;
    let user_agent = r.opt(Reader::text)?;
    let request_id = r.opt(|r| r.uuid().map(RequestId::from_uuid))?;
    let reason = r.opt(Reader::text)?;
    if !r.0.is_empty() {
        return Err(DecodeError::Trailing);
    }
    Ok(AuditEvent {
        id,
        at,
        actor: AuditActor {
            user,
            role,
            assurance,
            client,
        },
        action,
        outcome,
        resource,
        patient,
        purpose,
        emergency,
        source: Source {
            ip,
            user_agent,
            request_id,
        },
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn uuid(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn sample() -> AuditEvent {
        AuditEvent {
            id: AuditEventId::from_uuid(uuid(0x11)),
            at: datetime!(2026-03-01 12:34:56.123456 UTC),
            actor: AuditActor {
                user: Some(UserId::from_uuid(uuid(0x22))),
                role: Some(Role::Medecin),
                assurance: Some(Assurance::TwoFactors),
                client: None,
            },
            action: AuditAction::RecordRead,
            outcome: Outcome::Success,
            resource: Some(ResourceRef {
                kind: "document".into(),
                id: "42".into(),
            }),
            patient: Some(PatientId::from_uuid(uuid(0x33))),
            purpose: Some("care".into()),
            emergency: false,
            source: Source {
                ip: Some("10.0.0.1".into()),
                user_agent: None,
                request_id: Some(RequestId::from_uuid(uuid(0x44))),
            },
            reason: None,
        }
    }

    #[test]
    fn trace_01_canonical_encoding_is_pinned() {
        // If this fails, the encoding changed: every existing chain would stop verifying. Add a new
        // version byte instead.
        let golden = concat!(
            "01",
            "11111111111111111111111111111111",
            "00064bf5b29f5e40",
            "01",
            "22222222222222222222222222222222",
            "01",
            "00000007",
            "6d65646563696e",
            "01",
            "02",
            "00",
            "0000000b",
            "7265636f72642e72656164",
            "00000007",
            "73756363657373",
            "01",
            "00000008",
            "646f63756d656e74",
            "00000002",
            "3432",
            "01",
            "33333333333333333333333333333333",
            "01",
            "00000004",
            "63617265",
            "00",
            "01",
            "00000008",
            "31302e302e302e31",
            "00",
            "01",
            "44444444444444444444444444444444",
            "00",
        );
        assert_eq!(hex(&canonical_bytes(&sample())), golden);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn trace_01_canonical_bytes_round_trip_and_refuse_garbage() {
        let e = sample();
        let bytes = canonical_bytes(&e);
        assert_eq!(decode_canonical(&bytes).unwrap(), e);
        let mut minimal = sample();
        minimal.actor = AuditActor::default();
        minimal.resource = None;
        minimal.patient = None;
        minimal.purpose = None;
        minimal.emergency = true;
        minimal.source = Source::default();
        minimal.reason = Some("AUTH-BAD-PASSWORD".into());
        minimal.actor.client = Some("device-7".into());
        assert_eq!(
            decode_canonical(&canonical_bytes(&minimal)).unwrap(),
            minimal
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode_canonical(&trailing), Err(DecodeError::Trailing));
        assert_eq!(
            decode_canonical(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated)
        );
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(decode_canonical(&v2), Err(DecodeError::Version(2)));
        assert!(decode_canonical(&[]).is_err());
    }

    #[test]
    fn trace_01_nanoseconds_are_dropped_consistently() {
        let mut e = sample();
        e.at = datetime!(2026-03-01 12:34:56.123456789 UTC);
        let decoded = decode_canonical(&canonical_bytes(&e)).unwrap();
        assert_eq!(decoded.at, truncate_to_micros(e.at));
        assert_eq!(canonical_bytes(&decoded), canonical_bytes(&e));
    }

    #[test]
    fn trace_01_actions_and_outcomes_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(*o));
        }
        assert_eq!(AuditAction::ALL.len(), 37);
        assert!(AuditAction::parse("record.delete").is_none());
    }
}
