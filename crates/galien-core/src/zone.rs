//! The time zones of France, metropolitan and overseas: the time people read on their clocks,
//! which pages show and forms read. Stored instants, traces, the API and FHIR stay in UTC.
//!
//! The list is closed on purpose: every zone where a French health organisation runs, each with
//! its rule written out (no time-zone database to ship or to let go stale). Two zones change
//! their clocks: metropolitan France (the EU rule in force since 1996) and Saint-Pierre-et-Miquelon
//! (the North American rule in force since 2007); the others keep one offset all year.

use crate::Lang;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset, Weekday};

/// A time zone where a French health organisation runs Galien (`time_zone` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Zone {
    /// Metropolitan France (and Corsica): UTC+1, UTC+2 in summer time.
    #[default]
    EuropeParis,
    /// Guadeloupe: UTC−4.
    AmericaGuadeloupe,
    /// Martinique: UTC−4.
    AmericaMartinique,
    /// French Guiana: UTC−3.
    AmericaCayenne,
    /// Saint-Barthélemy: UTC−4.
    AmericaStBarthelemy,
    /// Saint-Martin: UTC−4.
    AmericaMarigot,
    /// Saint-Pierre-et-Miquelon: UTC−3, UTC−2 in summer time.
    AmericaMiquelon,
    /// La Réunion: UTC+4.
    IndianReunion,
    /// Mayotte: UTC+3.
    IndianMayotte,
    /// New Caledonia: UTC+11.
    PacificNoumea,
    /// Tahiti and most of French Polynesia: UTC−10.
    PacificTahiti,
    /// The Marquesas Islands: UTC−9:30.
    PacificMarquesas,
    /// The Gambier Islands: UTC−9.
    PacificGambier,
    /// Wallis and Futuna: UTC+12.
    PacificWallis,
}

/// When a zone's clocks change.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// One offset all year.
    Fixed,
    /// The EU rule: summer time from the last Sunday of March to the last Sunday of October,
    /// changing at 01:00 UTC.
    European,
    /// The North American rule: summer time from the second Sunday of March at 02:00 local time
    /// to the first Sunday of November at 02:00 local (summer) time.
    NorthAmerican,
}

