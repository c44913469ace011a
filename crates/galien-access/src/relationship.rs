//! Care relationships (ACC-3): why a person may reach a patient's data.

use std::collections::BTreeSet;

/// One reason a person is related to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relationship {
    /// Member of the patient's care team.
    CareTeam,
    /// Takes part in an act (teleconsultation, tele-expertise…) for this patient.
    Act,
    /// Monitors the patient (telemonitoring), or a device enrolled for them.
    Monitoring,
    /// A medical regulation case is open for the patient.
    Regulation,
    /// An emergency access (break-the-glass) is open.
    Emergency,
    /// The patient themself.
    SelfRecord,
}

impl Relationship {
    /// Every relationship, in the order of the access matrix.
    pub const ALL: &'static [Relationship] = &[
        Relationship::CareTeam,
        Relationship::Act,
        Relationship::Monitoring,
        Relationship::Regulation,
        Relationship::Emergency,
        Relationship::SelfRecord,
    ];

    /// The text the policies see in `context.relationships`.
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::CareTeam => "care_team",
            Relationship::Act => "act",
            Relationship::Monitoring => "monitoring",
            Relationship::Regulation => "regulation",
            Relationship::Emergency => "emergency",
            Relationship::SelfRecord => "self",
        }
    }

    /// Parses [`Relationship::as_str`].
    pub fn parse(s: &str) -> Option<Relationship> {
        Relationship::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// A French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            Relationship::CareTeam => "équipe de soins",
            Relationship::Act => "acte en cours",
            Relationship::Monitoring => "télésurveillance",
            Relationship::Regulation => "régulation",
            Relationship::Emergency => "accès d'urgence",
            Relationship::SelfRecord => "soi-même",
        }
    }

    /// An English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Relationship::CareTeam => "care team",
            Relationship::Act => "ongoing act",
            Relationship::Monitoring => "telemonitoring",
            Relationship::Regulation => "regulation",
            Relationship::Emergency => "emergency access",
            Relationship::SelfRecord => "self",
        }
    }
}

/// The relationships a person has with one patient, now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Relationships(BTreeSet<Relationship>);

impl Relationships {
    /// None at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly `r`.
    pub fn only(r: Relationship) -> Self {
        Self(BTreeSet::from([r]))
    }

    /// Adds `r`.
    pub fn insert(&mut self, r: Relationship) {
        self.0.insert(r);
    }

    /// Whether `r` is among them.
    pub fn contains(&self, r: Relationship) -> bool {
        self.0.contains(&r)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Them, in order.
    pub fn iter(&self) -> impl Iterator<Item = Relationship> + '_ {
        self.0.iter().copied()
    }

    /// The purpose recorded in traces: the first ordinary relationship, or the emergency access
    /// when it is the only one.
    pub fn purpose(&self) -> Option<Relationship> {
        self.0
            .iter()
            .copied()
            .find(|r| *r != Relationship::Emergency)
            .or_else(|| self.0.first().copied())
    }
}

impl FromIterator<Relationship> for Relationships {
    fn from_iter<I: IntoIterator<Item = Relationship>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}
