//! The one place that reads the wall clock. Everything else receives a [`Clock`].

use std::sync::{Arc, Mutex, PoisonError};
use time::{Duration, OffsetDateTime};

/// A source of the current UTC time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned read of the wall clock
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; for tests of expiry, lockouts, TOTP steps, retention.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or backward with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-01-01 08:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 08:00 UTC));
        clock.advance(Duration::minutes(15));
        assert_eq!(clock.now(), datetime!(2026-01-01 08:15 UTC));
        clock.set(datetime!(2027-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2027-01-01 00:00 UTC));
    }

    #[test]
    fn system_clock_is_utc() {
        assert!(SystemClock.now().offset().is_utc());
    }
}

/// `at` in French metropolitan time (Europe/Paris): UTC+1, UTC+2 in summer time — from the last
/// Sunday of March to the last Sunday of October, changing at 01:00 UTC (the EU rule in force
/// since 1996). For what people read; [`crate::Zone`] for the other zones of France.
pub fn europe_paris(at: time::OffsetDateTime) -> time::OffsetDateTime {
    crate::Zone::EuropeParis.local(at)
}

/// The instant a French metropolitan wall-clock time (`2026-11-28 10:30`, as typed in a form)
/// names. `None` for a time that does not exist there: the hour skipped when summer time begins
/// (the last Sunday of March, 02:00–02:59). A time that occurs twice when it ends (the last Sunday
/// of October, 02:00–02:59) is the first of the two, still in summer time.
pub fn from_europe_paris(local: time::PrimitiveDateTime) -> Option<time::OffsetDateTime> {
    crate::Zone::EuropeParis.from_local(local)
}

/// Midnight at the start of `day` in French metropolitan time, as an instant (it always exists:
/// the clocks change at 02:00 and 03:00).
pub fn europe_paris_midnight(day: time::Date) -> time::OffsetDateTime {
    crate::Zone::EuropeParis.midnight(day)
}

#[cfg(test)]
mod paris_tests {
    use super::europe_paris;
    use time::macros::datetime;

    #[test]
    fn paris_time_follows_the_eu_summer_time_rule() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            europe_paris(datetime!(2026-03-29 00:59 UTC))
                .offset()
                .whole_hours(),
            1
        );
        assert_eq!(
            europe_paris(datetime!(2026-03-29 01:00 UTC))
                .offset()
                .whole_hours(),
            2
        );
        assert_eq!(
            europe_paris(datetime!(2026-10-25 00:59 UTC))
                .offset()
                .whole_hours(),
            2
        );
        assert_eq!(
            europe_paris(datetime!(2026-10-25 01:00 UTC))
                .offset()
                .whole_hours(),
            1
        );
        let winter = europe_paris(datetime!(2026-11-28 09:45 UTC));
        assert_eq!((winter.hour(), winter.minute()), (10, 45));
        let summer = europe_paris(datetime!(2026-07-14 09:45 UTC));
        assert_eq!(summer.hour(), 11);
    }

    #[test]
    fn a_paris_wall_clock_time_names_one_instant_or_none() {
        use super::{europe_paris_midnight, from_europe_paris};
        use time::macros::date;
        for (wall, instant) in [
            // Winter UTC+1, summer UTC+2.
            (
                datetime!(2026-11-28 10:30),
                Some(datetime!(2026-11-28 09:30 UTC)),
            ),
            (
                datetime!(2026-07-14 10:30),
                Some(datetime!(2026-07-14 08:30 UTC)),
            ),
            // 29 March 2026: 02:00 becomes 03:00; 02:30 never happens.
            (
                datetime!(2026-03-29 01:59),
                Some(datetime!(2026-03-29 00:59 UTC)),
            ),
            (datetime!(2026-03-29 02:30), None),
            (
                datetime!(2026-03-29 03:00),
                Some(datetime!(2026-03-29 01:00 UTC)),
            ),
            // 25 October 2026: 03:00 becomes 02:00; 02:30 happens twice, the first is taken.
            (
                datetime!(2026-10-25 02:30),
                Some(datetime!(2026-10-25 00:30 UTC)),
            ),
            (
                datetime!(2026-10-25 03:30),
                Some(datetime!(2026-10-25 02:30 UTC)),
            ),
        ] {
            assert_eq!(from_europe_paris(wall), instant, "{wall}");
        }
        // Every instant of a year reads back to itself.
        let mut at = datetime!(2026-01-01 00:00 UTC);
        while at < datetime!(2027-01-01 00:00 UTC) {
            let local = europe_paris(at);
            let wall = time::PrimitiveDateTime::new(local.date(), local.time());
            let back = from_europe_paris(wall).unwrap();
            // Only the second pass of October's repeated hour reads back to the first.
            if back != at {
                assert_eq!(at - back, time::Duration::hours(1), "{at}");
                assert_eq!(
                    (wall.month(), wall.hour()),
                    (time::Month::October, 2),
                    "{at}"
                );
            }
            at += time::Duration::minutes(30);
        }
        assert_eq!(
            europe_paris_midnight(date!(2026 - 11 - 28)),
            datetime!(2026-11-27 23:00 UTC)
        );
        assert_eq!(
            europe_paris_midnight(date!(2026 - 07 - 14)),
            datetime!(2026-07-13 22:00 UTC)
        );
    }
}
