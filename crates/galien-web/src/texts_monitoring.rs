//! Texts of the telemonitoring pages (ACT-3): the professionals' board of alerts, a patient's
//! charts, the patient's own measurements, and the "Télésurveillance" section of a record's summary.
//! Same shape as `texts.rs`: (key, French, English). A `{}` in a text is replaced by the page, in
//! order. Keys named in Rust code are checked by the test below.

/// (key, French, English)
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("nav.monitoring", "Télésurveillance", "Telemonitoring"),
    ("nav.my_measures", "Mes mesures", "My measurements"),
    // The board.
    (
        "monitoring.board.title",
        "Télésurveillance : alertes",
        "Telemonitoring: alerts",
    ),
    (
        "monitoring.board.lead",
        "Les alertes ouvertes des patients que vous surveillez, les plus graves et les plus anciennes d'abord. La liste se met à jour d'elle-même.",
        "Open alerts of the patients you monitor, most severe and oldest first. The list updates itself.",
    ),
    ("monitoring.board.open", "Alertes ouvertes", "Open alerts"),
    (
        "monitoring.board.caption",
        "Alertes ouvertes, les plus graves et les plus anciennes d'abord",
        "Open alerts, most severe and oldest first",
    ),
    (
        "monitoring.board.none",
        "Aucune alerte ouverte.",
        "No open alert.",
    ),
    ("monitoring.col.patient", "Patient", "Patient"),
    ("monitoring.col.severity", "Gravité", "Severity"),
    ("monitoring.col.measure", "Mesure", "Measurement"),
    ("monitoring.col.rule", "Alerte", "Alert"),
    ("monitoring.col.since", "Depuis", "Since"),
    ("monitoring.col.status", "État", "Status"),
    ("monitoring.col.actions", "Actions", "Actions"),
    ("monitoring.severity.high", "Élevée", "High"),
    ("monitoring.severity.medium", "Moyenne", "Medium"),
    ("monitoring.severity.low", "Faible", "Low"),
    ("monitoring.status.open", "Nouvelle", "New"),
    (
        "monitoring.status.acknowledged",
        "Prise en charge",
        "Being handled",
    ),
    (
        "monitoring.rule.threshold_low",
        "Sous le seuil bas",
        "Below the low threshold",
    ),
    (
        "monitoring.rule.threshold_high",
        "Au-dessus du seuil haut",
        "Above the high threshold",
    ),
    (
        "monitoring.rule.trend_weight_gain",
        "Prise de poids rapide (+2 kg en 3 jours)",
        "Rapid weight gain (+2 kg in 3 days)",
    ),
    (
        "monitoring.outside_hours",
        "hors des heures de lecture",
        "outside reading hours",
    ),
    ("monitoring.ago.now", "à l'instant", "just now"),
    (
        "monitoring.ago.min",
        "il y a {}\u{a0}min",
        "{}\u{a0}min ago",
    ),
    ("monitoring.ago.h", "il y a {}\u{a0}h", "{}\u{a0}h ago"),
    ("monitoring.ago.d", "il y a {}\u{a0}j", "{}\u{a0}d ago"),
    ("monitoring.ack", "Je prends en charge", "I am on it"),
    ("monitoring.decide", "Décision", "Decision"),
    (
        "monitoring.decision.choose",
        "Choisir une décision…",
        "Choose a decision…",
    ),
    (
        "monitoring.decision.required",
        "Choisissez une décision pour clore l'alerte.",
        "Choose a decision to close the alert.",
    ),
    (
        "monitoring.decision.call_patient",
        "Appeler le patient",
        "Call the patient",
    ),
    (
        "monitoring.decision.adjust_treatment",
        "Adapter le traitement",
        "Adjust the treatment",
    ),
    (
        "monitoring.decision.teleconsultation",
        "Programmer une téléconsultation",
        "Schedule a teleconsultation",
    ),
    (
        "monitoring.decision.emergency",
        "Orienter vers les urgences (15)",
        "Refer to emergency care (15)",
    ),
    (
        "monitoring.decision.no_action",
        "Pas d'action nécessaire",
        "No action needed",
    ),
    ("monitoring.note", "Note (facultative)", "Note (optional)"),
    (
        "monitoring.close",
        "Enregistrer et clore",
        "Record and close",
    ),
    (
        "monitoring.done.ack",
        "Vous prenez en charge cette alerte.",
        "You are handling this alert.",
    ),
    (
        "monitoring.done.closed",
        "La décision est enregistrée ; l'alerte est close.",
        "The decision is recorded; the alert is closed.",
    ),
    (
        "monitoring.done.stale",
        "Cette alerte n'était plus ouverte : quelqu'un s'en est déjà occupé.",
        "This alert was no longer open: someone already dealt with it.",
    ),
    // The live region of the board.
    (
        "monitoring.live.updated",
        "Mis à jour à {}",
        "Updated at {}",
    ),
    (
        "monitoring.live.waiting",
        "De nouvelles alertes sont arrivées : la liste se mettra à jour quand vous aurez fini votre saisie.",
        "New alerts arrived: the list will update once you finish typing.",
    ),
    (
        "monitoring.live.offline",
        "Mise à jour automatique interrompue, nouvelle tentative…",
        "Automatic updates interrupted, retrying…",
    ),
    (
        "monitoring.live.ended",
        "Votre session a pris fin : rechargez la page pour vous identifier à nouveau.",
        "Your session has ended: reload the page to sign in again.",
    ),
    // Programmes.
    (
        "monitoring.programme.insuffisance_cardiaque",
        "Insuffisance cardiaque chronique",
        "Chronic heart failure",
    ),
    (
        "monitoring.programme.insuffisance_renale",
        "Insuffisance rénale chronique",
        "Chronic kidney failure",
    ),
    (
        "monitoring.programme.insuffisance_respiratoire",
        "Insuffisance respiratoire chronique",
        "Chronic respiratory failure",
    ),
    (
        "monitoring.programme.diabete",
        "Diabète (y compris gestationnel)",
        "Diabetes (including gestational)",
    ),
    (
        "monitoring.programme.prothese_cardiaque_implantable",
        "Prothèse cardiaque implantable",
        "Implantable cardiac device",
    ),
    // A patient's charts.
    (
        "monitoring.patient.title",
        "Télésurveillance",
        "Telemonitoring",
    ),
    (
        "monitoring.patient.back",
        "← Tableau des alertes",
        "← Alert board",
    ),
    (
        "monitoring.patient.record",
        "Ouvrir le dossier du patient",
        "Open the patient's record",
    ),
    ("monitoring.charts", "Courbes", "Charts"),
    (
        "monitoring.charts.hint",
        "Les seuils d'alerte sont tracés en pointillés ; une valeur hors seuil est un triangle. Heures : {zone}.",
        "Alert thresholds are dashed lines; a value beyond a threshold is a triangle. Times: {zone}.",
    ),
    (
        "monitoring.charts.none",
        "Aucune mesure n'est suivie pour ce patient.",
        "No measurement is monitored for this patient.",
    ),
    ("monitoring.period.label", "Période", "Period"),
    ("monitoring.period.days", "{} jours", "{} days"),
    (
        "monitoring.chart.period",
        "{} derniers jours",
        "last {} days",
    ),
    ("monitoring.chart.low", "Seuil bas {}", "Low threshold {}"),
    (
        "monitoring.chart.high",
        "Seuil haut {}",
        "High threshold {}",
    ),
    (
        "monitoring.chart.no_thresholds",
        "Pas de seuil d'alerte.",
        "No alert threshold.",
    ),
    (
        "monitoring.chart.thresholds_low",
        "Seuil bas : {}.",
        "Low threshold: {}.",
    ),
    (
        "monitoring.chart.thresholds_high",
        "Seuil haut : {}.",
        "High threshold: {}.",
    ),
    (
        "monitoring.chart.thresholds_both",
        "Seuil bas : {} ; seuil haut : {}.",
        "Low threshold: {}; high threshold: {}.",
    ),
    (
        "monitoring.chart.weight_trend",
        "Alerte si le poids augmente de 2 kg ou plus en 3 jours.",
        "Alert if the weight rises by 2 kg or more within 3 days.",
    ),
    (
        "monitoring.chart.desc",
        "Nombre de mesures : {}. Minimum {}, maximum {}. Dernière : {}, le {}.",
        "Measurements: {}. Lowest {}, highest {}. Latest: {}, on {}.",
    ),
    (
        "monitoring.chart.desc_out",
        "Hors seuils : {}.",
        "Beyond thresholds: {}.",
    ),
    (
        "monitoring.chart.none",
        "Aucune mesure sur la période.",
        "No measurement in this period.",
    ),
    (
        "monitoring.chart.values",
        "Valeurs (tableau)",
        "Values (table)",
    ),
    (
        "monitoring.chart.table_caption",
        "{} — valeurs des {}, la plus récente d'abord",
        "{} — values of the {}, newest first",
    ),
    (
        "monitoring.chart.col.when",
        "Date ({zone})",
        "Time ({zone})",
    ),
    ("monitoring.chart.col.value", "Valeur ({})", "Value ({})"),
    ("monitoring.chart.col.standing", "Seuils", "Thresholds"),
    (
        "monitoring.value.within",
        "Dans les seuils",
        "Within thresholds",
    ),
    (
        "monitoring.value.low",
        "Sous le seuil bas",
        "Below the low threshold",
    ),
    (
        "monitoring.value.high",
        "Au-dessus du seuil haut",
        "Above the high threshold",
    ),
    (
        "monitoring.spark",
        "{} sur {} jours — nombre de mesures : {}, dernière : {}",
        "{} over {} days — measurements: {}, latest: {}",
    ),
    // The summary's section.
    ("monitoring.section", "Télésurveillance", "Telemonitoring"),
    (
        "monitoring.section.none",
        "Ce patient n'est pas en télésurveillance.",
        "This patient is not under telemonitoring.",
    ),
    (
        "monitoring.section.charts",
        "Voir les courbes",
        "See the charts",
    ),
    ("monitoring.enrolment.programme", "Programme", "Programme"),
    (
        "monitoring.enrolment.hours",
        "Heures de lecture",
        "Reading hours",
    ),
    ("monitoring.enrolment.since", "Depuis le", "Since"),
    (
        "monitoring.enrol.title",
        "Inscrire en télésurveillance",
        "Enrol in telemonitoring",
    ),
    (
        "monitoring.enrol.hours_hint",
        "Heures (locales) pendant lesquelles les alertes sont lues, par exemple 8-18. Une alerte en dehors est signalée comme telle.",
        "Hours (local time) during which alerts are read, e.g. 8-18. An alert outside them is flagged as such.",
    ),
    (
        "monitoring.enrol.hours_invalid",
        "Heures de lecture à corriger : écrivez l'heure de début et l'heure de fin, par exemple 8-18.",
        "Reading hours to correct: write the start and end hours, e.g. 8-18.",
    ),
    (
        "monitoring.enrol.monitors",
        "Professionnels qui surveillent",
        "Monitoring professionals",
    ),
    (
        "monitoring.enrol.monitors_hint",
        "Leurs adresses e-mail Galien, séparées par des virgules. Vous pouvez laisser vide si vous surveillez vous-même.",
        "Their Galien e-mail addresses, separated by commas. Leave empty if you monitor yourself.",
    ),
    (
        "monitoring.enrol.email_invalid",
        "Cette adresse e-mail n'est pas valide : {}",
        "This e-mail address is not valid: {}",
    ),
    (
        "monitoring.enrol.consent",
        "Consentement du patient recueilli",
        "Patient's consent obtained",
    ),
    (
        "monitoring.enrol.consent_hint",
        "Le consentement à la télésurveillance est enregistré dans le dossier avec l'inscription.",
        "The consent to telemonitoring is recorded in the record with the enrolment.",
    ),
    ("monitoring.enrol.submit", "Inscrire", "Enrol"),
    (
        "monitoring.done.enrolled",
        "Le patient est inscrit en télésurveillance ; son consentement est enregistré.",
        "The patient is enrolled in telemonitoring; their consent is recorded.",
    ),
    (
        "monitoring.device.title",
        "Rattacher un appareil",
        "Attach a device",
    ),
    (
        "monitoring.device.client_id",
        "Identifiant de l'appareil (client id)",
        "Device identifier (client id)",
    ),
    (
        "monitoring.device.client_id_hint",
        "L'identifiant affiché par l'administrateur à la création de l'appareil, par exemple 0192f0c0-…",
        "The identifier the administrator was shown when creating the device, e.g. 0192f0c0-…",
    ),
    (
        "monitoring.device.submit",
        "Rattacher l'appareil",
        "Attach the device",
    ),
    (
        "monitoring.device.unknown",
        "Aucun appareil ne porte cet identifiant. Vérifiez-le auprès de l'administrateur.",
        "No device has this identifier. Check it with the administrator.",
    ),
    (
        "monitoring.device.not_device",
        "Cet identifiant n'est pas celui d'un appareil en service (révoqué, ou système).",
        "This identifier is not that of a device in service (revoked, or a system).",
    ),
    (
        "monitoring.done.device",
        "L'appareil est rattaché : ses mesures arrivent désormais dans le dossier.",
        "The device is attached: its measurements now reach the record.",
    ),
    // The patient's own measurements.
    ("monitoring.own.title", "Mes mesures", "My measurements"),
    (
        "monitoring.thresholds",
        "Seuils d'alerte du patient",
        "The patient's alert thresholds",
    ),
    (
        "monitoring.thresholds.caption",
        "Seuils en vigueur, dans l'unité de chaque mesure ; vide : pas de limite.",
        "Thresholds in force, in each measure's unit; empty: no limit.",
    ),
    ("monitoring.thresholds.measure", "Mesure", "Measure"),
    ("monitoring.thresholds.low", "Seuil bas", "Low threshold"),
    ("monitoring.thresholds.high", "Seuil haut", "High threshold"),
    (
        "monitoring.thresholds.save",
        "Enregistrer les seuils",
        "Save the thresholds",
    ),
    (
        "monitoring.own.emergency",
        "En cas d'urgence, appelez le 15 (ou le 112). La télésurveillance n'est pas un service d'urgence : vos mesures sont lues aux heures prévues par votre équipe.",
        "In an emergency, call 15 (or 112). Telemonitoring is not an emergency service: your measurements are read during the hours your care team set.",
    ),
    (
        "monitoring.own.lead",
        "Saisissez ici une mesure prise vous-même ; elle rejoint votre dossier et, si vous êtes en télésurveillance, l'équipe qui vous suit la voit.",
        "Enter a measurement you took yourself; it joins your record and, if you are under telemonitoring, the team following you sees it.",
    ),
    (
        "monitoring.own.new",
        "Saisir une mesure",
        "Enter a measurement",
    ),
    ("monitoring.own.measure", "Mesure", "Measurement"),
    ("monitoring.own.value", "Valeur", "Value"),
    ("monitoring.own.unit", "Unité", "Unit"),
    (
        "monitoring.own.unit_hint",
        "Unité UCUM, remplie selon la mesure : kg (ou g), mm[Hg], /min, %, mg/dL (ou mmol/L, g/L).",
        "UCUM unit, filled in from the measurement: kg (or g), mm[Hg], /min, %, mg/dL (or mmol/L, g/L).",
    ),
    (
        "monitoring.own.at",
        "Date et heure de la mesure",
        "Date and time of the measurement",
    ),
    (
        "monitoring.own.at_hint",
        "À l'{zone}, celle de votre montre ou de votre téléphone.",
        "In {zone}, as your watch or phone shows it.",
    ),
    (
        "monitoring.own.submit",
        "Enregistrer la mesure",
        "Record the measurement",
    ),
    ("monitoring.own.charts", "Mes courbes", "My charts"),
    (
        "monitoring.own.no_charts",
        "Pas encore de mesure.",
        "No measurement yet.",
    ),
    (
        "monitoring.own.done",
        "Votre mesure est enregistrée.",
        "Your measurement is recorded.",
    ),
    (
        "monitoring.own.duplicate",
        "Cette mesure était déjà enregistrée (même mesure, même heure) : rien n'a changé.",
        "This measurement was already recorded (same measurement, same time): nothing changed.",
    ),
    (
        "monitoring.own.value_invalid",
        "La valeur doit être un nombre, par exemple 72,5.",
        "The value must be a number, e.g. 72.5.",
    ),
    (
        "monitoring.own.at_invalid",
        "La date et l'heure sont à corriger (format attendu : 2026-11-28T08:30, {zone} ; l'heure sautée au passage à l'heure d'été n'existe pas).",
        "The date and time need correcting (expected format: 2026-11-28T08:30, {zone}; the hour skipped when summer time begins does not exist).",
    ),
    (
        "monitoring.own.unit_expected",
        "Unité attendue pour « {} » : {}.",
        "Expected unit for “{}”: {}.",
    ),
    (
        "monitoring.own.in_future",
        "La date et l'heure saisies sont dans le futur.",
        "The date and time entered are in the future.",
    ),
    (
        "monitoring.own.not_linked",
        "Votre compte n'est pas encore associé à votre dossier. Demandez au secrétariat ou à votre médecin de l'associer ; vous pourrez alors saisir vos mesures.",
        "Your account is not linked to your record yet. Ask the front desk or your doctor to link it; you can then enter your measurements.",
    ),
];

