//! Shared by the integration tests that drive use cases on a real node: a node with a manual clock,
//! an `App` on the same store and data directory, people with two-factor sessions, patients.
#![allow(dead_code)]

use std::sync::Arc;

use galien::Capabilities;
use galien::config::Flags;
use galien_app::patients::records::{self, IdentityInput, RawIdentity};
use galien_app::{App, RequestContext};
use galien_core::identity::{AccountStatus, Actor, Assurance, AuthMethod, Email, Role};
use galien_core::ids::{PatientId, UserId};
use galien_core::{ManualClock, OsEntropy};
use galien_store::{AuditFilter, Backend, NewUser};
use galien_testkit::{Options, TestServer, valid_config};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

pub const T0: OffsetDateTime = datetime!(2026-11-02 09:00 UTC);
pub const FIRST_NAMES: &str = "Héloïse Marguerite";

pub struct World {
    pub server: TestServer,
    pub app: App,
    pub clock: Arc<ManualClock>,
}

pub async fn world(backend: Backend) -> World {
    world_with(backend, Vec::new()).await
}

/// A world whose node and `App` both run with these extra settings.
/// An `App` on `server`'s store and data directory, with these settings (e.g. after a file of the
/// data directory changed).
pub fn app_for(
    server: &TestServer,
    clock: &Arc<ManualClock>,
    settings: Vec<(&'static str, toml::Value)>,
) -> Result<App, galien::StartError> {
    let mut flags = vec![(
        "--data-dir",
        "data_dir",
        toml::Value::String(server.data_dir.display().to_string()),
    )];
    flags.extend(settings.into_iter().map(|(k, v)| ("--test-setting", k, v)));
    let config = valid_config(&Flags(flags));
    let master =
        galien_crypto::keyfile::load(&server.data_dir.join("keys").join("master.key")).unwrap();
    let caps = Capabilities {
        clock: clock.clone(),
        entropy: Arc::new(OsEntropy),
    };
    galien::startup::make_app(
        &config,
        &caps,
        server.store.clone(),
        &master,
        server.base_url.clone(),
    )
}

pub async fn world_with(backend: Backend, settings: Vec<(&'static str, toml::Value)>) -> World {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            settings: settings.clone(),
            ..Options::default()
        },
    )
    .await;
    let app = app_for(&server, &clock, settings).unwrap();
    World { server, app, clock }
}

impl World {
    pub async fn person(&self, email: &str, role: Role) -> Actor {
        let id = UserId::from_uuid(Uuid::now_v7());
        self.app
            .store
            .create_user(NewUser {
                id,
                email: Email::parse(email).unwrap(),
                display_name: format!("Dr {email}"),
                role,
                professional_id: None,
                organisation: None,
                status: AccountStatus::Active,
                created_at: T0,
                created_by: None,
            })
            .await
            .unwrap();
        Actor {
            user: id,
            role,
            method: AuthMethod::PasswordTotp,
            assurance: Assurance::TwoFactors,
        }
    }

    pub async fn register(&self, by: &Actor, birth_name: &str, nir: &str) -> PatientId {
        let raw = RawIdentity {
            birth_name: birth_name.into(),
            used_name: "Martin".into(),
            first_names: FIRST_NAMES.into(),
            sex: "F".into(),
            birth_date: "1992-03-14".into(),
            birth_place: "2A004".into(),
            nir: nir.into(),
            ins_status: if nir.is_empty() {
                "provisional"
            } else {
                "qualified"
            }
            .into(),
            phone: "06 12 34 56 78".into(),
            email: "heloise@example.fr".into(),
            ..RawIdentity::default()
        };
        let input = IdentityInput::parse(&raw, T0.date()).unwrap();
        records::register(&self.app, by, &ctx(), input)
            .await
            .unwrap()
    }

    pub async fn traces(&self, patient: PatientId) -> Vec<galien_core::audit::AuditEvent> {
        self.app
            .store
            .audit_events(&AuditFilter {
                patient: Some(patient),
                limit: Some(1000),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

pub fn ctx() -> RequestContext {
    RequestContext {
        ip: Some("192.0.2.7".parse().unwrap()),
        user_agent: Some("test".into()),
        ..RequestContext::default()
    }
}
