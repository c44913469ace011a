//! Patients behind the access gate, through the use cases of a real node (ACC-1 … ACC-6, DATA-1,
//! DATA-2, GDPR-3): denials traced with nothing returned, break-the-glass, encryption at rest checked
//! on the database file itself, key rotation beside a running server, crypto-shredding, policies from
//! the data directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use galien_app::AppError;
use galien_app::patients::records::{IdentityInput, RawIdentity};
use galien_app::patients::{care, clinical, records};
use galien_app::teleconsultation::appointments;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, Outcome};
use galien_core::identity::{Actor, Assurance, Email, Role};
use galien_core::nir::Nir;
use galien_core::patient::{ConsentMeans, ConsentSubject};
use galien_store::Backend;
use galien_testkit::galien_binary;
use time::Duration;

use crate::common;
use common::{T0, ctx, world};

const BIRTH_NAME: &str = "Lefebvre-Zadkine";
const NIR: &str = "2 92 03 2A 123 001 63";
const NOTE: &str = "Insuffisance cardiaque stade III, dyspnée nocturne";
const REASON: &str = "Patiente inconsciente aux urgences, médecin traitant injoignable";

fn refused(r: Result<impl std::fmt::Debug, AppError>) -> ErrorCode {
    match r {
        Err(e) => e.code(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc1_acc2_acc6_refusals_are_traced_and_return_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let w = world(backend).await;
        let doctor = w.person("a@chu.fr", Role::Medecin).await;
        let stranger = w.person("b@chu.fr", Role::Medecin).await;
        let nurse = w.person("n@chu.fr", Role::Infirmier).await;
        let admin = w.person("admin@chu.fr", Role::Administrateur).await;
        let secretary = w.person("s@chu.fr", Role::Secretaire).await;
        let dpo = w.person("dpo@chu.fr", Role::Dpo).await;
        let p = w.register(&doctor, BIRTH_NAME, NIR).await;
        clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
            .await
            .unwrap();

        // The treating doctor sees everything their relationship allows.
        let s = clinical::summary(&w.app, &doctor, &ctx(), p).await.unwrap();
        assert_eq!(s.identity.identity.birth_name, BIRTH_NAME);
        assert_eq!(s.notes.as_ref().unwrap()[0].text, NOTE);
        assert!(s.abilities.write_note && s.abilities.manage_team && s.abilities.reveal_nir);

        // Strangers, administrators, DPOs: refused, nothing returned, each refusal traced.
        for who in [&stranger, &nurse, &admin, &dpo] {
            let before = w.traces(p).await.len();
            assert_eq!(
                refused(clinical::summary(&w.app, who, &ctx(), p).await),
                ErrorCode::AccessDenied
            );
            assert_eq!(
                refused(records::reveal_nir(&w.app, who, &ctx(), p).await),
                ErrorCode::AccessDenied
            );
            let traces = w.traces(p).await;
            assert_eq!(traces.len(), before + 2, "{:?}", who.role);
            for t in &traces[before..] {
                assert_eq!(t.action, AuditAction::AccessDenied);
                assert_eq!(t.outcome, Outcome::Denied);
                assert_eq!(t.actor.user, Some(who.user));
                assert_eq!(t.source.ip.as_deref(), Some("192.0.2.7"));
            }
        }
        // A secretary sees the identity (scheduling, billing) but no clinical section.
        let s = clinical::summary(&w.app, &secretary, &ctx(), p)
            .await
            .unwrap();
        assert!(s.notes.is_none());
        assert!(!s.abilities.write_note);
        assert_eq!(
            refused(clinical::add_note(&w.app, &secretary, &ctx(), p, "x").await),
            ErrorCode::AccessDenied
        );
        // The NIR is shown on purpose only, and that is traced as its own read.
        let nir = records::reveal_nir(&w.app, &secretary, &ctx(), p)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(nir.formatted(), NIR);
        let last = w.traces(p).await.pop().unwrap();
        assert_eq!(last.action, AuditAction::RecordRead);
        assert_eq!(last.resource.unwrap().kind, "patient_nir");
        // The record's summary holds the appointments (none yet); asked on their own, a stranger
        // is refused, traced.
        let doctors = clinical::summary(&w.app, &doctor, &ctx(), p).await.unwrap();
        assert!(doctors.appointments.is_empty());
        assert!(
            appointments::of_patient(&w.app, &doctor, &ctx(), p)
                .await
                .unwrap()
                .is_empty()
        );
        let before = w.traces(p).await.len();
        assert_eq!(
            refused(appointments::of_patient(&w.app, &stranger, &ctx(), p).await),
            ErrorCode::AccessDenied
        );
        let traces = w.traces(p).await;
        assert_eq!(traces.len(), before + 1);
        assert_eq!(traces[before].actor.user, Some(stranger.user));
        assert_eq!(traces[before].action, AuditAction::AccessDenied);
        // A one-factor session gets nothing, whatever the relationship.
        let weak = Actor {
            assurance: Assurance::OneFactor,
            ..doctor
        };
        assert_eq!(
            refused(clinical::summary(&w.app, &weak, &ctx(), p).await),
            ErrorCode::AccessDenied
        );
        w.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc3_care_team_gives_access_and_taking_it_back_removes_it() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let nurse = w.person("n@chu.fr", Role::Infirmier).await;
    let p = w.register(&doctor, BIRTH_NAME, "").await;
    clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
        .await
        .unwrap();
    assert!(
        care::my_patients(&w.app, &nurse, &ctx())
            .await
            .unwrap()
            .is_empty()
    );
    // Only health professionals with an active account join; a nurse cannot manage the team.
    let not_pro = w.person("sec@chu.fr", Role::Secretaire).await;
    assert_eq!(
        refused(
            care::add_member(
                &w.app,
                &doctor,
                &ctx(),
                p,
                &Email::parse("sec@chu.fr").unwrap(),
                None
            )
            .await
        ),
        ErrorCode::NotACareProfessional
    );
    let _ = not_pro;
    care::add_member(
        &w.app,
        &doctor,
        &ctx(),
        p,
        &Email::parse("n@chu.fr").unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        refused(
            care::add_member(
                &w.app,
                &doctor,
                &ctx(),
                p,
                &Email::parse("n@chu.fr").unwrap(),
                None
            )
            .await
        ),
        ErrorCode::AlreadyInCareTeam
    );
    let mine = care::my_patients(&w.app, &nurse, &ctx()).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].display_name, "MARTIN Héloïse");
    let s = clinical::summary(&w.app, &nurse, &ctx(), p).await.unwrap();
    assert_eq!(s.notes.unwrap()[0].text, NOTE);
    assert!(!s.abilities.manage_team);
    // The doctor ends the nurse's membership: access stops at once.
    let team = care::care_team(&w.app, &doctor, &ctx(), p).await.unwrap();
    let member = team.iter().find(|m| m.user == nurse.user).unwrap().id;
    assert!(
        care::end_member(&w.app, &doctor, &ctx(), p, member)
            .await
            .unwrap()
    );
    assert_eq!(
        refused(clinical::summary(&w.app, &nurse, &ctx(), p).await),
        ErrorCode::AccessDenied
    );
    // Consents (GDPR-3): who, what, when, how.
    clinical::record_consent(
        &w.app,
        &doctor,
        &ctx(),
        p,
        ConsentSubject::Teleconsultation,
        true,
        ConsentMeans::Oral,
    )
    .await
    .unwrap();
    let s = clinical::summary(&w.app, &doctor, &ctx(), p).await.unwrap();
    let c = &s.consents.unwrap()[0];
    assert_eq!(
        (c.subject, c.given, c.means, c.recorded_by),
        (
            ConsentSubject::Teleconsultation,
            true,
            ConsentMeans::Oral,
            doctor.user
        )
    );
    assert_eq!(c.recorded_at, T0);
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc4_break_the_glass_is_reasoned_time_limited_flagged_and_reviewed() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let er = w.person("urgences@chu.fr", Role::Medecin).await;
    let nurse = w.person("n@chu.fr", Role::Infirmier).await;
    let dpo = w.person("dpo@chu.fr", Role::Dpo).await;
    let p = w.register(&doctor, BIRTH_NAME, NIR).await;
    clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
        .await
        .unwrap();

    assert!(
        clinical::may_break_glass(&w.app, &er, &ctx(), p)
            .await
            .unwrap()
    );
    assert!(
        !clinical::may_break_glass(&w.app, &nurse, &ctx(), p)
            .await
            .unwrap()
    );
    assert_eq!(
        refused(care::open_emergency(&w.app, &er, &ctx(), p, "urgence").await),
        ErrorCode::EmergencyReasonRequired
    );
    assert_eq!(
        refused(care::open_emergency(&w.app, &nurse, &ctx(), p, REASON).await),
        ErrorCode::AccessDenied
    );
    let until = care::open_emergency(&w.app, &er, &ctx(), p, REASON)
        .await
        .unwrap();
    assert_eq!(until, T0 + Duration::minutes(240));
    let s = clinical::summary(&w.app, &er, &ctx(), p).await.unwrap();
    assert_eq!(s.notes.as_ref().unwrap()[0].text, NOTE);
    assert!(
        s.relationships()
            .contains(galien_access::Relationship::Emergency)
    );
    // Every access under it is flagged in the traces.
    let flagged: Vec<_> = w
        .traces(p)
        .await
        .into_iter()
        .filter(|t| t.actor.user == Some(er.user) && t.outcome == Outcome::Success)
        .collect();
    assert!(flagged.len() >= 3);
    assert!(flagged.iter().all(|t| t.emergency), "{flagged:?}");
    // It ends by itself.
    w.clock.advance(Duration::minutes(241));
    assert_eq!(
        refused(clinical::summary(&w.app, &er, &ctx(), p).await),
        ErrorCode::AccessDenied
    );
    // The DPO reviews it, with the reason, and without any clinical content.
    assert_eq!(
        refused(care::emergency_reviews(&w.app, &doctor, true).await),
        ErrorCode::AccessDenied
    );
    let pending = care::emergency_reviews(&w.app, &dpo, true).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, REASON);
    assert_eq!(pending[0].user, er.user);
    assert!(
        care::review_emergency(&w.app, &dpo, &ctx(), pending[0].id, "Justifié : SAU")
            .await
            .unwrap()
    );
    assert!(
        care::emergency_reviews(&w.app, &dpo, true)
            .await
            .unwrap()
            .is_empty()
    );
    let all = care::emergency_reviews(&w.app, &dpo, false).await.unwrap();
    assert_eq!(all[0].review_note.as_deref(), Some("Justifié : SAU"));
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data2_patients_are_found_by_nir_and_by_name_and_a_nir_is_unique() {
    let w = world(Backend::Postgres).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let arm = w.person("arm@samu.fr", Role::Arm).await;
    let p = w.register(&doctor, BIRTH_NAME, NIR).await;
    let nir = Nir::parse(NIR).unwrap();
    let found = records::search_by_nir(&w.app, &arm, &ctx(), &nir)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, p);
    assert_eq!(found[0].display_name, "MARTIN Héloïse");
    let birth = records::parse_date("1992-03-14").unwrap();
    for name in ["lefebvre zadkine", "LEFÈBVRE-ZADKINE", "Martin"] {
        let r = records::search_by_name(&w.app, &arm, &ctx(), name, birth)
            .await
            .unwrap();
        assert_eq!(r.len(), 1, "{name}");
    }
    assert!(
        records::search_by_name(
            &w.app,
            &arm,
            &ctx(),
            "Martin",
            records::parse_date("1992-03-15").unwrap()
        )
        .await
        .unwrap()
        .is_empty()
    );
    // The ARM finds the caller but sees no clinical content.
    let s = clinical::summary(&w.app, &arm, &ctx(), p).await.unwrap();
    assert!(s.notes.is_none() && !s.abilities.reveal_nir);
    // A second patient with the same NIR is refused.
    let raw = RawIdentity {
        birth_name: "Autre".into(),
        first_names: "Jeanne".into(),
        sex: "F".into(),
        birth_date: "1992-03-14".into(),
        nir: NIR.replace(' ', ""),
        ..RawIdentity::default()
    };
    let input = IdentityInput::parse(&raw, T0.date()).unwrap();
    assert_eq!(
        refused(records::register(&w.app, &doctor, &ctx(), input).await),
        ErrorCode::NirTaken
    );
    // Bad identities are refused before anything is written.
    for (field, value, code) in [
        ("nir", "2 92 03 2A 123 001 64", ErrorCode::NirInvalid),
        (
            "birth_date",
            "2030-01-01",
            ErrorCode::PatientIdentityInvalid,
        ),
        ("sex", "X", ErrorCode::PatientIdentityInvalid),
        ("birth_place", "ABCDE", ErrorCode::PatientIdentityInvalid),
    ] {
        let mut raw = raw.clone();
        match field {
            "nir" => raw.nir = value.into(),
            "birth_date" => raw.birth_date = value.into(),
            "sex" => raw.sex = value.into(),
            _ => raw.birth_place = value.into(),
        }
        assert_eq!(
            IdentityInput::parse(&raw, T0.date()).unwrap_err(),
            code,
            "{field}"
        );
    }
    let mut qualified = raw.clone();
    qualified.nir = String::new();
    qualified.ins_status = "qualified".into();
    assert_eq!(
        IdentityInput::parse(&qualified, T0.date()).unwrap_err(),
        ErrorCode::InsNeedsNir
    );
    w.server.stop().await;
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data1_data2_the_database_file_holds_no_clear_name_nir_or_clinical_text() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let er = w.person("urgences@chu.fr", Role::Medecin).await;
    let p = w.register(&doctor, BIRTH_NAME, NIR).await;
    clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
        .await
        .unwrap();
    care::open_emergency(&w.app, &er, &ctx(), p, REASON)
        .await
        .unwrap();
    // Every write is committed (in the database file or its write-ahead log) when the call returns:
    // read the files as they are on disk while the node runs.
    let data_dir = w.server.data_dir.clone();

    let nir = Nir::parse(NIR).unwrap();
    let needles: Vec<String> = vec![
        BIRTH_NAME.into(),
        BIRTH_NAME.to_uppercase(),
        "Héloïse".into(),
        "Marguerite".into(),
        "heloise@example.fr".into(),
        "06 12 34 56 78".into(),
        nir.as_str().into(),
        nir.formatted(),
        nir.matricule().into(),
        "Insuffisance cardiaque".into(),
        "dyspnée".into(),
        "inconsciente".into(),
    ];
    let mut files = Vec::new();
    files_under(&data_dir, &mut files);
    let db_files: Vec<_> = files
        .iter()
        .filter(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("galien.db")
        })
        .collect();
    assert!(!db_files.is_empty(), "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} in clear in {}",
                file.display()
            );
        }
    }
    // The search can find what is stored in clear: the author's display name is.
    let all: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(
        all.windows(b"Dr urgences@chu.fr".len())
            .any(|w| w == b"Dr urgences@chu.fr")
    );
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data1_shredding_the_data_key_makes_the_record_unreadable_for_good() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let p = w.register(&doctor, BIRTH_NAME, NIR).await;
    clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
        .await
        .unwrap();
    assert!(
        clinical::shred(&w.app, &ctx(), None, p, "RETENTION-EXPIRED")
            .await
            .unwrap()
    );
    assert!(
        !clinical::shred(&w.app, &ctx(), None, p, "RETENTION-EXPIRED")
            .await
            .unwrap()
    );
    assert_eq!(
        refused(clinical::summary(&w.app, &doctor, &ctx(), p).await),
        ErrorCode::DataUnreadable
    );
    let traces = w.traces(p).await;
    assert!(
        traces
            .iter()
            .any(|t| t.action == AuditAction::RecordShredded)
    );
    w.server.stop().await;
}