/// (zone, IANA name, standard offset in minutes, rule, French name, English name)
type Entry = (Zone, &'static str, i16, Rule, &'static str, &'static str);

const PARIS: Entry = (
    Zone::EuropeParis,
    "Europe/Paris",
    60,
    Rule::European,
    "heure de Paris",
    "Paris time",
);

const ZONES: &[Entry] = &[
    PARIS,
    (
        Zone::AmericaGuadeloupe,
        "America/Guadeloupe",
        -240,
        Rule::Fixed,
        "heure de la Guadeloupe",
        "Guadeloupe time",
    ),
    (
        Zone::AmericaMartinique,
        "America/Martinique",
        -240,
        Rule::Fixed,
        "heure de la Martinique",
        "Martinique time",
    ),
    (
        Zone::AmericaCayenne,
        "America/Cayenne",
        -180,
        Rule::Fixed,
        "heure de la Guyane",
        "French Guiana time",
    ),
    (
        Zone::AmericaStBarthelemy,
        "America/St_Barthelemy",
        -240,
        Rule::Fixed,
        "heure de Saint-Barthélemy",
        "Saint-Barthélemy time",
    ),
    (
        Zone::AmericaMarigot,
        "America/Marigot",
        -240,
        Rule::Fixed,
        "heure de Saint-Martin",
        "Saint-Martin time",
    ),
    (
        Zone::AmericaMiquelon,
        "America/Miquelon",
        -180,
        Rule::NorthAmerican,
        "heure de Saint-Pierre-et-Miquelon",
        "Saint-Pierre-et-Miquelon time",
    ),
    (
        Zone::IndianReunion,
        "Indian/Reunion",
        240,
        Rule::Fixed,
        "heure de La Réunion",
        "Réunion time",
    ),
    (
        Zone::IndianMayotte,
        "Indian/Mayotte",
        180,
        Rule::Fixed,
        "heure de Mayotte",
        "Mayotte time",
    ),
    (
        Zone::PacificNoumea,
        "Pacific/Noumea",
        660,
        Rule::Fixed,
        "heure de la Nouvelle-Calédonie",
        "New Caledonia time",
    ),
    (
        Zone::PacificTahiti,
        "Pacific/Tahiti",
        -600,
        Rule::Fixed,
        "heure de Tahiti",
        "Tahiti time",
    ),
    (
        Zone::PacificMarquesas,
        "Pacific/Marquesas",
        -570,
        Rule::Fixed,
        "heure des Marquises",
        "Marquesas time",
    ),
    (
        Zone::PacificGambier,
        "Pacific/Gambier",
        -540,
        Rule::Fixed,
        "heure des Gambier",
        "Gambier time",
    ),
    (
        Zone::PacificWallis,
        "Pacific/Wallis",
        720,
        Rule::Fixed,
        "heure de Wallis-et-Futuna",
        "Wallis and Futuna time",
    ),
];

/// A name that is not one of [`Zone::ALL`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}: give one of {names}", names = Zone::names().join(", "))]
pub struct UnknownZone(pub String);

impl Zone {
    /// Every zone, metropolitan France first.
    pub const ALL: [Zone; 14] = [
        Zone::EuropeParis,
        Zone::AmericaGuadeloupe,
        Zone::AmericaMartinique,
        Zone::AmericaCayenne,
        Zone::AmericaStBarthelemy,
        Zone::AmericaMarigot,
        Zone::AmericaMiquelon,
        Zone::IndianReunion,
        Zone::IndianMayotte,
        Zone::PacificNoumea,
        Zone::PacificTahiti,
        Zone::PacificMarquesas,
        Zone::PacificGambier,
        Zone::PacificWallis,
    ];

    fn entry(self) -> &'static Entry {
        // Every variant has its row (a test checks it); Paris is only a fallback.
        ZONES.iter().find(|e| e.0 == self).unwrap_or(&PARIS)
    }

    /// The IANA name (`Europe/Paris`), as the configuration and `TZ` spell it.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Every IANA name, in [`Zone::ALL`]'s order.
    pub fn names() -> Vec<&'static str> {
        Zone::ALL.iter().map(|z| z.name()).collect()
    }

    /// What people call its time: `heure de La Réunion`, `Réunion time`.
    pub fn label(self, lang: Lang) -> &'static str {
        let e = self.entry();
        match lang {
            Lang::Fr => e.4,
            Lang::En => e.5,
        }
    }

    /// Whether its clocks change (summer time).
    pub fn has_summer_time(self) -> bool {
        !matches!(self.entry().3, Rule::Fixed)
    }

    fn standard(self) -> UtcOffset {
        let minutes = i32::from(self.entry().2);
        UtcOffset::from_whole_seconds(minutes * 60).unwrap_or(UtcOffset::UTC)
    }

    fn summer(self) -> UtcOffset {
        let minutes = i32::from(self.entry().2) + 60;
        UtcOffset::from_whole_seconds(minutes * 60).unwrap_or(UtcOffset::UTC)
    }

    /// The offset from UTC at the instant `at`.
    pub fn offset_at(self, at: OffsetDateTime) -> UtcOffset {
        let utc = at.to_offset(UtcOffset::UTC);
        let year = utc.year();
        let (start, end) = match self.entry().3 {
            Rule::Fixed => return self.standard(),
            Rule::European => (
                at_utc(last_sunday(year, Month::March), 1),
                at_utc(last_sunday(year, Month::October), 1),
            ),
            // 02:00 at UTC−3 is 05:00 UTC; 02:00 at UTC−2 is 04:00 UTC.
            Rule::NorthAmerican => (
                at_local(nth_sunday(year, Month::March, 2), 2, self.standard()),
                at_local(nth_sunday(year, Month::November, 1), 2, self.summer()),
            ),
        };
        if utc >= start && utc < end {
            self.summer()
        } else {
            self.standard()
        }
    }

    /// `at` as this zone's clocks show it.
    pub fn local(self, at: OffsetDateTime) -> OffsetDateTime {
        at.to_offset(self.offset_at(at))
    }

    /// The instant a wall-clock time of this zone (`2026-11-28 10:30`, as typed in a form) names.
    /// `None` for a time that does not exist there: the hour skipped when summer time begins. A
    /// time that occurs twice when summer time ends is the first of the two, still in summer time.
    pub fn from_local(self, wall: PrimitiveDateTime) -> Option<OffsetDateTime> {
        let candidates = if self.has_summer_time() {
            vec![self.summer(), self.standard()]
        } else {
            vec![self.standard()]
        };
        candidates.into_iter().find_map(|offset| {
            let at = wall.assume_offset(offset);
            (self.offset_at(at) == offset).then(|| at.to_offset(UtcOffset::UTC))
        })
    }

    /// Midnight at the start of `day` in this zone, as an instant (it always exists: clocks change
    /// at night, never at midnight, in every zone of the list).
    pub fn midnight(self, day: Date) -> OffsetDateTime {
        self.from_local(day.midnight())
            .unwrap_or_else(|| day.midnight().assume_offset(self.standard()))
            .to_offset(UtcOffset::UTC)
    }

    /// Today's date in this zone at the instant `now`.
    pub fn today(self, now: OffsetDateTime) -> Date {
        self.local(now).date()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Zone::ALL
            .into_iter()
            .find(|z| z.name() == s)
            .ok_or_else(|| UnknownZone(s.to_owned()))
    }
}

