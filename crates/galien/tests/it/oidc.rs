//! Sign-in through an OpenID Connect provider (AUTH-2, Pro Santé Connect style), against a real,
//! independent provider (panva/oidc-provider, see `testkit/oidc-provider`). The provider works in
//! real time (`auth_time`, `exp`), so the node's clock starts at the real time; TOTP enrolment moves
//! it, and it is set back to the real time before each provider login.
//!
//! Every refusal is checked three ways: the person sees the code, no session opens, and the trace
//! has an `AuthLoginFailed` with the reason.

use galien_core::audit::AuditAction;
use galien_core::identity::ProfessionalId;
use galien_core::{Clock, ManualClock, SystemClock};
use galien_store::{AuditFilter, Backend};
use galien_testkit::oidc::{Account, ClientConfig, OidcProvider, ProviderConfig};
use galien_testkit::people::{self, Agent, Enrolled, Page};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;

const SECRET: &str = "galien-oidc-test-secret";

/// A node with OpenID Connect configured, its provider, and an enrolled administrator.
struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    idp: OidcProvider,
    admin: Enrolled,
}

/// A free port of 127.0.0.1: the provider must know the node's redirect URI before the node starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rpps(body: &str) -> String {
    people::rpps(body)
}

async fn world(backend: Backend, accounts: Vec<Account>, acr_values: &str) -> World {
    world_on(backend, accounts, acr_values, "127.0.0.1").await
}

/// With `idp_host` `localhost`, the provider is another site than the node (`127.0.0.1`), as a
/// real provider is: what a browser does with SameSite cookies is then what it does in production.
async fn world_on(
    backend: Backend,
    accounts: Vec<Account>,
    acr_values: &str,
    idp_host: &str,
) -> World {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/auth/oidc/callback");
    let idp = OidcProvider::start(ProviderConfig {
        clients: vec![
            ClientConfig::new("galien", SECRET, &callback),
            // Another relying party of the same provider, also allowed to redirect to Galien (the
            // attacker's own client, say): its codes and tokens are not for Galien.
            ClientConfig::new("other-rp", "other-secret", &callback),
        ],
        accounts,
        host: idp_host.to_owned(),
        ..ProviderConfig::default()
    })
    .await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            settings: vec![
                ("listen", toml::Value::String(format!("127.0.0.1:{port}"))),
                ("oidc.issuer", toml::Value::String(idp.issuer().to_owned())),
                ("oidc.client_id", toml::Value::String("galien".into())),
                ("oidc.client_secret", toml::Value::String(SECRET.into())),
                ("oidc.acr_values", toml::Value::String(acr_values.into())),
                (
                    "oidc.label",
                    toml::Value::String("Pro Santé Connect".into()),
                ),
            ],
            ..Options::default()
        },
    )
    .await;
    assert_eq!(s.base_url, base);
    let admin = people::enrol_first_admin(&s, &clock).await;
    World {
        s,
        clock,
        idp,
        admin,
    }
}

