//! The access gate against its specification (ACC-1 … ACC-6).

use galien_access::{
    AccessRequest, Action, Gate, PRINCIPAL_ROLES, Policies, PolicyOrigin, Principal, Relationship,
    Relationships,
};
use galien_core::SeededEntropy;
use galien_core::audit::{AuditAction, Outcome, Source};
use galien_core::identity::{Assurance, Role};
use galien_core::ids::{PatientId, UserId};
use time::macros::datetime;
use uuid::Uuid;

const HEALTH_PROS: &[&str] = &[
    "medecin",
    "infirmier",
    "pharmacien",
    "sage_femme",
    "autre_professionnel",
];
const CLINICAL: &[Relationship] = &[
    Relationship::CareTeam,
    Relationship::Act,
    Relationship::Monitoring,
    Relationship::Regulation,
];

/// What the policies must decide, written independently of the Cedar text: role, action and the
/// single relationship held (`None`: no relationship), with a two-factor session.
fn expected(role: &str, action: Action, rel: Option<Relationship>) -> bool {
    use Action::*;
    use Relationship::*;
    let pro = HEALTH_PROS.contains(&role);
    let clinical = rel.is_some_and(|r| CLINICAL.contains(&r));
    let care_or_act = matches!(rel, Some(CareTeam) | Some(Act));
    let emergency_doctor = role == "medecin" && rel == Some(Emergency);
    let own = role == "patient" && rel == Some(SelfRecord);
    match action {
        PatientSearch => pro || role == "arm" || role == "secretaire",
        PatientRegister => {
            ["medecin", "infirmier", "sage_femme", "arm", "secretaire"].contains(&role)
        }
        IdentityRead => {
            role == "secretaire" || role == "arm" || (pro && clinical) || emergency_doctor || own
        }
        IdentityWrite => {
            role == "secretaire"
                || (["medecin", "sage_femme", "infirmier"].contains(&role) && care_or_act)
        }
        NirRead => {
            role == "secretaire"
                || (["medecin", "sage_femme"].contains(&role) && care_or_act)
                || emergency_doctor
                || own
        }
        RecordRead => (pro && clinical) || emergency_doctor || own,
        RecordWrite => {
            (["medecin", "sage_femme", "infirmier"].contains(&role) && clinical) || emergency_doctor
        }
        CareTeamRead | ConsentRead => {
            role == "secretaire" || (pro && clinical) || emergency_doctor || own
        }
        CareTeamManage => role == "medecin" && rel == Some(CareTeam),
        ConsentRecord => {
            role == "secretaire"
                || (["medecin", "sage_femme", "infirmier"].contains(&role)
                    && matches!(rel, Some(CareTeam) | Some(Act) | Some(Monitoring)))
                || own
        }
        EmergencyOpen => role == "medecin",
        AccessLogRead => own || role == "dpo",
        ObservationWrite => (role == "device" && rel == Some(Monitoring)) || own,
        AppointmentManage => {
            role == "secretaire"
                || (["medecin", "sage_femme"].contains(&role) && care_or_act)
                || own
        }
        ConsultationJoin => ((pro || role == "invite") && rel == Some(Act)) || own,
    }
}

