//! Registering, finding, reading and correcting a patient's identity (DATA-2).

use galien_access::{Action, Relationships};
use galien_core::ErrorCode;
use galien_core::identity::Actor;
use galien_core::ids::{CareRelationshipId, PatientId};
use galien_core::nir::Nir;
use galien_core::patient::{InsStatus, InseeCode, PatientIdentity, Sex, name_lookup_key};
use galien_crypto::envelope::DataKey;
use galien_store::{CareKind, NewCareRelationship, NewPatient, PatientUpdate, SealedPatient};
use serde::Deserialize;
use time::{Date, OffsetDateTime};

use super::access::{Asking, permit};
use super::{data_key_of, open_text, place, row_of};
use crate::{App, AppError, RequestContext};

/// Identity as typed in a form (everything text; [`IdentityInput::parse`] checks it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawIdentity {
    /// Birth name.
    #[serde(default)]
    pub birth_name: String,
    /// Used name.
    #[serde(default)]
    pub used_name: String,
    /// Birth first names.
    #[serde(default)]
    pub first_names: String,
    /// Used first name.
    #[serde(default)]
    pub used_first_name: String,
    /// `F`, `M` or `I`.
    #[serde(default)]
    pub sex: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: String,
    /// INSEE code.
    #[serde(default)]
    pub birth_place: String,
    /// NIR (INS matricule).
    #[serde(default)]
    pub nir: String,
    /// INS status.
    #[serde(default)]
    pub ins_status: String,
    /// Phone.
    #[serde(default)]
    pub phone: String,
    /// E-mail.
    #[serde(default)]
    pub email: String,
    /// Postal address.
    #[serde(default)]
    pub address: String,
    /// Referring doctor.
    #[serde(default)]
    pub referring_doctor: String,
}

/// A checked identity.
#[derive(Debug, Clone)]
pub struct IdentityInput {
    /// Traits and contacts.
    pub identity: PatientIdentity,
    /// The NIR, if given.
    pub nir: Option<Nir>,
    /// INS status.
    pub ins_status: InsStatus,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(200).collect())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), format).ok()
}

impl IdentityInput {
    /// Checks a typed identity against `today` (a birth date cannot be in the future, nor more than
    /// 130 years ago).
    pub fn parse(raw: &RawIdentity, today: Date) -> Result<IdentityInput, ErrorCode> {
        let bad = ErrorCode::PatientIdentityInvalid;
        let birth_name = opt(&raw.birth_name).ok_or(bad)?;
        let first_names = opt(&raw.first_names).ok_or(bad)?;
        let sex = Sex::parse(raw.sex.trim()).ok_or(bad)?;
        let birth_date = parse_date(&raw.birth_date).ok_or(bad)?;
        if birth_date > today || today.year() - birth_date.year() > 130 {
            return Err(bad);
        }
        let birth_place = match opt(&raw.birth_place) {
            Some(code) => Some(InseeCode::parse(&code).ok_or(bad)?),
            None => None,
        };
        let nir = match opt(&raw.nir) {
            Some(n) => Some(Nir::parse(&n).map_err(|_| ErrorCode::NirInvalid)?),
            None => None,
        };
        let ins_status = match raw.ins_status.trim() {
            "" => InsStatus::Provisional,
            s => InsStatus::parse(s).ok_or(bad)?,
        };
        if nir.is_none() && matches!(ins_status, InsStatus::Retrieved | InsStatus::Qualified) {
            return Err(ErrorCode::InsNeedsNir);
        }
        let email = match opt(&raw.email) {
            Some(e) => Some(
                galien_core::identity::Email::parse(&e)
                    .ok_or(ErrorCode::EmailInvalid)?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        Ok(IdentityInput {
            identity: PatientIdentity {
                birth_name,
                used_name: opt(&raw.used_name),
                first_names,
                used_first_name: opt(&raw.used_first_name),
                sex,
                birth_date,
                birth_place,
                phone: opt(&raw.phone),
                email,
                address: opt(&raw.address),
                referring_doctor: opt(&raw.referring_doctor),
            },
            nir,
            ins_status,
        })
    }
}

/// What a search shows: the minimal identity, never clinical content nor the NIR.
#[derive(Debug, Clone)]
pub struct PatientCard {
    /// The patient.
    pub id: PatientId,
    /// "NAME First".
    pub display_name: String,
    /// Birth date.
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// INS status.
    pub ins_status: InsStatus,
}

pub(crate) fn seal_identity(
    app: &App,
    key: &DataKey,
    id: PatientId,
    identity: &PatientIdentity,
) -> Result<Vec<u8>, AppError> {
    let json = serde_json::to_vec(identity).map_err(|e| AppError::Keys(e.to_string()))?;
    let row = row_of(id);
    Ok(key.seal(
        &json,
        &place("patients", &row, "identity"),
        app.entropy.as_ref(),
    ))
}

pub(crate) fn open_identity(key: &DataKey, p: &SealedPatient) -> Result<PatientIdentity, AppError> {
    let row = row_of(p.id);
    let json = open_text(key, &p.identity, &place("patients", &row, "identity"))?;
    serde_json::from_str(&json).map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))
}

