//! The processing register entry (art. 30 GDPR) and the draft DPIA (AIPD, art. 35) of this
//! installation, written from its actual configuration (GDPR-1): who is responsible, which
//! purposes, which people and data, which recipients (the SIEM, the mail relay, the TURN relay,
//! the host, only when configured), how long data and traces are kept, and the security measures
//! in force with their settings. What the configuration cannot tell is marked "to complete"; a
//! setting that weakens a measure (no TLS, a self-signed certificate, traces kept past the
//! CNIL's year) is an attention point. The DPO reads it at `/dpo/register` and downloads it as
//! Markdown to file it.

use crate::identity::session::Current;
use crate::{App, AppError, RequestContext};
use galien_core::Lang;
use galien_core::audit::AuditAction;
use galien_core::identity::Role;
use galien_store::Backend;
use time::OffsetDateTime;

/// The register for the DPO or an administrator with a two-factor session; anyone else is
/// refused (`ACC-DENIED`), and the refusal traced. The register holds no personal data, so
/// reading it is not itself traced.
pub async fn for_officer(
    app: &App,
    ctx: &RequestContext,
    current: &Current,
    lang: Lang,
) -> Result<Register, AppError> {
    super::audit::require_role(
        app,
        ctx,
        current,
        &[Role::Dpo, Role::Administrateur],
        "compliance.register",
    )
    .await?;
    register(app, lang).await
}

/// The organisation as the configuration names it (`[organisation]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organisation {
    /// The data controller (responsable de traitement).
    pub name: Option<String>,
    /// Its postal address.
    pub address: Option<String>,
    /// The data protection officer's name.
    pub dpo_name: Option<String>,
    /// The DPO's e-mail address.
    pub dpo_email: Option<String>,
    /// The certified health data host (hébergeur HDS) running this installation.
    pub host: Option<String>,
}

/// How connections reach this installation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// TLS with the organisation's certificate.
    Tls,
    /// TLS with a generated, self-signed certificate (a trial).
    SelfSigned,
    /// Plain HTTP: TLS must be terminated in front of Galien.
    #[default]
    Plain,
}

/// What the register needs that the use cases do not: from the configuration, at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallationFacts {
    /// The organisation.
    pub organisation: Organisation,
    /// TLS.
    pub transport: Transport,
    /// Sign-in with a health professional card (TLS client certificate).
    pub client_certificates: bool,
    /// The SIEM collector the trail goes to (`host:port`), if any.
    pub siem: Option<String>,
    /// The SMTP relay notifications go through, if any.
    pub smtp: Option<String>,
    /// Days traces are kept.
    pub audit_retention_days: u32,
    /// Seconds between signed checkpoints of the trail.
    pub audit_checkpoint_secs: u64,
}

/// One line of the register: a label and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What this is.
    pub label: String,
    /// What the installation does, one statement per line.
    pub lines: Vec<String>,
    /// The configuration does not say (to complete), or a setting weakens a measure.
    pub attention: bool,
}

/// A part of the register or of the DPIA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its anchor (`organisation`, `purposes`…).
    pub id: &'static str,
    /// Its title.
    pub title: String,
    /// Its lines.
    pub items: Vec<Item>,
}

/// The register entry and the draft DPIA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// When it was written.
    pub generated_at: OffsetDateTime,
    /// The register entry's sections.
    pub register: Vec<Section>,
    /// The DPIA draft's sections.
    pub dpia: Vec<Section>,
    /// What the DPO should look at first: items to complete and weakened measures.
    pub attention: Vec<String>,
}

struct Words(Lang);

impl Words {
    fn s(&self, fr: &str, en: &str) -> String {
        match self.0 {
            Lang::Fr => fr.to_owned(),
            Lang::En => en.to_owned(),
        }
    }
}

fn item(label: String, lines: Vec<String>) -> Item {
    Item {
        label,
        lines,
        attention: false,
    }
}

fn flagged(label: String, lines: Vec<String>) -> Item {
    Item {
        label,
        lines,
        attention: true,
    }
}

