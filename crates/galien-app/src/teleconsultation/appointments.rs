//! Booking a teleconsultation (ACT-1): the appointment, its invitation (in-app, and by e-mail when
//! SMTP is configured — a link only, no health data), the patient's account when they have none
//! yet, the patient's consent before the call (GDPR-3), cancellation and no-show, and the lists
//! (the médecin's day, the secretariat's day, the patient's appointments).

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::ResourceRef;
use galien_core::consultation::{AppointmentStatus, ParticipantKind};
use galien_core::identity::{AccountStatus, Actor, Email, Role};
use galien_core::ids::{
    AppointmentId, CareRelationshipId, ConsentId, ParticipantId, PatientId, UserId,
};
use galien_core::patient::{ConsentMeans, ConsentSubject};
use galien_store::{
    Appointment, CareKind, NewAppointment, NewCareRelationship, NewConsent, NewParticipant, NewUser,
};
use time::{Duration, OffsetDateTime};

use super::{Joiner, consultation_ref, key_for, permit_for};
use crate::patients::access::Asking;
use crate::patients::{open_text, place};
use crate::{App, AppError, RequestContext};

/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// How long after the appointment the médecin keeps the `act` relationship (to finish the report).
pub const ACT_GRACE: Duration = Duration::days(7);

/// What the booking form says, parsed.
#[derive(Debug, Clone)]
pub struct Booking {
    /// The patient.
    pub patient: PatientId,
    /// The médecin.
    pub practitioner: UserId,
    /// When.
    pub at: OffsetDateTime,
    /// Minutes (5–240).
    pub duration_minutes: u16,
    /// The reason (motif).
    pub reason: String,
    /// The referring médecin (receives the report), if any.
    pub referring: Option<UserId>,
}

/// What booking did.
#[derive(Debug, Clone)]
pub struct Booked {
    /// The appointment.
    pub id: AppointmentId,
    /// A patient account was created and invited (link sent by e-mail when SMTP is configured).
    pub account_invited: bool,
    /// The invitation link for the patient's new account, to hand over when no mail could leave.
    pub invitation_url: Option<String>,
    /// An e-mail left.
    pub mailed: bool,
}

async fn active_medecin(app: &App, user: UserId) -> Result<galien_store::User, AppError> {
    match app.store.user(user).await {
        Ok(u) if u.role == Role::Medecin && u.status == AccountStatus::Active => Ok(u),
        Ok(_) | Err(galien_store::StoreError::NotFound) => {
            Err(AppError::Refused(ErrorCode::AppointmentInvalid))
        }
        Err(e) => Err(e.into()),
    }
}

