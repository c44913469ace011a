//! The five French common-law telemonitoring indications as editable templates: their usual
//! measurements and example thresholds (an organisation changes them per programme and per patient).

use galien_core::measure::Measure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Low and high limits of a measure (either may be absent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Below this: an alert.
    pub low: Option<f64>,
    /// Above this: an alert.
    pub high: Option<f64>,
}

/// Thresholds by measure.
pub type Thresholds = BTreeMap<Measure, Threshold>;

/// A programme template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Programme {
    /// Insuffisance cardiaque chronique.
    HeartFailure,
    /// Insuffisance rénale chronique.
    RenalFailure,
    /// Insuffisance respiratoire chronique.
    RespiratoryFailure,
    /// Diabète (y compris gestationnel).
    Diabetes,
    /// Prothèses cardiaques implantables à visée thérapeutique.
    ImplantableCardiacDevice,
}

impl Programme {
    /// Every template.
    pub const ALL: &'static [Programme] = &[
        Programme::HeartFailure,
        Programme::RenalFailure,
        Programme::RespiratoryFailure,
        Programme::Diabetes,
        Programme::ImplantableCardiacDevice,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Programme::HeartFailure => "insuffisance_cardiaque",
            Programme::RenalFailure => "insuffisance_renale",
            Programme::RespiratoryFailure => "insuffisance_respiratoire",
            Programme::Diabetes => "diabete",
            Programme::ImplantableCardiacDevice => "prothese_cardiaque_implantable",
        }
    }

    /// Parses [`Programme::as_str`].
    pub fn parse(s: &str) -> Option<Programme> {
        Programme::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// A French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            Programme::HeartFailure => "Insuffisance cardiaque chronique",
            Programme::RenalFailure => "Insuffisance rénale chronique",
            Programme::RespiratoryFailure => "Insuffisance respiratoire chronique",
            Programme::Diabetes => "Diabète (y compris gestationnel)",
            Programme::ImplantableCardiacDevice => "Prothèse cardiaque implantable",
        }
    }

    /// The usual measurements and example thresholds.
    pub fn default_thresholds(self) -> Thresholds {
        let t = |low: Option<f64>, high: Option<f64>| Threshold { low, high };
        let mut m = Thresholds::new();
        match self {
            Programme::HeartFailure => {
                m.insert(Measure::Weight, t(None, None));
                m.insert(Measure::Systolic, t(Some(90.0), Some(160.0)));
                m.insert(Measure::HeartRate, t(Some(50.0), Some(110.0)));
                m.insert(Measure::Spo2, t(Some(90.0), None));
            }
            Programme::RenalFailure => {
                m.insert(Measure::Weight, t(None, None));
                m.insert(Measure::Systolic, t(Some(100.0), Some(160.0)));
                m.insert(Measure::Diastolic, t(None, Some(100.0)));
            }
            Programme::RespiratoryFailure => {
                m.insert(Measure::Spo2, t(Some(90.0), None));
                m.insert(Measure::HeartRate, t(Some(50.0), Some(110.0)));
            }
            Programme::Diabetes => {
                m.insert(Measure::Glucose, t(Some(70.0), Some(250.0)));
            }
            Programme::ImplantableCardiacDevice => {
                m.insert(Measure::HeartRate, t(Some(40.0), Some(120.0)));
            }
        }
        m
    }
}

/// Reading hours `"H-H"` (local time), e.g. `8-18`: (start, end) with start < end ≤ 24.
pub fn parse_reading_hours(s: &str) -> Option<(u8, u8)> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b): (u8, u8) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a < b && b <= 24).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programmes_have_measures_and_hours_parse() {
        for p in Programme::ALL {
            assert!(!p.default_thresholds().is_empty());
            assert_eq!(Programme::parse(p.as_str()), Some(*p));
        }
        let json = serde_json::to_string(&Programme::HeartFailure.default_thresholds()).unwrap();
        let back: Thresholds = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Programme::HeartFailure.default_thresholds());
        assert_eq!(parse_reading_hours("8-18"), Some((8, 18)));
        assert_eq!(parse_reading_hours("18-8"), None);
        assert_eq!(parse_reading_hours("8-25"), None);
    }
}