fn galien(args: &[&str]) -> std::process::Output {
    Command::new(galien_binary())
        .args(args)
        .env_remove("GALIEN_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data1_keys_rotate_beside_a_running_server_loses_nothing() {
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let mut patients = Vec::new();
    for i in 0..25 {
        let p = w.register(&doctor, &format!("{BIRTH_NAME}{i}"), "").await;
        clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
            .await
            .unwrap();
        patients.push(p);
    }
    let data_dir = w.server.data_dir.display().to_string();
    // Readers keep going while the CLI rotates.
    let app = w.app.clone();
    let readers_patients = patients.clone();
    let reader_doctor = doctor.clone();
    let reader = tokio::spawn(async move {
        let doctor = reader_doctor;
        let mut reads = 0u32;
        for _round in 0..6 {
            for p in &readers_patients {
                let s = clinical::summary(&app, &doctor, &ctx(), *p).await.unwrap();
                assert_eq!(s.notes.unwrap()[0].text, NOTE);
                reads += 1;
            }
        }
        reads
    });
    let dir = data_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        galien(&["keys", "rotate", "--retire", "--data-dir", &dir])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kek-00002"), "{stdout}");
    assert!(stdout.contains("data keys re-wrapped: 25"), "{stdout}");
    assert!(stdout.contains("retired: kek-00001"), "{stdout}");
    assert_eq!(reader.await.unwrap(), 150);
    // Only the new key remains, and every record still opens (this node reloads the ring).
    let health = w.server.data_dir.join("keys").join("health");
    let mut names: Vec<String> = std::fs::read_dir(&health)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["kek-00002.key".to_owned()]);
    for p in &patients {
        let s = clinical::summary(&w.app, &doctor, &ctx(), *p)
            .await
            .unwrap();
        assert_eq!(s.notes.unwrap()[0].text, NOTE);
    }
    // A patient registered after the rotation gets a key wrapped by the new key.
    w.register(&doctor, "Apres", "").await;
    let status = galien(&["keys", "status", "--data-dir", &data_dir]);
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("kek-00002: 26"), "{stdout}");
    assert!(!stdout.contains("kek-00001:"), "{stdout}");
    w.server.stop().await;
}

