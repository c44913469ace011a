//! Signing in with a TLS client certificate, CPS card style (AUTH-2): the card (possession) is
//! unlocked by its PIN (knowledge), so a certificate accepted here opens a two-factor session.
//!
//! The TLS layer has already checked the chain against the configured authorities, the dates
//! against the system time and the revocation list; this module reads the verified leaf, checks
//! its dates again against the injected clock, and maps it to exactly one **active** account. It
//! never creates an account. Every success and every refusal is traced.
//!
//! # Which account a certificate designates
//!
//! 1. **RPPS number.** Looked for, in this order, in:
//!    - the subject's `serialNumber` attribute (OID 2.5.4.5);
//!    - the subject's `commonName`, up to its first `/` (IGC-Santé style `idNatPS/…`);
//!    - subject-alternative-name URIs of the form `urn:rpps:<number>`.
//!
//!    A value counts when it is an RPPS number (11 digits, valid Luhn key) or the 12-character
//!    national identifier of a health professional, `8` followed by the RPPS number (idNatPS).
//!    Anything else (a name, a card serial) is ignored. If the values found name two different
//!    RPPS numbers, the certificate is refused as ambiguous. If an RPPS number is found, it alone
//!    decides: no account with it means a refusal, never a fall-back to the e-mail address (the
//!    card says who the person is; an address could belong to another account).
//! 2. **E-mail address**, only when the certificate carries no RPPS number: the subject
//!    alternative names of type `rfc822Name`, compared with accounts' sign-in addresses. They must
//!    all lead to the same account.
//!
//! A certificate that designates nobody, or an account that is not active, is refused.

use super::{NextStep, SessionGrant, session};
use crate::trace::{self, Who};
use crate::{App, AppError, RequestContext};
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{AccountStatus, Assurance, AuthMethod, Email, ProfessionalId};
use galien_store::{StoreError, User};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::OID_X509_SERIALNUMBER;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a client certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// The RPPS number found by the rule above, if any.
    pub rpps: Option<ProfessionalId>,
    /// E-mail addresses from the subject alternative names.
    pub emails: Vec<Email>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER certificate, hex (for the server log; never a secret).
    pub fingerprint: String,
}

/// Why a certificate could not be read into an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRefusal {
    /// Not a parsable X.509 certificate.
    Unreadable,
    /// Two different RPPS numbers.
    Ambiguous,
}

impl ReadRefusal {
    fn code(self) -> ErrorCode {
        match self {
            ReadRefusal::Unreadable => ErrorCode::CertificateInvalid,
            ReadRefusal::Ambiguous => ErrorCode::CertificateAmbiguous,
        }
    }
}

