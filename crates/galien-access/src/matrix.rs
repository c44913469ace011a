//! The access matrix (ACC-5): who may do what, computed from the policies in force by asking the gate
//! every role × action × relationship question (with a strong session).

use galien_core::SeededEntropy;
use galien_core::audit::Source;
use galien_core::identity::{Assurance, Role};
use galien_core::ids::{ParticipantId, PatientId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::action::Action;
use crate::gate::{AccessRequest, Gate, Principal};
use crate::relationship::{Relationship, Relationships};

/// The principal roles the matrix covers: every account role, then `device`, then `invite` (a
/// teleconsultation guest).
pub const PRINCIPAL_ROLES: &[&str] = &[
    "medecin",
    "infirmier",
    "pharmacien",
    "sage_femme",
    "autre_professionnel",
    "arm",
    "secretaire",
    "ingenieur_biomedical",
    "dpo",
    "administrateur",
    "patient",
    "device",
    "invite",
];

/// One line: a role and an action, allowed or not under each relationship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The role (`device` for machines).
    pub role: &'static str,
    /// The action.
    pub action: Action,
    /// Allowed with no relationship, then with each of [`Relationship::ALL`].
    pub allowed: Vec<bool>,
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// By action, then role.
    pub rows: Vec<MatrixRow>,
}

fn principal_for(role: &'static str) -> Principal {
    match Role::parse(role) {
        Some(role) => Principal::User {
            id: UserId::from_uuid(Uuid::nil()),
            role,
            assurance: Assurance::TwoFactors,
        },
        None if role == "invite" => Principal::Guest {
            participant: ParticipantId::from_uuid(Uuid::nil()),
        },
        None => Principal::Device {
            client: "matrix".to_owned(),
        },
    }
}

impl Gate {
    /// Asks every role × action × relationship question of the policies in force.
    pub fn matrix(&self) -> Matrix {
        let entropy = SeededEntropy::new(0);
        let patient = PatientId::from_uuid(Uuid::nil());
        let cases: Vec<Relationships> = std::iter::once(Relationships::none())
            .chain(Relationship::ALL.iter().map(|r| Relationships::only(*r)))
            .collect();
        let mut rows = Vec::new();
        for action in Action::ALL {
            for role in PRINCIPAL_ROLES {
                let allowed = cases
                    .iter()
                    .map(|relationships| {
                        let request = AccessRequest {
                            principal: principal_for(role),
                            action: *action,
                            patient: action.on_patient().then_some(patient),
                            relationships: relationships.clone(),
                            resource: None,
                            source: Source::default(),
                            at: OffsetDateTime::UNIX_EPOCH,
                        };
                        self.decide(request, &entropy).is_ok()
                    })
                    .collect();
                rows.push(MatrixRow {
                    role,
                    action: *action,
                    allowed,
                });
            }
        }
        Matrix { rows }
    }
}

fn role_label(role: &str) -> &'static str {
    Role::parse(role).map_or("Appareil (identité machine)", Role::label_fr)
}

impl Matrix {
    /// Whether `role` may do `action` with `relationship` (`None`: without any).
    pub fn allows(&self, role: &str, action: Action, relationship: Option<Relationship>) -> bool {
        let column = match relationship {
            None => 0,
            Some(r) => Relationship::ALL
                .iter()
                .position(|x| *x == r)
                .map_or(0, |i| i + 1),
        };
        self.rows
            .iter()
            .find(|row| row.role == role && row.action == action)
            .and_then(|row| row.allowed.get(column).copied())
            .unwrap_or(false)
    }

    /// The matrix as Markdown, in French: one table per action, a row per role that may do it at
    /// least once, a column per relationship. Roles absent from an action's table may never do it.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "# Matrice des habilitations\n\n\
             Produite à partir des politiques en vigueur (session à deux facteurs). \
             « oui » : permis ; « — » : refusé. Un rôle absent d'un tableau n'a jamais ce droit.\n",
        );
        let header: Vec<&str> = std::iter::once("sans relation")
            .chain(Relationship::ALL.iter().map(|r| r.label_fr()))
            .collect();
        for action in Action::ALL {
            let rows: Vec<&MatrixRow> = self
                .rows
                .iter()
                .filter(|r| r.action == *action && r.allowed.iter().any(|a| *a))
                .collect();
            out.push_str(&format!(
                "\n## {} (`{}`)\n\n",
                action.label_fr(),
                action.as_str()
            ));
            if !action.on_patient() {
                // Registry actions concern no patient: relationships play no part.
                out.push_str("Sans objet patient : les relations de soin n'interviennent pas.\n\n| rôle | permis |\n|---|---|\n");
                if rows.is_empty() {
                    out.push_str("| *(personne)* | — |\n");
                }
                for row in rows {
                    out.push_str(&format!("| {} | oui |\n", role_label(row.role)));
                }
                continue;
            }
            out.push_str(&format!(
                "| rôle | {} |\n|---|{}\n",
                header.join(" | "),
                "---|".repeat(header.len())
            ));
            if rows.is_empty() {
                out.push_str(&format!(
                    "| *(personne)* |{}\n",
                    " — |".repeat(header.len())
                ));
            }
            for row in rows {
                let cells: Vec<&str> = row
                    .allowed
                    .iter()
                    .map(|a| if *a { "oui" } else { "—" })
                    .collect();
                out.push_str(&format!(
                    "| {} | {} |\n",
                    role_label(row.role),
                    cells.join(" | ")
                ));
            }
        }
        out
    }
}
