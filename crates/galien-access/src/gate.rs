//! The gate: one decision per request, a [`Permit`] or a [`Denial`], each carrying its audit record.

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};
use galien_core::Entropy;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::identity::{Assurance, Role};
use galien_core::ids::{AuditEventId, ParticipantId, PatientId, UserId};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::RwLock;
use time::OffsetDateTime;

use crate::action::Action;
use crate::policy::{Policies, PolicyError};
use crate::relationship::{Relationship, Relationships};

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person, with the role and assurance of their session.
    User {
        /// The account.
        id: UserId,
        /// Its role.
        role: Role,
        /// How strongly the session was authenticated.
        assurance: Assurance,
    },
    /// A device or gateway (machine identity).
    Device {
        /// Its client id.
        client: String,
    },
    /// A guest of one teleconsultation (interpreter, relative, another professional), admitted by a
    /// single-use link: no account, and no relationship but the `act` of that call.
    Guest {
        /// Their place in the call.
        participant: ParticipantId,
    },
}

impl Principal {
    /// The role the policies see (`device` for machines).
    pub fn role_name(&self) -> &'static str {
        match self {
            Principal::User { role, .. } => role.as_str(),
            Principal::Device { .. } => "device",
            Principal::Guest { .. } => "invite",
        }
    }

    /// The account, for a person.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Principal::User { id, .. } => Some(*id),
            Principal::Device { .. } | Principal::Guest { .. } => None,
        }
    }

    fn audit_actor(&self) -> AuditActor {
        match self {
            Principal::User {
                id,
                role,
                assurance,
            } => AuditActor {
                user: Some(*id),
                role: Some(*role),
                assurance: Some(*assurance),
                client: None,
            },
            Principal::Device { client } => AuditActor {
                client: Some(client.clone()),
                ..AuditActor::default()
            },
            Principal::Guest { participant } => AuditActor {
                client: Some(format!("guest:{participant}")),
                ..AuditActor::default()
            },
        }
    }

    fn assurance_level(&self) -> i64 {
        match self {
            Principal::User { assurance, .. } => i64::from(assurance.level()),
            // Machines authenticate with a secret or a certificate and short-lived tokens.
            Principal::Device { .. } => 2,
            // A single-use link, bound to one call.
            Principal::Guest { .. } => 1,
        }
    }
}

/// One question to the gate.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    /// Who asks.
    pub principal: Principal,
    /// What for.
    pub action: Action,
    /// Whose record (`None` only for registry actions: search, register).
    pub patient: Option<PatientId>,
    /// The principal's relationships with that patient, now.
    pub relationships: Relationships,
    /// A more precise resource for the audit record (a document, a note); defaults to the action's
    /// resource kind and the patient id.
    pub resource: Option<ResourceRef>,
    /// Where the request comes from.
    pub source: Source,
    /// When (the injected clock).
    pub at: OffsetDateTime,
}

/// What the gate grants: the right to do `action` on `patient`'s record, once. Only the gate creates
/// one; the store takes it by value and writes [`Permit::trace`] with the change.
#[derive(Debug)]
pub struct Permit {
    principal: Principal,
    action: Action,
    patient: Option<PatientId>,
    emergency: bool,
    trace: AuditEvent,
}

impl Permit {
    /// Who it was granted to.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The account it was granted to, for a person.
    pub fn user(&self) -> Option<UserId> {
        self.principal.user()
    }

    /// What it allows.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whose record (`None` for registry actions).
    pub fn patient(&self) -> Option<PatientId> {
        self.patient
    }

    /// Whether it stands only on an emergency access (break-the-glass).
    pub fn is_emergency(&self) -> bool {
        self.emergency
    }

    /// The audit record of the grant, to commit with the access.
    pub fn trace(&self) -> &AuditEvent {
        &self.trace
    }

    /// Whether it allows `action`.
    pub fn allows(&self, action: Action) -> bool {
        self.action == action
    }
}

/// A refusal, with its audit record. The caller appends the record before answering.
#[derive(Debug)]
#[must_use = "a denial must be traced (ACC-6)"]
pub struct Denial {
    trace: Box<AuditEvent>,
    rule: Option<String>,
}

impl Denial {
    /// The audit record of the refusal.
    pub fn trace(&self) -> &AuditEvent {
        &self.trace
    }

