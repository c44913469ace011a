//! Identity and strong authentication over HTTP, on both backends (AUTH-1 … AUTH-8): enrolment,
//! password + TOTP sign-in, replay, lockout, sessions, CSRF, invitations, suspension — each refusal
//! leaves a trace.

use galien_core::ManualClock;
use galien_core::audit::AuditAction;
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Agent, PASSWORD, next_code};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use time::macros::datetime;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(galien_store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(galien_store::Backend::Postgres).await } )*
        }
    };
}

on_both_backends!(
    auth_03_first_admin_enrols_with_a_strong_password_and_totp,
    auth_02_sign_in_needs_password_and_totp_and_fails_alike_for_unknown_accounts,
    auth_06_replayed_totp_code_is_refused_traced_and_shown,
    auth_06_recovery_code_works_once,
    auth_05_repeated_failures_lock_the_account_then_release_it,
    auth_07_sessions_are_listed_ended_and_expire_when_idle,
    auth_07_forms_without_csrf_token_are_refused_and_change_nothing,
    auth_07_forged_session_cookie_is_refused,
    auth_08_invited_medecin_enrols_then_suspension_ends_the_sessions,
    auth_01_second_account_with_same_email_or_rpps_is_refused,
    auth_02_health_pages_refuse_a_one_factor_session,
    auth_07_password_change_needs_a_fresh_factor_and_ends_other_sessions,
    auth_05_the_person_sees_failures_aimed_at_their_account,
);

async fn start(backend: Backend) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(backend, Options::clocked(&clock)).await;
    (s, clock)
}

