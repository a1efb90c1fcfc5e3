//! Simulated time: an `f64` number of seconds in a newtype, and durations written with units.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant or a span of simulated time [s].
///
/// Instants are offsets from the start of a run (or from a plant's calendar start). The value is
/// always finite; the calendar additionally requires instants to be `>= 0` so that the bit
/// pattern of the `f64` orders like the number (see [`crate::calendar`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct SimTime(f64);

impl SimTime {
    /// Time zero, the start of a run.
    pub const ZERO: SimTime = SimTime(0.0);
    /// Later than any event a run will ever schedule.
    pub const NEVER: SimTime = SimTime(f64::INFINITY);

    /// A time of `s` seconds.
    pub const fn from_secs(s: f64) -> SimTime {
        SimTime(s)
    }

    /// A time of `h` hours.
    pub fn from_hours(h: f64) -> SimTime {
        SimTime(h * 3600.0)
    }

    /// This time in seconds.
    pub const fn secs(self) -> f64 {
        self.0
    }

    /// This time in hours.
    pub fn hours(self) -> f64 {
        self.0 / 3600.0
    }

    /// The later of two times.
    pub fn max(self, other: SimTime) -> SimTime {
        if other.0 > self.0 { other } else { self }
    }

    /// The earlier of two times.
    pub fn min(self, other: SimTime) -> SimTime {
        if other.0 < self.0 { other } else { self }
    }
}

impl Add for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimTime) -> SimTime {
        SimTime(self.0 + rhs.0)
    }
}

impl AddAssign for SimTime {
    fn add_assign(&mut self, rhs: SimTime) {
        self.0 += rhs.0;
    }
}

impl Sub for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: SimTime) -> SimTime {
        SimTime(self.0 - rhs.0)
    }
}

impl fmt::Display for SimTime {
    /// Prints the time in the largest unit that keeps it readable (`90s`, `2.5h`, `3d`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.is_nan() {
            return write!(f, "NaN");
        }
        if !s.is_finite() {
            return write!(f, "never");
        }
        if s.abs() >= 1e12 {
            // Far beyond any real run: no 300-digit numbers in messages.
            return write!(f, "{:.3e}d", s / 86_400.0);
        }
        let (v, unit) = if s.abs() >= 86_400.0 {
            (s / 86_400.0, "d")
        } else if s.abs() >= 3600.0 {
            (s / 3600.0, "h")
        } else if s.abs() >= 60.0 {
            (s / 60.0, "min")
        } else {
            (s, "s")
        };
        let rounded = (v * 1000.0).round() / 1000.0;
        write!(f, "{rounded}{unit}")
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("'{0}' is not a number followed by a unit (ms, s, min, h, d, w)")]
    Malformed(String),
    #[error("unknown time unit '{unit}' in '{text}'; use one of ms, s, min, h, d, w")]
    UnknownUnit { text: String, unit: String },
    #[error("duration '{0}' is not finite")]
    NotFinite(String),
    #[error("duration '{0}' is negative; durations are >= 0")]
    Negative(String),
    #[error("duration '{0}' is longer than the limit of {MAX_DURATION_S:e} s (about 317 years)")]
    TooLong(String),
}

/// The longest duration accepted anywhere a user writes one (plant and study files, tag maps,
/// the command line): 1e10 s, about 317 years. Longer values are refused, not clamped, so that
/// no later conversion (`std::time::Duration`, integer ticks of the scheduler, calendar
/// arithmetic) can overflow or lose the unit.
pub const MAX_DURATION_S: f64 = 1e10;

/// Checks a duration given as a number of seconds (a bare number in a file): finite, >= 0 and
/// at most [`MAX_DURATION_S`]. `text` is what the user wrote, for the message.
pub fn check_duration(secs: f64, text: &str) -> Result<SimTime, DurationError> {
    if !secs.is_finite() {
        Err(DurationError::NotFinite(text.to_string()))
    } else if secs < 0.0 {
        Err(DurationError::Negative(text.to_string()))
    } else if secs > MAX_DURATION_S {
        Err(DurationError::TooLong(text.to_string()))
    } else {
        Ok(SimTime(secs))
    }
}

/// Seconds per unit, for the units accepted in files.
const UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("sec", 1.0),
    ("min", 60.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
    ("w", 604_800.0),
];

/// Parses a duration such as `"90s"`, `"1.5min"`, `"8h"`, `"2d"`, `"250ms"` or a bare number of
/// seconds (`"12.5"`). Whitespace between number and unit is allowed. The value must be finite,
/// >= 0 and at most [`MAX_DURATION_S`] ([`check_duration`]).
pub fn parse_duration(text: &str) -> Result<SimTime, DurationError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    // The unit starts at the first letter that is not the exponent of the number ("1e3s").
    let bytes = t.as_bytes();
    let is_exponent = |i: usize| {
        (bytes[i] == b'e' || bytes[i] == b'E')
            && i > 0
            && bytes[i - 1].is_ascii_digit()
            && bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+')
    };
    let split = (0..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphabetic() && !is_exponent(i))
        .unwrap_or(bytes.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| DurationError::Malformed(text.to_string()))?;
    let unit = unit.trim();
    let scale = if unit.is_empty() {
        1.0
    } else {
        UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|&(_, s)| s)
            .ok_or_else(|| DurationError::UnknownUnit {
                text: text.to_string(),
                unit: unit.to_string(),
            })?
    };
    check_duration(value * scale, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("90s").unwrap().secs(), 90.0);
        assert_eq!(parse_duration("1.5min").unwrap().secs(), 90.0);
        assert_eq!(parse_duration("8h").unwrap().secs(), 28_800.0);
        assert_eq!(parse_duration("2d").unwrap().secs(), 172_800.0);
        assert_eq!(parse_duration("250ms").unwrap().secs(), 0.25);
        assert_eq!(parse_duration(" 12.5 ").unwrap().secs(), 12.5);
        assert_eq!(parse_duration("1e3s").unwrap().secs(), 1000.0);
        assert_eq!(parse_duration("3 h").unwrap().secs(), 10_800.0);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(parse_duration("abc"), Err(DurationError::Malformed(_))));
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(DurationError::UnknownUnit { .. })
        ));
        for bad in ["nan", "inf", "-inf", "1e300s", "1e300", "-5s", "318y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(matches!(parse_duration("1e300s"), Err(DurationError::TooLong(_))));
        assert!(matches!(parse_duration("-5s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse_duration("1e400s"), Err(DurationError::NotFinite(_))));
        assert_eq!(parse_duration("1e10").unwrap().secs(), MAX_DURATION_S);
        assert!(check_duration(f64::NAN, "nan").is_err());
        assert!(parse_duration("5€").is_err());
    }

    #[test]
    fn displays_readably() {
        assert_eq!(SimTime::from_secs(90.0).to_string(), "1.5min");
        assert_eq!(SimTime::from_hours(36.0).to_string(), "1.5d");
        assert_eq!(SimTime::from_secs(0.5).to_string(), "0.5s");
        assert_eq!(SimTime::from_secs(f64::NAN).to_string(), "NaN");
        assert_eq!(SimTime::from_secs(1e300).to_string(), "1.157e295d");
    }
}
