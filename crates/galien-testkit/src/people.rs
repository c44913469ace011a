//! People for tests: an [`Agent`] is one browser-less person with a cookie jar, speaking HTTP to a
//! node exactly as a browser's forms do; helpers enrol the first administrator, accept invitations
//! and sign in with real second factors.

use crate::TestServer;
use galien_core::{Clock, ManualClock};
use galien_crypto::totp::TotpSecret;
use reqwest::header::HeaderMap;
use std::sync::Arc;

/// A strong password that meets the policy.
pub const PASSWORD: &str = "Cheval-Agrafe-Batterie-42!";

/// One person's HTTP client (cookies kept, redirects not followed).
#[derive(Debug, Clone)]
pub struct Agent {
    /// The client.
    pub client: reqwest::Client,
    base: String,
}

/// A response, read.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body with HTML escapes of `'`, `"` and `&` undone.
    pub body: String,
}

impl Page {
    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The `value` of the first `<input name="…">`.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let tag_start = self.body.get(..at)?.rfind('<')?;
        let tag_end = at + self.body.get(at..)?.find('>')?;
        let tag = self.body.get(tag_start..tag_end)?;
        let v = tag.split("value=\"").nth(1)?;
        Some(v.split('"').next()?.to_owned())
    }

    /// The text between `start` and the next `end`.
    pub fn between(&self, start: &str, end: &str) -> Option<String> {
        let rest = self.body.split(start).nth(1)?;
        Some(rest.split(end).next()?.to_owned())
    }

    /// Whether the body contains `s`.
    pub fn has(&self, s: &str) -> bool {
        self.body.contains(s)
    }
}