#[cfg(test)]
mod tests {
    use galien_app::telemonitoring::Programme;
    use galien_app::telemonitoring::alerts::Decision;

    fn text(key: &str) -> Option<(&'static str, &'static str)> {
        crate::texts::all()
            .find(|(k, _, _)| *k == key)
            .map(|(_, fr, en)| (*fr, *en))
    }

    #[test]
    fn every_key_named_in_code_exists_with_the_same_placeholders() {
        let has = |k: &str| text(k).is_some();
        for rule in crate::pages::monitoring::RULES {
            assert!(has(&format!("monitoring.rule.{rule}")), "{rule}");
        }
        for status in crate::pages::monitoring::STATUSES {
            assert!(has(&format!("monitoring.status.{status}")), "{status}");
        }
        for s in galien_store::Severity::ALL {
            assert!(has(&format!("monitoring.severity.{}", s.as_str())), "{s:?}");
        }
        // The French names are the use cases' own (one wording across Galien).
        for d in Decision::ALL {
            let (fr, _) = text(&format!("monitoring.decision.{}", d.as_str())).unwrap_or_default();
            assert_eq!(fr, d.label_fr(), "{d:?}");
        }
        for p in Programme::ALL {
            let (fr, en) =
                text(&format!("monitoring.programme.{}", p.as_str())).unwrap_or_default();
            assert_eq!(fr, p.label_fr(), "{p:?}");
            assert_eq!(en, p.label_en(), "{p:?}");
        }
        for key in [
            "monitoring.value.within",
            "monitoring.value.low",
            "monitoring.value.high",
            "monitoring.chart.period",
            "monitoring.chart.low",
            "monitoring.chart.high",
            "monitoring.chart.no_thresholds",
            "monitoring.chart.thresholds_low",
            "monitoring.chart.thresholds_high",
            "monitoring.chart.thresholds_both",
            "monitoring.chart.weight_trend",
            "monitoring.chart.desc",
            "monitoring.chart.desc_out",
            "monitoring.chart.none",
            "monitoring.chart.table_caption",
            "monitoring.chart.col.value",
            "monitoring.spark",
            "monitoring.ago.now",
            "monitoring.ago.min",
            "monitoring.ago.h",
            "monitoring.ago.d",
            "monitoring.period.days",
            "monitoring.done.ack",
            "monitoring.done.closed",
            "monitoring.done.stale",
            "monitoring.done.enrolled",
            "monitoring.done.device",
            "monitoring.decision.required",
            "monitoring.own.done",
            "monitoring.own.duplicate",
            "monitoring.own.value_invalid",
            "monitoring.own.at_invalid",
            "monitoring.own.unit_expected",
            "monitoring.own.in_future",
            "monitoring.enrol.hours_invalid",
            "monitoring.enrol.email_invalid",
            "monitoring.device.unknown",
            "monitoring.device.not_device",
        ] {
            assert!(has(key), "{key}");
        }
        for (key, fr, en) in crate::texts::all().filter(|(k, _, _)| k.starts_with("monitoring.")) {
            assert_eq!(
                fr.matches("{}").count(),
                en.matches("{}").count(),
                "{key}: same placeholders in both languages"
            );
        }
    }
}