fn name_digests(app: &App, identity: &PatientIdentity) -> Vec<[u8; 32]> {
    let mut names = vec![identity.birth_name.as_str()];
    names.extend(identity.used_name.as_deref());
    names
        .into_iter()
        .map(|n| {
            app.health
                .name_index
                .index(&name_lookup_key(n, identity.birth_date))
        })
        .collect()
}

fn nir_sealed(app: &App, key: &DataKey, id: PatientId, nir: &Nir) -> (Vec<u8>, [u8; 32]) {
    let row = row_of(id);
    (
        key.seal(
            nir.as_str().as_bytes(),
            &place("patients", &row, "nir"),
            app.entropy.as_ref(),
        ),
        app.health.nir_index.index(nir.as_str()),
    )
}

pub(crate) fn card(app: &App, p: &SealedPatient) -> Result<PatientCard, AppError> {
    let identity = open_identity(&data_key_of(app, p)?, p)?;
    Ok(PatientCard {
        id: p.id,
        display_name: identity.display_name(),
        birth_date: identity.birth_date,
        sex: identity.sex,
        ins_status: p.ins_status,
    })
}

/// Registers a patient. A health professional who registers them joins their care team.
pub async fn register(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    input: IdentityInput,
) -> Result<PatientId, AppError> {
    let permit = permit(app, actor, ctx, Action::PatientRegister, None).await?;
    let now = app.clock.now();
    let id = PatientId::generate(now, app.entropy.as_ref());
    let (key, wrapped) = app
        .health
        .new_data_key(id, app.entropy.as_ref())
        .map_err(|e| AppError::Keys(e.to_string()))?;
    let care_team = actor
        .role
        .is_health_professional()
        .then(|| NewCareRelationship {
            id: CareRelationshipId::generate(now, app.entropy.as_ref()),
            patient: id,
            user: actor.user,
            kind: CareKind::CareTeam,
            reference: None,
            added_by: Some(actor.user),
            since: now,
            until: None,
        });
    let new = NewPatient {
        id,
        ins_status: input.ins_status,
        identity: seal_identity(app, &key, id, &input.identity)?,
        nir: input.nir.as_ref().map(|n| nir_sealed(app, &key, id, n)),
        name_digests: name_digests(app, &input.identity),
        key: wrapped,
        created_at: now,
        created_by: Some(actor.user),
        care_team,
    };
    app.store.register_patient(permit, new).await?;
    Ok(id)
}

/// Finds a patient by NIR (INS matricule).
pub async fn search_by_nir(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    nir: &Nir,
) -> Result<Vec<PatientCard>, AppError> {
    let permit = permit(app, actor, ctx, Action::PatientSearch, None).await?;
    let found = app
        .store
        .find_patients_by_nir(permit, app.health.nir_index.index(nir.as_str()))
        .await?;
    found.iter().map(|p| card(app, p)).collect()
}