/// Books a teleconsultation (secretariat, médecin or sage-femme: `appointment.manage`). The médecin
/// gets an `act` relationship with the patient until a week after the appointment; the patient is
/// invited: in-app on "Mes rendez-vous", by e-mail (a link only) when SMTP is configured, and with
/// a new account when their record has none but an e-mail address.
pub async fn book(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    b: Booking,
) -> Result<Booked, AppError> {
    let now = app.clock.now();
    let reason = b.reason.trim().to_owned();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || b.at < now - Duration::minutes(5)
        || !(5..=240).contains(&b.duration_minutes)
    {
        return Err(AppError::Refused(ErrorCode::AppointmentInvalid));
    }
    active_medecin(app, b.practitioner).await?;
    if let Some(r) = b.referring {
        active_medecin(app, r).await?;
    }
    let asking = Asking::new(app, actor, ctx, Some(b.patient)).await?;
    let id = AppointmentId::generate(now, app.entropy.as_ref());
    let permit = asking
        .permit(Action::AppointmentManage, consultation_ref(id))
        .await?;
    // The patient's identity (their account, e-mail, name) under its own permit.
    let identity = crate::patients::records::identity(app, actor, ctx, b.patient).await;
    let key = key_for(app, &permit).await?;
    let id_text = id.to_string();
    let sealed_reason = key.seal(
        reason.as_bytes(),
        &place("appointments", &id_text, "reason"),
        app.entropy.as_ref(),
    );
    let (identity, account) = match identity {
        Ok((view, _)) => (Some(view.identity.clone()), view.account),
        Err(AppError::Refused(ErrorCode::AccessDenied)) => (None, None),
        Err(e) => return Err(e),
    };
    let mut participants = vec![NewParticipant {
        id: ParticipantId::generate(now, app.entropy.as_ref()),
        kind: ParticipantKind::Practitioner,
        user: Some(b.practitioner),
        guest_label: None,
        link_digest: None,
        link_expires_at: None,
        invited_by: Some(actor.user),
        created_at: now,
    }];
    // A patient without an account yet gets one, invited, when their record has an e-mail address.
    let mut new_account = None;
    let patient_user = match account {
        Some(u) => Some(u),
        None => match identity
            .as_ref()
            .and_then(|i| i.email.as_deref())
            .and_then(Email::parse)
        {
            Some(email) => match app.store.user_by_email(&email).await {
                Ok(_) => None,
                Err(galien_store::StoreError::NotFound) => {
                    let user = UserId::generate(now, app.entropy.as_ref());
                    new_account = Some((user, email));
                    Some(user)
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        },
    };
    if let Some((user, email)) = &new_account {
        let name = identity
            .as_ref()
            .map(|i| i.display_name())
            .unwrap_or_default();
        app.store
            .create_user(NewUser {
                id: *user,
                email: email.clone(),
                display_name: name,
                role: Role::Patient,
                professional_id: None,
                organisation: None,
                status: AccountStatus::Invited,
                created_at: now,
                created_by: Some(actor.user),
            })
            .await
            .map_err(|e| match e {
                galien_store::CreateUserError::Store(e) => AppError::Store(e),
                _ => AppError::Refused(ErrorCode::EmailTaken),
            })?;
    }
    if let Some(user) = patient_user {
        participants.push(NewParticipant {
            id: ParticipantId::generate(now, app.entropy.as_ref()),
            kind: ParticipantKind::Patient,
            user: Some(user),
            guest_label: None,
            link_digest: None,
            link_expires_at: None,
            invited_by: Some(actor.user),
            created_at: now,
        });
    }
    let act = NewCareRelationship {
        id: CareRelationshipId::generate(now, app.entropy.as_ref()),
        patient: b.patient,
        user: b.practitioner,
        kind: CareKind::Act,
        reference: Some(format!("appointment:{id}")),
        added_by: Some(actor.user),
        since: now,
        until: Some(b.at + Duration::minutes(i64::from(b.duration_minutes)) + ACT_GRACE),
    };
    app.store
        .create_appointment(
            permit,
            NewAppointment {
                id,
                patient: b.patient,
                practitioner: b.practitioner,
                scheduled_at: b.at,
                duration_minutes: b.duration_minutes,
                reason: sealed_reason,
                referring: b.referring,
                created_by: actor.user,
                created_at: now,
            },
            participants,
            act,
        )
        .await?;
    let mut booked = Booked {
        id,
        account_invited: false,
        invitation_url: None,
        mailed: false,
    };
    let mut link = None;
    if let Some((user, _)) = &new_account {
        // Link the new account to the record (the booking made the relationship that allows it).
        let write = Asking::new(app, actor, ctx, Some(b.patient))
            .await?
            .permit(Action::IdentityWrite, None)
            .await;
        if let Ok(write) = write {
            app.store.link_patient_account(write, *user, now).await?;
        }
        let l = crate::identity::admin::issue_invitation(app, *user).await?;
        booked.account_invited = true;
        booked.invitation_url = Some(l.url.clone());
        link = Some(l.url);
    }
    // The e-mail: a link, never health data (not the reason, not the médecin's specialty).
    let to = match (&new_account, patient_user) {
        (Some((_, email)), _) => Some(email.clone()),
        (None, Some(user)) => app.store.user(user).await.ok().map(|u| u.email),
        _ => None,
    };
    if let (Some(mailer), Some(to)) = (app.mailer.as_ref(), to) {
        let url = link.unwrap_or_else(|| format!("{}/me/appointments", app.settings.public_url));
        let body = format!(
            "Bonjour,\n\nUn rendez-vous de téléconsultation vous attend dans Galien.\n\
             Pour le voir, connectez-vous : {url}\n\n\
             Ce message ne contient aucune information médicale. Si vous n'attendiez pas ce \
             message, ignorez-le.\n\n-- \nGalien\n\n\
             (English) A teleconsultation appointment is waiting for you in Galien: {url}\n"
        );
        match mailer
            .send(&to, "Votre rendez-vous de téléconsultation — Galien", &body)
            .await
        {
            Ok(()) => booked.mailed = true,
            Err(e) => tracing::warn!(error = %e, "could not mail an appointment invitation"),
        }
    }
    Ok(booked)
}

/// An appointment as lists show it.
#[derive(Debug, Clone)]
pub struct AppointmentLine {
    /// The appointment.
    pub appointment: Appointment,
    /// The patient's name, when the viewer may read the identity.
    pub patient_name: Option<String>,
}

/// The appointments from `start` until `end` (a day, from its midnight to the next: 23 or 25 hours
/// on the days the clocks change) for a médecin (their own) or the secretariat (all). Patient
/// names are read with one identity permit per patient.
pub async fn day(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Vec<AppointmentLine>, AppError> {
    let who = match actor.role {
        Role::Medecin => Some(actor.user),
        Role::Secretaire | Role::SageFemme => None,
        _ => return Err(AppError::Refused(ErrorCode::AccessDenied)),
    };
    let list = app.store.appointments_between(who, start, end).await?;
    let mut names = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        let patient_name = match names.get(&a.patient) {
            Some(known) => Option::clone(known),
            None => {
                let name =
                    match crate::patients::records::identity(app, actor, ctx, a.patient).await {
                        Ok((view, _)) => Some(view.identity.display_name()),
                        Err(AppError::Refused(_)) => None,
                        Err(e) => return Err(e),
                    };
                names.insert(a.patient, name.clone());
                name
            }
        };
        out.push(AppointmentLine {
            patient_name,
            appointment: a,
        });
    }
    Ok(out)
}

/// The signed-in patient's appointments, newest first.
pub async fn mine(app: &App, actor: &Actor) -> Result<Vec<Appointment>, AppError> {
    let Some(patient) = crate::patients::access_log::own_record(app, actor).await? else {
        return Ok(Vec::new());
    };
    Ok(app.store.patient_appointments(patient).await?)
}

/// The appointments of one patient, newest first; the viewer must be allowed to see the record's
/// identity or to manage appointments. (The record's page has them in its summary.)
pub async fn of_patient(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    patient: PatientId,
) -> Result<Vec<Appointment>, AppError> {
    let asking = Asking::new(app, actor, ctx, Some(patient)).await?;
    if !asking.allows(Action::IdentityRead) && !asking.allows(Action::AppointmentManage) {
        asking.permit(Action::IdentityRead, None).await?;
    }
    Ok(app.store.patient_appointments(patient).await?)
}

/// One appointment, with its reason when the viewer may read it (the médecin, the patient).
#[derive(Debug, Clone)]
pub struct AppointmentView {
    /// Metadata.
    pub appointment: Appointment,
    /// The reason.
    pub reason: Option<String>,
    /// The patient's name.
    pub patient_name: Option<String>,
    /// The viewer is the médecin of the call.
    pub is_practitioner: bool,
    /// The viewer is the patient.
    pub is_patient: bool,
    /// The viewer may cancel or mark a no-show.
    pub may_manage: bool,
}

/// One appointment as its page shows it; `ACC-DENIED` (traced) for anyone with no business there.
pub async fn view(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
) -> Result<AppointmentView, AppError> {
    let a = app.store.appointment(id).await?;
    let asking = Asking::new(app, actor, ctx, Some(a.patient)).await?;
    let is_practitioner = a.practitioner == actor.user;
    let is_patient = actor.role == Role::Patient
        && crate::patients::access_log::own_record(app, actor).await? == Some(a.patient);
    let may_manage = asking.allows(Action::AppointmentManage);
    let may_join = asking.allows(Action::ConsultationJoin);
    if !may_manage && !may_join {
        asking
            .permit(Action::ConsultationJoin, consultation_ref(id))
            .await?;
    }
    let reason = if may_join || asking.allows(Action::RecordRead) {
        let action = if may_join {
            Action::ConsultationJoin
        } else {
            Action::RecordRead
        };
        let permit = asking.permit(action, consultation_ref(id)).await?;
        let key = key_for(app, &permit).await?;
        let sealed = app.store.appointment_reason(permit, id).await?;
        Some(open_text(
            &key,
            &sealed,
            &place("appointments", &id.to_string(), "reason"),
        )?)
    } else {
        None
    };
    let patient_name = match crate::patients::records::identity(app, actor, ctx, a.patient).await {
        Ok((v, _)) => Some(v.identity.display_name()),
        Err(AppError::Refused(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(AppointmentView {
        appointment: a,
        reason,
        patient_name,
        is_practitioner,
        is_patient,
        may_manage,
    })
}

/// Cancels an appointment, or records that the patient did not come (`to` = cancelled / no-show).
/// The room closes for good; pages still open leave.
pub async fn end_without_call(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
    to: AppointmentStatus,
) -> Result<(), AppError> {
    if !matches!(to, AppointmentStatus::Cancelled | AppointmentStatus::NoShow) {
        return Err(AppError::Refused(ErrorCode::AppointmentState));
    }
    let a = app.store.appointment(id).await?;
    // Only the médecin of the call marks a no-show; the patient may cancel their own.
    if to == AppointmentStatus::NoShow
        && a.practitioner != actor.user
        && actor.role != Role::Secretaire
    {
        super::call::trace_refusal(
            app,
            Some(&Joiner::Person(actor.clone())),
            ctx,
            id,
            Some(a.patient),
            "ACCESS-DENIED:appointment.no_show",
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let permit = permit_for(
        app,
        &Joiner::Person(actor.clone()),
        ctx,
        a.patient,
        Action::AppointmentManage,
        consultation_ref(id),
    )
    .await?;
    if !app
        .store
        .move_appointment(permit, id, to, actor.user, app.clock.now())
        .await?
    {
        return Err(AppError::Refused(ErrorCode::AppointmentState));
    }
    let _ = app
        .store
        .bus()
        .publish(super::CLOSED_TOPIC, serde_json::json!({ "room": id }))
        .await;
    Ok(())
}

/// The patient's consent to this teleconsultation, given by the patient in Galien before the call
/// (GDPR-3): recorded with its time and linked to the appointment.
pub async fn consent(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
) -> Result<ConsentId, AppError> {
    let a = app.store.appointment(id).await?;
    if a.status.is_final() {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let now = app.clock.now();
    let consent = ConsentId::generate(now, app.entropy.as_ref());
    let permit = Asking::new(app, actor, ctx, Some(a.patient))
        .await?
        .permit(
            Action::ConsentRecord,
            Some(ResourceRef {
                kind: "consent".into(),
                id: consent.to_string(),
            }),
        )
        .await?;
    app.store
        .consent_to_appointment(
            permit,
            id,
            NewConsent {
                id: consent,
                subject: ConsentSubject::Teleconsultation,
                given: true,
                means: if actor.role == Role::Patient {
                    ConsentMeans::Electronic
                } else {
                    ConsentMeans::Oral
                },
                recorded_by: actor.user,
                recorded_at: now,
            },
        )
        .await?;
    Ok(consent)
}
