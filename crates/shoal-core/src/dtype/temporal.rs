//! Calendar arithmetic for the temporal types: proleptic Gregorian dates as days since
//! 1970-01-01, and datetimes as microseconds since 1970-01-01T00:00 (the units Python's own
//! `datetime` works in, so every Python value round-trips exactly).

/// Microseconds in a day.
pub const US_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a (year, month 1..=12, day 1..=31) date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = (y - era * 400) as u32;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe as i32 + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// A datetime's fields, as `datetime.datetime` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Proleptic Gregorian year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Microsecond, 0-999,999.
    pub micro: u32,
}

impl Civil {
    /// Microseconds since the epoch (exact for every year 1..=9999).
    pub fn to_micros(self) -> i64 {
        let days = i64::from(days_from_civil(self.year, self.month, self.day));
        let secs = i64::from(self.hour * 3600 + self.minute * 60 + self.second);
        days * US_PER_DAY + secs * 1_000_000 + i64::from(self.micro)
    }

    /// The civil time `us` microseconds after 1970-01-01 00:00.
    pub fn from_micros(us: i64) -> Civil {
        let days = us.div_euclid(US_PER_DAY);
        let rem = us.rem_euclid(US_PER_DAY);
        let (year, month, day) = civil_from_days(days as i32);
        let secs = (rem / 1_000_000) as u32;
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            micro: (rem % 1_000_000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{DATETIME_RANGE_US, DATE_RANGE_DAYS};
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1, 1, 1), DATE_RANGE_DAYS.0);
        assert_eq!(days_from_civil(9999, 12, 31), DATE_RANGE_DAYS.1);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let last = Civil {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            micro: 999_999,
        };
        assert_eq!(last.to_micros(), DATETIME_RANGE_US.1);
    }

    proptest! {
        #[test]
        fn days_round_trip(d in DATE_RANGE_DAYS.0..=DATE_RANGE_DAYS.1) {
            let (y, m, day) = civil_from_days(d);
            prop_assert_eq!(days_from_civil(y, m, day), d);
        }

        #[test]
        fn micros_round_trip(us in DATETIME_RANGE_US.0..=DATETIME_RANGE_US.1) {
            prop_assert_eq!(Civil::from_micros(us).to_micros(), us);
        }
    }
}