/// Finds patients by name (birth or used) and birth date.
pub async fn search_by_name(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    name: &str,
    birth_date: Date,
) -> Result<Vec<PatientCard>, AppError> {
    if galien_core::patient::normalise_name(name).is_empty() {
        return Err(AppError::Refused(ErrorCode::PatientIdentityInvalid));
    }
    let permit = permit(app, actor, ctx, Action::PatientSearch, None).await?;
    let found = app
        .store
        .find_patients_by_name(
            permit,
            app.health
                .name_index
                .index(&name_lookup_key(name, birth_date)),
        )
        .await?;
    found.iter().map(|p| card(app, p)).collect()
}

/// The identity part of the summary.
#[derive(Debug, Clone)]
pub struct IdentityView {
    /// The patient.
    pub id: PatientId,
    /// Traits and contacts.
    pub identity: PatientIdentity,
    /// INS status.
    pub ins_status: InsStatus,
    /// Whether a NIR is recorded (shown on request, under its own permit).
    pub has_nir: bool,
    /// Whether the patient has an account.
    pub has_account: bool,
    /// The patient's own account, once linked.
    pub account: Option<galien_core::ids::UserId>,
    /// Registered at.
    pub created_at: OffsetDateTime,
}

/// The patient's identity, under a `patient.identity.read` permit, with the data key that opens the
/// rest of the record (so a page reads the row once, with one trace).
pub(crate) async fn identity_with(
    app: &App,
    asking: &Asking<'_>,
) -> Result<(IdentityView, DataKey), AppError> {
    let p = app
        .store
        .patient(asking.permit(Action::IdentityRead, None).await?)
        .await?;
    view_of(app, &p)
}

/// The identity view of a patient row, and the data key that opened it.
pub(crate) fn view_of(app: &App, p: &SealedPatient) -> Result<(IdentityView, DataKey), AppError> {
    let key = data_key_of(app, p)?;
    let identity = open_identity(&key, p)?;
    Ok((
        IdentityView {
            id: p.id,
            identity,
            ins_status: p.ins_status,
            has_nir: p.has_nir,
            has_account: p.user.is_some(),
            account: p.user,
            created_at: p.created_at,
        },
        key,
    ))
}

/// The patient's identity.
pub async fn identity(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<(IdentityView, Relationships), AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    let (view, _) = identity_with(app, &asking).await?;
    Ok((view, asking.relationships().clone()))
}

/// The full NIR, under its own permit (shown only on purpose, and traced).
pub async fn reveal_nir(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<Option<Nir>, AppError> {
    let permit = permit(app, actor, ctx, Action::NirRead, Some(patient)).await?;
    let p = app.store.patient(permit).await?;
    let Some(sealed) = &p.nir else {
        return Ok(None);
    };
    let row = row_of(p.id);
    let text = open_text(
        &data_key_of(app, &p)?,
        sealed,
        &place("patients", &row, "nir"),
    )?;
    Nir::parse(&text)
        .map(Some)
        .map_err(|_| AppError::Refused(ErrorCode::DataUnreadable))
}

/// Corrects the identity. An empty NIR field keeps the recorded NIR.
pub async fn update_identity(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
    input: IdentityInput,
) -> Result<(), AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    // The current row (for its data key and NIR) is read under the identity permit the form needs
    // anyway; the write has its own permit.
    let read = asking.permit(Action::IdentityRead, None).await?;
    let current = app.store.patient(read).await?;
    if input.nir.is_none()
        && !current.has_nir
        && matches!(
            input.ins_status,
            InsStatus::Retrieved | InsStatus::Qualified
        )
    {
        return Err(AppError::Refused(ErrorCode::InsNeedsNir));
    }
    let key = data_key_of(app, &current)?;
    let update = PatientUpdate {
        ins_status: input.ins_status,
        identity: seal_identity(app, &key, patient, &input.identity)?,
        nir: input
            .nir
            .as_ref()
            .map(|n| Some(nir_sealed(app, &key, patient, n))),
        name_digests: name_digests(app, &input.identity),
        at: app.clock.now(),
    };
    let write = asking.permit(Action::IdentityWrite, None).await?;
    app.store.update_patient(write, update).await?;
    Ok(())
}
