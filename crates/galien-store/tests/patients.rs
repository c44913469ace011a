//! Patients' records behind the gate (ACC-1 … ACC-6, DATA-1, DATA-2, GDPR-3), on SQLite and
//! PostgreSQL: every test runs twice, as `sqlite::<name>` and `postgres::<name>`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use galien_access::{AccessRequest, Action, Gate, Permit, Principal, Relationship, Relationships};
use galien_core::SeededEntropy;
use galien_core::audit::{AuditAction, Outcome, Source};
use galien_core::identity::{AccountStatus, Assurance, AuthMethod, Email, Role};
use galien_core::ids::AppointmentId;
use galien_core::ids::{
    CareRelationshipId, ConsentId, EmergencyAccessId, NoteId, PatientId, UserId,
};
use galien_core::patient::{ConsentMeans, ConsentSubject, InsStatus};
use galien_crypto::token::TokenDigest;
use galien_store::{
    AuditFilter, CareKind, NewAppointment, NewCareRelationship, NewConsent, NewEmergencyAccess,
    NewEnrolment, NewNote, NewPatient, NewSession, NewUser, Store, StoreError, SummaryPermits,
    WrappedDataKey,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-03-01 08:00 UTC);

#[macro_use]
mod common;
use common::Ctx;

both_backends! {
    acc6_each_permit_commits_its_trace_with_the_access,
    acc1_a_permit_only_opens_what_it_names,
    acc3_relationships_come_from_care_team_emergency_and_self,
    data2_nir_and_names_are_found_through_blind_indexes_only,
    data1_data_keys_are_rewrapped_with_compare_and_set_and_shredded,
    gdpr3_consents_and_notes_are_kept_with_their_author,
    acc4_emergency_accesses_expire_and_are_reviewed,
    acc1_acc6_the_summary_reads_only_its_permitted_sections_of_one_patient_in_one_read,
}

async fn user(store: &Store, addr: &str, role: Role) -> UserId {
    let id = UserId::from_uuid(Uuid::now_v7());
    store
        .create_user(NewUser {
            id,
            email: Email::parse(addr).unwrap(),
            display_name: format!("Dr {addr}"),
            role,
            professional_id: None,
            organisation: None,
            status: AccountStatus::Active,
            created_at: T0,
            created_by: None,
        })
        .await
        .unwrap();
    id
}

fn grant(
    who: UserId,
    role: Role,
    action: Action,
    patient: Option<PatientId>,
    rel: Relationships,
) -> Permit {
    let gate = Gate::builtin().unwrap();
    gate.decide(
        AccessRequest {
            principal: Principal::User {
                id: who,
                role,
                assurance: Assurance::TwoFactors,
            },
            action,
            patient,
            relationships: rel,
            resource: None,
            source: Source::default(),
            at: T0,
        },
        &SeededEntropy::new(u64::from(Uuid::new_v4().as_fields().0)),
    )
    .expect("the policies grant this")
}

fn care() -> Relationships {
    Relationships::only(Relationship::CareTeam)
}

/// `user`'s relationships with `p` at `at` as a request reads them with its session
/// ([`Store::session_user_and_relationships`]), checked against [`Store::relationships`].
async fn ties(store: &Store, user: UserId, p: PatientId, at: OffsetDateTime) -> Relationships {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(user.as_uuid().as_bytes());
    let digest = TokenDigest::from_bytes(bytes);
    store
        .create_session(NewSession {
            digest,
            user,
            method: AuthMethod::PasswordTotp,
            assurance: Assurance::TwoFactors,
            created_at: T0,
            absolute_expires_at: T0 + Duration::days(30),
            ip: None,
            user_agent: None,
            csrf_secret: [7; 32],
        })
        .await
        .unwrap();
    let (session, account, ties) = store
        .session_user_and_relationships(&digest, p, at)
        .await
        .unwrap();
    assert_eq!((session.user, account.id), (user, user));
    assert_eq!(ties, store.relationships(user, p, at).await.unwrap());
    ties
}

fn new_patient(
    id: PatientId,
    by: UserId,
    nir_index: Option<[u8; 32]>,
    name: [u8; 32],
) -> NewPatient {
    NewPatient {
        id,
        ins_status: InsStatus::Provisional,
        identity: b"sealed identity".to_vec(),
        nir: nir_index.map(|i| (b"sealed nir".to_vec(), i)),
        name_digests: vec![name, name],
        key: WrappedDataKey {
            kek: 1,
            bytes: id.as_uuid().as_bytes().to_vec(),
        },
        created_at: T0,
        created_by: Some(by),
        care_team: Some(NewCareRelationship {
            id: CareRelationshipId::from_uuid(Uuid::now_v7()),
            patient: id,
            user: by,
            kind: CareKind::CareTeam,
            reference: None,
            added_by: Some(by),
            since: T0,
            until: None,
        }),
    }
}