/// Reads the identifiers of a DER certificate, following the rule in the module documentation.
pub fn read(der: &[u8]) -> Result<CertificateIdentity, ReadRefusal> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| ReadRefusal::Unreadable)?;
    if !rest.is_empty() {
        return Err(ReadRefusal::Unreadable);
    }
    let subject = cert.subject();
    let mut candidates: Vec<String> = Vec::new();
    candidates.extend(
        subject
            .iter_by_oid(&OID_X509_SERIALNUMBER)
            .filter_map(|a| a.as_str().ok())
            .map(str::to_owned),
    );
    candidates.extend(
        subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .filter_map(|cn| cn.split('/').next())
            .map(str::to_owned),
    );
    let sans = cert
        .subject_alternative_name()
        .map_err(|_| ReadRefusal::Unreadable)?;
    let names: Vec<&GeneralName<'_>> = sans
        .map(|ext| ext.value.general_names.iter().collect())
        .unwrap_or_default();
    for name in &names {
        if let GeneralName::URI(uri) = name
            && let Some(number) = strip_prefix_ignore_case(uri, "urn:rpps:")
        {
            candidates.push(number.to_owned());
        }
    }
    let mut rpps: Option<ProfessionalId> = None;
    for found in candidates.iter().filter_map(|c| rpps_of(c)) {
        match &rpps {
            Some(known) if *known != found => return Err(ReadRefusal::Ambiguous),
            Some(_) => {}
            None => rpps = Some(found),
        }
    }
    let mut emails: Vec<Email> = Vec::new();
    for name in &names {
        if let GeneralName::RFC822Name(address) = name
            && let Some(email) = Email::parse(address)
            && !emails.contains(&email)
        {
            emails.push(email);
        }
    }
    let validity = cert.validity();
    let not_before = OffsetDateTime::from_unix_timestamp(validity.not_before.timestamp())
        .map_err(|_| ReadRefusal::Unreadable)?;
    let not_after = OffsetDateTime::from_unix_timestamp(validity.not_after.timestamp())
        .map_err(|_| ReadRefusal::Unreadable)?;
    Ok(CertificateIdentity {
        rpps,
        emails,
        not_before,
        not_after,
        fingerprint: hex::encode(Sha256::digest(der)),
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// An RPPS number from `11 digits` or the idNatPS form `8` + 11 digits.
fn rpps_of(value: &str) -> Option<ProfessionalId> {
    let value = value.trim();
    if !value.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match value.len() {
        11 => ProfessionalId::rpps(value),
        12 => value.strip_prefix('8').and_then(ProfessionalId::rpps),
        _ => None,
    }
}

/// A refusal, with the reason recorded in the trail and the code shown to the person.
struct Refusal {
    reason: &'static str,
    code: ErrorCode,
    who: Who,
}

impl Refusal {
    fn new(reason: &'static str, code: ErrorCode) -> Self {
        Self {
            reason,
            code,
            who: Who::ANONYMOUS,
        }
    }
}

/// Signs in with the verified leaf certificate of this connection (`None`: none was presented).
/// Opens a two-factor session with method [`AuthMethod::ClientCertificate`].
#[tracing::instrument(skip_all)]
pub async fn sign_in(
    app: &App,
    ctx: &RequestContext,
    leaf_der: Option<&[u8]>,
) -> Result<SessionGrant, AppError> {
    let user = match designate(app, leaf_der).await? {
        Ok(user) => user,
        Err(refusal) => {
            trace::security(
                app,
                ctx,
                refusal.who,
                AuditAction::AuthLoginFailed,
                Outcome::Denied,
                Some(refusal.reason),
                None,
            )
            .await?;
            return Err(AppError::Refused(refusal.code));
        }
    };
    let grant = session::open(
        app,
        ctx,
        &user,
        AuthMethod::ClientCertificate,
        Assurance::TwoFactors,
        NextStep::Done,
    )
    .await?;
    let who = Who {
        user: Some(user.id),
        role: Some(user.role),
        assurance: Some(Assurance::TwoFactors),
    };
    trace::security(
        app,
        ctx,
        who,
        AuditAction::AuthLoginSucceeded,
        Outcome::Success,
        Some("client_certificate"),
        None,
    )
    .await?;
    Ok(grant)
}

/// The account the certificate designates, or why none. Storage failures are the outer error.
async fn designate(app: &App, leaf_der: Option<&[u8]>) -> Result<Result<User, Refusal>, AppError> {
    let Some(der) = leaf_der else {
        return Ok(Err(Refusal::new(
            "AUTH-CERT-MISSING",
            ErrorCode::CertificateMissing,
        )));
    };
    let identity = match read(der) {
        Ok(identity) => identity,
        Err(r) => {
            let reason = r.code().as_str();
            return Ok(Err(Refusal::new(reason, r.code())));
        }
    };
    let now = app.clock.now();
    if now < identity.not_before || now > identity.not_after {
        tracing::warn!(certificate = %identity.fingerprint, "client certificate outside its validity period");
        return Ok(Err(Refusal::new(
            "AUTH-CERT-EXPIRED",
            ErrorCode::CertificateExpired,
        )));
    }
    let user = if let Some(rpps) = &identity.rpps {
        match app.store.user_by_professional_id(rpps).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => {
                tracing::warn!(certificate = %identity.fingerprint, "no account has the certificate's RPPS number");
                return Ok(Err(Refusal::new(
                    "AUTH-CERT-NO-ACCOUNT",
                    ErrorCode::CertificateNoAccount,
                )));
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let mut found: Option<User> = None;
        for email in &identity.emails {
            match app.store.user_by_email(email).await {
                Ok(u) => match &found {
                    Some(known) if known.id != u.id => {
                        return Ok(Err(Refusal::new(
                            "AUTH-CERT-AMBIGUOUS",
                            ErrorCode::CertificateAmbiguous,
                        )));
                    }
                    Some(_) => {}
                    None => found = Some(u),
                },
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some(user) = found else {
            let reason = if identity.emails.is_empty() {
                "AUTH-CERT-NO-IDENTIFIER"
            } else {
                "AUTH-CERT-NO-ACCOUNT"
            };
            tracing::warn!(certificate = %identity.fingerprint, reason, "client certificate designates no account");
            return Ok(Err(Refusal::new(reason, ErrorCode::CertificateNoAccount)));
        };
        user
    };
    let who = Who {
        user: Some(user.id),
        role: Some(user.role),
        assurance: None,
    };
    match user.status {
        AccountStatus::Active => Ok(Ok(user)),
        AccountStatus::Suspended | AccountStatus::Deactivated => Ok(Err(Refusal {
            reason: "AUTH-ACCOUNT-DISABLED",
            code: ErrorCode::AccountDisabled,
            who,
        })),
        // Activation needs the person's own enrolment (AUTH-8); a card does not replace it.
        AccountStatus::Invited => Ok(Err(Refusal {
            reason: "AUTH-CERT-NOT-ACTIVE",
            code: ErrorCode::CertificateNoAccount,
            who,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    const RPPS: &str = "10003456786";
    const OTHER: &str = "10003456794";

    fn cert(build: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        build(&mut params);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn serial(p: &mut CertificateParams, v: &str) {
        p.distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 5]), v);
    }

    #[test]
    fn fixtures_are_valid_rpps_numbers() {
        assert!(ProfessionalId::rpps(RPPS).is_some());
        assert!(ProfessionalId::rpps(OTHER).is_some());
    }

    #[test]
    fn rpps_is_read_from_serial_number_common_name_or_uri() {
        let want = ProfessionalId::rpps(RPPS);
        let by_serial = cert(|p| serial(p, RPPS));
        assert_eq!(read(&by_serial).unwrap().rpps, want);
        let by_idnat = cert(|p| serial(p, &format!("8{RPPS}")));
        assert_eq!(read(&by_idnat).unwrap().rpps, want);
        let by_cn = cert(|p| {
            p.distinguished_name
                .push(DnType::CommonName, format!("8{RPPS}/CPS3"));
        });
        assert_eq!(read(&by_cn).unwrap().rpps, want);
        let by_uri = cert(|p| {
            p.subject_alt_names
                .push(SanType::URI(format!("urn:rpps:{RPPS}").try_into().unwrap()));
        });
        assert_eq!(read(&by_uri).unwrap().rpps, want);
    }

    #[test]
    fn names_and_bad_numbers_are_not_rpps() {
        let named = cert(|p| {
            p.distinguished_name
                .push(DnType::CommonName, "Dr Jeanne Martin");
            serial(p, "10003456785"); // wrong Luhn key
        });
        let id = read(&named).unwrap();
        assert_eq!(id.rpps, None);
        assert!(id.emails.is_empty());
    }

    #[test]
    fn two_different_rpps_numbers_are_ambiguous() {
        let two = cert(|p| {
            serial(p, RPPS);
            p.subject_alt_names.push(SanType::URI(
                format!("urn:rpps:{OTHER}").try_into().unwrap(),
            ));
        });
        assert_eq!(read(&two), Err(ReadRefusal::Ambiguous));
        let same = cert(|p| {
            serial(p, RPPS);
            p.distinguished_name
                .push(DnType::CommonName, format!("8{RPPS}/CPS3"));
        });
        assert!(read(&same).is_ok());
    }

    #[test]
    fn email_addresses_come_from_the_alternative_names() {
        let c = cert(|p| {
            p.subject_alt_names.push(SanType::Rfc822Name(
                "Jeanne.Martin@Hopital.fr".try_into().unwrap(),
            ));
            p.subject_alt_names
                .push(SanType::DnsName("example.fr".try_into().unwrap()));
        });
        let id = read(&c).unwrap();
        assert_eq!(
            id.emails,
            vec![Email::parse("jeanne.martin@hopital.fr").unwrap()]
        );
        assert_eq!(id.fingerprint.len(), 64);
    }

    #[test]
    fn garbage_is_unreadable() {
        assert_eq!(read(b"not a certificate"), Err(ReadRefusal::Unreadable));
        let mut trailing = cert(|_| {});
        trailing.push(0);
        assert_eq!(read(&trailing), Err(ReadRefusal::Unreadable));
    }
}
