//! The call (ACT-1): joining (gate + consent + state), the waiting room and admission by the
//! médecin, guests and their single-use links, and the chat.

use galien_access::Action;
use galien_core::ErrorCode;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef};
use galien_core::consultation::{AppointmentStatus, ParticipantKind, ParticipantState};
use galien_core::identity::{Actor, Role};
use galien_core::ids::{AppointmentId, AuditEventId, MessageId, ParticipantId, PatientId};
use galien_crypto::token::SecretToken;
use galien_store::{Appointment, NewMessage, NewParticipant, Participant};
use time::{Duration, OffsetDateTime};

use super::{Joiner, consultation_ref, key_for, keyed, permit_for};
use crate::patients::{open_text, place};
use crate::{App, AppError, RequestContext};

/// Most people in one call (a mesh: each page sends its media to every other).
pub const MAX_IN_CALL: usize = 4;
/// How long a guest link may wait to be used.
pub const GUEST_LINK_TTL: Duration = Duration::hours(24);
/// Longest guest label ("Interprète — M. Dupont"), in characters.
pub const MAX_GUEST_LABEL_CHARS: usize = 80;

/// What a page needs once it may take part.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The call.
    pub appointment: Appointment,
    /// The joiner's place.
    pub participant: ParticipantId,
    /// Who they are in the call.
    pub kind: ParticipantKind,
    /// The name shown to the others.
    pub name: String,
    /// Admitted (in the call) or waiting.
    pub admitted: bool,
}

fn name_of(app: &App, p: &Participant, key: &galien_crypto::envelope::DataKey) -> String {
    match (&p.name, &p.guest_label) {
        (Some(n), _) => n.clone(),
        (None, Some(sealed)) => open_text(
            key,
            sealed,
            &place("call_participants", &p.id.to_string(), "guest_label"),
        )
        .unwrap_or_else(|_| "Invité".to_owned()),
        (None, None) => {
            let _ = app;
            "Invité".to_owned()
        }
    }
}

/// Joins the call of `id`: the gate must grant `consultation.join` (traced), the call must not be
/// closed, and the patient must have consented. The médecin of the call is admitted at once; the
/// patient and guests wait to be admitted (someone already admitted, reconnecting, stays admitted).
pub async fn join(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    id: AppointmentId,
) -> Result<Ticket, AppError> {
    enter(app, joiner, ctx, id, true).await
}

/// The same checks as [`join`] (gate, closed call, consent), traced, without arriving in the
/// waiting room: for showing the call page before its socket opens.
pub async fn look(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    id: AppointmentId,
) -> Result<Ticket, AppError> {
    enter(app, joiner, ctx, id, false).await
}

async fn enter(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    id: AppointmentId,
    arrive: bool,
) -> Result<Ticket, AppError> {
    let appointment = app.store.appointment(id).await?;
    let participants = app.store.participants(id).await?;
    let mine = match joiner {
        Joiner::Person(actor) => participants.iter().find(|p| p.user == Some(actor.user)),
        Joiner::Guest(g) => participants.iter().find(|p| p.id == *g),
    }
    .cloned();
    let permit = permit_for(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        consultation_ref(id),
    )
    .await?;
    if appointment.status.is_final() {
        // The attempt is traced with its refusal.
        let mut t = permit.trace().clone();
        t.outcome = Outcome::Failure;
        t.reason = Some(format!("{}:{}", ErrorCode::CallClosed.as_str(), id));
        app.store.record_trace(&t).await?;
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let key = key_for(app, &permit).await?;
    let now = app.clock.now();
    // A professional of the act who is not yet a participant (a colleague joining) gets a place.
    let mine = match mine {
        Some(p) => p,
        None => {
            let Joiner::Person(actor) = joiner else {
                return Err(AppError::Refused(ErrorCode::AccessDenied));
            };
            let kind = if actor.user == appointment.practitioner {
                ParticipantKind::Practitioner
            } else if actor.role == Role::Patient {
                ParticipantKind::Patient
            } else {
                ParticipantKind::Guest
            };
            if kind == ParticipantKind::Guest {
                // Other professionals join as the médecin's guests, with their account.
                return Err(AppError::Refused(ErrorCode::AccessDenied));
            }
            return Err(AppError::Refused(if kind == ParticipantKind::Patient {
                ErrorCode::AccessDenied
            } else {
                ErrorCode::NotFound
            }));
        }
    };
    if mine.kind == ParticipantKind::Patient && appointment.consent.is_none() {
        app.store.record_trace(permit.trace()).await?;
        return Err(AppError::Refused(ErrorCode::ConsentRequired));
    }
    app.store.record_trace(permit.trace()).await?;
    let name = name_of(app, &mine, &key);
    let admitted = match (mine.kind, mine.state) {
        (ParticipantKind::Practitioner, _) if !arrive => true,
        (_, ParticipantState::Admitted) => true,
        _ if !arrive => false,
        (ParticipantKind::Practitioner, _) => {
            app.store
                .set_participant_state(mine.id, ParticipantState::Admitted, None, now)
                .await?;
            true
        }
        _ => {
            app.store
                .set_participant_state(mine.id, ParticipantState::Waiting, None, now)
                .await?;
            false
        }
    };
    Ok(Ticket {
        appointment,
        participant: mine.id,
        kind: mine.kind,
        name,
        admitted,
    })
}

/// Someone in the waiting room, as the médecin sees them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiting {
    /// Their place.
    pub participant: ParticipantId,
    /// Their name.
    pub name: String,
    /// Patient or guest.
    pub kind: &'static str,
    /// Since when (RFC 3339).
    pub since: String,
}