async fn register(
    store: &Store,
    doctor: UserId,
    nir: Option<[u8; 32]>,
    name: [u8; 32],
) -> PatientId {
    let id = PatientId::from_uuid(Uuid::now_v7());
    let permit = grant(
        doctor,
        Role::Medecin,
        Action::PatientRegister,
        None,
        Relationships::none(),
    );
    store
        .register_patient(permit, new_patient(id, doctor, nir, name))
        .await
        .unwrap();
    id
}

async fn traces_for(store: &Store, patient: PatientId) -> Vec<(AuditAction, Outcome)> {
    store
        .audit_events(&AuditFilter {
            patient: Some(patient),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.action, e.event.outcome))
        .collect()
}

async fn acc6_each_permit_commits_its_trace_with_the_access(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, Some([1; 32]), [2; 32]).await;
    assert_eq!(
        traces_for(&store, p).await,
        vec![(AuditAction::RecordWrite, Outcome::Success)]
    );

    let row = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::IdentityRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(row.id, p);
    assert!(
        row.has_nir && row.nir.is_none(),
        "the NIR needs its own permit"
    );
    let row = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::NirRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(row.nir.as_deref(), Some(&b"sealed nir"[..]));
    assert_eq!(traces_for(&store, p).await.len(), 3);

    // A failed access (no such patient) commits nothing: the trace goes with the access.
    let ghost = PatientId::from_uuid(Uuid::now_v7());
    let e = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::IdentityRead,
            Some(ghost),
            care(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    assert!(traces_for(&store, ghost).await.is_empty());

    // Lists: one permit and one trace per patient, in one transaction.
    let q = register(&store, doctor, None, [3; 32]).await;
    let rows = store
        .patients(vec![
            grant(doctor, Role::Medecin, Action::IdentityRead, Some(p), care()),
            grant(doctor, Role::Medecin, Action::IdentityRead, Some(q), care()),
        ])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(traces_for(&store, q).await.len(), 2);
    store.close().await;
}

async fn acc1_a_permit_only_opens_what_it_names(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    let before = traces_for(&store, p).await.len();
    // A care-team permit cannot read the record row, nor clinical notes.
    let e = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::CareTeamRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Permit(_)), "{e:?}");
    let e = store
        .clinical_notes(grant(
            doctor,
            Role::Medecin,
            Action::IdentityRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Permit(_)), "{e:?}");
    // A permit for one patient cannot add a member to another patient's team.
    let q = register(&store, doctor, None, [3; 32]).await;
    let e = store
        .add_care_relationship(
            grant(
                doctor,
                Role::Medecin,
                Action::CareTeamManage,
                Some(p),
                care(),
            ),
            NewCareRelationship {
                id: CareRelationshipId::from_uuid(Uuid::now_v7()),
                patient: q,
                user: doctor,
                kind: CareKind::CareTeam,
                reference: None,
                added_by: Some(doctor),
                since: T0,
                until: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Permit(_)), "{e:?}");
    // Misused permits leave no trace and no change.
    assert_eq!(traces_for(&store, p).await.len(), before);
    store.close().await;
}