#[test]
fn acc5_matrix_comes_from_the_policies_in_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let data_dir = dir.path().display().to_string();
    let out = galien(&["access", "matrix", "--data-dir", &data_dir]);
    assert!(out.status.success());
    let builtin = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(builtin.contains("# Matrice des habilitations"));
    assert!(builtin.contains("`record.read`"));
    assert!(builtin.contains("politiques intégrées"));

    // The data controller lets nurses manage the care team, without a rebuild.
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("galien.cedar"),
        format!(
            "{}\n@id(\"infirmiers-equipe\")\npermit (principal, action == Action::\"careteam.manage\", resource)\n\
             when {{ principal in Role::\"infirmier\" && context.relationships.contains(\"care_team\") }};\n",
            galien_access::BUILTIN_POLICIES
        ),
    )
    .unwrap();
    let out = galien(&["access", "matrix", "--data-dir", &data_dir]);
    assert!(out.status.success());
    let local = String::from_utf8_lossy(&out.stdout).into_owned();
    let section = |md: &str| {
        md.split("## ")
            .find(|s| s.contains("`careteam.manage`"))
            .unwrap()
            .to_owned()
    };
    assert!(!section(&builtin).contains("Infirmier"));
    assert!(
        section(&local).contains("| Infirmier·ère | — | oui |"),
        "{}",
        section(&local)
    );

    // A broken policy stops both the matrix and the server, naming the file.
    std::fs::write(
        policies.join("zz-faute.cedar"),
        "permit (principal, action == Action::\"record.raed\", resource);",
    )
    .unwrap();
    let out = galien(&["access", "matrix", "--data-dir", &data_dir]);
    assert_eq!(out.status.code(), Some(2));
    let out = galien(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("access policies"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace4_the_patient_sees_who_accessed_their_record_and_only_theirs() {
    use galien_app::patients::access_log;
    let w = world(Backend::Sqlite).await;
    let doctor = w.person("a@chu.fr", Role::Medecin).await;
    let secretary = w.person("s@chu.fr", Role::Secretaire).await;
    let dpo = w.person("dpo@chu.fr", Role::Dpo).await;
    let heloise = w.person("heloise@example.fr", Role::Patient).await;
    let other = w.person("other@example.fr", Role::Patient).await;
    let p = w.register(&doctor, BIRTH_NAME, NIR).await;
    let q = w.register(&doctor, "Autre", "").await;
    clinical::add_note(&w.app, &doctor, &ctx(), p, NOTE)
        .await
        .unwrap();

    // Only an active patient account can be linked, and to one record only.
    assert_eq!(
        refused(
            access_log::link_account(
                &w.app,
                &secretary,
                &ctx(),
                p,
                &Email::parse("a@chu.fr").unwrap()
            )
            .await
        ),
        ErrorCode::NotAPatientAccount
    );
    access_log::link_account(
        &w.app,
        &secretary,
        &ctx(),
        p,
        &Email::parse("heloise@example.fr").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        refused(
            access_log::link_account(
                &w.app,
                &secretary,
                &ctx(),
                q,
                &Email::parse("heloise@example.fr").unwrap()
            )
            .await
        ),
        ErrorCode::NotAPatientAccount
    );
    assert_eq!(
        access_log::own_record(&w.app, &heloise).await.unwrap(),
        Some(p)
    );
    assert_eq!(access_log::own_record(&w.app, &other).await.unwrap(), None);

    // The patient reads their own record…
    let s = clinical::summary(&w.app, &heloise, &ctx(), p)
        .await
        .unwrap();
    assert_eq!(s.notes.unwrap()[0].text, NOTE);
    assert!(!s.abilities.write_note);
    // …and no one else's.
    assert_eq!(
        refused(clinical::summary(&w.app, &heloise, &ctx(), q).await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        refused(access_log::access_log(&w.app, &heloise, &ctx(), q, 100).await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        refused(access_log::access_log(&w.app, &doctor, &ctx(), p, 100).await),
        ErrorCode::AccessDenied
    );

    let log = access_log::access_log(&w.app, &heloise, &ctx(), p, 100)
        .await
        .unwrap();
    // Newest first: the first entry is this very consultation of the log.
    assert_eq!(log[0].who, "Dr heloise@example.fr");
    assert_eq!(log[0].data.as_deref(), Some("access_log"));
    let by_doctor: Vec<_> = log.iter().filter(|e| e.who == "Dr a@chu.fr").collect();
    assert!(
        by_doctor
            .iter()
            .any(|e| e.action == AuditAction::RecordWrite
                && e.data.as_deref() == Some("clinical_note")
                && e.purpose.as_deref() == Some("care_team")
                && e.role == Some(Role::Medecin))
    );
    assert!(
        log.iter()
            .any(|e| e.who == "Dr s@chu.fr" && e.role == Some(Role::Secretaire))
    );
    assert!(log.iter().all(|e| e.at >= T0));
    // The DPO may read any patient's log.
    let dpo_view = access_log::access_log(&w.app, &dpo, &ctx(), q, 100)
        .await
        .unwrap();
    assert!(!dpo_view.is_empty());
    w.server.stop().await;
}
