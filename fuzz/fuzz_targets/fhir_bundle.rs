//! `galien_app::telemonitoring::fhir::parse` (ACT-3): what a device posts to `/fhir/r4`. Beyond
//! "no panic": a Bundle never holds more than `MAX_ENTRIES` entries, every accepted reading is a
//! finite value within its measure's plausible range (in the canonical unit), a blood-pressure
//! panel gives only systolic/diastolic readings, and a reading rendered as the FHIR Observation
//! Galien returns parses back to the same reading.
#![no_main]

use galien_app::telemonitoring::fhir::{self, MAX_ENTRIES, Submission};
use galien_app::telemonitoring::ingest::Reading;
use galien_core::measure::Measure;
use libfuzzer_sys::fuzz_target;

fn check_entry(entry: &Result<Vec<Reading>, fhir::Refusal>) {
    let Ok(readings) = entry else { return };
    assert!(!readings.is_empty());
    if readings.len() > 1 {
        assert!(
            readings
                .iter()
                .all(|r| matches!(r.measure, Measure::Systolic | Measure::Diastolic))
        );
    }
    for r in readings {
        let (low, high) = r.measure.plausible();
        assert!(
            r.value.is_finite() && r.value >= low && r.value <= high,
            "{r:?}"
        );
        let rendered = fhir::render("0191d6a8-7c4e-7cc0-8000-000000000001", r);
        let back = fhir::observation(&rendered);
        assert_eq!(back, Ok(vec![*r]), "{rendered}");
    }
}

fuzz_target!(|data: &[u8]| {
    match fhir::parse(data) {
        Ok(Submission::One(entry)) => check_entry(&entry),
        Ok(Submission::Batch(entries) | Submission::Transaction(entries)) => {
            assert!(entries.len() <= MAX_ENTRIES);
            entries.iter().for_each(check_entry);
        }
        Err(refusal) => assert!(!refusal.code.as_str().is_empty()),
    }
});