impl World {
    /// Invites a médecin with this RPPS number; with `accept`, they activate their account.
    async fn medecin(&self, rpps: &str, email: &str, accept: bool) {
        let link = people::invite(&self.admin.agent, "medecin", "Claire Martin", email, rpps).await;
        if accept {
            people::accept_invitation(&self.s, &link, email, &self.clock).await;
        }
        // Back to the real time: the provider's `auth_time` and `exp` are real.
        self.clock.set(SystemClock.now());
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.idp.issuer())
        }
    }

    /// `/auth/oidc/start`: returns the provider's authorization URL.
    async fn start(&self, agent: &Agent) -> String {
        let r = agent.get("/auth/oidc/start").await;
        assert_eq!(r.status, 303, "{}", r.body);
        let cookie = r
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("galien_oidc="))
            .expect("state cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/auth/oidc"), "{cookie}");
        let url = r.location().unwrap().to_owned();
        assert!(url.starts_with(self.idp.issuer()), "{url}");
        for part in [
            "response_type=code",
            "client_id=galien",
            "code_challenge_method=S256",
            "acr_values=",
            "max_age=300",
            "nonce=",
            "state=",
            "scope=openid",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        url
    }

    /// Logs in at the provider from `authorize_url` as `login`, optionally overriding what the
    /// provider asserts; returns Galien's callback URL with the code.
    async fn provider_login(
        &self,
        agent: &Agent,
        authorize_url: &str,
        login: &str,
        acr: &str,
        amr: &str,
    ) -> String {
        let mut r = agent.get(authorize_url).await;
        while r.status == 302 || r.status == 303 {
            r = agent.get(&self.absolute(r.location().unwrap())).await;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.has("id=\"login-form\""), "{}", r.body);
        let action = r
            .between("id=\"login-form\" method=\"post\" action=\"", "\"")
            .unwrap();
        let mut r = agent
            .post(
                &self.absolute(&action),
                &[("login", login), ("acr", acr), ("amr", amr)],
            )
            .await;
        loop {
            assert!(
                r.status == 302 || r.status == 303,
                "{}: {}",
                r.status,
                r.body
            );
            let next = self.absolute(r.location().unwrap());
            if next.starts_with(&self.s.base_url) {
                assert!(next.contains("code="), "{next}");
                return next;
            }
            r = agent.get(&next).await;
        }
    }

    /// The whole way, for a person whose provider account is `login`.
    async fn sign_in(&self, agent: &Agent, login: &str, acr: &str, amr: &str) -> Page {
        let url = self.start(agent).await;
        let callback = self.provider_login(agent, &url, login, acr, amr).await;
        agent.get(&callback).await
    }

    async fn failures(&self) -> Vec<String> {
        self.s
            .store
            .audit_events(&AuditFilter {
                action: Some(AuditAction::AuthLoginFailed),
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.reason.unwrap_or_default())
            .collect()
    }

    async fn successes(&self) -> Vec<String> {
        self.s
            .store
            .audit_events(&AuditFilter {
                action: Some(AuditAction::AuthLoginSucceeded),
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| e.event.reason)
            .collect()
    }

    /// The refusal is shown with its code, no session opened, and it is traced with `reason`.
    async fn assert_refused(&self, agent: &Agent, page: &Page, code: &str, reason: &str) {
        assert!(
            page.status == 401 || page.status == 403,
            "{}: {}",
            page.status,
            page.body
        );
        assert!(page.has(code), "{code} not shown: {}", page.body);
        assert!(page.has("id=\"oidc-start\""), "the sign-in page again");
        let account = agent.get("/account").await;
        assert_eq!(account.status, 303, "no session: {}", account.body);
        let failures = self.failures().await;
        assert!(
            failures.iter().any(|r| r == reason),
            "{reason} not traced in {failures:?}"
        );
        assert!(!self.successes().await.iter().any(|r| r == "oidc"));
    }
}

fn doctor(sub: &str, rpps: &str) -> Account {
    Account::doctor(sub, rpps)
}

macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(galien_store::Backend::Sqlite).await } )*
        }
    };
}

on_sqlite!(
    auth_02_oidc_two_factor_login_opens_a_strong_session_for_the_rpps_account,
    auth_02_oidc_single_factor_amr_is_refused_and_traced,
    auth_02_oidc_lower_acr_is_refused_and_traced,
    auth_02_oidc_stale_auth_time_is_refused_and_traced,
    auth_02_oidc_rpps_without_account_is_refused_never_created,
    auth_08_oidc_invited_or_suspended_account_is_refused,
    auth_02_oidc_missing_tampered_or_mismatched_state_is_refused,
    auth_02_oidc_nonce_mismatch_is_refused_and_traced,
    auth_02_oidc_code_issued_to_another_client_is_refused,
);

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auth_02_oidc_two_factor_login_opens_a_strong_session_for_the_rpps_account() {
        super::auth_02_oidc_two_factor_login_opens_a_strong_session_for_the_rpps_account(
            galien_store::Backend::Postgres,
        )
        .await
    }
}