#[test]
fn acc1_acc2_acc3_matrix_matches_the_specification() {
    let gate = Gate::builtin().unwrap();
    let matrix = gate.matrix();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for role in PRINCIPAL_ROLES {
        for action in Action::ALL {
            let cases = std::iter::once(None).chain(Relationship::ALL.iter().copied().map(Some));
            for rel in cases {
                checked += 1;
                let got = matrix.allows(role, *action, rel);
                if got != expected(role, *action, rel) {
                    wrong.push(format!("{role} {action} {rel:?}: policies say {got}"));
                }
            }
        }
    }
    assert_eq!(checked, 13 * 16 * 7);
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn acc2_administration_roles_never_see_clinical_content() {
    let matrix = Gate::builtin().unwrap().matrix();
    for role in [
        "administrateur",
        "dpo",
        "secretaire",
        "ingenieur_biomedical",
    ] {
        for rel in std::iter::once(None).chain(Relationship::ALL.iter().copied().map(Some)) {
            for action in [
                Action::RecordRead,
                Action::RecordWrite,
                Action::ObservationWrite,
            ] {
                assert!(!matrix.allows(role, action, rel), "{role} {action} {rel:?}");
            }
        }
    }
}

fn doctor(assurance: Assurance) -> Principal {
    Principal::User {
        id: UserId::from_uuid(Uuid::from_u128(7)),
        role: Role::Medecin,
        assurance,
    }
}

fn request(principal: Principal, action: Action, rel: Relationships) -> AccessRequest {
    AccessRequest {
        principal,
        action,
        patient: Some(PatientId::from_uuid(Uuid::from_u128(42))),
        relationships: rel,
        resource: None,
        source: Source {
            ip: Some("127.0.0.1".into()),
            user_agent: Some("test".into()),
            request_id: None,
        },
        at: datetime!(2026-11-28 10:00 UTC),
    }
}

#[test]
fn acc1_one_factor_sessions_get_nothing() {
    let gate = Gate::builtin().unwrap();
    let e = SeededEntropy::new(1);
    for action in Action::ALL.iter().filter(|a| a.on_patient()) {
        let r = request(
            doctor(Assurance::OneFactor),
            *action,
            Relationships::only(Relationship::CareTeam),
        );
        let denial = gate.decide(r, &e).unwrap_err();
        assert_eq!(denial.rule(), Some("authentification-forte"));
    }
}

#[test]
fn acc6_permit_and_denial_carry_their_trace() {
    let gate = Gate::builtin().unwrap();
    let e = SeededEntropy::new(1);
    let permit = gate
        .decide(
            request(
                doctor(Assurance::TwoFactors),
                Action::RecordRead,
                Relationships::only(Relationship::CareTeam),
            ),
            &e,
        )
        .unwrap();
    let t = permit.trace();
    assert_eq!(t.action, AuditAction::RecordRead);
    assert_eq!(t.outcome, Outcome::Success);
    assert_eq!(t.patient, permit.patient());
    assert_eq!(t.purpose.as_deref(), Some("care_team"));
    assert!(!t.emergency && !permit.is_emergency());
    assert_eq!(t.actor.role, Some(Role::Medecin));
    assert_eq!(t.source.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(t.resource.as_ref().unwrap().kind, "clinical_record");

    let denial = gate
        .decide(
            request(
                doctor(Assurance::TwoFactors),
                Action::RecordRead,
                Relationships::none(),
            ),
            &e,
        )
        .unwrap_err();
    let t = denial.trace();
    assert_eq!(t.action, AuditAction::AccessDenied);
    assert_eq!(t.outcome, Outcome::Denied);
    assert_eq!(t.reason.as_deref(), Some("ACCESS-DENIED:record.read"));
    assert!(t.patient.is_some());
}

#[test]
fn acc4_emergency_access_is_flagged() {
    let gate = Gate::builtin().unwrap();
    let e = SeededEntropy::new(1);
    let permit = gate
        .decide(
            request(
                doctor(Assurance::TwoFactors),
                Action::RecordRead,
                Relationships::only(Relationship::Emergency),
            ),
            &e,
        )
        .unwrap();
    assert!(permit.is_emergency());
    assert!(permit.trace().emergency);
    assert_eq!(permit.trace().purpose.as_deref(), Some("emergency_access"));
    // With an ordinary relationship as well, the access is not an emergency one.
    let mut both = Relationships::only(Relationship::Emergency);
    both.insert(Relationship::CareTeam);
    let permit = gate
        .decide(
            request(doctor(Assurance::TwoFactors), Action::RecordRead, both),
            &e,
        )
        .unwrap();
    assert!(!permit.is_emergency());
}

#[test]
fn acc1_malformed_requests_are_denied() {
    let gate = Gate::builtin().unwrap();
    let e = SeededEntropy::new(1);
    let mut r = request(
        doctor(Assurance::TwoFactors),
        Action::RecordRead,
        Relationships::only(Relationship::CareTeam),
    );
    r.patient = None;
    assert_eq!(
        gate.decide(r, &e).unwrap_err().rule(),
        Some("malformed-request")
    );
}

#[test]
fn acc5_policies_come_from_the_data_directory_and_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    // No directory: built-in.
    assert_eq!(
        Policies::for_directory(&policies).unwrap().origin(),
        &PolicyOrigin::Builtin
    );
    std::fs::create_dir(&policies).unwrap();
    assert!(
        Policies::for_directory(&policies).is_err(),
        "empty directory refused"
    );
    // The data controller lets nurses manage the care team too.
    let text = format!(
        "{}\n@id(\"infirmiers-equipe\")\npermit (principal, action == Action::\"careteam.manage\", resource)\n\
         when {{ principal in Role::\"infirmier\" && context.relationships.contains(\"care_team\") }};\n",
        galien_access::BUILTIN_POLICIES
    );
    std::fs::write(policies.join("etablissement.cedar"), text).unwrap();
    let loaded = Policies::for_directory(&policies).unwrap();
    assert!(matches!(loaded.origin(), PolicyOrigin::Files(f) if f.len() == 1));
    let matrix = Gate::new(loaded).matrix();
    assert!(matrix.allows(
        "infirmier",
        Action::CareTeamManage,
        Some(Relationship::CareTeam)
    ));
    assert!(!matrix.allows("infirmier", Action::CareTeamManage, None));
    assert!(matrix.to_markdown().contains("Gérer l'équipe de soins"));

    // A misspelt action stops the load instead of silently changing access.
    std::fs::write(
        policies.join("faute.cedar"),
        "permit (principal, action == Action::\"record.raed\", resource);\n",
    )
    .unwrap();
    let err = Policies::for_directory(&policies).unwrap_err().to_string();
    assert!(err.contains("schema"), "{err}");
    // Syntax errors name the file.
    std::fs::write(
        policies.join("faute.cedar"),
        "permit (principal, action resource);\n",
    )
    .unwrap();
    let err = Policies::for_directory(&policies).unwrap_err().to_string();
    assert!(err.contains("faute.cedar"), "{err}");
}

#[test]
fn acc5_matrix_markdown_lists_every_action() {
    let md = Gate::builtin().unwrap().matrix().to_markdown();
    for action in Action::ALL {
        assert!(md.contains(&format!("`{}`", action.as_str())), "{action}");
    }
    assert!(md.contains("| Médecin |"));
}

/// Every subset of the relationships, the empty one first.
fn relationship_sets() -> Vec<Relationships> {
    let all = Relationship::ALL;
    (0u32..(1 << all.len()))
        .map(|mask| {
            let mut set = Relationships::none();
            for (i, r) in all.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    set.insert(*r);
                }
            }
            set
        })
        .collect()
}

