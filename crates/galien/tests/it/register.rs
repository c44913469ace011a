//! The processing register entry and the draft DPIA (GDPR-1), as the DPO reads and downloads them:
//! written from the installation's actual configuration (the organisation, the traces' retention,
//! TLS, the mail relay), with what the configuration does not say marked to complete and the
//! settings that weaken a measure flagged; in French and in English; for the DPO and the
//! administrator only, a refusal traced for anyone else.

use galien_core::Clock;
use galien_core::ManualClock;
use galien_core::audit::{AuditAction, AuditActor, AuditEvent, Outcome, ResourceRef, Source};
use galien_core::ids::AuditEventId;
use galien_store::{AuditFilter, Backend};
use galien_testkit::people::{self, Inviter};
use galien_testkit::{Options, TestServer};
use std::sync::Arc;
use time::macros::datetime;

struct World {
    s: TestServer,
    clock: Arc<ManualClock>,
    admin: people::Enrolled,
    dpo: people::Enrolled,
    doc: people::Enrolled,
}

async fn world(settings: Vec<(&'static str, toml::Value)>) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 09:00 UTC)));
    let s = TestServer::start_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            settings,
            ..Options::default()
        },
    )
    .await;
    let admin = people::enrol_first_admin(&s, &clock).await;
    let inviter = Inviter::new(&s, &clock, &admin);
    let dpo = inviter
        .person("dpo", "Delphine Po", "dpo@galien.test", None)
        .await;
    let doc = inviter
        .person(
            "medecin",
            "Dr Bernard Martin",
            "b.martin@galien.test",
            Some("1000000042"),
        )
        .await;
    World {
        s,
        clock,
        admin,
        dpo,
        doc,
    }
}

fn text(v: &str) -> toml::Value {
    toml::Value::String(v.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdpr1_register_and_dpia_are_written_from_the_configuration() {
    let w = world(vec![
        (
            "organisation.name",
            text("Centre hospitalier de Lannion-Trestel"),
        ),
        (
            "organisation.address",
            text("Rue de Kergomar\n22300 Lannion"),
        ),
        ("organisation.dpo_name", text("Delphine Po")),
        ("organisation.dpo_email", text("dpo@ch-lannion.example.fr")),
        ("audit.retention_days", toml::Value::Integer(730)),
        ("smtp.host", text("smtp.ch-lannion.example.fr")),
        ("smtp.from", text("galien@ch-lannion.example.fr")),
    ])
    .await;
    let dpo = &w.dpo.agent;
    let page = dpo.get("/dpo/register").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for said in [
        "Centre hospitalier de Lannion-Trestel",
        "dpo@ch-lannion.example.fr",
        // The traces' retention as configured, flagged: past the CNIL's year.
        "730 jours",
        "la CNIL recommande de 6 mois à 1 an",
        // The mail relay is a recipient, named.
        "smtp.ch-lannion.example.fr",
        // The host is not in the configuration: to complete, its key shown as code.
        "<code>organisation.host</code>",
        // Plain HTTP here: TLS must be in front.
        "Galien écoute sans TLS",
        // The measures in force, with their settings (the defaults).
        "fermées après 15 min d'inactivité",
        "Verrouillage après 10 échecs",
        "SQLite",
        // The DPIA's three risks.
        "id=\"risk-access\"",
        "id=\"risk-change\"",
        "id=\"risk-loss\"",
    ] {
        assert!(page.has(said), "the register says {said:?}: {}", page.body);
    }
    // Nothing that is not configured: no SIEM, no TURN relay, no OpenID Connect, no CPS card.
    for unsaid in [
        "SIEM de l'organisation reçoit",
        "relais TURN",
        "Connexion par carte CPS",
    ] {
        assert!(!page.has(unsaid), "{unsaid}");
    }
    assert!(
        page.has("href=\"/dpo/register\""),
        "in the DPO's navigation"
    );

    // The same as Markdown, to file.
    let r = dpo.get("/dpo/register.md").await;
    assert_eq!(r.status, 200);
    let header = |name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/markdown; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"registre-galien-2026-11-28.md\""
    );
    assert_eq!(header("cache-control"), "no-store");
    let md = r.body.clone();
    assert!(
        md.starts_with("# Registre des activités de traitement"),
        "{md}"
    );
    assert!(md.contains("### Durées de conservation") && md.contains("730 jours"));
    assert!(md.contains("**Hébergement** ⚠"), "{md}");

    // In English.
    let en = dpo.get("/lang/en?next=/dpo/register").await;
    assert_eq!(en.location(), Some("/dpo/register"));
    let page = dpo.get("/dpo/register").await;
    assert!(
        page.has("Processing register and DPIA")
            && page.has("730 days")
            && page.has("Chronic heart failure"),
        "{}",
        page.body
    );

    // The administrator reads it too; a médecin is refused, and the refusal is traced.
    assert_eq!(w.admin.agent.get("/dpo/register").await.status, 200);
    let refused = w.doc.agent.get("/dpo/register").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.has("ACC-DENIED"));
    let denied =
        w.s.store
            .audit_events(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.event.action == AuditAction::AccessDenied
                    && e.event.outcome == Outcome::Denied
                    && e.event.reason.as_deref() == Some("compliance.register")
            })
            .count();
    assert_eq!(denied, 1);
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdpr1_an_unnamed_organisation_is_to_complete() {
    let w = world(Vec::new()).await;
    let page = w.dpo.agent.get("/dpo/register").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for key in [
        "organisation.name",
        "organisation.address",
        "organisation.dpo_name",
        "organisation.dpo_email",
        "organisation.host",
    ] {
        assert!(page.has(key), "{key} to complete: {}", page.body);
    }
    // The default retention (365 days) is within the CNIL's recommendation: not flagged.
    assert!(page.has("365 jours") && !page.has("la CNIL recommande"));
    // No mail relay configured: none named.
    assert!(!page.has("relais de messagerie"));
    // No backup in the trail: an attention point.
    assert!(
        page.has("Aucune sauvegarde tracée sur les 30 derniers jours")
            && page.has("pas de sauvegarde depuis plus de 7 jours"),
        "{}",
        page.body
    );
    // Once the trail records one (as `galien backup create` does), the register shows it.
    let at = w.clock.now() - time::Duration::days(2);
    w.s.store
        .append_audit(&AuditEvent {
            id: AuditEventId::generate(at, &galien_core::OsEntropy),
            at,
            actor: AuditActor {
                client: Some("galien-cli".into()),
                ..AuditActor::default()
            },
            action: AuditAction::BackupCreated,
            outcome: Outcome::Success,
            resource: Some(ResourceRef {
                kind: "backup".into(),
                id: "7a1c9a64-5d0e-4a53-9f5e-2b0f3c1f0d11".into(),
            }),
            patient: None,
            purpose: Some("operations".into()),
            emergency: false,
            source: Source::default(),
            reason: Some("BACKUP:sqlite:483890".into()),
        })
        .await
        .unwrap();
    let page = w.dpo.agent.get("/dpo/register").await;
    assert!(
        page.has("Dernière sauvegarde tracée : 2026-11-26 (1 sur les 30 derniers jours)")
            && !page.has("pas de sauvegarde depuis plus de 7 jours"),
        "{}",
        page.body
    );
    w.s.stop().await;
}