async fn auth_02_oidc_two_factor_login_opens_a_strong_session_for_the_rpps_account(
    backend: Backend,
) {
    let number = rpps("1000000001");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;

    let agent = Agent::new(&w.s);
    let login = agent.get("/login").await;
    assert!(
        login.has("Se connecter avec Pro Santé Connect"),
        "{}",
        login.body
    );
    let done = w.sign_in(&agent, "psc-claire", "", "").await;
    assert_eq!(done.status, 200, "{}", done.body);
    let set = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(
        set.iter()
            .any(|c| c.starts_with("galien_session=") && c.contains("SameSite=Strict")),
        "{set:?}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("galien_oidc=;") && c.contains("Max-Age=0")),
        "the state cookie is cleared: {set:?}"
    );
    assert_eq!(
        done.headers.get("refresh").unwrap().to_str().unwrap(),
        "0; url=/account"
    );
    assert!(done.has("href=\"/account\""));

    let account = agent.get("/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.has("Claire Martin"), "{}", account.body);

    // The session is a two-factor one, by the provider, for the médecin's account.
    let user =
        w.s.store
            .user_by_professional_id(&ProfessionalId::rpps(&number).unwrap())
            .await
            .unwrap();
    let sessions = w.s.store.sessions_of(user.id, true).await.unwrap();
    assert_eq!(sessions.len(), 2, "enrolment's and this one");
    let s = sessions
        .iter()
        .find(|s| s.method == galien_core::identity::AuthMethod::Oidc)
        .expect("an OIDC session");
    assert_eq!(s.assurance, galien_core::identity::Assurance::TwoFactors);
    assert_eq!(w.successes().await.last().map(String::as_str), Some("oidc"));

    // The state is single use: the same callback again is refused (cookie gone, code spent).
    let again = agent.get("/auth/oidc/callback?code=x&state=y").await;
    assert!(again.has("AUTH-OIDC-FAILED"), "{}", again.body);
}

async fn auth_02_oidc_single_factor_amr_is_refused_and_traced(backend: Backend) {
    let number = rpps("1000000002");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;
    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-claire", "eidas1", "pwd").await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-WEAK", "AUTH-OIDC-WEAK:amr")
        .await;
    // Two factors of one kind are not two factors either.
    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-claire", "eidas1", "otp sms").await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-WEAK", "AUTH-OIDC-WEAK:amr")
        .await;
}

async fn auth_02_oidc_lower_acr_is_refused_and_traced(backend: Backend) {
    let number = rpps("1000000003");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;
    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-claire", "eidas2", "pwd otp").await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-WEAK", "AUTH-OIDC-WEAK:acr")
        .await;
}

async fn auth_02_oidc_stale_auth_time_is_refused_and_traced(backend: Backend) {
    let number = rpps("1000000004");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;
    let agent = Agent::new(&w.s);
    let url = w.start(&agent).await;
    let callback = w.provider_login(&agent, &url, "psc-claire", "", "").await;
    // Six minutes pass on Galien's side between the login at the provider and the callback (the
    // ID token itself lives ten minutes).
    w.clock.advance(time::Duration::minutes(6));
    let page = agent.get(&callback).await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-WEAK", "AUTH-OIDC-WEAK:auth_time")
        .await;
}

