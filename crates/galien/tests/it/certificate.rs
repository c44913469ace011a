//! Sign-in with a TLS client certificate, CPS card style (AUTH-2), over real TLS: a test
//! authority made with rcgen issues the server's certificate and the cards; a revocation list
//! made with rcgen revokes one. Certificates the TLS layer refuses (expired, revoked, foreign
//! authority) never reach Galien: the handshake fails. Certificates it accepts but that designate
//! no active account (unknown RPPS number) are refused by the application, and traced.

use galien_core::ManualClock;
use galien_core::audit::AuditAction;
use galien_core::identity::{Assurance, AuthMethod, Email};
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Page};
use galien_testkit::{Options, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

/// The médecin of these tests.
const DOCTOR: &str = "Dr Jeanne Martin";
const DOCTOR_EMAIL: &str = "jeanne.martin@galien.test";
const DOCTOR_RPPS_BODY: &str = "1000345678";
/// An RPPS number no account has.
const STRANGER_RPPS_BODY: &str = "1000999999";

/// A card: a PEM certificate and its key, as a browser would present them.
struct Card {
    pem: String,
}

/// The test PKI, in files the node reads.
struct Pki {
    dir: TempDir,
    ca_pem: String,
    doctor: Card,
    /// Valid for the TLS layer (real time) but past its end by the time the test moves the clock.
    doctor_short: Card,
    expired: Card,
    revoked: Card,
    foreign: Card,
    stranger: Card,
    by_email: Card,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Galien tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = datetime!(2020-01-01 00:00 UTC);
    params.not_after = datetime!(2045-01-01 00:00 UTC);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

struct CardSpec<'a> {
    serial: u64,
    cn: &'a str,
    rpps: Option<&'a str>,
    email: Option<&'a str>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

fn card(issuer: &CertifiedIssuer<'static, KeyPair>, spec: CardSpec<'_>) -> Card {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "FR");
    params.distinguished_name.push(DnType::CommonName, spec.cn);
    if let Some(rpps) = spec.rpps {
        // Subject serialNumber (2.5.4.5): the RPPS number, as Galien's rule reads it.
        params
            .distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 5]), rpps);
    }
    if let Some(email) = spec.email {
        params
            .subject_alt_names
            .push(SanType::Rfc822Name(email.try_into().unwrap()));
    }
    params.serial_number = Some(SerialNumber::from(spec.serial));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Card {
        pem: format!("{}{}", cert.pem(), key.serialize_pem()),
    }
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca("Galien test health CA");
    let other = ca("Some other CA");
    let always = (
        datetime!(2020-01-01 00:00 UTC),
        datetime!(2040-01-01 00:00 UTC),
    );
    let doctor_rpps = people::rpps(DOCTOR_RPPS_BODY);
    let stranger_rpps = people::rpps(STRANGER_RPPS_BODY);
    let spec = |serial, cn, rpps| CardSpec {
        serial,
        cn,
        rpps,
        email: None,
        not_before: always.0,
        not_after: always.1,
    };

    // The server's own certificate, from the same authority, for 127.0.0.1.
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = always.0;
    server.not_after = always.1;
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &authority).unwrap();
    std::fs::write(dir.path().join("server.crt"), server_cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();

    let doctor = card(&authority, spec(10, DOCTOR, Some(&doctor_rpps)));
    let doctor_short = card(
        &authority,
        CardSpec {
            not_after: datetime!(2039-01-01 00:00 UTC),
            ..spec(11, DOCTOR, Some(&doctor_rpps))
        },
    );
    let expired = card(
        &authority,
        CardSpec {
            not_after: datetime!(2021-01-01 00:00 UTC),
            ..spec(12, DOCTOR, Some(&doctor_rpps))
        },
    );
    let revoked = card(&authority, spec(13, DOCTOR, Some(&doctor_rpps)));
    let foreign = card(&other, spec(14, DOCTOR, Some(&doctor_rpps)));
    let stranger = card(&authority, spec(15, "Dr Inconnu", Some(&stranger_rpps)));
    let by_email = card(
        &authority,
        CardSpec {
            email: Some(DOCTOR_EMAIL),
            ..spec(16, DOCTOR, None)
        },
    );

    let crl = CertificateRevocationListParams {
        this_update: always.0,
        next_update: always.1,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(13u64),
            revocation_time: datetime!(2025-06-01 00:00 UTC),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&authority)
    .unwrap();
    std::fs::write(dir.path().join("ca.pem"), authority.pem()).unwrap();
    std::fs::write(dir.path().join("ca.crl"), crl.pem().unwrap()).unwrap();
    Pki {
        dir,
        ca_pem: authority.pem(),
        doctor,
        doctor_short,
        expired,
        revoked,
        foreign,
        stranger,
        by_email,
    }
}

