//! The "Télésurveillance" section of a record's summary (ACT-3): whether the patient is enrolled
//! (programme, reading hours) with a link to their charts, and for a médecin who may write in the
//! record the enrolment form (programme, reading hours, monitoring professionals, how the
//! patient's consent was given) or, once enrolled, the form that attaches a device. The handlers
//! live in `patients::record` (they show the summary again when refused); the forms are read here.
//!
//! The section shows only to those who read the clinical record: a programme names a condition.

use super::{EnrolmentFacts, facts_of, programme_label};
use crate::texts::T;
use galien_app::identity::session::Current;
use galien_app::patients::clinical::Summary;
use galien_app::telemonitoring::Programme;
use galien_app::telemonitoring::programmes::parse_reading_hours;
use galien_core::ErrorCode;
use galien_core::identity::{Email, Role};
use galien_core::ids::PatientId;
use galien_core::patient::ConsentMeans;
use serde::Deserialize;
use uuid::Uuid;

/// Reading hours offered when the form is new.
pub(crate) const DEFAULT_HOURS: &str = "8-18";

/// What the section's forms held when one was refused (shown again).
#[derive(Debug, Default, Clone)]
pub(crate) struct Typed {
    pub(crate) programme: String,
    pub(crate) hours: String,
    pub(crate) monitors: String,
    pub(crate) means: String,
    pub(crate) client_id: String,
}

/// The section as shown.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) enrolment: Option<EnrolmentFacts>,
    pub(crate) charts_href: String,
    /// A médecin who may write in the record: the forms.
    pub(crate) may_enrol: bool,
    /// (value, label, selected)
    pub(crate) programmes: Vec<(&'static str, &'static str, bool)>,
    /// (value, label, selected)
    pub(crate) means: Vec<(&'static str, &'static str, bool)>,
    pub(crate) typed: Typed,
}

/// The section of `patient`'s summary, `None` when the actor does not read the clinical record
/// (the summary then holds no enrolment either).
pub(crate) fn section(
    current: &Current,
    s: &Summary,
    patient: PatientId,
    typed: Typed,
    t: T,
) -> Option<Section> {
    let enrolment = s.enrolment.as_ref()?.as_ref().map(|e| facts_of(e, t));
    let lang = t.lang;
    let programme = typed.programme.clone();
    let means = typed.means.clone();
    let typed = Typed {
        hours: if typed.hours.is_empty() {
            DEFAULT_HOURS.to_owned()
        } else {
            typed.hours
        },
        ..typed
    };
    Some(Section {
        enrolment,
        charts_href: format!("/monitoring/patients/{patient}"),
        may_enrol: current.user.role == Role::Medecin && s.abilities.write_note,
        programmes: Programme::ALL
            .iter()
            .map(|p| (p.as_str(), programme_label(*p, t), p.as_str() == programme))
            .collect(),
        means: ConsentMeans::ALL
            .iter()
            .map(|m| {
                (
                    m.as_str(),
                    crate::pages::patients::label(lang, m.label_fr(), m.label_en()),
                    m.as_str() == means,
                )
            })
            .collect(),
        typed,
    })
}

/// The enrolment form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnrolForm {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
    programme: String,
    reading_hours: String,
    monitors: String,
    consent_means: String,
}

/// The enrolment form, read.
#[derive(Debug)]
pub(crate) struct Enrolment {
    pub(crate) programme: Programme,
    pub(crate) hours: String,
    pub(crate) monitors: Vec<Email>,
    pub(crate) means: ConsentMeans,
}

/// E-mail addresses separated by commas, semicolons or spaces; `Err` names the first bad one.
pub(crate) fn parse_emails(raw: &str) -> Result<Vec<Email>, String> {
    raw.split([',', ';', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Email::parse(s).ok_or_else(|| s.to_owned()))
        .collect()
}

impl EnrolForm {
    /// What was typed, to show again.
    pub(crate) fn typed(&self) -> Typed {
        Typed {
            programme: self.programme.clone(),
            hours: self.reading_hours.clone(),
            monitors: self.monitors.clone(),
            means: self.consent_means.clone(),
            client_id: String::new(),
        }
    }

    /// The form read, or the messages saying what to correct.
    pub(crate) fn read(&self, t: T) -> Result<Enrolment, Vec<String>> {
        let mut errors = Vec::new();
        let programme = Programme::parse(&self.programme);
        let means = ConsentMeans::parse(&self.consent_means);
        if programme.is_none() || means.is_none() {
            errors.push(ErrorCode::FormInvalid.message(t.lang).to_owned());
        }
        let hours = self.reading_hours.trim();
        if parse_reading_hours(hours).is_none() {
            errors.push(t.s("monitoring.enrol.hours_invalid").to_owned());
        }
        let monitors = match parse_emails(&self.monitors) {
            Ok(m) => m,
            Err(bad) => {
                errors.push(super::chart::fill(
                    t.s("monitoring.enrol.email_invalid"),
                    &[&bad],
                ));
                Vec::new()
            }
        };
        match (programme, means) {
            (Some(programme), Some(means)) if errors.is_empty() => Ok(Enrolment {
                programme,
                hours: hours.to_owned(),
                monitors,
                means,
            }),
            _ => Err(errors),
        }
    }
}

/// The form attaching a device.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
    pub(crate) client_id: String,
}

impl DeviceForm {
    /// What was typed, to show again.
    pub(crate) fn typed(&self) -> Typed {
        Typed {
            client_id: self.client_id.clone(),
            ..Typed::default()
        }
    }

    /// The device's client id.
    pub(crate) fn client(&self) -> Option<Uuid> {
        self.client_id.trim().parse().ok()
    }
}

/// The message for a refused device: unknown, not a device or revoked.
pub(crate) fn device_refusal(code: ErrorCode, t: T) -> Option<String> {
    match code {
        ErrorCode::NotFound => Some(t.s("monitoring.device.unknown").to_owned()),
        ErrorCode::FormInvalid => Some(t.s("monitoring.device.not_device").to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use galien_core::Lang;

    #[test]
    fn the_enrolment_form_says_what_to_correct() {
        let t = T { lang: Lang::Fr };
        let form = EnrolForm {
            programme: "insuffisance_cardiaque".into(),
            reading_hours: " 8-18 ".into(),
            monitors: "n@chu.fr, m@chu.fr;".into(),
            consent_means: "written".into(),
            ..EnrolForm::default()
        };
        let read = form.read(t).unwrap();
        assert_eq!(read.monitors.len(), 2);
        assert_eq!(read.hours, "8-18");
        let bad = EnrolForm {
            reading_hours: "18-8".into(),
            monitors: "n@chu.fr, pas-une-adresse".into(),
            ..form
        };
        let errors = bad.read(t).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[1].contains("pas-une-adresse"));
        assert!(parse_emails("").unwrap().is_empty());
    }
}
