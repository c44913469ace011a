//! What telemonitoring measures (ACT-3): each measure's LOINC code, its canonical UCUM unit, the
//! units accepted with their exact conversions, and the range a real measurement can fall in (a value
//! outside it is an input error, not an alert).

use serde::{Deserialize, Serialize};

/// A monitored measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Body weight.
    Weight,
    /// Systolic blood pressure.
    Systolic,
    /// Diastolic blood pressure.
    Diastolic,
    /// Heart rate.
    HeartRate,
    /// Oxygen saturation.
    Spo2,
    /// Blood glucose.
    Glucose,
}

/// A value in a unit Galien does not accept for that measure, or out of the plausible range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    /// The LOINC code is not one Galien monitors.
    #[error("unknown LOINC code {0}")]
    UnknownCode(String),
    /// The unit is not accepted for this measure.
    #[error("unit {unit} is not accepted for {code} (use {expected})")]
    Unit {
        /// The code.
        code: &'static str,
        /// The unit given.
        unit: String,
        /// The canonical unit.
        expected: &'static str,
    },
    /// Not a finite number.
    #[error("the value is not a number")]
    NotANumber,
    /// Outside what a living person can measure.
    #[error("{value} {unit} is outside the plausible range {low}–{high} for {code}")]
    Implausible {
        /// The code.
        code: &'static str,
        /// The value, converted.
        value: f64,
        /// The canonical unit.
        unit: &'static str,
        /// Lowest plausible.
        low: f64,
        /// Highest plausible.
        high: f64,
    },
}