async fn start(pki: &Pki) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let path = |name: &str| toml::Value::String(pki.path(name).display().to_string());
    let s = TestServer::start_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            settings: vec![
                ("tls.cert", path("server.crt")),
                ("tls.key", path("server.key")),
                ("tls.client_ca", path("ca.pem")),
                ("tls.client_crl", path("ca.crl")),
            ],
            ..Options::default()
        },
    )
    .await;
    assert!(s.base_url.starts_with("https://"), "{}", s.base_url);
    (s, clock)
}

/// An administrator, and the médecin invited with their RPPS number who has enrolled.
async fn with_doctor(s: &TestServer, clock: &ManualClock) {
    let admin = people::enrol_first_admin(s, clock).await;
    let link = people::invite(
        &admin.agent,
        "medecin",
        DOCTOR,
        DOCTOR_EMAIL,
        &people::rpps(DOCTOR_RPPS_BODY),
    )
    .await;
    people::accept_invitation(s, &link, DOCTOR_EMAIL, clock).await;
}

/// A browser trusting the test authority, presenting `card` if given (cookies kept, redirects not
/// followed).
fn browser(pki: &Pki, card: Option<&Card>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let mut b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([ca]);
    if let Some(card) = card {
        b = b.identity(reqwest::Identity::from_pem(card.pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn read(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    Page {
        status,
        headers,
        body,
    }
}

async fn get(s: &TestServer, client: &reqwest::Client, path: &str) -> Page {
    read(client.get(s.url(path)).send().await.unwrap()).await
}

/// Opens `/login` and presses the certificate button.
async fn press_card_button(s: &TestServer, client: &reqwest::Client) -> Page {
    let login = get(s, client, "/login").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.has("action=\"/auth/certificate\""), "{}", login.body);
    let csrf = login.field("_csrf").unwrap();
    read(
        client
            .post(s.url("/auth/certificate"))
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn failures(s: &TestServer) -> Vec<String> {
    s.store
        .audit_events(&AuditFilter {
            action: Some(AuditAction::AuthLoginFailed),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.event.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_cps_card_signs_in_with_two_factors_and_browsers_without_a_card_still_connect() {
    let pki = pki();
    let (s, clock) = start(&pki).await;
    with_doctor(&s, &clock).await;

    // A browser without a card reaches the sign-in page, which offers the card.
    let plain = browser(&pki, None);
    let login = get(&s, &plain, "/login").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.has("Se connecter avec ma carte CPS / certificat"));
    // Pressing the button without a card: refused by the application, and traced.
    let r = press_card_button(&s, &plain).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.has("Aucune carte CPS ni certificat"), "{}", r.body);
    assert!(failures(&s).await.contains(&"AUTH-CERT-MISSING".to_owned()));

    // The médecin's card: a two-factor session, straight to their account.
    let doctor = browser(&pki, Some(&pki.doctor));
    // Without the form's token, nothing happens (CSRF).
    let forged = read(
        doctor
            .post(s.url("/auth/certificate"))
            .form(&[("_csrf", "forged")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let r = press_card_button(&s, &doctor).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), Some("/account"));
    let account = get(&s, &doctor, "/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.has(DOCTOR), "{}", account.body);

    let user = s
        .store
        .user_by_email(&Email::parse(DOCTOR_EMAIL).unwrap())
        .await
        .unwrap();
    let sessions = s.store.sessions_of(user.id, true).await.unwrap();
    let by_card: Vec<_> = sessions
        .iter()
        .filter(|x| x.method == AuthMethod::ClientCertificate)
        .collect();
    assert_eq!(by_card.len(), 1);
    assert_eq!(by_card[0].assurance, Assurance::TwoFactors);
    let succeeded = s
        .store
        .audit_events(&AuditFilter {
            action: Some(AuditAction::AuthLoginSucceeded),
            user: Some(user.id),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(
        succeeded
            .iter()
            .any(|e| e.event.reason.as_deref() == Some("client_certificate")
                && e.event.actor.assurance == Some(Assurance::TwoFactors))
    );

    // A card without an RPPS number maps by its e-mail address.
    let by_email = browser(&pki, Some(&pki.by_email));
    let r = press_card_button(&s, &by_email).await;
    assert_eq!(r.location(), Some("/account"), "{}", r.body);
    assert!(get(&s, &by_email, "/account").await.has(DOCTOR));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_expired_revoked_and_foreign_certificates_are_refused_at_the_handshake() {
    let pki = pki();
    let (s, clock) = start(&pki).await;
    with_doctor(&s, &clock).await;
    let before = failures(&s).await.len();
    for (name, card, alert) in [
        ("expired", &pki.expired, "CertificateExpired"),
        ("revoked", &pki.revoked, "CertificateRevoked"),
        ("foreign", &pki.foreign, "UnknownCA"),
    ] {
        // The server's TLS alert says why; no HTTP request was ever served. In TLS 1.3 the alert
        // comes after the client has finished its side of the handshake, and the client may
        // notice the closed connection before it reads the alert ("connection was not ready"):
        // every attempt fails, and one of a few reads the alert.
        let mut chains = Vec::new();
        for _ in 0..5 {
            let client = browser(&pki, Some(card));
            let err = client
                .get(s.url("/login"))
                .send()
                .await
                .expect_err(&format!("the {name} card must not connect"));
            chains.push(format!("{err:?}"));
            if chains.last().is_some_and(|c| c.contains(alert)) {
                break;
            }
        }
        assert!(
            chains.last().is_some_and(|c| c.contains(alert)),
            "{name}: {chains:#?}"
        );
    }
    // Nothing reached the application, so nothing was traced as a sign-in attempt…
    assert_eq!(failures(&s).await.len(), before);
    // …and the node still serves browsers without a card, and the valid card.
    assert_eq!(get(&s, &browser(&pki, None), "/login").await.status, 200);
    let doctor = browser(&pki, Some(&pki.doctor));
    assert_eq!(
        press_card_button(&s, &doctor).await.location(),
        Some("/account")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_card_with_unknown_rpps_or_past_its_end_is_refused_by_the_app_and_traced() {
    let pki = pki();
    let (s, clock) = start(&pki).await;
    with_doctor(&s, &clock).await;

    // A valid card of the trusted authority, but no account has its RPPS number: refused, traced,
    // and no account is created.
    let stranger = browser(&pki, Some(&pki.stranger));
    let r = press_card_button(&s, &stranger).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.has("Aucun compte actif ne correspond à cette carte"),
        "{}",
        r.body
    );
    assert!(r.location().is_none());
    assert!(
        failures(&s)
            .await
            .contains(&"AUTH-CERT-NO-ACCOUNT".to_owned())
    );
    assert_eq!(get(&s, &stranger, "/account").await.status, 303);

    // The injected clock is checked too: past the card's end, the application refuses it even
    // though the TLS layer (system time) accepted it.
    clock.set(datetime!(2039-06-01 09:00 UTC));
    let short = browser(&pki, Some(&pki.doctor_short));
    let r = press_card_button(&s, &short).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.has("Ce certificat n'est pas (ou plus) valide"),
        "{}",
        r.body
    );
    assert!(failures(&s).await.contains(&"AUTH-CERT-EXPIRED".to_owned()));
    s.stop().await;
}