async fn auth_02_oidc_rpps_without_account_is_refused_never_created(backend: Backend) {
    let known = rpps("1000000005");
    let stranger = rpps("1000000006");
    let w = world(
        backend,
        vec![
            doctor("psc-claire", &known),
            doctor("psc-stranger", &stranger),
        ],
        "eidas1",
    )
    .await;
    w.medecin(&known, "claire.martin@hopital.test", true).await;
    let users_before = w.s.store.users(None, None, 1000, 0).await.unwrap().len();
    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-stranger", "", "").await;
    w.assert_refused(
        &agent,
        &page,
        "AUTH-OIDC-NO-ACCOUNT",
        "AUTH-OIDC-NO-ACCOUNT:no_account",
    )
    .await;
    let users_after = w.s.store.users(None, None, 1000, 0).await.unwrap().len();
    assert_eq!(users_before, users_after, "no account is ever created");
}

async fn auth_08_oidc_invited_or_suspended_account_is_refused(backend: Backend) {
    let invited = rpps("1000000007");
    let active = rpps("1000000008");
    let w = world(
        backend,
        vec![
            doctor("psc-invited", &invited),
            doctor("psc-active", &active),
        ],
        "eidas1",
    )
    .await;
    w.medecin(&invited, "invited@hopital.test", false).await;
    w.medecin(&active, "active@hopital.test", true).await;

    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-invited", "", "").await;
    w.assert_refused(
        &agent,
        &page,
        "AUTH-OIDC-NO-ACCOUNT",
        "AUTH-OIDC-NO-ACCOUNT:invited",
    )
    .await;

    // The administrator suspends the active one: the provider's word no longer opens it.
    let user =
        w.s.store
            .user_by_professional_id(&ProfessionalId::rpps(&active).unwrap())
            .await
            .unwrap();
    let admin_page = w.admin.agent.get("/admin/users").await;
    let csrf = admin_page.field("_csrf").unwrap();
    let r = w
        .admin
        .agent
        .post(
            &format!("/admin/users/{}/suspend", user.id),
            &[("_csrf", csrf.as_str())],
        )
        .await;
    assert!(r.status == 200 || r.status == 303, "{}", r.body);
    w.clock.set(SystemClock.now());
    let agent = Agent::new(&w.s);
    let page = w.sign_in(&agent, "psc-active", "", "").await;
    w.assert_refused(
        &agent,
        &page,
        "AUTH-ACCOUNT-DISABLED",
        "AUTH-ACCOUNT-DISABLED:disabled",
    )
    .await;
}