/// The backups the audit trail records over the last 30 days: how many, and the last one's time.
async fn recent_backups(app: &App) -> Result<(usize, Option<OffsetDateTime>), AppError> {
    let filter = galien_store::AuditFilter {
        action: Some(AuditAction::BackupCreated),
        from: Some(app.clock.now() - time::Duration::days(30)),
        limit: Some(1000),
        ..galien_store::AuditFilter::default()
    };
    let found = app.store.audit_events(&filter).await?;
    Ok((found.len(), found.last().map(|e| e.event.at)))
}

/// The register of `app`'s installation, in `lang`; the backups come from the audit trail.
pub async fn register(app: &App, lang: Lang) -> Result<Register, AppError> {
    let backups = recent_backups(app).await?;
    let s = &app.settings;
    let facts = &s.installation;
    let w = Words(lang);
    let to_complete = w.s(
        "À compléter (non renseigné dans la configuration)",
        "To complete (not in the configuration)",
    );
    let given = |v: &Option<String>, key: &str| -> (Vec<String>, bool) {
        match v {
            Some(v) => (vec![v.clone()], false),
            None => (vec![format!("{to_complete} : `organisation.{key}`")], true),
        }
    };
    let row = |label: String, (lines, attention): (Vec<String>, bool)| Item {
        label,
        lines,
        attention,
    };
    let org = &facts.organisation;
    let days = facts.audit_retention_days;
    let mins = |d: time::Duration| d.whole_minutes();

    // --- the register entry ---
    let controller = Section {
        id: "organisation",
        title: w.s(
            "Responsable du traitement et délégué à la protection des données",
            "Controller and data protection officer",
        ),
        items: vec![
            row(
                w.s("Responsable du traitement", "Controller"),
                given(&org.name, "name"),
            ),
            row(w.s("Adresse", "Address"), given(&org.address, "address")),
            row(
                w.s(
                    "Délégué à la protection des données",
                    "Data protection officer",
                ),
                given(&org.dpo_name, "dpo_name"),
            ),
            row(
                w.s("Contact du délégué", "DPO contact"),
                given(&org.dpo_email, "dpo_email"),
            ),
        ],
    };
    let purposes = Section {
        id: "purposes",
        title: w.s("Finalités et base légale", "Purposes and legal basis"),
        items: vec![
            item(
                w.s("Finalités", "Purposes"),
                vec![
                    w.s(
                        "Pratique de la télémédecine (art. R.6316-1 du code de la santé publique) : téléconsultation (rendez-vous, salle d'attente, vidéo, messagerie de la consultation, documents partagés, compte rendu, ordonnance)",
                        "Practice of telemedicine (French public health code, art. R.6316-1): teleconsultation (appointments, waiting room, video, consultation chat, shared documents, report, prescription)",
                    ),
                    format!(
                        "{} : {}",
                        w.s(
                            "Télésurveillance médicale, programmes",
                            "Medical telemonitoring, programmes"
                        ),
                        crate::telemonitoring::Programme::ALL
                            .iter()
                            .map(|p| match lang {
                                Lang::Fr => p.label_fr(),
                                Lang::En => p.label_en(),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    w.s(
                        "Tenue du dossier des patients pris en charge (identité, notes cliniques, équipe de soins, consentements)",
                        "Keeping the records of the patients in care (identity, clinical notes, care team, consents)",
                    ),
                    w.s(
                        "Sécurité du système d'information : traçabilité des accès, détection d'anomalies, gestion des incidents",
                        "Information system security: access traces, anomaly detection, incident handling",
                    ),
                ],
            ),
            item(
                w.s("Base légale", "Legal basis"),
                vec![w.s(
                    "Mission d'intérêt public ou obligation légale (art. 6.1.e / 6.1.c RGPD) ; données de santé traitées aux fins de diagnostic et de prise en charge sanitaire par des professionnels soumis au secret (art. 9.2.h et 9.3 RGPD) ; consentement à l'acte de télémédecine recueilli et enregistré",
                    "Public interest task or legal obligation (GDPR art. 6.1.e / 6.1.c); health data processed for diagnosis and care by professionals bound by secrecy (GDPR art. 9.2.h and 9.3); consent to the telemedicine act collected and recorded",
                )],
            ),
        ],
    };
    let people = Section {
        id: "people",
        title: w.s(
            "Personnes concernées et catégories de données",
            "Data subjects and data categories",
        ),
        items: vec![
            item(
                w.s("Personnes concernées", "Data subjects"),
                vec![
                    w.s("Patients", "Patients"),
                    w.s(
                        "Professionnels de santé et personnels de l'organisation titulaires d'un compte",
                        "Health professionals and staff with an account",
                    ),
                    w.s(
                        "Tiers invités à une téléconsultation (interprète, proche)",
                        "Third parties invited to a teleconsultation (interpreter, relative)",
                    ),
                ],
            ),
            item(
                w.s("Données", "Data"),
                vec![
                    w.s(
                        "Identité : noms, prénoms, sexe, date et lieu de naissance, statut de l'identité INS ; coordonnées",
                        "Identity: names, first names, sex, date and place of birth, INS identity status; contact details",
                    ),
                    w.s(
                        "NIR (numéro de sécurité sociale) : chiffré, retrouvé par un index aveugle à clé, montré aux seuls rôles et motifs qui en ont besoin",
                        "NIR (social security number): encrypted, found through a keyed blind index, shown only to the roles and purposes that need it",
                    ),
                    w.s(
                        "Données de santé : notes cliniques, mesures de télésurveillance et alertes, documents, comptes rendus et ordonnances de téléconsultation",
                        "Health data: clinical notes, telemonitoring measurements and alerts, teleconsultation documents, reports and prescriptions",
                    ),
                    w.s(
                        "Relations de soins, consentements, rendez-vous",
                        "Care relationships, consents, appointments",
                    ),
                    w.s(
                        "Comptes : identifiant RPPS/ADELI, adresse de connexion, facteurs d'authentification (jamais en clair), traces de connexion et d'accès",
                        "Accounts: RPPS/ADELI number, sign-in address, authentication factors (never in clear), sign-in and access traces",
                    ),
                ],
            ),
        ],
    };
    let mut recipients = vec![
        w.s(
            "Professionnels de santé habilités ayant une relation de soins avec le patient, dans la limite de leur rôle",
            "Authorised health professionals in a care relationship with the patient, within their role",
        ),
        w.s(
            "Le patient lui-même (son dossier et la liste de qui l'a consulté)",
            "The patients themselves (their record and who accessed it)",
        ),
        w.s(
            "Le délégué à la protection des données : traces et incidents, sans contenu clinique",
            "The data protection officer: traces and incidents, without clinical content",
        ),
    ];
    if let Some(siem) = &facts.siem {
        recipients.push(format!(
            "{} ({siem})",
            w.s(
                "Le SIEM de l'organisation reçoit les traces (identifiants et codes, jamais de données de santé)",
                "The organisation's SIEM receives the traces (ids and codes, never health data)",
            )
        ));
    }
    if let Some(smtp) = &facts.smtp {
        recipients.push(format!(
            "{} ({smtp})",
            w.s(
                "Le relais de messagerie transmet les notifications (un lien, jamais de donnée de santé)",
                "The mail relay carries notifications (a link, never health data)",
            )
        ));
    }
    if !s.ice.turn_urls.is_empty() {
        recipients.push(format!(
            "{} ({})",
            w.s(
                "Le relais TURN achemine les flux audio et vidéo chiffrés de bout en bout (DTLS-SRTP)",
                "The TURN relay carries the audio and video streams, encrypted end to end (DTLS-SRTP)",
            ),
            s.ice.turn_urls.join(", ")
        ));
    }
    let host = match &org.host {
        Some(h) => item(
            w.s("Hébergement", "Hosting"),
            vec![format!(
                "{h} — {}",
                w.s(
                    "hébergeur de données de santé (certification HDS, art. L.1111-8 CSP)",
                    "health data host (HDS certification, French public health code art. L.1111-8)",
                )
            )],
        ),
        None => flagged(
            w.s("Hébergement", "Hosting"),
            vec![format!(
                "{to_complete} : `organisation.host` — {}",
                w.s(
                    "l'hébergeur doit être certifié HDS (art. L.1111-8 CSP)",
                    "the host must be HDS certified (French public health code art. L.1111-8)",
                )
            )],
        ),
    };
    let recipients = Section {
        id: "recipients",
        title: w.s("Destinataires et transferts", "Recipients and transfers"),
        items: vec![
            item(w.s("Destinataires", "Recipients"), recipients),
            host,
            flagged(
                w.s(
                    "Transferts hors de l'Union européenne",
                    "Transfers outside the EU",
                ),
                vec![w.s(
                    "Aucun par Galien ; à vérifier pour l'hébergeur et les relais ci-dessus",
                    "None by Galien; to check for the host and the relays above",
                )],
            ),
        ],
    };
    let mut trace_lines = vec![format!(
        "{days} {}",
        w.s(
            "jours, puis purge par `galien audit purge` (marqueur signé)",
            "days, then purged by `galien audit purge` (signed marker)",
        )
    )];
    let long_traces = !(180..=365).contains(&days);
    if long_traces {
        trace_lines.push(w.s(
            "Point d'attention : la CNIL recommande de 6 mois à 1 an (délibération 2021-122)",
            "Attention: the CNIL recommends 6 months to 1 year (deliberation 2021-122)",
        ));
    }
    let retention = Section {
        id: "retention",
        title: w.s("Durées de conservation", "Retention"),
        items: vec![
            item(
                w.s("Dossier médical", "Medical record"),
                vec![w.s(
                    "20 ans après le dernier acte (art. R.1112-7 CSP), puis effacement définitif par destruction de la clé du patient, tracé",
                    "20 years after the last act (French public health code art. R.1112-7), then erased for good by destroying the patient's key, traced",
                )],
            ),
            Item {
                label: w.s("Traces d'accès", "Access traces"),
                lines: trace_lines,
                attention: long_traces,
            },
            item(
                w.s("Sessions", "Sessions"),
                vec![format!(
                    "{} {} {}, {} {} h",
                    w.s("fermées après", "closed after"),
                    mins(s.auth.idle_timeout),
                    w.s("min d'inactivité", "min idle"),
                    w.s("au plus", "at most"),
                    s.auth.absolute_timeout.whole_hours()
                )],
            ),
        ],
    };

    // --- the security measures, shared by the register and the DPIA ---
    let mut auth = vec![
        w.s(
            "Comptes personnels, un par numéro RPPS/ADELI et par adresse ; aucun compte partagé",
            "Personal accounts, one per RPPS/ADELI number and per address; no shared account",
        ),
        w.s(
            "Mot de passe conforme à la délibération CNIL 2022-100, haché avec Argon2id, et second facteur : code TOTP ou clé de sécurité / passkey (WebAuthn)",
            "Password per CNIL deliberation 2022-100, hashed with Argon2id, and a second factor: TOTP code or security key / passkey (WebAuthn)",
        ),
        format!(
            "{} {} {} {} min",
            w.s("Verrouillage après", "Locked after"),
            s.auth.lock_threshold,
            w.s("échecs, pendant", "failures, for"),
            mins(s.auth.lock_window)
        ),
    ];
    if let Some(oidc) = &s.oidc {
        auth.push(format!(
            "{} {} ({}, acr {})",
            w.s("Connexion par", "Sign-in through"),
            oidc.label,
            oidc.issuer,
            oidc.acr_values
        ));
    }
    if facts.client_certificates {
        auth.push(w.s(
            "Connexion par carte CPS (certificat client TLS d'une autorité de santé)",
            "Sign-in with a CPS card (TLS client certificate from a health authority)",
        ));
    }
    let transport = match facts.transport {
        Transport::Tls => item(
            w.s("Chiffrement des échanges", "Encryption in transit"),
            vec![w.s(
                "TLS avec le certificat de l'organisation, HSTS, en-têtes de sécurité stricts",
                "TLS with the organisation's certificate, HSTS, strict security headers",
            )],
        ),
        Transport::SelfSigned => flagged(
            w.s("Chiffrement des échanges", "Encryption in transit"),
            vec![w.s(
                "Point d'attention : TLS avec un certificat auto-signé (essai) ; installer le certificat de l'organisation",
                "Attention: TLS with a self-signed certificate (trial); install the organisation's certificate",
            )],
        ),
        Transport::Plain => flagged(
            w.s("Chiffrement des échanges", "Encryption in transit"),
            vec![w.s(
                "Point d'attention : Galien écoute sans TLS ; TLS doit être terminé par un relais frontal, sinon les échanges circulent en clair",
                "Attention: Galien listens without TLS; TLS must be terminated by a front proxy, or the exchanges travel in clear",
            )],
        ),
    };
    let mut traces = vec![
        format!(
            "{} {} s",
            w.s(
                "Chaque accès aux données de santé, accordé ou refusé, est tracé dans un journal chaîné (SHA-256), avec des points de contrôle signés (Ed25519) toutes les",
                "Every access to health data, granted or refused, is traced in a hash-chained trail (SHA-256), with signed checkpoints (Ed25519) every",
            ),
            facts.audit_checkpoint_secs
        ),
        format!(
            "{} {} {} {} min ; {} {} {} min ; {} {} {} min ; {} {}h–{}h",
            w.s("Alertes :", "Alerts:"),
            s.anomaly.many_patients,
            w.s(
                "patients ouverts par une personne en",
                "patients opened by one person in"
            ),
            s.anomaly.many_patients_window.whole_minutes(),
            s.anomaly.failed_logins,
            w.s("échecs de connexion en", "failed sign-ins in"),
            s.anomaly.failed_logins_window.whole_minutes(),
            s.anomaly.exports,
            w.s("exports en", "exports in"),
            s.anomaly.exports_window.whole_minutes(),
            w.s("accès hors des heures", "accesses outside"),
            s.anomaly.working_hours.0,
            s.anomaly.working_hours.1
        ),
        w.s(
            "Le patient voit qui a consulté son dossier, quand et pourquoi",
            "Patients see who accessed their record, when and why",
        ),
    ];
    if facts.siem.is_some() {
        traces.push(w.s(
            "Traces transmises au SIEM (syslog sur TLS)",
            "Traces forwarded to the SIEM (syslog over TLS)",
        ));
    }
    let database = match app.store.backend() {
        Backend::Sqlite => w.s(
            "SQLite sur le serveur de Galien (mode WAL, écritures synchronisées sur disque)",
            "SQLite on Galien's server (WAL mode, writes synced to disk)",
        ),
        Backend::Postgres => w.s(
            "PostgreSQL partagé par les nœuds de Galien",
            "PostgreSQL shared by Galien's nodes",
        ),
    };
    let measures = Section {
        id: "measures",
        title: w.s("Mesures de sécurité", "Security measures"),
        items: vec![
            item(w.s("Authentification forte", "Strong authentication"), auth),
            item(
                w.s("Habilitations", "Authorisations"),
                vec![
                    w.s(
                        "Moindre privilège : politiques d'accès par rôle et relation de soins (Cedar), toute lecture ou écriture de données de santé passe par la même barrière d'accès",
                        "Least privilege: access policies by role and care relationship (Cedar); every read or write of health data goes through the same access gate",
                    ),
                    format!(
                        "{} {} min, {}",
                        w.s(
                            "Accès d'urgence (bris de glace) motivé, limité à",
                            "Emergency access (break-the-glass) with a reason, limited to",
                        ),
                        mins(s.emergency_access),
                        w.s("revu par le DPO", "reviewed by the DPO")
                    ),
                ],
            ),
            item(
                w.s("Chiffrement des données", "Encryption at rest"),
                vec![
                    w.s(
                        "Données de santé et identifiants chiffrés (XChaCha20-Poly1305), une clé par patient, elle-même chiffrée par des clés de chiffrement de clés séparées de la base, renouvelables sans perte (`galien keys rotate`)",
                        "Health data and identifiers encrypted (XChaCha20-Poly1305), one key per patient, itself wrapped by key-encryption keys kept apart from the database, rotatable without loss (`galien keys rotate`)",
                    ),
                    database,
                ],
            ),
            transport,
            item(w.s("Traçabilité", "Traceability"), traces),
            backup_item(&w, backups, s.time_zone, app.clock.now()),
        ],
    };

    // --- the DPIA draft ---
    let risk =
        |id: &'static str, title: String, sources: String, effects: String, lines: Vec<String>| {
            Section {
                id,
                title,
                items: vec![
                    item(w.s("Sources de risque", "Risk sources"), vec![sources]),
                    item(
                        w.s("Impacts sur les personnes", "Impacts on people"),
                        vec![effects],
                    ),
                    item(w.s("Mesures en place", "Measures in force"), lines),
                    flagged(
                        w.s("Gravité et vraisemblance", "Severity and likelihood"),
                        vec![w.s(
                            "À évaluer par le responsable du traitement avec le DPO",
                            "To assess by the controller with the DPO",
                        )],
                    ),
                ],
            }
        };
    let items_of = |section: &Section, ids: &[usize]| -> Vec<String> {
        ids.iter()
            .filter_map(|i| section.items.get(*i))
            .flat_map(|i| i.lines.iter().cloned())
            .collect()
    };
    let dpia = vec![
        Section {
            id: "context",
            title: w.s("Contexte et proportionnalité", "Context and proportionality"),
            items: vec![
                item(
                    w.s("Traitement", "Processing"),
                    vec![w.s(
                        "Plateforme de télémédecine Galien, décrite par la fiche de registre ci-dessus",
                        "The Galien telemedicine platform, as the register entry above describes it",
                    )],
                ),
                item(
                    w.s("Minimisation", "Minimisation"),
                    vec![
                        w.s(
                            "Chaque rôle ne voit que ce que sa mission exige (le secrétariat voit l'identité, pas les notes ; l'administrateur ne voit aucun dossier ; le DPO voit les traces sans contenu clinique)",
                            "Each role sees only what its task needs (the secretariat sees identities, not notes; the administrator sees no record; the DPO sees traces without clinical content)",
                        ),
                        w.s(
                            "Les journaux techniques ne contiennent ni données personnelles ni chemins d'accès",
                            "Technical logs hold neither personal data nor paths",
                        ),
                    ],
                ),
                item(
                    w.s("Droits des personnes", "Data subjects' rights"),
                    vec![w.s(
                        "Consentement à l'acte enregistré (qui, quand, pour quoi) ; le patient consulte son dossier et la liste des accès",
                        "Consent to the act recorded (who, when, what for); patients read their record and the list of accesses",
                    )],
                ),
            ],
        },
        risk(
            "risk-access",
            w.s("Risque : accès illégitime aux données", "Risk: illegitimate access to data"),
            w.s(
                "Personnel curieux ou malveillant, compte volé, attaquant externe, vol de la base ou d'une sauvegarde",
                "Curious or malicious staff, stolen account, outside attacker, theft of the database or of a backup",
            ),
            w.s(
                "Atteinte au secret médical, discrimination, atteinte à la réputation",
                "Breach of medical secrecy, discrimination, harm to reputation",
            ),
            [
                items_of(&measures, &[0, 1, 2]),
                measures.items.get(3).map(|t| t.lines.clone()).unwrap_or_default(),
            ]
            .concat(),
        ),
        risk(
            "risk-change",
            w.s("Risque : modification non désirée des données", "Risk: unwanted change of data"),
            w.s(
                "Erreur de saisie, professionnel non habilité, altération de la base",
                "Input error, unauthorised professional, tampering with the database",
            ),
            w.s(
                "Erreur de prise en charge, décision médicale sur des données fausses",
                "Care error, medical decision on false data",
            ),
            [
                items_of(&measures, &[1, 4]),
                vec![w.s(
                    "Chiffrement authentifié lié à la place de chaque valeur : une valeur déplacée ou altérée ne s'ouvre pas",
                    "Authenticated encryption bound to each value's place: a moved or altered value does not open",
                )],
            ]
            .concat(),
        ),
        risk(
            "risk-loss",
            w.s("Risque : disparition des données", "Risk: loss of data"),
            w.s(
                "Panne, sinistre, rançongiciel, erreur d'exploitation, perte de la clé maîtresse",
                "Failure, disaster, ransomware, operating error, loss of the master key",
            ),
            w.s(
                "Perte de l'historique médical, interruption des soins",
                "Loss of the medical history, interruption of care",
            ),
            [
                items_of(&measures, &[5]),
                vec![w.s(
                    "Toute écriture confirmée est durable (arrêt brutal testé) ; la clé maîtresse doit être conservée hors ligne, à part des sauvegardes",
                    "Every acknowledged write is durable (hard kill tested); the master key must be kept offline, apart from the backups",
                )],
            ]
            .concat(),
        ),
    ];

    let register = vec![
        controller, purposes, people, recipients, retention, measures,
    ];
    let attention = register
        .iter()
        .chain(dpia.iter().take(1))
        .flat_map(|s| s.items.iter())
        .filter(|i| i.attention)
        .map(|i| format!("{} — {}", i.label, i.lines.join(" ; ")))
        .collect();
    Ok(Register {
        generated_at: app.clock.now(),
        register,
        dpia,
        attention,
    })
}

/// The backups line: the measure, and what the trail shows of it; none in a week is an attention
/// point.
fn backup_item(
    w: &Words,
    (count, last): (usize, Option<OffsetDateTime>),
    zone: galien_core::Zone,
    now: OffsetDateTime,
) -> Item {
    let mut lines = vec![w.s(
        "`galien backup create` : sauvegardes chiffrées sous la clé maîtresse, conservée à part ; `galien backup verify` prouve la restauration",
        "`galien backup create`: backups encrypted under the master key, kept apart; `galien backup verify` proves they restore",
    )];
    let recent = last.is_some_and(|at| now - at <= time::Duration::days(7));
    match last {
        Some(at) => lines.push(format!(
            "{} {} ({count} {})",
            w.s("Dernière sauvegarde tracée :", "Last backup traced:"),
            zone.local(at).date(),
            w.s("sur les 30 derniers jours", "over the last 30 days")
        )),
        None => lines.push(w.s(
            "Aucune sauvegarde tracée sur les 30 derniers jours",
            "No backup traced over the last 30 days",
        )),
    }
    if !recent {
        lines.push(w.s(
            "Point d'attention : pas de sauvegarde depuis plus de 7 jours ; planifiez `galien backup create` (et `galien backup verify`)",
            "Attention: no backup for more than 7 days; schedule `galien backup create` (and `galien backup verify`)",
        ));
    }
    Item {
        label: w.s("Sauvegardes", "Backups"),
        lines,
        attention: !recent,
    }
}

impl Register {
    /// The register and the DPIA as a Markdown document, to file or to edit.
    pub fn to_markdown(&self, lang: Lang, generated: &str) -> String {
        let w = Words(lang);
        let mut out = format!(
            "# {}\n\n{}\n",
            w.s(
                "Registre des activités de traitement et projet d'AIPD — Galien",
                "Processing register and draft DPIA — Galien",
            ),
            generated
        );
        if !self.attention.is_empty() {
            out.push_str(&format!(
                "\n## {}\n\n",
                w.s("Points d'attention", "Attention points")
            ));
            for a in &self.attention {
                out.push_str(&format!("- {a}\n"));
            }
        }
        for (part, sections) in [
            (
                w.s(
                    "Fiche de registre (art. 30 RGPD)",
                    "Register entry (GDPR art. 30)",
                ),
                &self.register,
            ),
            (
                w.s(
                    "Projet d'analyse d'impact (AIPD, art. 35 RGPD)",
                    "Draft data protection impact assessment (DPIA, GDPR art. 35)",
                ),
                &self.dpia,
            ),
        ] {
            out.push_str(&format!("\n## {part}\n"));
            for s in sections {
                out.push_str(&format!("\n### {}\n\n", s.title));
                for i in &s.items {
                    let mark = if i.attention { " ⚠" } else { "" };
                    out.push_str(&format!("**{}**{mark}\n\n", i.label));
                    for l in &i.lines {
                        out.push_str(&format!("- {l}\n"));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}
