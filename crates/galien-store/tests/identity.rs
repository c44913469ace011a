//! Identity persistence (AUTH-1…AUTH-9), run against SQLite and PostgreSQL like `conformance.rs`: every
//! test below is generated twice, as `sqlite::<behaviour>` and `postgres::<behaviour>`, each on a fresh
//! database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use galien_core::identity::{
    AccountStatus, Assurance, AuthMethod, Email, ProfessionalId, Role, luhn_check_digit,
};
use galien_core::ids::UserId;
use galien_crypto::token::TokenDigest;
use galien_store::{
    AcceptError, ConsumeError, CreateUserError, NewAccessToken, NewEnrolmentToken,
    NewMachineClient, NewSession, NewUser, NewWebauthnCredential, Store, StoreError, TokenPurpose,
    User,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-01 08:00 UTC);
const PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

#[macro_use]
mod common;
use common::Ctx;

both_backends! {
    auth_01_second_account_with_same_email_or_rpps_is_refused,
    auth_01_users_are_listed_filtered_and_counted,
    auth_06_totp_step_advances_once_even_concurrently,
    auth_06_recovery_code_is_single_use,
    auth_02_webauthn_credentials_belong_to_their_user,
    auth_07_session_lifecycle,
    auth_07_a_change_by_another_process_is_seen_by_the_next_read,
    auth_05_failures_counted_per_key_within_window,
    auth_08_status_changes_and_never_deletes,
    auth_09_machine_client_revocation_reaches_its_tokens,
    accept_first_admin_is_atomic,
    accept_invitation_sets_password_once,
    invitation_tokens_revoke_only_the_same_users_previous_invitation,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn digest() -> TokenDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    TokenDigest::from_bytes(bytes)
}

fn hash32() -> [u8; 32] {
    *digest().as_bytes()
}