    /// The `forbid` rule that refused, if one did (else nothing permitted the request).
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }
}

/// The policy decision point.
#[derive(Debug)]
pub struct Gate {
    policies: Policies,
    authorizer: Authorizer,
    /// Cedar's answers by [`DecisionKey`], when the policies cannot tell one user or patient from
    /// another (see [`Gate::new`]); `None` when they can, and every request is evaluated.
    memo: Option<RwLock<HashMap<DecisionKey, Evaluated>>>,
}

/// (allowed, the forbid rule that refused if any).
type Evaluated = (bool, Option<String>);

/// Everything of a request the policies can see when they name no user, patient, device or guest:
/// the principal's kind and role, the action, the resource's kind, the context. Two requests with
/// the same key are the same Cedar question up to entity ids the policies never mention, so they
/// get the same answer. The key space is finite (kinds × roles × actions × relationship sets ×
/// assurance levels): a few thousand entries at most.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    principal: u8,
    role: &'static str,
    action: Action,
    on_patient: bool,
    relationships: Relationships,
    assurance: i64,
}

impl DecisionKey {
    fn of(request: &AccessRequest) -> DecisionKey {
        DecisionKey {
            principal: match request.principal {
                Principal::User { .. } => 0,
                Principal::Device { .. } => 1,
                Principal::Guest { .. } => 2,
            },
            role: request.principal.role_name(),
            action: request.action,
            on_patient: request.patient.is_some(),
            relationships: request.relationships.clone(),
            assurance: request.principal.assurance_level(),
        }
    }
}

/// Whether every entity the policies name is a role or an action: then no decision depends on which
/// user, patient, device or guest is asking or asked about, only on the [`DecisionKey`]. Template
/// links could name anyone: a set with templates is never memoised.
fn names_only_roles_and_actions(policies: &Policies) -> bool {
    policies.set.templates().next().is_none()
        && policies.set.policies().all(|p| {
            p.entity_literals().iter().all(|uid| {
                let kind = uid.type_name().to_string();
                kind == "Role" || kind == "Action"
            })
        })
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let kind = EntityTypeName::from_str(kind).map_err(|e| e.to_string())?;
    let id = EntityId::from_str(id).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(kind, id))
}

impl Gate {
    /// A gate deciding with `policies`. When the policies name no particular user, patient,
    /// device or guest (the built-in ones never do), Cedar's answer to each distinct question is kept
    /// and reused: the same decisions, without re-evaluating the policy set on every read.
    pub fn new(policies: Policies) -> Gate {
        let memo = names_only_roles_and_actions(&policies).then(|| RwLock::new(HashMap::new()));
        Gate {
            policies,
            authorizer: Authorizer::new(),
            memo,
        }
    }

    /// A gate asking Cedar on every request, memo or not: the reference the memoised gate is
    /// compared with (tests, `galien-bench`).
    pub fn evaluating_every_request(policies: Policies) -> Gate {
        Gate {
            policies,
            authorizer: Authorizer::new(),
            memo: None,
        }
    }

    /// Whether decisions are memoised (the policies name only roles and actions).
    pub fn memoises(&self) -> bool {
        self.memo.is_some()
    }

    /// A gate with the built-in policies.
    pub fn builtin() -> Result<Gate, PolicyError> {
        Ok(Gate::new(Policies::builtin()?))
    }