async fn acc3_relationships_come_from_care_team_emergency_and_self(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let nurse = user(&store, "n@chu.fr", Role::Infirmier).await;
    let other = user(&store, "o@chu.fr", Role::Medecin).await;
    let patient_user = user(&store, "p@mail.fr", Role::Patient).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    assert_eq!(ties(&store, doctor, p, T0).await, care());
    assert!(ties(&store, nurse, p, T0).await.is_empty());
    // No session with this digest: nothing, whatever the patient.
    let e = store
        .session_user_and_relationships(&TokenDigest::from_bytes([9; 32]), p, T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");

    // The nurse joins for one week.
    let member = CareRelationshipId::from_uuid(Uuid::now_v7());
    store
        .add_care_relationship(
            grant(
                doctor,
                Role::Medecin,
                Action::CareTeamManage,
                Some(p),
                care(),
            ),
            NewCareRelationship {
                id: member,
                patient: p,
                user: nurse,
                kind: CareKind::CareTeam,
                reference: None,
                added_by: Some(doctor),
                since: T0,
                until: Some(T0 + Duration::days(7)),
            },
        )
        .await
        .unwrap();
    assert_eq!(ties(&store, nurse, p, T0 + Duration::days(1)).await, care());
    assert!(
        ties(&store, nurse, p, T0 + Duration::days(8))
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .patients_of(nurse, T0 + Duration::days(1))
            .await
            .unwrap(),
        vec![p]
    );
    // Twice the same active member is a conflict.
    let dup = store
        .add_care_relationship(
            grant(
                doctor,
                Role::Medecin,
                Action::CareTeamManage,
                Some(p),
                care(),
            ),
            NewCareRelationship {
                id: CareRelationshipId::from_uuid(Uuid::now_v7()),
                patient: p,
                user: nurse,
                kind: CareKind::CareTeam,
                reference: None,
                added_by: Some(doctor),
                since: T0,
                until: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&dup, StoreError::Conflict(c) if c.contains("care_relationships_active_member")),
        "{dup:?}"
    );
    // Ended: gone at once.
    assert!(
        store
            .end_care_relationship(
                grant(
                    doctor,
                    Role::Medecin,
                    Action::CareTeamManage,
                    Some(p),
                    care()
                ),
                member,
                doctor,
                T0 + Duration::hours(1),
            )
            .await
            .unwrap()
    );
    assert!(
        ties(&store, nurse, p, T0 + Duration::hours(2))
            .await
            .is_empty()
    );
    let team = store
        .care_relationships(grant(
            doctor,
            Role::Medecin,
            Action::CareTeamRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(team.len(), 2);
    assert!(team.iter().any(|m| m.user == nurse && m.ended_at.is_some()));

    // Workflow relationships (acts) are not care-team memberships; the doctor takes part in an
    // act too: two relationships at once, a row each in the session's read.
    for (user, act) in [(other, "appointment:1"), (doctor, "appointment:2")] {
        store
            .add_workflow_relationship(
                grant(doctor, Role::Medecin, Action::RecordWrite, Some(p), care()),
                NewCareRelationship {
                    id: CareRelationshipId::from_uuid(Uuid::now_v7()),
                    patient: p,
                    user,
                    kind: CareKind::Act,
                    reference: Some(act.into()),
                    added_by: Some(doctor),
                    since: T0,
                    until: Some(T0 + Duration::hours(2)),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(
        ties(&store, other, p, T0 + Duration::hours(1)).await,
        Relationships::only(Relationship::Act)
    );
    let mut both = care();
    both.insert(Relationship::Act);
    assert_eq!(ties(&store, doctor, p, T0 + Duration::hours(1)).await, both);

    // The patient's own account.
    store
        .link_patient_account(
            grant(
                doctor,
                Role::Medecin,
                Action::IdentityWrite,
                Some(p),
                care(),
            ),
            patient_user,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        ties(&store, patient_user, p, T0).await,
        Relationships::only(Relationship::SelfRecord)
    );
    assert_eq!(
        store.patient_of_account(patient_user).await.unwrap(),
        Some(p)
    );
    store.close().await;
}

async fn data2_nir_and_names_are_found_through_blind_indexes_only(ctx: &Ctx) {
    let store = ctx.open().await;
    let secretary = user(&store, "s@chu.fr", Role::Secretaire).await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, Some([7; 32]), [8; 32]).await;
    let search = || {
        grant(
            secretary,
            Role::Secretaire,
            Action::PatientSearch,
            None,
            Relationships::none(),
        )
    };
    let found = store.find_patients_by_nir(search(), [7; 32]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, p);
    assert!(found[0].nir.is_none(), "a search never returns the NIR");
    assert!(
        store
            .find_patients_by_nir(search(), [9; 32])
            .await
            .unwrap()
            .is_empty()
    );
    let q = register(&store, doctor, None, [8; 32]).await;
    let both = store
        .find_patients_by_name(search(), [8; 32])
        .await
        .unwrap();
    assert_eq!(both.iter().map(|r| r.id).collect::<Vec<_>>(), vec![p, q]);
    // One NIR, one patient.
    let e = store
        .register_patient(
            grant(
                doctor,
                Role::Medecin,
                Action::PatientRegister,
                None,
                Relationships::none(),
            ),
            new_patient(
                PatientId::from_uuid(Uuid::now_v7()),
                doctor,
                Some([7; 32]),
                [1; 32],
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(c) if c.contains("patients_nir_index_key")),
        "{e:?}"
    );
    store.close().await;
}

async fn data1_data_keys_are_rewrapped_with_compare_and_set_and_shredded(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    let q = register(&store, doctor, None, [3; 32]).await;
    assert_eq!(store.patient_key_counts().await.unwrap(), vec![(1, 2)]);
    let todo = store.patient_keys_to_rewrap(2, None, 10).await.unwrap();
    assert_eq!(todo.len(), 2);
    let (first, old) = todo[0].clone();
    let new = WrappedDataKey {
        kek: 2,
        bytes: vec![9; 40],
    };
    assert!(
        store
            .replace_patient_key(first, old.clone(), new.clone(), T0)
            .await
            .unwrap()
    );
    // A stale compare-and-set changes nothing.
    assert!(
        !store
            .replace_patient_key(
                first,
                old,
                WrappedDataKey {
                    kek: 3,
                    bytes: vec![1]
                },
                T0
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.patient_key_counts().await.unwrap(),
        vec![(1, 1), (2, 1)]
    );
    let rest = store.patient_keys_to_rewrap(2, None, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].0, first);
    let row = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::IdentityRead,
            Some(first),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(row.key, Some(new));

    // Crypto-shredding: the key row goes, with its trace.
    let trace = grant(doctor, Role::Medecin, Action::RecordWrite, Some(q), care())
        .trace()
        .clone();
    assert!(store.shred_patient_key(q, trace.clone()).await.unwrap());
    let row = store
        .patient(grant(
            doctor,
            Role::Medecin,
            Action::IdentityRead,
            Some(q),
            care(),
        ))
        .await
        .unwrap();
    assert!(row.key.is_none());
    let _ = p;
    store.close().await;
}

async fn gdpr3_consents_and_notes_are_kept_with_their_author(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    let consent = ConsentId::from_uuid(Uuid::now_v7());
    store
        .record_consent(
            grant(
                doctor,
                Role::Medecin,
                Action::ConsentRecord,
                Some(p),
                care(),
            ),
            NewConsent {
                id: consent,
                subject: ConsentSubject::Teleconsultation,
                given: true,
                means: ConsentMeans::Oral,
                recorded_by: doctor,
                recorded_at: T0,
            },
        )
        .await
        .unwrap();
    let list = store
        .consents(grant(
            doctor,
            Role::Medecin,
            Action::ConsentRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].given && list[0].withdrawn_at.is_none());
    assert_eq!(list[0].recorded_by, doctor);
    assert_eq!(list[0].subject, ConsentSubject::Teleconsultation);
    assert!(
        store
            .withdraw_consent(
                grant(
                    doctor,
                    Role::Medecin,
                    Action::ConsentRecord,
                    Some(p),
                    care()
                ),
                consent,
                doctor,
                T0 + Duration::days(1),
            )
            .await
            .unwrap()
    );
    let list = store
        .consents(grant(
            doctor,
            Role::Medecin,
            Action::ConsentRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(list[0].withdrawn_at, Some(T0 + Duration::days(1)));

    // Notes: an emergency permit flags the note.
    store
        .add_clinical_note(
            grant(
                doctor,
                Role::Medecin,
                Action::RecordWrite,
                Some(p),
                Relationships::only(Relationship::Emergency),
            ),
            NewNote {
                id: NoteId::from_uuid(Uuid::now_v7()),
                author: doctor,
                created_at: T0,
                body: b"sealed".to_vec(),
            },
        )
        .await
        .unwrap();
    let notes = store
        .clinical_notes(grant(
            doctor,
            Role::Medecin,
            Action::RecordRead,
            Some(p),
            care(),
        ))
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].emergency);
    assert_eq!(notes[0].author_name, "Dr a@chu.fr");
    let flagged = store
        .audit_events(&AuditFilter {
            patient: Some(p),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.emergency)
        .count();
    assert_eq!(flagged, 1);
    store.close().await;
}

async fn acc4_emergency_accesses_expire_and_are_reviewed(ctx: &Ctx) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let er = user(&store, "urgence@chu.fr", Role::Medecin).await;
    let dpo = user(&store, "dpo@chu.fr", Role::Dpo).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    let id = EmergencyAccessId::from_uuid(Uuid::now_v7());
    let open = grant(
        er,
        Role::Medecin,
        Action::EmergencyOpen,
        Some(p),
        Relationships::none(),
    );
    // Opened by someone else than the permit's holder: refused.
    let e = store
        .open_emergency_access(
            grant(
                er,
                Role::Medecin,
                Action::EmergencyOpen,
                Some(p),
                Relationships::none(),
            ),
            NewEmergencyAccess {
                id,
                patient: p,
                user: doctor,
                reason: b"sealed".to_vec(),
                opened_at: T0,
                expires_at: T0 + Duration::hours(4),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Permit(_)));
    store
        .open_emergency_access(
            open,
            NewEmergencyAccess {
                id,
                patient: p,
                user: er,
                reason: b"sealed".to_vec(),
                opened_at: T0,
                expires_at: T0 + Duration::hours(4),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ties(&store, er, p, T0 + Duration::hours(1)).await,
        Relationships::only(Relationship::Emergency)
    );
    assert!(
        ties(&store, er, p, T0 + Duration::hours(5))
            .await
            .is_empty()
    );
    let traces = store
        .audit_events(&AuditFilter {
            patient: Some(p),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let emergency = traces
        .iter()
        .find(|e| e.event.action == AuditAction::AccessEmergency)
        .unwrap();
    assert!(emergency.event.emergency);
    assert_eq!(emergency.event.purpose.as_deref(), Some("emergency_access"));

    let pending = store.emergency_accesses(true).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user, er);
    let review_trace = grant(doctor, Role::Medecin, Action::RecordRead, Some(p), care())
        .trace()
        .clone();
    assert!(
        store
            .review_emergency_access(
                id,
                dpo,
                T0 + Duration::days(1),
                Some(b"ok".to_vec()),
                review_trace.clone()
            )
            .await
            .unwrap()
    );
    assert!(store.emergency_accesses(true).await.unwrap().is_empty());
    let all = store.emergency_accesses(false).await.unwrap();
    assert_eq!(all[0].reviewed_by, Some(dpo));
    let e = store
        .review_emergency_access(
            EmergencyAccessId::from_uuid(Uuid::now_v7()),
            dpo,
            T0,
            None,
            review_trace,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound));
    store.close().await;
}

/// The summary's one statement (both engines): each section only under its permit, only the
/// permit's patient's rows, each in its order; the enrolment comes with the notes, the appointments
/// with the identity; one trace per permit.
async fn acc1_acc6_the_summary_reads_only_its_permitted_sections_of_one_patient_in_one_read(
    ctx: &Ctx,
) {
    let store = ctx.open().await;
    let doctor = user(&store, "a@chu.fr", Role::Medecin).await;
    let other = user(&store, "b@chu.fr", Role::Medecin).await;
    let p = register(&store, doctor, None, [2; 32]).await;
    let q = register(&store, doctor, None, [3; 32]).await;
    let g = |action, patient| grant(doctor, Role::Medecin, action, Some(patient), care());
    for (who, hour) in [(p, 1), (p, 3), (p, 2), (q, 4)] {
        let note = NewNote {
            id: NoteId::from_uuid(Uuid::now_v7()),
            author: doctor,
            created_at: T0 + Duration::hours(hour),
            body: format!("note {hour}").into_bytes(),
        };
        store
            .add_clinical_note(g(Action::RecordWrite, who), note)
            .await
            .unwrap();
    }
    for (who, days) in [(p, 0), (p, 1), (q, 2)] {
        let consent = NewConsent {
            id: ConsentId::from_uuid(Uuid::now_v7()),
            subject: ConsentSubject::Teleconsultation,
            given: days != 1,
            means: ConsentMeans::Oral,
            recorded_by: doctor,
            recorded_at: T0 + Duration::days(days),
        };
        store
            .record_consent(g(Action::ConsentRecord, who), consent)
            .await
            .unwrap();
    }
    for who in [p, q] {
        let e = NewEnrolment {
            id: Uuid::now_v7(),
            patient: who,
            programme: if who == p { "diabete" } else { "autre" }.into(),
            thresholds: "{}".into(),
            reading_hours: "8-18".into(),
            enrolled_by: doctor,
            since: T0,
        };
        store
            .enrol_monitoring(g(Action::RecordWrite, who), e, Vec::new())
            .await
            .unwrap();
    }
    let mut booked = Vec::new();
    for (who, by, days) in [(p, doctor, 1), (p, other, 5), (q, doctor, 3)] {
        let id = AppointmentId::from_uuid(Uuid::now_v7());
        let a = NewAppointment {
            id,
            patient: who,
            practitioner: by,
            scheduled_at: T0 + Duration::days(days),
            duration_minutes: 20,
            reason: b"sealed".to_vec(),
            referring: None,
            created_by: doctor,
            created_at: T0,
        };
        let act = NewCareRelationship {
            id: CareRelationshipId::from_uuid(Uuid::now_v7()),
            patient: who,
            user: by,
            kind: CareKind::Act,
            reference: Some(id.to_string()),
            added_by: Some(doctor),
            since: T0,
            until: None,
        };
        store
            .create_appointment(g(Action::AppointmentManage, who), a, Vec::new(), act)
            .await
            .unwrap();
        booked.push(id);
    }
    // Two more members of p's team: one newer than the others, one that left.
    let member = |user, days| NewCareRelationship {
        id: CareRelationshipId::from_uuid(Uuid::now_v7()),
        patient: p,
        user,
        kind: CareKind::CareTeam,
        reference: None,
        added_by: Some(doctor),
        since: T0 + Duration::days(days),
        until: None,
    };
    let third = user(&store, "c@chu.fr", Role::Medecin).await;
    let (newest, left) = (member(other, 2), member(third, 3));
    let (newest_id, left_id) = (newest.id, left.id);
    for m in [newest, left] {
        store
            .add_care_relationship(g(Action::CareTeamManage, p), m)
            .await
            .unwrap();
    }
    assert!(
        store
            .end_care_relationship(
                g(Action::CareTeamManage, p),
                left_id,
                doctor,
                T0 + Duration::days(4)
            )
            .await
            .unwrap()
    );
    let permits = |notes: bool, team: bool, consents: bool| SummaryPermits {
        identity: g(Action::IdentityRead, p),
        notes: notes.then(|| g(Action::RecordRead, p)),
        team: team.then(|| g(Action::CareTeamRead, p)),
        consents: consents.then(|| g(Action::ConsentRead, p)),
    };

    let before = traces_for(&store, p).await.len();
    let all = store
        .patient_summary(permits(true, true, true))
        .await
        .unwrap();
    assert_eq!(all.patient.id, p);
    assert_eq!(all.patient.identity, b"sealed identity");
    assert!(all.patient.key.is_some() && all.patient.nir.is_none());
    let notes: Vec<_> = all.notes.unwrap().into_iter().map(|n| n.body).collect();
    assert_eq!(notes, [b"note 3", b"note 2", b"note 1"]);
    let team = all.team.unwrap();
    assert!(team.iter().all(|r| r.patient == p));
    assert_eq!(team.len(), 5, "{team:?}");
    // Current members first, the newest first; the one who left last.
    assert_eq!(team[0].id, newest_id, "{team:?}");
    assert_eq!(team[4].id, left_id, "{team:?}");
    assert!(
        team[1..4]
            .iter()
            .all(|r| r.ended_at.is_none() && r.since == T0)
    );
    let consents = all.consents.unwrap();
    assert_eq!(consents.len(), 2);
    assert!(!consents[0].given && consents[1].given, "newest first");
    assert!(consents.iter().all(|c| c.patient == p));
    assert_eq!(all.enrolment.unwrap().unwrap().programme, "diabete");
    let appointments: Vec<_> = all.appointments.iter().map(|a| a.id).collect();
    assert_eq!(
        appointments,
        [booked[1], booked[0]],
        "newest first, p's only"
    );
    assert_eq!(all.appointments[0].practitioner_name, "Dr b@chu.fr");
    assert_eq!(traces_for(&store, p).await.len(), before + 4);

    // The identity alone: no section, no enrolment (it names a condition), the appointments.
    let bare = store
        .patient_summary(permits(false, false, false))
        .await
        .unwrap();
    assert!(bare.notes.is_none() && bare.team.is_none() && bare.consents.is_none());
    assert!(bare.enrolment.is_none());
    assert_eq!(bare.appointments.len(), 2);
    assert_eq!(traces_for(&store, p).await.len(), before + 5);

    // A permit of another patient: refused before anything is read or traced.
    let mixed = SummaryPermits {
        notes: Some(g(Action::RecordRead, q)),
        ..permits(false, false, false)
    };
    let e = store.patient_summary(mixed).await.unwrap_err();
    assert!(matches!(e, StoreError::Permit(_)), "{e:?}");
    assert_eq!(traces_for(&store, p).await.len(), before + 5);
    // A patient that does not exist.
    let nobody = PatientId::from_uuid(Uuid::now_v7());
    let e = store
        .patient_summary(SummaryPermits {
            identity: g(Action::IdentityRead, nobody),
            notes: None,
            team: None,
            consents: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    store.close().await;
}