fn at_utc(day: Date, hour: u8) -> OffsetDateTime {
    at_local(day, hour, UtcOffset::UTC)
}

fn at_local(day: Date, hour: u8, offset: UtcOffset) -> OffsetDateTime {
    day.with_hms(hour, 0, 0)
        .unwrap_or_else(|_| day.midnight())
        .assume_offset(offset)
}

fn last_sunday(year: i32, month: Month) -> Date {
    let last = Date::from_calendar_date(year, month, month.length(year)).unwrap_or(Date::MIN);
    last - time::Duration::days(i64::from(last.weekday().number_days_from_sunday()))
}

fn nth_sunday(year: i32, month: Month, n: u8) -> Date {
    let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
    let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
    let first_sunday = first + time::Duration::days(i64::from(to_sunday));
    debug_assert_eq!(first_sunday.weekday(), Weekday::Sunday);
    first_sunday + time::Duration::weeks(i64::from(n.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn every_zone_has_its_row_and_its_name_reads_back() {
        assert_eq!(ZONES.len(), Zone::ALL.len());
        for zone in Zone::ALL {
            assert_eq!(zone.entry().0, zone, "{zone:?}");
            assert_eq!(zone.name().parse::<Zone>(), Ok(zone));
            assert!(zone.label(Lang::Fr).starts_with("heure d"), "{zone:?}");
        }
        assert_eq!(Zone::default(), Zone::EuropeParis);
        let refused = "Europe/London".parse::<Zone>().unwrap_err();
        assert!(refused.to_string().contains("Indian/Reunion"), "{refused}");
        assert!("europe/paris".parse::<Zone>().is_err());
    }

    #[test]
    fn overseas_zones_keep_one_offset_all_year() {
        for (zone, hours, minutes) in [
            (Zone::IndianReunion, 4, 0),
            (Zone::IndianMayotte, 3, 0),
            (Zone::AmericaMartinique, -4, 0),
            (Zone::AmericaGuadeloupe, -4, 0),
            (Zone::AmericaCayenne, -3, 0),
            (Zone::PacificNoumea, 11, 0),
            (Zone::PacificTahiti, -10, 0),
            (Zone::PacificMarquesas, -9, -30),
            (Zone::PacificWallis, 12, 0),
        ] {
            for at in [
                datetime!(2026-01-15 12:00 UTC),
                datetime!(2026-07-14 12:00 UTC),
            ] {
                assert_eq!(
                    zone.offset_at(at).as_hms(),
                    (hours, minutes, 0),
                    "{zone:?} at {at}"
                );
            }
            assert!(!zone.has_summer_time());
        }
        // 07:30 at La Réunion is 03:30 UTC, summer or winter.
        let reunion = Zone::IndianReunion;
        assert_eq!(
            reunion.from_local(datetime!(2026-07-14 07:30)),
            Some(datetime!(2026-07-14 03:30 UTC))
        );
        assert_eq!(
            reunion.midnight(date!(2026 - 11 - 28)),
            datetime!(2026-11-27 20:00 UTC)
        );
        // No skipped hour where clocks never change.
        assert!(reunion.from_local(datetime!(2026-03-29 02:30)).is_some());
        // A day in the Pacific begins the day before in UTC.
        assert_eq!(
            Zone::PacificNoumea.today(datetime!(2026-11-28 14:00 UTC)),
            date!(2026 - 11 - 29)
        );
        assert_eq!(
            Zone::PacificTahiti.today(datetime!(2026-11-28 08:00 UTC)),
            date!(2026 - 11 - 27)
        );
    }

    #[test]
    fn paris_and_miquelon_change_their_clocks_by_their_own_rules() {
        let paris = Zone::EuropeParis;
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        for (at, hours) in [
            (datetime!(2026-03-29 00:59 UTC), 1),
            (datetime!(2026-03-29 01:00 UTC), 2),
            (datetime!(2026-10-25 00:59 UTC), 2),
            (datetime!(2026-10-25 01:00 UTC), 1),
        ] {
            assert_eq!(paris.offset_at(at).whole_hours(), hours, "{at}");
        }
        // 2026 in Saint-Pierre-et-Miquelon: from 8 March 05:00 UTC to 1 November 04:00 UTC.
        let miquelon = Zone::AmericaMiquelon;
        for (at, hours) in [
            (datetime!(2026-03-08 04:59 UTC), -3),
            (datetime!(2026-03-08 05:00 UTC), -2),
            (datetime!(2026-11-01 03:59 UTC), -2),
            (datetime!(2026-11-01 04:00 UTC), -3),
        ] {
            assert_eq!(miquelon.offset_at(at).whole_hours(), hours, "{at}");
        }
        assert_eq!(miquelon.from_local(datetime!(2026-03-08 02:30)), None);
        assert_eq!(
            miquelon.from_local(datetime!(2026-11-01 01:30)),
            Some(datetime!(2026-11-01 03:30 UTC))
        );
    }

    #[test]
    fn every_wall_clock_time_of_a_year_reads_back_in_every_zone() {
        for zone in Zone::ALL {
            let mut at = datetime!(2026-01-01 00:00 UTC);
            while at < datetime!(2027-01-01 00:00 UTC) {
                let local = zone.local(at);
                let wall = PrimitiveDateTime::new(local.date(), local.time());
                let back = zone.from_local(wall).unwrap();
                // Only the second pass of the repeated hour reads back to the first.
                if back != at {
                    assert!(zone.has_summer_time(), "{zone:?} {at}");
                    assert_eq!(at - back, time::Duration::hours(1), "{zone:?} {at}");
                }
                let midnight = zone.midnight(local.date());
                assert_eq!(zone.local(midnight).date(), local.date(), "{zone:?} {at}");
                assert_eq!(
                    zone.local(midnight).time(),
                    time::Time::MIDNIGHT,
                    "{zone:?} {at}"
                );
                at += time::Duration::minutes(30);
            }
        }
    }
}
