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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// An English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Programme::HeartFailure => "Chronic heart failure",
            Programme::RenalFailure => "Chronic kidney failure",
            Programme::RespiratoryFailure => "Chronic respiratory failure",
            Programme::Diabetes => "Diabetes (including gestational)",
            Programme::ImplantableCardiacDevice => "Implantable cardiac device",
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

/// The thresholds of every programme in force: the templates, with the organisation's changes from
/// `galien-data/programmes.toml` (per programme, per measure):
///
/// ```toml
/// [insuffisance_cardiaque.spo2]
/// low = 92
/// [diabete.glucose]
/// low = 60
/// high = 300
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeBook(BTreeMap<Programme, Thresholds>);

impl Default for ProgrammeBook {
    fn default() -> Self {
        Self(
            Programme::ALL
                .iter()
                .map(|p| (*p, p.default_thresholds()))
                .collect(),
        )
    }
}

impl ProgrammeBook {
    /// The thresholds a new enrolment in `p` starts with.
    pub fn thresholds(&self, p: Programme) -> Thresholds {
        self.0
            .get(&p)
            .cloned()
            .unwrap_or_else(|| p.default_thresholds())
    }

    /// The templates changed by `text` (TOML, see above). Unknown programmes or measures, numbers
    /// outside a measure's plausible range and a low limit not below the high one are refused with
    /// the key at fault.
    pub fn with_changes(text: &str) -> Result<ProgrammeBook, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut book = ProgrammeBook::default();
        for (name, measures) in &table {
            let programme = Programme::parse(name)
                .ok_or_else(|| format!("{name}: unknown programme (use one of {})", names()))?;
            let measures = measures
                .as_table()
                .ok_or_else(|| format!("{name}: expected a table of measures"))?;
            let entry = book.0.entry(programme).or_default();
            for (m, limits) in measures {
                let key = format!("{name}.{m}");
                let measure = Measure::parse(m).ok_or_else(|| format!("{key}: unknown measure"))?;
                let limits = limits
                    .as_table()
                    .ok_or_else(|| format!("{key}: expected low and/or high"))?;
                let read = |side: &str| -> Result<Option<f64>, String> {
                    match limits.get(side) {
                        None => Ok(None),
                        Some(v) => v
                            .as_float()
                            .or_else(|| v.as_integer().map(|i| i as f64))
                            .map(Some)
                            .ok_or_else(|| format!("{key}.{side}: expected a number")),
                    }
                };
                if let Some(other) = limits.keys().find(|k| *k != "low" && *k != "high") {
                    return Err(format!("{key}.{other}: unknown key (low, high)"));
                }
                let (low, high) = (read("low")?, read("high")?);
                let (lo, hi) = measure.plausible();
                for v in [low, high].into_iter().flatten() {
                    if !(lo..=hi).contains(&v) {
                        return Err(format!(
                            "{key}: {v} is outside {lo}–{hi} {}",
                            measure.unit()
                        ));
                    }
                }
                if let (Some(l), Some(h)) = (low, high)
                    && l >= h
                {
                    return Err(format!("{key}: low must be below high"));
                }
                entry.insert(measure, Threshold { low, high });
            }
        }
        Ok(book)
    }
}

fn names() -> String {
    Programme::ALL
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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

    #[test]
    fn organisations_change_programme_thresholds() {
        let book = ProgrammeBook::with_changes(
            "[insuffisance_cardiaque.spo2]\nlow = 92\n[diabete.glucose]\nlow = 60\nhigh = 300\n",
        )
        .unwrap();
        let hf = book.thresholds(Programme::HeartFailure);
        assert_eq!(hf.get(&Measure::Spo2).unwrap().low, Some(92.0));
        assert_eq!(
            hf.get(&Measure::Systolic).unwrap().low,
            Some(90.0),
            "others kept"
        );
        assert_eq!(
            book.thresholds(Programme::Diabetes)
                .get(&Measure::Glucose)
                .unwrap()
                .high,
            Some(300.0)
        );
        for (bad, says) in [
            ("[inconnu.spo2]\nlow = 1", "unknown programme"),
            ("[diabete.sucre]\nlow = 1", "unknown measure"),
            ("[diabete.glucose]\nlow = 300\nhigh = 60", "below high"),
            ("[diabete.glucose]\nlow = 1", "outside"),
            ("[diabete.glucose]\nlow = \"x\"", "number"),
            ("[diabete.glucose]\nlimit = 3", "unknown key"),
        ] {
            let e = ProgrammeBook::with_changes(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
