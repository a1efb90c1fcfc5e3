//! The plant's wall-calendar clock: where time 0 is, and weekly shift calendars.
//!
//! With a calendar start (`start = "2026-11-23T06:00:00+08:00"`), shift times, due dates and live
//! source times all refer to one clock: simulated time t is `start + t` seconds. Without one, time
//! 0 is a Monday 00:00 of an unnamed week and all times are offsets. The offset in the start
//! (`+08:00`) is kept fixed for the whole run: daylight-saving changes are not modelled.

use twinworks_engine::{MAX_DURATION_S, SimTime, parse_duration};

const DAY: f64 = 86_400.0;
const WEEK: f64 = 7.0 * DAY;

/// Where simulated time 0 sits on the wall calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarStart {
    /// The text as written in the plant file.
    pub text: String,
    /// Seconds since 1970-01-01T00:00:00Z of time 0.
    pub unix_secs: f64,
    /// The UTC offset of the local clock [s].
    pub utc_offset_s: i32,
    /// Seconds from local Monday 00:00 to time 0.
    pub week_offset_s: f64,
}

/// Parses an RFC 3339 timestamp with an explicit offset (`2026-11-23T06:00:00+08:00`, `...Z`),
/// with `jiff`. Returns (seconds since the Unix epoch, UTC offset in seconds, local seconds since
/// midnight, local weekday with Monday = 0).
pub fn parse_rfc3339(text: &str) -> Result<(f64, i32, f64, u32), String> {
    use jiff::fmt::temporal::{Pieces, PiecesOffset};
    let t = text.trim();
    let bad = |why: &dyn std::fmt::Display| {
        format!("'{text}' is not an RFC 3339 timestamp like 2026-11-23T06:00:00+08:00: {why}")
    };
    let pieces = Pieces::parse(t).map_err(|e| bad(&e))?;
    let offset = match pieces.offset() {
        Some(PiecesOffset::Zulu) => jiff::tz::Offset::UTC,
        Some(PiecesOffset::Numeric(n)) => n.offset(),
        _ => return Err(bad(&"the UTC offset (Z or +HH:MM) is required")),
    };
    let Some(time) = pieces.time() else {
        return Err(bad(&"a time of day is required"));
    };
    let local = pieces.date().to_datetime(time);
    let ts = offset.to_timestamp(local).map_err(|e| bad(&e))?;
    let unix = ts.as_second() as f64 + f64::from(ts.subsec_nanosecond()) * 1e-9;
    let local_secs = f64::from(time.hour()) * 3600.0
        + f64::from(time.minute()) * 60.0
        + f64::from(time.second())
        + f64::from(time.subsec_nanosecond()) * 1e-9;
    let weekday = local.weekday().to_monday_zero_offset() as u32;
    Ok((unix, offset.seconds(), local_secs, weekday))
}

impl CalendarStart {
    /// Parses the plant's `start`.
    pub fn parse(text: &str) -> Result<CalendarStart, String> {
        let (unix, offset, local, weekday) = parse_rfc3339(text)?;
        Ok(CalendarStart {
            text: text.to_string(),
            unix_secs: unix,
            utc_offset_s: offset,
            week_offset_s: weekday as f64 * DAY + local,
        })
    }
}

/// Parses an instant in a plant file: a duration from time 0 (`"36h"`, `2.5`) or, when the plant
/// has a calendar start, an RFC 3339 timestamp (which may be before 0: the caller decides).
pub fn parse_instant(text: &str, start: Option<&CalendarStart>) -> Result<SimTime, String> {
    let b = text.trim().as_bytes();
    let looks_dated = b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-';
    if looks_dated {
        let Some(start) = start else {
            return Err(format!(
                "'{text}' is a date, but the plant has no calendar start; add `start = \"...\"` under [plant] or give an offset such as \"36h\""
            ));
        };
        let (unix, ..) = parse_rfc3339(text)?;
        let t = unix - start.unix_secs;
        if t.abs() > MAX_DURATION_S {
            return Err(format!(
                "'{text}' is more than the limit of {MAX_DURATION_S:e} s (about 317 years) from the plant's start"
            ));
        }
        return Ok(SimTime::from_secs(t));
    }
    parse_duration(text).map_err(|e| e.to_string())
}

/// A weekly shift calendar: the station works inside the shifts and is off-shift outside them.
#[derive(Clone, Debug, PartialEq)]
pub struct ShiftCalendar {
    /// Unique name.
    pub name: String,
    /// Working intervals in seconds from local Monday 00:00, sorted, disjoint, inside [0, week].
    pub week_intervals: Vec<(f64, f64)>,
    /// Seconds from local Monday 00:00 to simulated time 0.
    pub week_offset_s: f64,
}

/// Parses `"06:00"`, `"06:00:30"` or `"24:00"` into seconds since midnight.
pub fn parse_time_of_day(text: &str) -> Result<f64, String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let bad = || format!("'{text}' is not a time of day like \"06:00\"");
    if parts.len() < 2 || parts.len() > 3 {
        return Err(bad());
    }
    let h: u32 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let s: u32 = if parts.len() == 3 {
        parts[2].parse().map_err(|_| bad())?
    } else {
        0
    };
    if m > 59 || s > 59 || h > 24 || (h == 24 && (m > 0 || s > 0)) {
        return Err(bad());
    }
    Ok((h * 3600 + m * 60 + s) as f64)
}