/// The `n`-th principal of `role` (`None` for a role that is no principal).
fn principal(role: &str, n: u128, assurance: Assurance) -> Option<Principal> {
    Some(match role {
        "device" => Principal::Device {
            client: format!("gw-{n}"),
        },
        "invite" => Principal::Guest {
            participant: galien_core::ids::ParticipantId::from_uuid(Uuid::from_u128(n)),
        },
        _ => Principal::User {
            id: UserId::from_uuid(Uuid::from_u128(n)),
            role: Role::parse(role)?,
            assurance,
        },
    })
}

/// ACC-1: the memoised gate (the built-in policies name only roles and actions) answers every
/// question — every role, action, set of relationships and assurance, for different users and
/// patients — exactly as Cedar evaluated afresh does, from its first answer and from its memo.
#[test]
fn acc1_memoised_decisions_are_cedars_for_every_question() {
    let memoised = Gate::builtin().unwrap();
    assert!(memoised.memoises());
    let fresh = Gate::evaluating_every_request(Policies::builtin().unwrap());
    assert!(!fresh.memoises());
    let sets = relationship_sets();
    let mut compared = 0;
    let mut allowed = 0;
    for role in PRINCIPAL_ROLES {
        for action in Action::ALL {
            for rels in &sets {
                for assurance in [Assurance::OneFactor, Assurance::TwoFactors] {
                    // Three askers, three patients: the second and third are answered by the memo.
                    for n in 1..=3u128 {
                        let request = AccessRequest {
                            principal: principal(role, n, assurance).unwrap(),
                            action: *action,
                            patient: action
                                .on_patient()
                                .then(|| PatientId::from_uuid(Uuid::from_u128(100 + n))),
                            relationships: rels.clone(),
                            resource: None,
                            source: Source::default(),
                            at: datetime!(2026-11-29 10:00 UTC),
                        };
                        let want = fresh.check(&request);
                        assert_eq!(
                            memoised.check(&request),
                            want,
                            "{role} {action} {rels:?} {assurance:?} (asker {n})"
                        );
                        let denial_rule = |g: &Gate| {
                            g.decide(request.clone(), &SeededEntropy::new(1))
                                .err()
                                .map(|d| d.rule().map(str::to_owned))
                        };
                        assert_eq!(denial_rule(&memoised), denial_rule(&fresh));
                        compared += 1;
                        allowed += usize::from(want);
                    }
                }
            }
        }
    }
    assert_eq!(compared, 13 * 16 * 64 * 2 * 3);
    assert!(allowed > 0 && allowed < compared, "{allowed} of {compared}");
}

/// ACC-5: policies of the data controller that name a particular patient make decisions depend on
/// who is asked about: such a set is evaluated on every request, never memoised.
#[test]
fn acc5_policies_naming_a_patient_are_never_memoised() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let vip = PatientId::from_uuid(Uuid::from_u128(7));
    let text = format!(
        "{}\n@id(\"vip\")\nforbid (principal, action, resource == Patient::\"{vip}\")\n\
         unless {{ principal in Role::\"medecin\" }};\n",
        galien_access::BUILTIN_POLICIES
    );
    std::fs::write(policies.join("vip.cedar"), text).unwrap();
    let gate = Gate::new(Policies::for_directory(&policies).unwrap());
    assert!(!gate.memoises());
    let ask = |patient: PatientId| AccessRequest {
        principal: principal("infirmier", 1, Assurance::TwoFactors).unwrap(),
        action: Action::RecordRead,
        patient: Some(patient),
        relationships: Relationships::only(Relationship::CareTeam),
        resource: None,
        source: Source::default(),
        at: datetime!(2026-11-29 10:00 UTC),
    };
    // Same role, action and relationships: only the patient differs, and so does the answer.
    assert!(gate.check(&ask(PatientId::from_uuid(Uuid::from_u128(8)))));
    assert!(!gate.check(&ask(vip)));
    assert!(gate.check(&ask(PatientId::from_uuid(Uuid::from_u128(9)))));
}