async fn actions(s: &TestServer, action: AuditAction) -> usize {
    s.store
        .audit_events(&AuditFilter {
            action: Some(action),
            limit: Some(1000),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .len()
}

async fn auth_03_first_admin_enrols_with_a_strong_password_and_totp(backend: Backend) {
    let (s, clock) = start(backend).await;
    let link = s.first_admin_link.clone().unwrap();
    let a = Agent::new(&s);
    let form = a.get(&link).await;
    assert_eq!(form.status, 200);
    assert!(form.has("autocomplete=\"new-password\""));

    // A common password is refused with its reasons, and nothing is consumed.
    let r = a
        .post(
            &link,
            &[
                ("display_name", "Alice Admin"),
                ("email", "admin@galien.test"),
                ("password", "password"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.has("AUTH-WEAK-PASSWORD") || r.has("Ce mot de passe ne convient pas."),
        "{}",
        r.body
    );
    assert!(r.has("role=\"alert\""));
    let r = a
        .post(
            &link,
            &[
                ("display_name", "Alice Admin"),
                ("email", "pas-une-adresse"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.has("Cette adresse e-mail n'est pas valide"), "{}", r.body);
    assert_eq!(
        a.get(&link).await.status,
        200,
        "refused attempts leave the link usable"
    );

    let admin = people::enrol_first_admin(&s, &clock).await;
    assert_eq!(admin.recovery.len(), 10);
    let account = admin.agent.get("/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.has("Alice Admin") && account.has("Administrateur"));
    assert!(
        account.has("Codes de secours restants : 10"),
        "{}",
        account.body
    );
    // The link is spent; the home page no longer waits for an administrator.
    assert_eq!(Agent::new(&s).get(&link).await.status, 410);
    assert!(
        !Agent::new(&s)
            .get("/")
            .await
            .has("en attente de son premier administrateur")
    );
    assert_eq!(actions(&s, AuditAction::AuthFactorEnrolled).await, 1);
    assert_eq!(actions(&s, AuditAction::AccountActivated).await, 1);

    // Sign out ends the session.
    let r = admin.agent.submit("/account", "/logout", &[]).await;
    assert_eq!(r.location(), Some("/login"));
    assert_eq!(admin.agent.get("/account").await.location(), Some("/login"));
    s.stop().await;
}

async fn auth_02_sign_in_needs_password_and_totp_and_fails_alike_for_unknown_accounts(
    backend: Backend,
) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let a = Agent::new(&s);
    let wrong = a
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", "Wrong-Password-123!")],
        )
        .await;
    let unknown = a
        .submit(
            "/login",
            "/login",
            &[
                ("email", "nobody@galien.test"),
                ("password", "Wrong-Password-123!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let msg = "Adresse e-mail ou mot de passe incorrect.";
    assert!(wrong.has(msg) && unknown.has(msg));
    assert_eq!(actions(&s, AuditAction::AuthLoginFailed).await, 2);

    // The password alone opens nothing but the second-factor step.
    let r = a
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), Some("/login/factor"));
    assert_eq!(a.get("/account").await.location(), Some("/login/factor"));
    let r = a
        .submit("/login/factor", "/login/factor", &[("code", "000000")])
        .await;
    assert_eq!(r.status, 401);
    assert!(
        r.has("AUTH-TOTP-INVALID") || r.has("Ce code n'est pas valide"),
        "{}",
        r.body
    );
    let code = next_code(&clock, &admin.totp);
    let r = a
        .submit("/login/factor", "/login/factor", &[("code", &code)])
        .await;
    assert_eq!(r.location(), Some("/account"), "{}", r.body);
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(a.get("/account").await.status, 200);
    assert!(actions(&s, AuditAction::AuthLoginSucceeded).await >= 1);
    s.stop().await;
}

async fn auth_06_replayed_totp_code_is_refused_traced_and_shown(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let code = next_code(&clock, &admin.totp);
    let first = Agent::new(&s);
    first
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    let ok = first
        .submit("/login/factor", "/login/factor", &[("code", &code)])
        .await;
    assert_eq!(ok.location(), Some("/account"));
    // Someone who saw the code types it within the same 30 s.
    let second = Agent::new(&s);
    second
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    let replay = second
        .submit("/login/factor", "/login/factor", &[("code", &code)])
        .await;
    assert_eq!(replay.status, 401);
    assert!(replay.has("Ce code a déjà été utilisé"), "{}", replay.body);
    assert_eq!(
        second.get("/account").await.location(),
        Some("/login/factor")
    );
    assert_eq!(actions(&s, AuditAction::AuthTotpReplayed).await, 1);
    s.stop().await;
}

async fn auth_06_recovery_code_works_once(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let code = admin.recovery[3].clone();
    for (attempt, expect_ok) in [(1, true), (2, false)] {
        let a = Agent::new(&s);
        a.submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
        let r = a
            .submit(
                "/login/factor",
                "/login/recovery",
                &[("code", &code.to_lowercase().replace('-', " "))],
            )
            .await;
        if expect_ok {
            assert_eq!(
                r.location(),
                Some("/account"),
                "attempt {attempt}: {}",
                r.body
            );
            assert!(a.get("/account").await.has("Codes de secours restants : 9"));
        } else {
            assert_eq!(r.status, 401, "attempt {attempt}");
            assert!(r.has("Ce code de secours n'est pas valide ou a déjà servi."));
        }
    }
    assert_eq!(actions(&s, AuditAction::AuthRecoveryCodeUsed).await, 1);
    s.stop().await;
}

async fn auth_05_repeated_failures_lock_the_account_then_release_it(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let a = Agent::new(&s);
    for _ in 0..10 {
        let r = a
            .submit(
                "/login",
                "/login",
                &[("email", &admin.email), ("password", "Not-The-Password-1!")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // Locked: even the right password is refused now, and the security officer sees why.
    let r = a
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.has("temporairement bloqué"));
    assert_eq!(actions(&s, AuditAction::AuthLocked).await, 1);
    // Unknown accounts lock alike.
    for _ in 0..10 {
        a.submit(
            "/login",
            "/login",
            &[
                ("email", "ghost@galien.test"),
                ("password", "Not-The-Password-1!"),
            ],
        )
        .await;
    }
    let r = a
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ghost@galien.test"),
                ("password", "Not-The-Password-1!"),
            ],
        )
        .await;
    assert_eq!(r.status, 429);
    // After the lock window, the account opens again.
    clock.advance(time::Duration::minutes(16));
    let r = a
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), Some("/login/factor"), "{}", r.body);
    s.stop().await;
}

async fn auth_07_sessions_are_listed_ended_and_expire_when_idle(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let laptop = people::sign_in(&s, &admin.email, PASSWORD, &admin.totp, &clock).await;
    let phone = people::sign_in(&s, &admin.email, PASSWORD, &admin.totp, &clock).await;
    let page = laptop.get("/account").await;
    assert_eq!(
        page.body.matches("name=\"handle\"").count(),
        2,
        "the two other sessions can be ended: {}",
        page.body
    );
    assert!(page.has("Cette session"));
    // End all others from the laptop: the phone and the enrolment session are gone.
    let r = laptop
        .submit("/account", "/account/sessions/end-others", &[])
        .await;
    assert_eq!(r.status, 303);
    // A patient's page reads the session with the gate's facts: an ended session is refused the
    // same (and its cookie cleared).
    let record = format!("/patients/{}", uuid::Uuid::now_v7());
    assert_eq!(
        phone.get(&record).await.location(),
        Some("/login?expired=1")
    );
    assert_eq!(phone.get("/account").await.location(), Some("/login"));
    assert_eq!(
        admin.agent.get("/account").await.location(),
        Some("/login?expired=1")
    );
    assert_eq!(laptop.get("/account").await.status, 200);
    // Idle for 15 minutes: the session ends, and the person is told, whatever page they open.
    clock.advance(time::Duration::minutes(15));
    let expired = actions(&s, AuditAction::AuthSessionExpired).await;
    let r = laptop.get(&record).await;
    assert_eq!(r.location(), Some("/login?expired=1"));
    assert_eq!(
        actions(&s, AuditAction::AuthSessionExpired).await,
        expired + 1
    );
    assert_eq!(laptop.get("/account").await.location(), Some("/login"));
    s.stop().await;
}

async fn auth_07_forms_without_csrf_token_are_refused_and_change_nothing(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let r = admin
        .agent
        .post(
            "/admin/users",
            &[
                ("role", "medecin"),
                ("display_name", "Bob"),
                ("email", "bob@galien.test"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.has("CSRF-INVALID"));
    let r = admin.agent.post("/logout", &[("_csrf", "forged")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        admin.agent.get("/account").await.status,
        200,
        "still signed in"
    );
    let r = Agent::new(&s)
        .post("/login", &[("email", &admin.email), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 403, "the sign-in form itself is protected");
    assert!(
        !admin.agent.get("/admin/users").await.has("bob@galien.test"),
        "nobody was invited"
    );
    s.stop().await;
}

async fn auth_07_forged_session_cookie_is_refused(backend: Backend) {
    let (s, _clock) = start(backend).await;
    let r = s
        .client
        .get(s.url("/account"))
        .header(
            "cookie",
            "galien_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let r = s
        .client
        .get(s.url("/account"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

async fn auth_08_invited_medecin_enrols_then_suspension_ends_the_sessions(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let rpps = people::rpps("1000000042");
    let link = people::invite(
        &admin.agent,
        "medecin",
        "Dr Bernard Martin",
        "b.martin@galien.test",
        &rpps,
    )
    .await;
    let greet = Agent::new(&s).get(&link).await;
    assert!(
        greet.has("Dr Bernard Martin") && greet.has("Médecin"),
        "{}",
        greet.body
    );
    let doc = people::accept_invitation(&s, &link, "b.martin@galien.test", &clock).await;
    assert!(doc.agent.get("/account").await.has(&rpps));
    assert!(admin.agent.get("/admin/users").await.has("Actif"));
    // A médecin is no administrator.
    assert_eq!(doc.agent.get("/admin/users").await.status, 403);

    let users = admin.agent.get("/admin/users").await;
    let id = users.between("/admin/users/", "/suspend").unwrap();
    let r = admin
        .agent
        .submit("/admin/users", &format!("/admin/users/{id}/suspend"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        doc.agent.get("/account").await.location(),
        Some("/login?expired=1"),
        "suspension ends the sessions"
    );
    let r = Agent::new(&s)
        .submit(
            "/login",
            "/login",
            &[("email", "b.martin@galien.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.has("suspendu"));
    assert_eq!(actions(&s, AuditAction::AccountSuspended).await, 1);
    let r = admin
        .agent
        .submit(
            "/admin/users",
            &format!("/admin/users/{id}/reactivate"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    people::sign_in(&s, "b.martin@galien.test", PASSWORD, &doc.totp, &clock).await;
    s.stop().await;
}

async fn auth_01_second_account_with_same_email_or_rpps_is_refused(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let rpps = people::rpps("1000000077");
    people::invite(
        &admin.agent,
        "medecin",
        "Dr Claire Petit",
        "c.petit@galien.test",
        &rpps,
    )
    .await;
    let again = |email: &'static str, id: String| {
        let agent = admin.agent.clone();
        async move {
            agent
                .submit(
                    "/admin/users",
                    "/admin/users",
                    &[
                        ("role", "medecin"),
                        ("display_name", "Dr Double"),
                        ("email", email),
                        ("professional_id", &id),
                        ("organisation", ""),
                    ],
                )
                .await
        }
    };
    let r = again("C.Petit@Galien.test", people::rpps("1000000078")).await;
    assert_eq!(r.status, 409);
    assert!(
        r.has("Un compte existe déjà avec cette adresse e-mail"),
        "{}",
        r.body
    );
    let r = again("autre@galien.test", rpps.clone()).await;
    assert_eq!(r.status, 409);
    assert!(r.has("numéro RPPS"), "{}", r.body);
    let r = again("autre@galien.test", "12345678901".to_owned()).await;
    assert_eq!(r.status, 400, "a wrong Luhn key is refused");
    let r = again("autre@galien.test", String::new()).await;
    assert_eq!(r.status, 400, "a médecin needs an RPPS or ADELI number");
    let list = admin.agent.get("/admin/users").await;
    assert_eq!(list.body.matches("Dr Double").count(), 0);
    s.stop().await;
}

async fn auth_02_health_pages_refuse_a_one_factor_session(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let a = Agent::new(&s);
    a.submit(
        "/login",
        "/login",
        &[("email", &admin.email), ("password", PASSWORD)],
    )
    .await;
    for path in ["/account", "/admin/users"] {
        assert_eq!(
            a.get(path).await.location(),
            Some("/login/factor"),
            "{path}"
        );
    }
    let r = a
        .client
        .get(format!("{}/admin/users", s.base_url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

async fn auth_07_password_change_needs_a_fresh_factor_and_ends_other_sessions(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let phone = people::sign_in(&s, &admin.email, PASSWORD, &admin.totp, &clock).await;
    let laptop = people::sign_in(&s, &admin.email, PASSWORD, &admin.totp, &clock).await;
    clock.advance(time::Duration::minutes(6));
    let page = laptop.get("/account").await;
    assert!(
        page.has("confirmez d'abord votre identité"),
        "{}",
        page.body
    );
    let csrf = page.field("_csrf").unwrap();
    let new_password = "Nouvelle-Phrase-De-Passe-2027!";
    let r = laptop
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "no fresh factor: {}", r.body);
    // Step up with a fresh code, then change.
    let code = next_code(&clock, &admin.totp);
    let r = laptop
        .submit(
            "/account/step-up",
            "/account/step-up",
            &[("code", &code), ("next", "/account")],
        )
        .await;
    assert_eq!(r.location(), Some("/account"), "{}", r.body);
    let r = laptop
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current_password", "Wrong-Current-1!"),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = laptop
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", "azerty123"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.has("Ce mot de passe ne convient pas."), "{}", r.body);
    let r = laptop
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/account?done=password"), "{}", r.body);
    assert_eq!(
        phone.get("/account").await.location(),
        Some("/login?expired=1"),
        "other sessions end"
    );
    assert_eq!(laptop.get("/account").await.status, 200, "this one stays");
    let old = Agent::new(&s)
        .submit(
            "/login",
            "/login",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, 401);
    people::sign_in(&s, &admin.email, new_password, &admin.totp, &clock).await;
    assert_eq!(
        actions(&s, AuditAction::AuthPasswordChanged).await,
        2,
        "enrolment, then the change"
    );
    s.stop().await;
}

async fn auth_05_the_person_sees_failures_aimed_at_their_account(backend: Backend) {
    let (s, clock) = start(backend).await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let attacker = Agent::new(&s);
    for _ in 0..3 {
        attacker
            .submit(
                "/login",
                "/login",
                &[("email", &admin.email), ("password", "Guess-Guess-123!")],
            )
            .await;
    }
    let page = admin.agent.get("/account").await;
    assert_eq!(
        page.body.matches("Tentative de connexion échouée").count(),
        3,
        "{}",
        page.body
    );
    assert!(page.has("class=\"alert-row\""));
    s.stop().await;
}