/// Day names accepted in `days`.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl ShiftCalendar {
    /// Builds a calendar from shifts `(start, end)` in seconds since midnight, worked on the given
    /// weekdays (Monday = 0). A shift whose end is not after its start runs past midnight.
    pub fn new(name: &str, shifts: &[(f64, f64)], days: &[u32], week_offset_s: f64) -> ShiftCalendar {
        let mut raw: Vec<(f64, f64)> = Vec::new();
        for &d in days {
            for &(s, e) in shifts {
                let start = d as f64 * DAY + s;
                let end = d as f64 * DAY + if e > s { e } else { e + DAY };
                // Wrap a Sunday-night shift into Monday morning.
                if end > WEEK {
                    raw.push((start, WEEK));
                    raw.push((0.0, end - WEEK));
                } else {
                    raw.push((start, end));
                }
            }
        }
        raw.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (s, e) in raw {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        ShiftCalendar {
            name: name.to_string(),
            week_intervals: merged,
            week_offset_s,
        }
    }

    fn week_pos(&self, t: f64) -> (f64, f64) {
        let abs = t + self.week_offset_s;
        let week_start = (abs / WEEK).floor() * WEEK;
        (abs - week_start, week_start - self.week_offset_s)
    }

    /// Whether time `t` [s] is inside a shift.
    pub fn on_shift(&self, t: SimTime) -> bool {
        let (w, _) = self.week_pos(t.secs());
        self.week_intervals.iter().any(|&(s, e)| w >= s && w < e)
    }

    /// The first time after `t` at which on/off-shift changes, or `None` if it never does.
    pub fn next_change(&self, t: SimTime) -> Option<SimTime> {
        let iv = &self.week_intervals;
        if iv.is_empty() || (iv.len() == 1 && iv[0] == (0.0, WEEK)) {
            return None;
        }
        let (w, week_base) = self.week_pos(t.secs());
        let mut points: Vec<f64> = iv.iter().flat_map(|&(s, e)| [s, e]).collect();
        // A shift running through Monday 00:00 is split in two; that seam is not a change.
        let wraps = iv[0].0 == 0.0 && iv[iv.len() - 1].1 == WEEK;
        if wraps {
            points.retain(|&p| p != 0.0 && p != WEEK);
        }
        for week in 0..2 {
            for &p in &points {
                let abs = week_base + week as f64 * WEEK + p;
                if (week > 0 || p > w) && abs > t.secs() {
                    return Some(SimTime::from_secs(abs));
                }
            }
        }
        None
    }

    /// Fraction of a week that is on shift.
    pub fn on_shift_fraction(&self) -> f64 {
        self.week_intervals.iter().map(|(s, e)| e - s).sum::<f64>() / WEEK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_weekday() {
        // 2026-11-23 is a Monday.
        let s = CalendarStart::parse("2026-11-23T06:00:00+08:00").unwrap();
        assert_eq!(s.week_offset_s, 6.0 * 3600.0);
        assert_eq!(s.utc_offset_s, 8 * 3600);
        // 2026-11-22T22:00:00Z is the same instant.
        let (u, ..) = parse_rfc3339("2026-11-22T22:00:00Z").unwrap();
        assert_eq!(u, s.unix_secs);
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-23T06:00:00").is_err());
        let due = parse_instant("2026-11-24T06:00:00+08:00", Some(&s)).unwrap();
        assert_eq!(due.secs(), 86_400.0);
        assert!(parse_instant("2026-11-24T06:00:00+08:00", None).is_err());
    }

    #[test]
    fn two_shifts_on_weekdays() {
        let cal = ShiftCalendar::new(
            "2S",
            &[(6.0 * 3600.0, 14.0 * 3600.0), (14.0 * 3600.0, 22.0 * 3600.0)],
            &[0, 1, 2, 3, 4],
            0.0,
        );
        assert_eq!(cal.week_intervals.len(), 5, "adjacent shifts merge");
        let h = |x: f64| SimTime::from_hours(x);
        assert!(!cal.on_shift(h(5.0)));
        assert!(cal.on_shift(h(6.0)));
        assert!(cal.on_shift(h(21.9)));
        assert!(!cal.on_shift(h(22.0)));
        assert_eq!(cal.next_change(h(0.0)), Some(h(6.0)));
        assert_eq!(cal.next_change(h(6.0)), Some(h(22.0)));
        // Friday 22:00 → next Monday 06:00.
        assert_eq!(cal.next_change(h(4.0 * 24.0 + 22.0)), Some(h(7.0 * 24.0 + 6.0)));
        assert!((cal.on_shift_fraction() - 80.0 / 168.0).abs() < 1e-12);
    }

    #[test]
    fn night_shift_crosses_midnight_and_week_end() {
        let cal = ShiftCalendar::new("N", &[(22.0 * 3600.0, 6.0 * 3600.0)], &[0, 1, 2, 3, 4, 5, 6], 0.0);
        let h = |x: f64| SimTime::from_hours(x);
        assert!(cal.on_shift(h(3.0)), "Monday 03:00 belongs to Sunday's night shift");
        assert!(cal.on_shift(h(23.0)));
        assert!(!cal.on_shift(h(12.0)));
        assert_eq!(cal.next_change(h(3.0)), Some(h(6.0)));
    }

    #[test]
    fn calendar_offset_shifts_the_week() {
        // Time 0 is Monday 06:00: the day shift is on at once and ends at t = 8h.
        let cal = ShiftCalendar::new("D", &[(6.0 * 3600.0, 14.0 * 3600.0)], &[0, 1, 2, 3, 4], 6.0 * 3600.0);
        assert!(cal.on_shift(SimTime::ZERO));
        assert_eq!(cal.next_change(SimTime::ZERO), Some(SimTime::from_hours(8.0)));
    }
}