    /// The policies in force.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Decides `request`. Deny by default: anything the policies do not permit, anything malformed
    /// (a patient action without a patient), and any evaluation error is a denial.
    pub fn decide(&self, request: AccessRequest, entropy: &dyn Entropy) -> Result<Permit, Denial> {
        let (allowed, rule) = match self.evaluate(&request) {
            Ok(answer) => answer,
            Err(_) => (false, Some("evaluation-error".to_owned())),
        };
        let emergency = allowed
            && request.relationships.contains(Relationship::Emergency)
            && request.relationships.purpose() == Some(Relationship::Emergency);
        let purpose = if emergency {
            Some("emergency_access".to_owned())
        } else {
            request
                .relationships
                .purpose()
                .map(|r| r.as_str().to_owned())
        };
        let resource = request.resource.clone().unwrap_or_else(|| ResourceRef {
            kind: request.action.resource_kind().to_owned(),
            id: request
                .patient
                .map_or_else(|| "registry".to_owned(), |p| p.to_string()),
        });
        let mut trace = AuditEvent {
            id: AuditEventId::generate(request.at, entropy),
            at: request.at,
            actor: request.principal.audit_actor(),
            action: request.action.audit_action(),
            outcome: Outcome::Success,
            resource: Some(resource),
            patient: request.patient,
            purpose,
            emergency,
            source: request.source.clone(),
            reason: Some(format!("ACCESS:{}", request.action.as_str())),
        };
        if allowed {
            Ok(Permit {
                principal: request.principal,
                action: request.action,
                patient: request.patient,
                emergency,
                trace,
            })
        } else {
            trace.action = AuditAction::AccessDenied;
            trace.outcome = Outcome::Denied;
            trace.emergency = false;
            trace.reason = Some(match &rule {
                Some(rule) => format!("ACCESS-DENIED:{}:{rule}", request.action.as_str()),
                None => format!("ACCESS-DENIED:{}", request.action.as_str()),
            });
            Err(Denial {
                trace: Box::new(trace),
                rule,
            })
        }
    }

    /// Whether `request` would be granted, without minting a permit (no trace, no access): for
    /// deciding which actions a page offers.
    pub fn check(&self, request: &AccessRequest) -> bool {
        matches!(self.evaluate(request), Ok((true, _)))
    }

    /// Evaluates the policies: (allowed, the forbid rule that refused if any) — from the memo
    /// when the same question was answered before. Errors are never memoised.
    fn evaluate(&self, request: &AccessRequest) -> Result<Evaluated, String> {
        if request.action.on_patient() != request.patient.is_some() {
            return Ok((false, Some("malformed-request".to_owned())));
        }
        let Some(memo) = &self.memo else {
            return self.evaluate_with_cedar(request);
        };
        let key = DecisionKey::of(request);
        if let Some(found) = memo.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(found);
        }
        let answer = self.evaluate_with_cedar(request)?;
        if let Ok(mut m) = memo.write() {
            m.insert(key, answer.clone());
        }
        Ok(answer)
    }

    /// Asks Cedar.
    fn evaluate_with_cedar(&self, request: &AccessRequest) -> Result<Evaluated, String> {
        let role = uid("Role", request.principal.role_name())?;
        let principal = match &request.principal {
            Principal::User { id, .. } => uid("User", &id.to_string())?,
            Principal::Device { client } => uid("Device", client)?,
            Principal::Guest { participant } => uid("Guest", &participant.to_string())?,
        };
        let resource = match request.patient {
            Some(p) => uid("Patient", &p.to_string())?,
            None => uid("Registry", "patients")?,
        };
        let action = uid("Action", request.action.as_str())?;
        let entities = Entities::from_entities(
            [
                Entity::new_no_attrs(principal.clone(), HashSet::from([role.clone()])),
                Entity::new_no_attrs(role, HashSet::new()),
            ],
            Some(&self.policies.schema),
        )
        .map_err(|e| e.to_string())?;
        let context = Context::from_pairs([
            (
                "relationships".to_owned(),
                RestrictedExpression::new_set(
                    request
                        .relationships
                        .iter()
                        .map(|r| RestrictedExpression::new_string(r.as_str().to_owned())),
                ),
            ),
            (
                "assurance".to_owned(),
                RestrictedExpression::new_long(request.principal.assurance_level()),
            ),
        ])
        .map_err(|e| e.to_string())?;
        let cedar_request = Request::new(
            principal,
            action,
            resource,
            context,
            Some(&self.policies.schema),
        )
        .map_err(|e| e.to_string())?;
        let response = self
            .authorizer
            .is_authorized(&cedar_request, &self.policies.set, &entities);
        if response.diagnostics().errors().next().is_some() {
            return Err("policy evaluation error".to_owned());
        }
        match response.decision() {
            Decision::Allow => Ok((true, None)),
            Decision::Deny => {
                // Several forbid rules may refuse together; Cedar reports them in no set order:
                // the first by name, so the same question always names the same rule.
                let rule = response
                    .diagnostics()
                    .reason()
                    .map(|id| self.policies.name_of(id))
                    .min();
                Ok((false, rule))
            }
        }
    }
}