impl Agent {
    /// A fresh person for `server`.
    pub fn new(server: &TestServer) -> Agent {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Agent {
            client,
            base: server.base_url.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
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

    /// `GET`.
    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// `POST` a form.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::read(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `page` and posts its form with `_csrf` filled in from the page.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let shown = self.get(page).await;
        let csrf = shown
            .field("_csrf")
            .unwrap_or_else(|| panic!("no _csrf on {page}: {}", shown.body));
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

/// A code from `secret` for a new time step: moves the clock 30 s first, as a person would wait
/// for the next code.
pub fn next_code(clock: &ManualClock, secret_base32: &str) -> String {
    clock.advance(time::Duration::seconds(30));
    let secret = TotpSecret::from_base32(secret_base32).expect("base32 TOTP secret");
    secret.code_at(clock.now()).expect("code").to_string()
}

/// A person who has finished enrolment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Their signed-in client.
    pub agent: Agent,
    /// Sign-in e-mail.
    pub email: String,
    /// Password.
    pub password: String,
    /// TOTP seed (base32).
    pub totp: String,
    /// Recovery codes.
    pub recovery: Vec<String>,
}

/// Completes the TOTP enrolment page for a person whose session leads there.
pub async fn enrol_totp(agent: &Agent, clock: &ManualClock) -> (String, Vec<String>) {
    let page = agent.get("/account/totp").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let secret: String = page
        .between("id=\"secret\">", "<")
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let sealed = page.field("sealed").unwrap();
    let csrf = page.field("_csrf").unwrap();
    let code = next_code(clock, &secret);
    let done = agent
        .post(
            "/account/totp",
            &[("_csrf", &csrf), ("sealed", &sealed), ("code", &code)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let codes: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next().map(str::to_owned))
        .collect();
    assert_eq!(codes.len(), 10, "{}", done.body);
    (secret, codes)
}

/// Enrols the first administrator through the link printed at first start.
pub async fn enrol_first_admin(server: &TestServer, clock: &ManualClock) -> Enrolled {
    let link = server.first_admin_link.clone().expect("first-start link");
    let agent = Agent::new(server);
    let email = "admin@galien.test";
    let r = agent
        .post(
            &link,
            &[
                ("display_name", "Alice Admin"),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), Some("/account/totp"));
    let (totp, recovery) = enrol_totp(&agent, clock).await;
    Enrolled {
        agent,
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        totp,
        recovery,
    }
}

/// An invited person sets a password from their link and enrols TOTP.
pub async fn accept_invitation(
    server: &TestServer,
    link: &str,
    email: &str,
    clock: &ManualClock,
) -> Enrolled {
    let agent = Agent::new(server);
    let r = agent.post(link, &[("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (totp, recovery) = enrol_totp(&agent, clock).await;
    Enrolled {
        agent,
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        totp,
        recovery,
    }
}

/// Signs in with password and TOTP; returns the signed-in agent.
pub async fn sign_in(
    server: &TestServer,
    email: &str,
    password: &str,
    totp: &str,
    clock: &ManualClock,
) -> Agent {
    let agent = Agent::new(server);
    let r = agent
        .submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await;
    assert_eq!(r.location(), Some("/login/factor"), "{}", r.body);
    let code = next_code(clock, totp);
    let r = agent
        .submit("/login/factor", "/login/factor", &[("code", &code)])
        .await;
    assert_eq!(r.location(), Some("/account"), "{}", r.body);
    agent
}

/// Invites someone as the signed-in administrator; returns the invitation link.
pub async fn invite(
    admin: &Agent,
    role: &str,
    name: &str,
    email: &str,
    professional_id: &str,
) -> String {
    let r = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("role", role),
                ("display_name", name),
                ("email", email),
                ("professional_id", professional_id),
                ("organisation", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.between("id=\"invitation-link\">", "<")
        .expect("invitation link shown")
}

/// A valid RPPS number (Luhn key computed) from a 10-digit body.
pub fn rpps(body: &str) -> String {
    format!(
        "{body}{}",
        galien_core::identity::luhn_check_digit(body).unwrap()
    )
}

/// Who brings people in: the node, its clock and a signed-in administrator.
#[derive(Clone, Copy)]
pub struct Inviter<'a> {
    server: &'a TestServer,
    clock: &'a ManualClock,
    admin: &'a Enrolled,
}

impl<'a> Inviter<'a> {
    /// The administrator `admin` of `server`, whose clock is `clock`.
    pub fn new(server: &'a TestServer, clock: &'a ManualClock, admin: &'a Enrolled) -> Inviter<'a> {
        Inviter {
            server,
            clock,
            admin,
        }
    }

    /// A person of `role` invited by the administrator who has accepted (password set, TOTP
    /// enrolled). `rpps_body`: the 10-digit body of a health professional's RPPS number, `None`
    /// for others.
    pub async fn person(
        self,
        role: &str,
        name: &str,
        email: &str,
        rpps_body: Option<&str>,
    ) -> Enrolled {
        let pid = rpps_body.map(rpps).unwrap_or_default();
        let link = invite(&self.admin.agent, role, name, email, &pid).await;
        accept_invitation(self.server, &link, email, self.clock).await
    }
}

/// Submits the form of `page` to `action` with fields held as `String`s (see [`Agent::submit`]).
pub async fn submit(agent: &Agent, page: &str, action: &str, fields: &[(&str, String)]) -> Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    agent.submit(page, action, &fields).await
}

/// A session cookie (`galien_session=…`) of `who`, signed in with password and TOTP.
pub async fn session_cookie(s: &TestServer, clock: &ManualClock, who: &Enrolled) -> String {
    use reqwest::cookie::CookieStore;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let read = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    };
    let login = read(client.get(s.url("/login")).send().await.unwrap()).await;
    let csrf = login.field("_csrf").unwrap();
    let r = client
        .post(s.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", who.email.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let factor = read(client.get(s.url("/login/factor")).send().await.unwrap()).await;
    let csrf = factor.field("_csrf").unwrap();
    let code = next_code(clock, &who.totp);
    let r = client
        .post(s.url("/login/factor"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/account");
    let url = reqwest::Url::parse(&s.base_url).unwrap();
    let cookies = jar.cookies(&url).unwrap();
    cookies
        .to_str()
        .unwrap()
        .split(';')
        .map(str::trim)
        .find(|c| c.starts_with("galien_session="))
        .unwrap()
        .to_owned()
}