async fn auth_02_oidc_missing_tampered_or_mismatched_state_is_refused(backend: Backend) {
    let number = rpps("1000000009");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;

    // The callback reaches a browser that never started the sign-in (no state cookie): a code
    // pushed to someone else (login CSRF) opens nothing.
    let victim = Agent::new(&w.s);
    let attacker = Agent::new(&w.s);
    let url = w.start(&attacker).await;
    let callback = w
        .provider_login(&attacker, &url, "psc-claire", "", "")
        .await;
    let page = victim.get(&callback).await;
    w.assert_refused(
        &victim,
        &page,
        "AUTH-OIDC-FAILED",
        "AUTH-OIDC-FAILED:state_cookie",
    )
    .await;

    // The state parameter changed on the way back.
    let agent = Agent::new(&w.s);
    let url = w.start(&agent).await;
    let callback = w.provider_login(&agent, &url, "psc-claire", "", "").await;
    let (before, after) = callback.split_once("state=").unwrap();
    let forged = format!(
        "{before}state=forged{}",
        &after[after.find('&').unwrap_or(after.len())..]
    );
    let page = agent.get(&forged).await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-FAILED", "AUTH-OIDC-FAILED:state")
        .await;

    // A tampered state cookie does not open.
    let r = w.s.get("/auth/oidc/start").await;
    let sealed = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find_map(|c| {
            c.strip_prefix("galien_oidc=")
                .map(|v| v.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let mut bytes = sealed.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let r =
        w.s.client
            .get(w.s.url("/auth/oidc/callback?code=abc&state=def"))
            .header("cookie", format!("galien_oidc={tampered}"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("AUTH-OIDC-FAILED"));
    let failures = w.failures().await;
    assert_eq!(
        failures
            .iter()
            .filter(|r| *r == "AUTH-OIDC-FAILED:state_cookie")
            .count(),
        2,
        "{failures:?}"
    );
}

async fn auth_02_oidc_nonce_mismatch_is_refused_and_traced(backend: Backend) {
    let number = rpps("1000000010");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;
    // An authorization response injected from another request: same state and PKCE, but the ID
    // token carries another nonce than the one this browser's sign-in asked for.
    let agent = Agent::new(&w.s);
    let url = w.start(&agent).await;
    let (before, after) = url.split_once("nonce=").unwrap();
    let rest = &after[after.find('&').unwrap_or(after.len())..];
    let injected = format!("{before}nonce=a-nonce-from-another-request{rest}");
    let callback = w
        .provider_login(&agent, &injected, "psc-claire", "", "")
        .await;
    let page = agent.get(&callback).await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-FAILED", "AUTH-OIDC-FAILED:nonce")
        .await;
}

async fn auth_02_oidc_code_issued_to_another_client_is_refused(backend: Backend) {
    let number = rpps("1000000011");
    let w = world(backend, vec![doctor("psc-claire", &number)], "eidas1").await;
    w.medecin(&number, "claire.martin@hopital.test", true).await;
    // The same request, but made for another relying party of the provider: the code (and any
    // token for it) is that client's, whose audience is not Galien's.
    let agent = Agent::new(&w.s);
    let url = w.start(&agent).await;
    let other = url.replace("client_id=galien", "client_id=other-rp");
    let callback = w.provider_login(&agent, &other, "psc-claire", "", "").await;
    let page = agent.get(&callback).await;
    w.assert_refused(&agent, &page, "AUTH-OIDC-FAILED", "AUTH-OIDC-FAILED:token")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_is_off_without_configuration() {
    let s = TestServer::start(Backend::Sqlite).await;
    let agent = Agent::new(&s);
    let login = agent.get("/login").await;
    assert_eq!(login.status, 200);
    assert!(!login.has("oidc-start"), "{}", login.body);
    let r = agent.get("/auth/oidc/start").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = agent.get("/auth/oidc/callback?code=a&state=b").await;
    assert_eq!(r.status, 404, "{}", r.body);
}

/// In Chromium, with the provider on another site: the button, the provider's form, and the
/// account page, signed in. The session cookie is SameSite=Strict, which a browser withholds from
/// the end of a redirect chain that began on another site: the callback's own page moves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_02_oidc_sign_in_in_a_browser_reaches_the_account() {
    use galien_testkit::browser::{Browser, PageOptions};
    use std::time::Duration;
    let number = rpps("1000000012");
    let w = world_on(
        Backend::Sqlite,
        vec![doctor("psc-claire", &number)],
        "eidas1",
        "localhost",
    )
    .await;
    assert!(w.idp.issuer().starts_with("http://localhost:"));
    w.medecin(&number, "claire.martin@hopital.test", true).await;

    let browser = Browser::start().await;
    let page = browser.page(PageOptions::default()).await;
    page.goto(&w.s.url("/login")).await;
    page.find("#oidc-start").await.click().await;
    page.wait_for("#login-form", Duration::from_secs(10)).await;
    assert!(page.current_url().await.starts_with(w.idp.issuer()));
    page.find("#login").await.send_keys("psc-claire").await;
    page.find("#submit").await.click().await;
    let url = page
        .wait_for_url(|u| u.ends_with("/account"), Duration::from_secs(10))
        .await;
    assert!(url.starts_with(&w.s.base_url), "{url}");
    page.wait_for("main", Duration::from_secs(5)).await;
    let source = page.source().await;
    assert!(source.contains("Claire Martin"), "{source}");
    page.save_screenshot("oidc-account").await;
    assert_eq!(w.successes().await.last().map(String::as_str), Some("oidc"));
}