impl Measure {
    /// Every measure.
    pub const ALL: &'static [Measure] = &[
        Measure::Weight,
        Measure::Systolic,
        Measure::Diastolic,
        Measure::HeartRate,
        Measure::Spo2,
        Measure::Glucose,
    ];

    /// The LOINC code.
    pub fn loinc(self) -> &'static str {
        match self {
            Measure::Weight => "29463-7",
            Measure::Systolic => "8480-6",
            Measure::Diastolic => "8462-4",
            Measure::HeartRate => "8867-4",
            Measure::Spo2 => "59408-5",
            Measure::Glucose => "2339-0",
        }
    }

    /// The measure of a LOINC code.
    pub fn from_loinc(code: &str) -> Option<Measure> {
        Measure::ALL.iter().copied().find(|m| m.loinc() == code)
    }

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Weight => "weight",
            Measure::Systolic => "systolic",
            Measure::Diastolic => "diastolic",
            Measure::HeartRate => "heart_rate",
            Measure::Spo2 => "spo2",
            Measure::Glucose => "glucose",
        }
    }

    /// Parses [`Measure::as_str`].
    pub fn parse(s: &str) -> Option<Measure> {
        Measure::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// The canonical UCUM unit values are stored in.
    pub fn unit(self) -> &'static str {
        match self {
            Measure::Weight => "kg",
            Measure::Systolic | Measure::Diastolic => "mm[Hg]",
            Measure::HeartRate => "/min",
            Measure::Spo2 => "%",
            Measure::Glucose => "mg/dL",
        }
    }

    /// How people write the canonical unit.
    pub fn unit_label(self) -> &'static str {
        match self {
            Measure::Weight => "kg",
            Measure::Systolic | Measure::Diastolic => "mmHg",
            Measure::HeartRate => "bpm",
            Measure::Spo2 => "%",
            Measure::Glucose => "mg/dL",
        }
    }

    /// The LOINC display name.
    pub fn display(self) -> &'static str {
        match self {
            Measure::Weight => "Body weight",
            Measure::Systolic => "Systolic blood pressure",
            Measure::Diastolic => "Diastolic blood pressure",
            Measure::HeartRate => "Heart rate",
            Measure::Spo2 => "Oxygen saturation in Arterial blood by Pulse oximetry",
            Measure::Glucose => "Glucose [Mass/volume] in Blood",
        }
    }

    /// A French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            Measure::Weight => "Poids",
            Measure::Systolic => "Pression artérielle systolique",
            Measure::Diastolic => "Pression artérielle diastolique",
            Measure::HeartRate => "Fréquence cardiaque",
            Measure::Spo2 => "Saturation en oxygène",
            Measure::Glucose => "Glycémie",
        }
    }

    /// An English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Measure::Weight => "Weight",
            Measure::Systolic => "Systolic blood pressure",
            Measure::Diastolic => "Diastolic blood pressure",
            Measure::HeartRate => "Heart rate",
            Measure::Spo2 => "Oxygen saturation",
            Measure::Glucose => "Blood glucose",
        }
    }

    /// The factor from `unit` to the canonical unit, when the conversion is exact and unambiguous.
    fn factor(self, unit: &str) -> Option<f64> {
        match (self, unit) {
            (m, u) if u == m.unit() => Some(1.0),
            (Measure::Weight, "g") => Some(0.001),
            (Measure::Weight, "[lb_av]") => Some(0.453_592_37),
            (Measure::Systolic | Measure::Diastolic, "kPa") => Some(7.500_615_75),
            (Measure::HeartRate, "{beats}/min" | "{Beats}/min") => Some(1.0),
            // Glucose: 180.156 g/mol, so 1 mmol/L = 18.0156 mg/dL; 1 g/L = 100 mg/dL.
            (Measure::Glucose, "mmol/L") => Some(18.0156),
            (Measure::Glucose, "g/L") => Some(100.0),
            _ => None,
        }
    }

    /// The plausible range, in the canonical unit.
    pub fn plausible(self) -> (f64, f64) {
        match self {
            Measure::Weight => (0.3, 400.0),
            Measure::Systolic => (40.0, 300.0),
            Measure::Diastolic => (20.0, 200.0),
            Measure::HeartRate => (20.0, 300.0),
            Measure::Spo2 => (40.0, 100.0),
            Measure::Glucose => (10.0, 1500.0),
        }
    }

    /// Converts `value` in `unit` to the canonical unit and checks it is plausible.
    pub fn normalise(self, value: f64, unit: &str) -> Result<f64, MeasureError> {
        if !value.is_finite() {
            return Err(MeasureError::NotANumber);
        }
        let factor = self.factor(unit).ok_or_else(|| MeasureError::Unit {
            code: self.loinc(),
            unit: unit.to_owned(),
            expected: self.unit(),
        })?;
        let v = value * factor;
        let (low, high) = self.plausible();
        if v < low || v > high {
            return Err(MeasureError::Implausible {
                code: self.loinc(),
                value: v,
                unit: self.unit(),
                low,
                high,
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_texts_round_trip() {
        for m in Measure::ALL {
            assert_eq!(Measure::from_loinc(m.loinc()), Some(*m));
            assert_eq!(Measure::parse(m.as_str()), Some(*m));
            assert_eq!(m.normalise(m.plausible().0, m.unit()), Ok(m.plausible().0));
        }
        assert_eq!(Measure::from_loinc("1234-5"), None);
    }

    #[test]
    fn units_convert_only_where_unambiguous() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(
            Measure::Weight.normalise(72_500.0, "g").unwrap(),
            72.5
        ));
        assert!(close(
            Measure::Weight.normalise(160.0, "[lb_av]").unwrap(),
            72.574_779_2
        ));
        assert!(close(
            Measure::Glucose.normalise(5.5, "mmol/L").unwrap(),
            99.0858
        ));
        assert!(close(
            Measure::Systolic.normalise(16.0, "kPa").unwrap(),
            120.009_852
        ));
        assert!(matches!(
            Measure::Weight.normalise(70.0, "mg/dL"),
            Err(MeasureError::Unit { .. })
        ));
        assert!(matches!(
            Measure::Spo2.normalise(0.97, "1"),
            Err(MeasureError::Unit { .. })
        ));
        assert!(matches!(
            Measure::Spo2.normalise(101.0, "%"),
            Err(MeasureError::Implausible { .. })
        ));
        assert_eq!(
            Measure::Weight.normalise(f64::NAN, "kg"),
            Err(MeasureError::NotANumber)
        );
    }
}