fn rpps(body: &str) -> ProfessionalId {
    let key = luhn_check_digit(body).unwrap();
    ProfessionalId::rpps(&format!("{body}{key}")).unwrap()
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn new_user(addr: &str, role: Role, pro: Option<ProfessionalId>, at: OffsetDateTime) -> NewUser {
    NewUser {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: email(addr),
        display_name: format!("Dr {addr}"),
        role,
        professional_id: pro,
        organisation: Some("CHU de Nantes".into()),
        status: AccountStatus::Invited,
        created_at: at,
        created_by: None,
    }
}

async fn created(store: &Store, u: NewUser) -> UserId {
    let id = u.id;
    store.create_user(u).await.unwrap();
    id
}

fn token(purpose: TokenPurpose, user: Option<UserId>, at: OffsetDateTime) -> NewEnrolmentToken {
    NewEnrolmentToken {
        id: Uuid::new_v4(),
        digest: digest(),
        purpose,
        user,
        created_at: at,
        expires_at: at + secs(3600),
    }
}

async fn auth_01_second_account_with_same_email_or_rpps_is_refused(ctx: &Ctx) {
    let store = ctx.open().await;
    let pro = rpps("1000000001");
    let a = new_user("martin@chu.fr", Role::Medecin, Some(pro.clone()), T0);
    store.create_user(a.clone()).await.unwrap();

    // Same address (normalised: case and spaces do not make a second account).
    let same_email = new_user(" Martin@CHU.fr ", Role::Infirmier, None, T0 + secs(1));
    assert_eq!(
        store.create_user(same_email.clone()).await,
        Err(CreateUserError::EmailTaken)
    );
    let same_rpps = new_user(
        "other@chu.fr",
        Role::Medecin,
        Some(pro.clone()),
        T0 + secs(2),
    );
    assert_eq!(
        store.create_user(same_rpps.clone()).await,
        Err(CreateUserError::ProfessionalIdTaken)
    );
    // The same digits as ADELI are another identifier; several accounts may have none.
    let no_pro_1 = created(
        &store,
        new_user("sec1@chu.fr", Role::Secretaire, None, T0 + secs(3)),
    )
    .await;
    let no_pro_2 = created(
        &store,
        new_user("sec2@chu.fr", Role::Secretaire, None, T0 + secs(4)),
    )
    .await;
    // A duplicate id is neither: it is a plain conflict.
    let mut same_id = new_user("third@chu.fr", Role::Medecin, None, T0 + secs(5));
    same_id.id = a.id;
    assert!(matches!(
        store.create_user(same_id).await,
        Err(CreateUserError::Store(StoreError::Conflict(_)))
    ));

    // Refused accounts were not stored.
    assert_eq!(
        store.user(same_email.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store.user(same_rpps.id).await.unwrap_err(),
        StoreError::NotFound
    );
    let all = store.users(None, None, 100, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![a.id, no_pro_1, no_pro_2]
    );

    // Lookups find the one account, with every field as created.
    let stored = store.user(a.id).await.unwrap();
    assert_eq!(
        stored,
        User {
            id: a.id,
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            role: Role::Medecin,
            professional_id: Some(pro.clone()),
            organisation: Some("CHU de Nantes".into()),
            status: AccountStatus::Invited,
            created_at: T0,
            created_by: None,
            activated_at: None,
            status_changed_at: T0,
            updated_at: T0,
            password_hash: None,
            password_changed_at: None,
            totp: None,
            recovery_codes_remaining: 0,
        }
    );
    assert_eq!(
        store
            .user_by_email(&email("MARTIN@chu.fr"))
            .await
            .unwrap()
            .id,
        a.id
    );
    assert_eq!(store.user_by_professional_id(&pro).await.unwrap().id, a.id);
    assert_eq!(
        store.user_by_email(&email("nobody@chu.fr")).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.user_by_professional_id(&rpps("1000000002")).await,
        Err(StoreError::NotFound)
    );
    // Debug never prints the password hash.
    store
        .set_password_hash(a.id, PHC, T0 + secs(9))
        .await
        .unwrap();
    let shown = format!("{:?}", store.user(a.id).await.unwrap());
    assert!(
        !shown.contains("argon2id") && shown.contains("redacted"),
        "{shown}"
    );
    store.close().await;
}

async fn auth_01_users_are_listed_filtered_and_counted(ctx: &Ctx) {
    let store = ctx.open().await;
    let mut ids = Vec::new();
    for i in 0..5_u64 {
        let role = if i % 2 == 0 {
            Role::Medecin
        } else {
            Role::Secretaire
        };
        ids.push(
            created(
                &store,
                new_user(&format!("u{i}@chu.fr"), role, None, T0 + secs(i)),
            )
            .await,
        );
    }
    store
        .set_user_status(ids[0], AccountStatus::Active, T0 + secs(10))
        .await
        .unwrap();
    store
        .set_user_status(ids[1], AccountStatus::Active, T0 + secs(10))
        .await
        .unwrap();
    store
        .set_user_status(ids[2], AccountStatus::Active, T0 + secs(10))
        .await
        .unwrap();
    store
        .set_user_status(ids[2], AccountStatus::Suspended, T0 + secs(11))
        .await
        .unwrap();

    let page = |v: Vec<User>| v.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        page(store.users(None, None, 2, 0).await.unwrap()),
        ids[0..2]
    );
    assert_eq!(
        page(store.users(None, None, 2, 2).await.unwrap()),
        ids[2..4]
    );
    assert_eq!(
        page(store.users(None, None, 2, 4).await.unwrap()),
        ids[4..5]
    );
    assert_eq!(
        page(store.users(None, Some(Role::Medecin), 10, 0).await.unwrap()),
        vec![ids[0], ids[2], ids[4]]
    );
    assert_eq!(
        page(
            store
                .users(Some(AccountStatus::Active), None, 10, 0)
                .await
                .unwrap()
        ),
        vec![ids[0], ids[1]]
    );
    assert_eq!(
        page(
            store
                .users(Some(AccountStatus::Active), Some(Role::Medecin), 10, 0)
                .await
                .unwrap()
        ),
        vec![ids[0]]
    );
    assert_eq!(
        store.count_active_with_role(Role::Medecin).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .count_active_with_role(Role::Secretaire)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_active_with_role(Role::Administrateur)
            .await
            .unwrap(),
        0
    );
    store.close().await;
}

async fn auth_06_totp_step_advances_once_even_concurrently(ctx: &Ctx) {
    let store = ctx.open().await;
    let id = created(&store, new_user("totp@chu.fr", Role::Medecin, None, T0)).await;
    assert!(
        !store.advance_totp_step(id, 1).await.unwrap(),
        "no TOTP enrolled: nothing to advance"
    );
    store
        .set_totp(id, vec![1, 2, 3], T0 + secs(1))
        .await
        .unwrap();
    let totp = store.user(id).await.unwrap().totp.unwrap();
    assert_eq!(totp.sealed_secret, vec![1, 2, 3]);
    assert_eq!(totp.last_step, None);
    assert_eq!(totp.enrolled_at, T0 + secs(1));
    assert!(
        !format!("{totp:?}").contains("[1, 2, 3]"),
        "sealed secret redacted"
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.advance_totp_step(id, 58_000_000).await.unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "a code works once per time step (AUTH-6)");
    assert!(
        !store.advance_totp_step(id, 58_000_000).await.unwrap(),
        "replay"
    );
    assert!(
        !store.advance_totp_step(id, 57_999_999).await.unwrap(),
        "earlier step"
    );
    assert!(
        store.advance_totp_step(id, 58_000_001).await.unwrap(),
        "next step"
    );
    assert_eq!(
        store.user(id).await.unwrap().totp.unwrap().last_step,
        Some(58_000_001)
    );

    // Re-enrolling replaces the secret and forgets the steps; removing it stops every code.
    store.set_totp(id, vec![9; 40], T0 + secs(2)).await.unwrap();
    let totp = store.user(id).await.unwrap().totp.unwrap();
    assert_eq!((totp.sealed_secret, totp.last_step), (vec![9; 40], None));
    assert!(store.advance_totp_step(id, 5).await.unwrap());
    store.remove_totp(id, T0 + secs(3)).await.unwrap();
    let user = store.user(id).await.unwrap();
    assert_eq!(user.totp, None);
    assert_eq!(user.updated_at, T0 + secs(3));
    assert!(!store.advance_totp_step(id, 6).await.unwrap());
    let unknown = UserId::from_uuid(Uuid::new_v4());
    assert_eq!(
        store.set_totp(unknown, vec![1], T0).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.remove_totp(unknown, T0).await,
        Err(StoreError::NotFound)
    );
    store.close().await;
}

async fn auth_06_recovery_code_is_single_use(ctx: &Ctx) {
    let store = ctx.open().await;
    let alice = created(&store, new_user("alice@chu.fr", Role::Medecin, None, T0)).await;
    let bob = created(&store, new_user("bob@chu.fr", Role::Medecin, None, T0)).await;
    let codes: Vec<[u8; 32]> = (0..10).map(|_| hash32()).collect();
    store
        .replace_recovery_codes(alice, codes.clone(), T0)
        .await
        .unwrap();
    assert_eq!(
        store.user(alice).await.unwrap().recovery_codes_remaining,
        10
    );
    assert_eq!(store.user(bob).await.unwrap().recovery_codes_remaining, 0);

    assert!(
        store
            .use_recovery_code(alice, codes[0], T0 + secs(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(alice, codes[0], T0 + secs(2))
            .await
            .unwrap(),
        "single use"
    );
    assert!(
        !store
            .use_recovery_code(bob, codes[1], T0 + secs(2))
            .await
            .unwrap(),
        "not Bob's"
    );
    assert!(
        !store
            .use_recovery_code(alice, hash32(), T0 + secs(2))
            .await
            .unwrap(),
        "unknown"
    );
    assert_eq!(store.user(alice).await.unwrap().recovery_codes_remaining, 9);

    // Concurrent uses of one code: exactly one wins.
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, barrier, code) = (store.clone(), barrier.clone(), codes[1]);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .use_recovery_code(alice, code, T0 + secs(3))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(store.user(alice).await.unwrap().recovery_codes_remaining, 8);

    // A new set replaces the old one entirely.
    let fresh: Vec<[u8; 32]> = (0..3).map(|_| hash32()).collect();
    store
        .replace_recovery_codes(alice, fresh.clone(), T0 + secs(4))
        .await
        .unwrap();
    assert_eq!(store.user(alice).await.unwrap().recovery_codes_remaining, 3);
    assert!(
        !store
            .use_recovery_code(alice, codes[2], T0 + secs(5))
            .await
            .unwrap(),
        "superseded"
    );
    assert!(
        store
            .use_recovery_code(alice, fresh[2], T0 + secs(5))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .replace_recovery_codes(UserId::from_uuid(Uuid::new_v4()), vec![hash32()], T0)
            .await,
        Err(StoreError::NotFound)
    );
    store.close().await;
}

async fn auth_02_webauthn_credentials_belong_to_their_user(ctx: &Ctx) {
    let store = ctx.open().await;
    let alice = created(&store, new_user("alice@chu.fr", Role::Medecin, None, T0)).await;
    let bob = created(&store, new_user("bob@chu.fr", Role::Medecin, None, T0)).await;
    let key = NewWebauthnCredential {
        id: Uuid::new_v4(),
        user: alice,
        credential_id: vec![7; 64],
        name: "YubiKey".into(),
        passkey_json: r#"{"cred":{"counter":0}}"#.into(),
        created_at: T0 + secs(1),
    };
    store.add_webauthn_credential(key.clone()).await.unwrap();
    let phone = NewWebauthnCredential {
        id: Uuid::new_v4(),
        credential_id: vec![8; 32],
        name: "Téléphone".into(),
        created_at: T0 + secs(2),
        ..key.clone()
    };
    store.add_webauthn_credential(phone.clone()).await.unwrap();
    // A credential id is registered once, to anyone.
    let stolen = NewWebauthnCredential {
        id: Uuid::new_v4(),
        user: bob,
        ..key.clone()
    };
    assert!(matches!(
        store.add_webauthn_credential(stolen).await,
        Err(StoreError::Conflict(_))
    ));

    let list = store.webauthn_credentials(alice).await.unwrap();
    assert_eq!(
        list.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![key.id, phone.id]
    );
    assert_eq!(list[0].credential_id, key.credential_id);
    assert_eq!(list[0].passkey_json, key.passkey_json);
    assert_eq!(list[0].last_used_at, None);
    assert!(store.webauthn_credentials(bob).await.unwrap().is_empty());

    store
        .update_webauthn_credential(key.id, r#"{"cred":{"counter":1}}"#.into(), T0 + secs(60))
        .await
        .unwrap();
    let used = &store.webauthn_credentials(alice).await.unwrap()[0];
    assert_eq!(used.passkey_json, r#"{"cred":{"counter":1}}"#);
    assert_eq!(used.last_used_at, Some(T0 + secs(60)));
    assert_eq!(
        store
            .update_webauthn_credential(Uuid::new_v4(), "{}".into(), T0)
            .await,
        Err(StoreError::NotFound)
    );

    assert!(
        !store.remove_webauthn_credential(bob, key.id).await.unwrap(),
        "not Bob's"
    );
    assert!(
        store
            .remove_webauthn_credential(alice, key.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_webauthn_credential(alice, key.id)
            .await
            .unwrap()
    );
    assert_eq!(store.webauthn_credentials(alice).await.unwrap().len(), 1);
    store.close().await;
}

fn new_session(user: UserId, at: OffsetDateTime) -> NewSession {
    NewSession {
        digest: digest(),
        user,
        method: AuthMethod::Enrolment,
        assurance: Assurance::OneFactor,
        created_at: at,
        absolute_expires_at: at + secs(12 * 3600),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Firefox".into()),
        csrf_secret: *digest().as_bytes(),
    }
}

async fn auth_07_session_lifecycle(ctx: &Ctx) {
    let store = ctx.open().await;
    let alice = created(&store, new_user("alice@chu.fr", Role::Medecin, None, T0)).await;
    let mallory = created(&store, new_user("mallory@chu.fr", Role::Medecin, None, T0)).await;

    let current = new_session(alice, T0);
    store.create_session(current.clone()).await.unwrap();
    assert!(matches!(
        store.create_session(current.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    let s = store.session(&current.digest).await.unwrap();
    // What every request reads first: the session and its account, in one statement.
    let (joined, account) = store.session_and_user(&current.digest).await.unwrap();
    assert!(joined == s, "the joined read gives the same session");
    assert!(
        account == store.user(alice).await.unwrap(),
        "and its account"
    );
    assert!(matches!(
        store.session_and_user(&digest()).await,
        Err(StoreError::NotFound)
    ));
    let expected_handle = hex::encode(Sha256::digest(current.digest.as_bytes()))[..16].to_owned();
    assert_eq!(s.handle, expected_handle);
    assert_eq!(s.digest, current.digest);
    assert_eq!(
        (s.user, s.method, s.assurance),
        (alice, AuthMethod::Enrolment, Assurance::OneFactor)
    );
    assert_eq!((s.created_at, s.last_seen_at), (T0, T0));
    assert_eq!(s.absolute_expires_at, T0 + secs(12 * 3600));
    assert_eq!(
        (s.step_up_at, s.ended_at, s.end_reason.clone()),
        (None, None, None)
    );
    assert_eq!(s.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(s.user_agent.as_deref(), Some("Firefox"));
    assert_eq!(s.csrf_secret, current.csrf_secret);
    let shown = format!("{s:?}");
    assert!(!shown.contains(&hex::encode(current.digest.as_bytes())) && shown.contains("redacted"));

    // Activity moves last_seen_at forward only.
    store
        .touch_session(&current.digest, T0 + secs(60))
        .await
        .unwrap();
    store
        .touch_session(&current.digest, T0 + secs(30))
        .await
        .unwrap();
    assert_eq!(
        store.session(&current.digest).await.unwrap().last_seen_at,
        T0 + secs(60)
    );

    // Second factor enrolled: two factors; a fresh factor for a sensitive action.
    store
        .upgrade_session(
            &current.digest,
            AuthMethod::PasswordTotp,
            Assurance::TwoFactors,
            T0 + secs(90),
        )
        .await
        .unwrap();
    let s = store.session(&current.digest).await.unwrap();
    assert_eq!(
        (s.method, s.assurance),
        (AuthMethod::PasswordTotp, Assurance::TwoFactors)
    );
    assert_eq!(s.last_seen_at, T0 + secs(90));
    assert_eq!(s.step_up_at, None);
    store
        .set_step_up(&current.digest, T0 + secs(100))
        .await
        .unwrap();
    assert_eq!(
        store.session(&current.digest).await.unwrap().step_up_at,
        Some(T0 + secs(100))
    );

    // Two other sessions of Alice, one of Mallory.
    let laptop = new_session(alice, T0 + secs(200));
    let phone = new_session(alice, T0 + secs(300));
    let mallorys = new_session(mallory, T0 + secs(400));
    for s in [&laptop, &phone, &mallorys] {
        store.create_session(s.clone()).await.unwrap();
    }
    let all = store.sessions_of(alice, false).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.digest).collect::<Vec<_>>(),
        vec![phone.digest, laptop.digest, current.digest],
        "newest first, only Alice's"
    );
    // A node's session watch reads many sessions at once: those that exist, with their accounts.
    let mut watched = store
        .sessions_and_users(&[laptop.digest, digest(), mallorys.digest, current.digest])
        .await
        .unwrap();
    watched.sort_by_key(|(s, _)| s.created_at);
    assert_eq!(
        watched
            .iter()
            .map(|(s, u)| (s.digest, u.id))
            .collect::<Vec<_>>(),
        vec![
            (current.digest, alice),
            (laptop.digest, alice),
            (mallorys.digest, mallory)
        ]
    );

    // Ending a session from the "my sessions" page: only one's own.
    let laptop_handle = all[1].handle.clone();
    assert!(
        !store
            .end_session_by_handle(mallory, &laptop_handle, "ended_by_user", T0 + secs(500))
            .await
            .unwrap(),
        "Mallory cannot end Alice's session"
    );
    assert_eq!(store.session(&laptop.digest).await.unwrap().ended_at, None);
    assert!(
        store
            .end_session_by_handle(alice, &laptop_handle, "ended_by_user", T0 + secs(500))
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_session_by_handle(alice, &laptop_handle, "ended_by_user", T0 + secs(501))
            .await
            .unwrap()
    );

    // A password change ends the other sessions and keeps the current one.
    let ended = store
        .end_user_sessions(
            alice,
            Some(&current.digest),
            "password_changed",
            T0 + secs(600),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1, "only the phone was still live");
    let active = store.sessions_of(alice, true).await.unwrap();
    assert_eq!(
        active.iter().map(|s| s.digest).collect::<Vec<_>>(),
        vec![current.digest]
    );
    let phone_now = store.session(&phone.digest).await.unwrap();
    assert_eq!(phone_now.ended_at, Some(T0 + secs(600)));
    assert_eq!(phone_now.end_reason.as_deref(), Some("password_changed"));
    let laptop_now = store.session(&laptop.digest).await.unwrap();
    assert_eq!(
        laptop_now.end_reason.as_deref(),
        Some("ended_by_user"),
        "first end kept"
    );
    assert!(
        store
            .session(&mallorys.digest)
            .await
            .unwrap()
            .ended_at
            .is_none(),
        "others untouched"
    );

    // Logout; a second logout is a no-op that keeps the first end.
    assert!(
        store
            .end_session(&current.digest, "logout", T0 + secs(700))
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_session(&current.digest, "again", T0 + secs(800))
            .await
            .unwrap()
    );
    let s = store.session(&current.digest).await.unwrap();
    assert_eq!(
        (s.ended_at, s.end_reason.as_deref()),
        (Some(T0 + secs(700)), Some("logout"))
    );
    assert!(store.sessions_of(alice, true).await.unwrap().is_empty());
    assert_eq!(store.sessions_of(alice, false).await.unwrap().len(), 3);

    // An ended session is never revived or upgraded.
    assert_eq!(
        store.touch_session(&current.digest, T0 + secs(900)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .upgrade_session(
                &current.digest,
                AuthMethod::PasswordTotp,
                Assurance::TwoFactors,
                T0 + secs(900)
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.set_step_up(&current.digest, T0 + secs(900)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.session(&current.digest).await.unwrap().last_seen_at,
        T0 + secs(90)
    );

    // Ending every session (no exception), and an unknown session.
    assert_eq!(
        store
            .end_user_sessions(mallory, None, "suspended", T0 + secs(1000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.session(&digest()).await, Err(StoreError::NotFound));
    assert!(!store.end_session(&digest(), "logout", T0).await.unwrap());
    store.close().await;
}

/// What another process writes (the `galien` command line suspending an account, another node
/// ending a session) is seen by the very next read of every request's first statement, even on a
/// connection that read the same rows a moment before (SQLite: its point-read connection, on the
/// request's thread).
async fn auth_07_a_change_by_another_process_is_seen_by_the_next_read(ctx: &Ctx) {
    let node = ctx.open().await;
    let other = ctx.open().await;
    let alice = created(&node, new_user("alice@chu.fr", Role::Medecin, None, T0)).await;
    node.set_user_status(alice, AccountStatus::Active, T0)
        .await
        .unwrap();
    let s = new_session(alice, T0);
    node.create_session(s.clone()).await.unwrap();
    for _ in 0..3 {
        let (session, user) = node.session_and_user(&s.digest).await.unwrap();
        assert_eq!(
            (session.ended_at, user.status),
            (None, AccountStatus::Active)
        );
    }
    other
        .set_user_status(alice, AccountStatus::Suspended, T0 + secs(60))
        .await
        .unwrap();
    let (_, user) = node.session_and_user(&s.digest).await.unwrap();
    assert_eq!(
        user.status,
        AccountStatus::Suspended,
        "the suspension, at once"
    );
    assert!(
        other
            .end_session(&s.digest, "account_disabled", T0 + secs(61))
            .await
            .unwrap()
    );
    let (session, _) = node.session_and_user(&s.digest).await.unwrap();
    assert_eq!(session.ended_at, Some(T0 + secs(61)), "the end, at once");
    assert_eq!(session.end_reason.as_deref(), Some("account_disabled"));
    other.close().await;
    node.close().await;
}

async fn auth_05_failures_counted_per_key_within_window(ctx: &Ctx) {
    let store = ctx.open().await;
    let account = format!("account:{}", Uuid::new_v4());
    let addr = "addr:192.0.2.7";
    for minutes in [0_u64, 10, 50] {
        store
            .record_login_failure(&account, T0 + secs(minutes * 60))
            .await
            .unwrap();
    }
    store
        .record_login_failure(addr, T0 + secs(5 * 60))
        .await
        .unwrap();
    store
        .record_login_failure(addr, T0 + secs(6 * 60))
        .await
        .unwrap();

    assert_eq!(
        store.login_failures_since(&account, T0).await.unwrap(),
        3,
        "window start included"
    );
    assert_eq!(
        store
            .login_failures_since(&account, T0 + secs(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .login_failures_since(&account, T0 + secs(50 * 60))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .login_failures_since(&account, T0 + secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.login_failures_since(addr, T0).await.unwrap(),
        2,
        "per key"
    );
    assert_eq!(
        store
            .login_failures_since("account:other", T0)
            .await
            .unwrap(),
        0
    );

    // Housekeeping removes old failures of every key.
    assert_eq!(
        store
            .purge_login_failures_before(T0 + secs(6 * 60))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.login_failures_since(&account, T0).await.unwrap(), 2);
    assert_eq!(store.login_failures_since(addr, T0).await.unwrap(), 1);

    // A successful login clears its own key only.
    store.clear_login_failures(&account).await.unwrap();
    assert_eq!(store.login_failures_since(&account, T0).await.unwrap(), 0);
    assert_eq!(store.login_failures_since(addr, T0).await.unwrap(), 1);
    store.close().await;
}

async fn auth_08_status_changes_and_never_deletes(ctx: &Ctx) {
    let store = ctx.open().await;
    let admin = created(
        &store,
        new_user("admin@chu.fr", Role::Administrateur, None, T0),
    )
    .await;
    let mut nu = new_user("nurse@chu.fr", Role::Infirmier, None, T0 + secs(1));
    nu.created_by = Some(admin);
    let id = created(&store, nu).await;
    let u = store.user(id).await.unwrap();
    assert_eq!(
        (u.status, u.created_by, u.activated_at),
        (AccountStatus::Invited, Some(admin), None)
    );
    assert_eq!(u.status_changed_at, T0 + secs(1));

    let (t1, t2, t3, t4) = (T0 + secs(10), T0 + secs(20), T0 + secs(30), T0 + secs(40));
    store
        .set_user_status(id, AccountStatus::Active, t1)
        .await
        .unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!(
        (u.status, u.activated_at, u.status_changed_at),
        (AccountStatus::Active, Some(t1), t1)
    );
    assert_eq!(
        store.count_active_with_role(Role::Infirmier).await.unwrap(),
        1
    );

    store
        .set_user_status(id, AccountStatus::Suspended, t2)
        .await
        .unwrap();
    store
        .set_user_status(id, AccountStatus::Active, t3)
        .await
        .unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!(u.activated_at, Some(t1), "first activation kept");
    assert_eq!(u.status_changed_at, t3);
    // Setting the same status again does not move status_changed_at.
    store
        .set_user_status(id, AccountStatus::Active, t4)
        .await
        .unwrap();
    assert_eq!(store.user(id).await.unwrap().status_changed_at, t3);

    store
        .set_user_status(id, AccountStatus::Deactivated, t4)
        .await
        .unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!(
        (u.status, u.status_changed_at, u.updated_at),
        (AccountStatus::Deactivated, t4, t4)
    );
    assert_eq!(
        store.count_active_with_role(Role::Infirmier).await.unwrap(),
        0
    );

    // An account created active is activated at creation.
    let mut active = new_user("active@chu.fr", Role::Dpo, None, T0 + secs(2));
    active.status = AccountStatus::Active;
    let active = created(&store, active).await;
    assert_eq!(
        store.user(active).await.unwrap().activated_at,
        Some(T0 + secs(2))
    );

    // Details and password.
    store
        .set_display_details(id, "Infirmière Durand".into(), None, T0 + secs(50))
        .await
        .unwrap();
    store
        .set_password_hash(id, PHC, T0 + secs(60))
        .await
        .unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!(
        (u.display_name.as_str(), u.organisation.clone()),
        ("Infirmière Durand", None)
    );
    assert_eq!(
        (u.password_hash.as_deref(), u.password_changed_at),
        (Some(PHC), Some(T0 + secs(60)))
    );
    assert_eq!(u.updated_at, T0 + secs(60));

    let unknown = UserId::from_uuid(Uuid::new_v4());
    assert_eq!(
        store
            .set_user_status(unknown, AccountStatus::Active, t1)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.set_password_hash(unknown, PHC, t1).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .set_display_details(unknown, "x".into(), None, t1)
            .await,
        Err(StoreError::NotFound)
    );

    // Deactivated accounts stay; the database itself refuses to delete an account.
    assert_eq!(
        store
            .users(Some(AccountStatus::Deactivated), None, 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
    let deleted = ctx.db.execute_raw("DELETE FROM users").await;
    assert!(deleted.is_err(), "{deleted:?}");
    let store = ctx.open().await;
    assert_eq!(store.users(None, None, 10, 0).await.unwrap().len(), 3);
    assert_eq!(
        store.user(id).await.unwrap().status,
        AccountStatus::Deactivated
    );
    store.close().await;
}

async fn auth_09_machine_client_revocation_reaches_its_tokens(ctx: &Ctx) {
    let store = ctx.open().await;
    let admin = created(
        &store,
        new_user("admin@chu.fr", Role::IngenieurBiomedical, None, T0),
    )
    .await;
    let client = |name: &str, kind: &str| NewMachineClient {
        id: Uuid::new_v4(),
        name: name.into(),
        kind: kind.into(),
        secret_hash: PHC.into(),
        scopes: vec!["observations:write".into(), "devices:read".into()],
        created_at: T0,
        created_by: admin,
    };
    let gateway = client("Passerelle tensiomètres", "device");
    let lab = client("Laboratoire", "system");
    store.create_machine_client(gateway.clone()).await.unwrap();
    store.create_machine_client(lab.clone()).await.unwrap();
    assert!(
        store
            .create_machine_client(client("Grille-pain", "toaster"))
            .await
            .is_err()
    );
    assert!(matches!(
        store.create_machine_client(gateway.clone()).await,
        Err(StoreError::Conflict(_))
    ));

    let stored = store.machine_client(gateway.id).await.unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.kind.as_str()),
        ("Passerelle tensiomètres", "device")
    );
    assert_eq!(stored.scopes, gateway.scopes);
    assert_eq!(
        (
            stored.secret_hash.as_str(),
            stored.created_by,
            stored.revoked_at
        ),
        (PHC, admin, None)
    );
    assert!(!format!("{stored:?}").contains("argon2id"));
    assert_eq!(store.machine_clients().await.unwrap().len(), 2);
    assert_eq!(
        store.machine_client(Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    );

    let token = |client: Uuid| NewAccessToken {
        digest: digest(),
        client,
        scopes: vec!["observations:write".into()],
        created_at: T0 + secs(1),
        expires_at: T0 + secs(3601),
    };
    let gw_token = token(gateway.id);
    let lab_token = token(lab.id);
    store.create_access_token(gw_token.clone()).await.unwrap();
    store.create_access_token(lab_token.clone()).await.unwrap();
    let t = store.access_token(&gw_token.digest).await.unwrap();
    assert_eq!(
        (t.client, t.scopes.clone(), t.client_revoked),
        (gateway.id, gw_token.scopes.clone(), false)
    );
    assert_eq!(
        (t.created_at, t.expires_at),
        (gw_token.created_at, gw_token.expires_at)
    );
    assert_eq!(
        store.access_token(&digest()).await,
        Err(StoreError::NotFound)
    );

    assert!(
        store
            .revoke_machine_client(gateway.id, T0 + secs(10))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_machine_client(gateway.id, T0 + secs(20))
            .await
            .unwrap()
    );
    assert_eq!(
        store.revoke_machine_client(Uuid::new_v4(), T0).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.machine_client(gateway.id).await.unwrap().revoked_at,
        Some(T0 + secs(10))
    );
    assert!(
        store
            .access_token(&gw_token.digest)
            .await
            .unwrap()
            .client_revoked,
        "token revoked with its client"
    );
    assert!(
        !store
            .access_token(&lab_token.digest)
            .await
            .unwrap()
            .client_revoked,
        "other clients untouched"
    );
    assert!(matches!(
        store.create_access_token(token(gateway.id)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.create_access_token(token(Uuid::new_v4())).await,
        Err(StoreError::NotFound)
    );
    store.close().await;
}

async fn accept_first_admin_is_atomic(ctx: &Ctx) {
    let store = ctx.open().await;
    let fa = token(TokenPurpose::FirstAdministrator, None, T0);
    store
        .system_issue_enrolment_token(fa.clone())
        .await
        .unwrap();
    let existing = created(
        &store,
        new_user("taken@chu.fr", Role::Medecin, Some(rpps("2000000001")), T0),
    )
    .await;
    let now = T0 + secs(60);

    // E-mail taken: refused, and the token is NOT consumed.
    let clash = new_user("taken@chu.fr", Role::Administrateur, None, T0 + secs(30));
    assert_eq!(
        store
            .accept_first_admin(&fa.digest, now, clash.clone(), PHC)
            .await,
        Err(AcceptError::EmailTaken)
    );
    let clash_pro = new_user(
        "fresh@chu.fr",
        Role::Administrateur,
        Some(rpps("2000000001")),
        T0,
    );
    assert_eq!(
        store
            .accept_first_admin(&fa.digest, now, clash_pro.clone(), PHC)
            .await,
        Err(AcceptError::ProfessionalIdTaken)
    );
    let t = store.enrolment_token(&fa.digest).await.unwrap();
    assert_eq!((t.used_at, t.revoked_at), (None, None));
    assert!(!store.bootstrap_completed().await.unwrap());
    assert_eq!(store.user(clash.id).await, Err(StoreError::NotFound));
    assert_eq!(store.user(clash_pro.id).await, Err(StoreError::NotFound));

    // An invitation is not a first-administrator token (and is not consumed by trying).
    let inv = token(TokenPurpose::Invitation, Some(existing), T0);
    store
        .system_issue_enrolment_token(inv.clone())
        .await
        .unwrap();
    let admin = new_user("admin@chu.fr", Role::Administrateur, None, T0 + secs(30));
    assert_eq!(
        store
            .accept_first_admin(&inv.digest, now, admin.clone(), PHC)
            .await,
        Err(AcceptError::WrongPurpose)
    );
    assert_eq!(
        store.enrolment_token(&inv.digest).await.unwrap().used_at,
        None
    );
    assert_eq!(
        store
            .accept_first_admin(&digest(), now, admin.clone(), PHC)
            .await,
        Err(AcceptError::Token(ConsumeError::NotFound))
    );
    assert_eq!(
        store
            .accept_first_admin(&fa.digest, fa.expires_at, admin.clone(), PHC)
            .await,
        Err(AcceptError::Token(ConsumeError::Expired))
    );

    // Success: token used, account created Invited (whatever was asked) with its password.
    let mut admin_active = admin.clone();
    admin_active.status = AccountStatus::Active;
    store
        .accept_first_admin(&fa.digest, now, admin_active, PHC)
        .await
        .unwrap();
    assert_eq!(
        store.enrolment_token(&fa.digest).await.unwrap().used_at,
        Some(now)
    );
    assert!(store.bootstrap_completed().await.unwrap());
    let u = store.user(admin.id).await.unwrap();
    assert_eq!(
        (u.status, u.role, u.activated_at),
        (AccountStatus::Invited, Role::Administrateur, None)
    );
    assert_eq!(
        (u.password_hash.as_deref(), u.password_changed_at),
        (Some(PHC), Some(now))
    );

    // A token already used: refused, and NO user created.
    let second = new_user("second@chu.fr", Role::Administrateur, None, T0 + secs(90));
    assert_eq!(
        store
            .accept_first_admin(&fa.digest, now + secs(1), second.clone(), PHC)
            .await,
        Err(AcceptError::Token(ConsumeError::AlreadyUsed))
    );
    assert_eq!(store.user(second.id).await, Err(StoreError::NotFound));
    assert_eq!(store.users(None, None, 10, 0).await.unwrap().len(), 2);
    store.close().await;
}

async fn accept_invitation_sets_password_once(ctx: &Ctx) {
    let store = ctx.open().await;
    let admin = created(
        &store,
        new_user("admin@chu.fr", Role::Administrateur, None, T0),
    )
    .await;
    let mut invited = new_user("invited@chu.fr", Role::Medecin, None, T0 + secs(1));
    invited.created_by = Some(admin);
    let invited = created(&store, invited).await;
    let inv = token(TokenPurpose::Invitation, Some(invited), T0 + secs(2));
    store
        .system_issue_enrolment_token(inv.clone())
        .await
        .unwrap();
    assert_eq!(
        store.enrolment_token(&inv.digest).await.unwrap().user,
        Some(invited)
    );

    // A first-administrator token is the wrong purpose, and stays unconsumed.
    let fa = token(TokenPurpose::FirstAdministrator, None, T0);
    store
        .system_issue_enrolment_token(fa.clone())
        .await
        .unwrap();
    assert_eq!(
        store
            .accept_invitation(&fa.digest, T0 + secs(10), PHC)
            .await,
        Err(AcceptError::WrongPurpose)
    );
    assert_eq!(
        store.enrolment_token(&fa.digest).await.unwrap().used_at,
        None
    );

    let now = T0 + secs(30);
    assert_eq!(
        store.accept_invitation(&inv.digest, now, PHC).await,
        Ok(invited)
    );
    let u = store.user(invited).await.unwrap();
    assert_eq!(
        (u.password_hash.as_deref(), u.password_changed_at),
        (Some(PHC), Some(now))
    );
    assert_eq!(
        u.status,
        AccountStatus::Invited,
        "still invited until a second factor"
    );
    assert_eq!(
        store.enrolment_token(&inv.digest).await.unwrap().used_at,
        Some(now)
    );

    // Once: a second use is refused and changes nothing.
    let other_phc = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo";
    assert_eq!(
        store
            .accept_invitation(&inv.digest, now + secs(1), other_phc)
            .await,
        Err(AcceptError::Token(ConsumeError::AlreadyUsed))
    );
    let u = store.user(invited).await.unwrap();
    assert_eq!(
        (u.password_hash.as_deref(), u.password_changed_at),
        (Some(PHC), Some(now))
    );

    // An invitation whose account is no longer invited is void: revoked, password untouched.
    let suspended = created(&store, new_user("gone@chu.fr", Role::Medecin, None, T0)).await;
    let late = token(TokenPurpose::Invitation, Some(suspended), T0 + secs(3));
    store
        .system_issue_enrolment_token(late.clone())
        .await
        .unwrap();
    store
        .set_user_status(suspended, AccountStatus::Suspended, T0 + secs(4))
        .await
        .unwrap();
    assert_eq!(
        store.accept_invitation(&late.digest, now, PHC).await,
        Err(AcceptError::Token(ConsumeError::Revoked))
    );
    let t = store.enrolment_token(&late.digest).await.unwrap();
    assert_eq!((t.used_at, t.revoked_at), (None, Some(now)));
    assert_eq!(store.user(suspended).await.unwrap().password_hash, None);

    // An invitation naming no account cannot set anyone's password.
    let orphan = token(TokenPurpose::Invitation, None, T0 + secs(5));
    store
        .system_issue_enrolment_token(orphan.clone())
        .await
        .unwrap();
    assert_eq!(
        store.accept_invitation(&orphan.digest, now, PHC).await,
        Err(AcceptError::Token(ConsumeError::Revoked))
    );
    assert_eq!(
        store.accept_invitation(&digest(), now, PHC).await,
        Err(AcceptError::Token(ConsumeError::NotFound))
    );
    store.close().await;
}

async fn invitation_tokens_revoke_only_the_same_users_previous_invitation(ctx: &Ctx) {
    let store = ctx.open().await;
    let u1 = created(&store, new_user("one@chu.fr", Role::Medecin, None, T0)).await;
    let u2 = created(&store, new_user("two@chu.fr", Role::Medecin, None, T0)).await;
    let fa1 = token(TokenPurpose::FirstAdministrator, None, T0);
    let a = token(TokenPurpose::Invitation, Some(u1), T0 + secs(1));
    let b = token(TokenPurpose::Invitation, Some(u2), T0 + secs(2));
    let c = token(TokenPurpose::Invitation, Some(u1), T0 + secs(3));
    let fa2 = token(TokenPurpose::FirstAdministrator, None, T0 + secs(4));
    for t in [&fa1, &a, &b, &c, &fa2] {
        store.system_issue_enrolment_token(t.clone()).await.unwrap();
    }
    let state = |t: &NewEnrolmentToken| {
        let store = store.clone();
        let d = t.digest;
        async move { store.enrolment_token(&d).await.unwrap() }
    };
    assert_eq!(
        state(&a).await.revoked_at,
        Some(c.created_at),
        "U1's earlier invitation revoked"
    );
    assert_eq!(
        state(&b).await.revoked_at,
        None,
        "U2's invitation untouched"
    );
    assert_eq!(state(&c).await.revoked_at, None);
    assert_eq!(state(&c).await.user, Some(u1));
    assert_eq!(
        state(&fa1).await.revoked_at,
        Some(fa2.created_at),
        "first-administrator tokens revoke each other"
    );
    assert_eq!(state(&fa2).await.revoked_at, None);
    assert_eq!(state(&fa2).await.user, None);
    // Invitations never revoke first-administrator tokens, nor the reverse.
    let d = token(TokenPurpose::Invitation, Some(u2), T0 + secs(5));
    store.system_issue_enrolment_token(d.clone()).await.unwrap();
    assert_eq!(state(&fa2).await.revoked_at, None);
    assert_eq!(state(&b).await.revoked_at, Some(d.created_at));
    assert_eq!(state(&c).await.revoked_at, None);
    store.close().await;
}