/// The waiting room of a call, for its médecin (read under the médecin's `consultation.join`
/// permit, since guests' names are sealed).
pub async fn waiting_room(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
) -> Result<Vec<Waiting>, AppError> {
    let appointment = app.store.appointment(id).await?;
    if appointment.practitioner != actor.user {
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let participants = app.store.participants(id).await?;
    let waiting: Vec<&Participant> = participants
        .iter()
        .filter(|p| p.state == ParticipantState::Waiting)
        .collect();
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let (permit, key) = keyed(
        app,
        &Joiner::Person(actor.clone()),
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        consultation_ref(id),
    )
    .await?;
    app.store.record_trace(permit.trace()).await?;
    Ok(waiting
        .into_iter()
        .map(|p| Waiting {
            participant: p.id,
            name: name_of(app, p, &key),
            kind: p.kind.as_str(),
            since: p
                .waiting_since
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// The médecin of the call admits someone waiting: the call starts (status in progress).
pub async fn admit(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
    participant: ParticipantId,
) -> Result<(), AppError> {
    let appointment = app.store.appointment(id).await?;
    let p = app.store.participant(participant).await?;
    if appointment.practitioner != actor.user || p.appointment != id {
        let permit = permit_for(
            app,
            &Joiner::Person(actor.clone()),
            ctx,
            appointment.patient,
            Action::ConsultationJoin,
            consultation_ref(id),
        )
        .await;
        if let Ok(permit) = permit {
            let mut t = permit.trace().clone();
            t.action = AuditAction::AccessDenied;
            t.outcome = Outcome::Denied;
            t.reason = Some("ACCESS-DENIED:consultation.admit".into());
            app.store.record_trace(&t).await?;
        }
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    let permit = permit_for(
        app,
        &Joiner::Person(actor.clone()),
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "consultation_admission".into(),
            id: participant.to_string(),
        }),
    )
    .await?;
    app.store.record_trace(permit.trace()).await?;
    let admitted = app
        .store
        .participants(id)
        .await?
        .iter()
        .filter(|q| q.state == ParticipantState::Admitted && q.id != participant)
        .count();
    if admitted >= MAX_IN_CALL {
        return Err(AppError::Refused(ErrorCode::CallFull));
    }
    if !app
        .store
        .set_participant_state(
            participant,
            ParticipantState::Admitted,
            Some(actor.user),
            app.clock.now(),
        )
        .await?
    {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let _ = app
        .store
        .bus()
        .publish(super::LOBBY_TOPIC, serde_json::json!({ "room": id }))
        .await;
    Ok(())
}

/// A guest invitation: the single-use link to hand to the guest (it carries no health data).
#[derive(Debug, Clone)]
pub struct GuestInvitation {
    /// Their place.
    pub participant: ParticipantId,
    /// The link, secret included: shown once.
    pub url: String,
    /// Until when it may be used.
    pub expires_at: OffsetDateTime,
}

/// The médecin of the call invites a guest for this call only (interpreter, relative, another
/// professional), under a `record.write` permit.
pub async fn invite_guest(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    id: AppointmentId,
    label: &str,
) -> Result<GuestInvitation, AppError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_GUEST_LABEL_CHARS {
        return Err(AppError::Refused(ErrorCode::FormInvalid));
    }
    let appointment = app.store.appointment(id).await?;
    if appointment.practitioner != actor.user {
        trace_refusal(
            app,
            Some(&Joiner::Person(actor.clone())),
            ctx,
            id,
            Some(appointment.patient),
            "ACCESS-DENIED:consultation.invite_guest",
        )
        .await?;
        return Err(AppError::Refused(ErrorCode::AccessDenied));
    }
    if appointment.status.is_final() {
        return Err(AppError::Refused(ErrorCode::CallClosed));
    }
    let now = app.clock.now();
    let participant = ParticipantId::generate(now, app.entropy.as_ref());
    let (permit, key) = keyed(
        app,
        &Joiner::Person(actor.clone()),
        ctx,
        appointment.patient,
        Action::RecordWrite,
        Some(ResourceRef {
            kind: "consultation_guest".into(),
            id: participant.to_string(),
        }),
    )
    .await?;
    let token = SecretToken::generate(app.entropy.as_ref());
    let expires_at = (now + GUEST_LINK_TTL).min(
        appointment.scheduled_at
            + Duration::minutes(i64::from(appointment.duration_minutes))
            + Duration::hours(12),
    );
    let expires_at = expires_at.max(now + Duration::hours(1));
    app.store
        .add_guest(
            permit,
            id,
            NewParticipant {
                id: participant,
                kind: ParticipantKind::Guest,
                user: None,
                guest_label: Some(key.seal(
                    label.as_bytes(),
                    &place("call_participants", &participant.to_string(), "guest_label"),
                    app.entropy.as_ref(),
                )),
                link_digest: Some(token.digest().as_bytes().to_vec()),
                link_expires_at: Some(expires_at),
                invited_by: Some(actor.user),
                created_at: now,
            },
        )
        .await?;
    Ok(GuestInvitation {
        participant,
        url: format!("{}/join/{}", app.settings.public_url, token.expose()),
        expires_at,
    })
}

/// A guest's session, opened by their link.
#[derive(Debug)]
pub struct GuestSession {
    /// The secret for the guest's cookie.
    pub token: SecretToken,
    /// The guest.
    pub participant: Participant,
}

/// Uses a guest link (once): opens the guest's session. A link used twice, expired or unknown is
/// `CALL-LINK-USED`, traced.
pub async fn use_guest_link(
    app: &App,
    ctx: &RequestContext,
    raw: &str,
) -> Result<GuestSession, AppError> {
    let now = app.clock.now();
    let digest = SecretToken::parse(raw)
        .map(|t| t.digest().as_bytes().to_vec())
        .unwrap_or_default();
    let session = SecretToken::generate(app.entropy.as_ref());
    match app
        .store
        .use_guest_link(digest, session.digest().as_bytes().to_vec(), now)
        .await?
    {
        Some(participant) => Ok(GuestSession {
            token: session,
            participant,
        }),
        None => {
            app.store
                .record_trace(&AuditEvent {
                    id: AuditEventId::generate(now, app.entropy.as_ref()),
                    at: now,
                    actor: AuditActor {
                        client: Some("guest-link".into()),
                        ..AuditActor::default()
                    },
                    action: AuditAction::AccessDenied,
                    outcome: Outcome::Denied,
                    resource: Some(ResourceRef {
                        kind: "consultation_guest_link".into(),
                        id: "-".into(),
                    }),
                    patient: None,
                    purpose: None,
                    emergency: false,
                    source: ctx.source(),
                    reason: Some(ErrorCode::GuestLinkUsed.as_str().into()),
                })
                .await?;
            Err(AppError::Refused(ErrorCode::GuestLinkUsed))
        }
    }
}

/// The guest of an open call whose session cookie this is.
pub async fn guest_of_session(app: &App, raw: &str) -> Result<Option<Participant>, AppError> {
    let Some(token) = SecretToken::parse(raw) else {
        return Ok(None);
    };
    Ok(app
        .store
        .guest_by_session(token.digest().as_bytes().to_vec())
        .await?)
}

/// A chat line as pages show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChatLine {
    /// Its id.
    pub id: MessageId,
    /// Who wrote it.
    pub participant: ParticipantId,
    /// Their name.
    pub name: String,
    /// The text.
    pub text: String,
    /// When (RFC 3339).
    pub at: String,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Posts a chat message (checked by the signaling parser), stored sealed, then announced to the
/// call's pages (ids only).
pub async fn chat(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
    participant: ParticipantId,
    text: &str,
) -> Result<MessageId, AppError> {
    let now = app.clock.now();
    let id = MessageId::generate(now, app.entropy.as_ref());
    let (permit, key) = keyed(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "consultation_message".into(),
            id: id.to_string(),
        }),
    )
    .await?;
    let body = key.seal(
        text.as_bytes(),
        &place("call_messages", &id.to_string(), "body"),
        app.entropy.as_ref(),
    );
    app.store
        .add_call_message(
            permit,
            NewMessage {
                id,
                appointment: appointment.id,
                participant,
                body,
                sent_at: now,
            },
        )
        .await?;
    let _ = app
        .store
        .bus()
        .publish(
            super::CONTENT_TOPIC,
            serde_json::json!({ "room": appointment.id, "chat": id }),
        )
        .await;
    Ok(id)
}

async fn names(
    app: &App,
    appointment: AppointmentId,
    key: &galien_crypto::envelope::DataKey,
) -> Result<std::collections::HashMap<ParticipantId, String>, AppError> {
    Ok(app
        .store
        .participants(appointment)
        .await?
        .iter()
        .map(|p| (p.id, name_of(app, p, key)))
        .collect())
}

/// One chat message, read under the joiner's own permit (each reader is traced).
pub async fn chat_line(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
    id: MessageId,
) -> Result<ChatLine, AppError> {
    let (permit, key) = keyed(
        app,
        joiner,
        ctx,
        appointment.patient,
        Action::ConsultationJoin,
        Some(ResourceRef {
            kind: "consultation_message".into(),
            id: id.to_string(),
        }),
    )
    .await?;
    let m = app.store.call_message(permit, appointment.id, id).await?;
    let names = names(app, appointment.id, &key).await?;
    Ok(ChatLine {
        id: m.id,
        participant: m.participant,
        name: names.get(&m.participant).cloned().unwrap_or_default(),
        text: open_text(
            &key,
            &m.body,
            &place("call_messages", &m.id.to_string(), "body"),
        )?,
        at: rfc3339(m.sent_at),
    })
}

/// The whole chat of a call (for a page that (re)joins, and for the record afterwards).
pub async fn chat_history(
    app: &App,
    joiner: &Joiner,
    ctx: &RequestContext,
    appointment: &Appointment,
) -> Result<Vec<ChatLine>, AppError> {
    let action = match joiner {
        Joiner::Person(a) if a.role.is_health_professional() && appointment.status.is_final() => {
            Action::RecordRead
        }
        _ => Action::ConsultationJoin,
    };
    let permit = permit_for(
        app,
        joiner,
        ctx,
        appointment.patient,
        action,
        consultation_ref(appointment.id),
    )
    .await?;
    let key = key_for(app, &permit).await?;
    let messages = app.store.call_messages(permit, appointment.id).await?;
    let names = names(app, appointment.id, &key).await?;
    messages
        .into_iter()
        .map(|m| {
            Ok(ChatLine {
                id: m.id,
                participant: m.participant,
                name: names.get(&m.participant).cloned().unwrap_or_default(),
                text: open_text(
                    &key,
                    &m.body,
                    &place("call_messages", &m.id.to_string(), "body"),
                )?,
                at: rfc3339(m.sent_at),
            })
        })
        .collect()
}

/// Whether the call of `id` is still open (for sockets checking their page may stay).
pub async fn is_open(app: &App, id: AppointmentId) -> Result<bool, AppError> {
    let a = app.store.appointment(id).await?;
    Ok(!a.status.is_final())
}

/// Marks the status of a call as seen by a practitioner page (unused statuses are refused).
pub fn may_rejoin(status: AppointmentStatus) -> bool {
    !status.is_final()
}

/// The patient of a call (for callers that only hold the id).
pub async fn patient_of(app: &App, id: AppointmentId) -> Result<PatientId, AppError> {
    Ok(app.store.appointment(id).await?.patient)
}

/// Traces a refusal that happens outside the gate (a socket without a session, a malformed
/// signaling frame): who (when known), which call, and the stable code.
pub async fn trace_refusal(
    app: &App,
    joiner: Option<&Joiner>,
    ctx: &RequestContext,
    id: AppointmentId,
    patient: Option<PatientId>,
    code: &str,
) -> Result<(), AppError> {
    let now = app.clock.now();
    let actor = match joiner {
        Some(Joiner::Person(a)) => AuditActor {
            user: Some(a.user),
            role: Some(a.role),
            assurance: Some(a.assurance),
            client: None,
        },
        Some(Joiner::Guest(p)) => AuditActor {
            client: Some(format!("guest:{p}")),
            ..AuditActor::default()
        },
        None => AuditActor::default(),
    };
    app.store
        .record_trace(&AuditEvent {
            id: AuditEventId::generate(now, app.entropy.as_ref()),
            at: now,
            actor,
            action: AuditAction::AccessDenied,
            outcome: Outcome::Denied,
            resource: Some(ResourceRef {
                kind: "consultation".into(),
                id: id.to_string(),
            }),
            patient,
            purpose: None,
            emergency: false,
            source: ctx.source(),
            reason: Some(code.to_owned()),
        })
        .await?;
    Ok(())
}
