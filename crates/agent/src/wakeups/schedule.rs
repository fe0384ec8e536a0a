//! When a wakeup fires: once (`at`), every N anchored to its start
//! (`every`), or a cron expression in a time zone (`cron`, via croner, which
//! follows the Open Cron Pattern Specification for DST: a time that falls
//! in a spring-forward gap runs right after the gap; a time repeated by a
//! fall-back runs once).
//!
//! Every next time is computed from a *scheduled* time, never from when a
//! run happened, so late runs never drift the schedule.
//!
//! The shapes (`Schedule`, `NewSchedule`) are the API contract's
//! (`perch_protocol::wakeups`); what is computed from them is here:
//! [`resolve`] and [`ScheduleExt`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
pub use perch_protocol::wakeups::{MillisOrText, NewSchedule, Schedule};
use perch_runtime::{Error, Result};
use std::str::FromStr;

/// Longer than any DST shift (at most two hours, Antarctica/Troll).
const DST_LOOKBACK_MS: i64 = 3 * 3_600_000;
const MAX_LOOKBACK_STEPS: usize = 20_000;

/// The shortest `every`: a wakeup is a model turn, not a heartbeat.
pub const MIN_EVERY_MS: i64 = 10_000;

/// `90s`, `10m`, `2h`, `1d`, `1h30m`, or a bare number of seconds.
pub fn parse_duration_ms(text: &str) -> Result<i64> {
    stdx::parse_duration_ms(text).ok_or_else(|| {
        Error::Invalid(format!(
            "{:?} is not a duration like 90s, 10m, 2h, 1d or 1h30m",
            text.trim().to_lowercase()
        ))
    })
}

/// Milliseconds, or an RFC 3339 time (`2026-11-22T09:00:00+01:00`).
fn parse_instant(value: &MillisOrText) -> Result<i64> {
    match value {
        MillisOrText::Millis(ms) => Ok(*ms),
        MillisOrText::Text(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp_millis())
            .map_err(|_| {
                Error::Invalid(format!(
                    "{s:?} is not a time like 2026-11-22T09:00:00+01:00"
                ))
            }),
    }
}

/// The machine's IANA zone (`Europe/Paris`), UTC when it cannot be told.
pub fn local_zone() -> String {
    iana_time_zone::get_timezone()
        .ok()
        .filter(|z| z.parse::<Tz>().is_ok())
        .unwrap_or_else(|| "UTC".into())
}

fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::Invalid(format!(
            "{name:?} is not an IANA time zone like Europe/Paris"
        ))
    })
}

/// Five fields (minute hour day month weekday): no seconds field, so a
/// cron wakeup cannot fire more often than once a minute.
fn cron(expr: &str) -> Result<Cron> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(Error::Invalid(format!(
            "cron {expr:?} has {fields} fields; use five: minute hour day month weekday"
        )));
    }
    for (field, (name, low, high)) in expr.split_whitespace().zip(CRON_FIELDS) {
        check_cron_field(field, name, low, high)
            .map_err(|why| Error::Invalid(format!("cron {expr:?}: {why}")))?;
    }
    Cron::from_str(expr.trim()).map_err(|e| Error::Invalid(format!("cron {expr:?}: {e}")))
}

/// Each field's name and range, in order.
const CRON_FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of the month", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
];

/// Says in words what is wrong with a field's numbers ("minute must be
/// 0–59, not 60"), before croner, whose errors do not name the field.
/// Names (JAN, MON) and croner's extensions (L, W, #, ?) are left to it.
fn check_cron_field(
    field: &str,
    name: &str,
    low: u32,
    high: u32,
) -> std::result::Result<(), String> {
    for part in field.split(',') {
        if part.is_empty() {
            return Err(format!("the {name} field has an empty item (two commas?)"));
        }
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(0) => return Err(format!("a {name} step must be at least 1, not 0")),
                Ok(n) if n > high => {
                    return Err(format!("a {name} step must be 1–{high}, not {n}"))
                }
                _ => {}
            }
        }
        for bound in range.split('-') {
            if let Ok(n) = bound.parse::<u32>() {
                if n < low || n > high {
                    return Err(format!("{name} must be {low}–{high}, not {n}"));
                }
            }
        }
    }
    Ok(())
}

/// The schedule to store for what a client gave; `now` anchors `in` and a
/// default `every`.
pub fn resolve(new: NewSchedule, now: i64) -> Result<Schedule> {
    let schedule = match new {
        NewSchedule::At { at } => Schedule::At {
            at: parse_instant(&at)?,
        },
        NewSchedule::In { delay } => Schedule::At {
            at: now + parse_duration_ms(&delay)?,
        },
        NewSchedule::Every { every, anchor } => {
            let every_ms = match &every {
                MillisOrText::Text(s) => parse_duration_ms(s)?,
                MillisOrText::Millis(ms) => *ms,
            };
            // Without an anchor the first run is one period from now.
            Schedule::Every {
                every_ms,
                anchor: anchor.unwrap_or_else(|| now.saturating_add(every_ms)),
            }
        }
        NewSchedule::Cron { expr, tz } => Schedule::Cron {
            expr: expr.trim().to_string(),
            tz: tz.unwrap_or_else(local_zone),
        },
    };
    schedule.validate()?;
    Ok(schedule)
}

/// What the runtime computes from a stored schedule.
pub trait ScheduleExt {
    /// Whether it can fire: a time after 1970, a period of at least
    /// [`MIN_EVERY_MS`], a five-field cron that matches some day in a known
    /// zone.
    fn validate(&self) -> Result<()>;

    /// The first time strictly after `after` (ms), or `None` when there is none.
    fn next_after(&self, after: i64) -> Option<i64>;

    /// The first time at or after `from`.
    fn first_from(&self, from: i64) -> Option<i64> {
        self.next_after(from - 1)
    }

    /// In words, for lists and the agent: `every 15m`, `cron 0 9 * * 1-5 (Europe/Paris)`.
    fn describe(&self) -> String;
}

impl ScheduleExt for Schedule {
    fn validate(&self) -> Result<()> {
        match self {
            Self::At { at } if *at <= 0 => Err(Error::Invalid("the time is before 1970".into())),
            Self::Every { every_ms, .. } if *every_ms < MIN_EVERY_MS => Err(Error::Invalid(
                format!("every is at least {} seconds", MIN_EVERY_MS / 1000),
            )),
            Self::Every { anchor, .. } if *anchor < 0 => {
                Err(Error::Invalid("the anchor is before 1970".into()))
            }
            Self::Cron { expr, tz } => {
                zone(tz)?;
                let cron = cron(expr)?;
                // A pattern that never matches (30 February) is an error now, not a silent never.
                let now = Utc::now().with_timezone(&zone(tz)?);
                cron.find_next_occurrence(&now, false)
                    .map(|_| ())
                    .map_err(|e| Error::Invalid(format!("cron {expr:?} never fires: {e}")))
            }
            _ => Ok(()),
        }
    }

    fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Self::At { at } => (*at > after).then_some(*at),
            Self::Every { every_ms, anchor } => {
                if after < *anchor {
                    return Some(*anchor);
                }
                // Checked: a client's anchor may sit at either end of i64.
                let periods = after.checked_sub(*anchor)? / every_ms + 1;
                periods
                    .checked_mul(*every_ms)
                    .and_then(|d| d.checked_add(*anchor))
            }
            Self::Cron { expr, tz } => {
                let (cron, tz) = (cron(expr).ok()?, zone(tz).ok()?);
                // croner tracks a fall-back's repeated hour only while it
                // iterates through it, so start the walk before any
                // transition `after` could sit in.
                let from = DateTime::<Utc>::from_timestamp_millis(after - DST_LOOKBACK_MS)?
                    .with_timezone(&tz);
                cron.iter_after(from)
                    .take(MAX_LOOKBACK_STEPS)
                    .map(|t| t.timestamp_millis())
                    .find(|t| *t > after)
                    .or_else(|| {
                        let start =
                            DateTime::<Utc>::from_timestamp_millis(after)?.with_timezone(&tz);
                        cron.find_next_occurrence(&start, false)
                            .ok()
                            .map(|t| t.timestamp_millis())
                    })
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::At { at } => format!("at {}", iso(*at)),
            Self::Every { every_ms, .. } => format!("every {}", human_duration(*every_ms)),
            Self::Cron { expr, tz } => format!("cron {expr} ({tz})"),
        }
    }
}

pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

pub fn human_duration(ms: i64) -> String {
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    let mut left = ms;
    let mut out = String::new();
    for (size, name) in units {
        if left >= size {
            out.push_str(&format!("{}{name}", left / size));
            left %= size;
        }
    }
    if out.is_empty() {
        format!("{ms}ms")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cron_field_out_of_range_is_said_in_words() {
        let said = |expr: &str| {
            Schedule::Cron {
                expr: expr.into(),
                tz: "UTC".into(),
            }
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
        };
        assert!(
            said("60 9 * * *").contains("minute must be 0–59, not 60"),
            "{}",
            said("60 9 * * *")
        );
        assert!(said("0 24 * * *").contains("hour must be 0–23, not 24"));
        assert!(said("0 9 0 * *").contains("day of the month must be 1–31, not 0"));
        assert!(said("0 9 * 13 *").contains("month must be 1–12, not 13"));
        assert!(said("0 9 * * 1-8").contains("weekday must be 0–7, not 8"));
        assert!(said("*/0 * * * *").contains("a minute step must be at least 1, not 0"));
        assert!(said("1,,2 * * * *").contains("empty item"));
        assert_eq!(said("0 9 * JAN MON-FRI"), "");
        assert_eq!(said("*/15 9-17 1,15 * 1-5"), "");
    }

    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN)
    }

    fn cron(expr: &str, tz: &str) -> Schedule {
        Schedule::Cron {
            expr: expr.into(),
            tz: tz.into(),
        }
    }

    /// (what, schedule, after, expected next) — DST changes, month ends, leap years.
    #[test]
    fn next_fire_times() {
        let cases: Vec<(&str, Schedule, &str, Option<&str>)> = vec![
            (
                "daily 9:00 Paris, winter",
                cron("0 9 * * *", "Europe/Paris"),
                "2026-01-10T12:00:00Z",
                Some("2026-01-11T08:00:00Z"),
            ),
            (
                "daily 9:00 Paris, summer",
                cron("0 9 * * *", "Europe/Paris"),
                "2026-07-10T12:00:00Z",
                Some("2026-07-11T07:00:00Z"),
            ),
            // 2026-03-08 02:30 does not exist in New York: it runs right after the gap, at 03:00 EDT.
            (
                "spring-forward gap",
                cron("30 2 * * *", "America/New_York"),
                "2026-03-08T06:00:00Z",
                Some("2026-03-08T07:00:00Z"),
            ),
            (
                "the day after the gap",
                cron("30 2 * * *", "America/New_York"),
                "2026-03-08T07:00:00Z",
                Some("2026-03-09T06:30:00Z"),
            ),
            // 2026-11-01 01:30 happens twice in New York: it runs at the first one only.
            (
                "fall-back first 1:30",
                cron("30 1 * * *", "America/New_York"),
                "2026-11-01T04:00:00Z",
                Some("2026-11-01T05:30:00Z"),
            ),
            (
                "fall-back no second 1:30",
                cron("30 1 * * *", "America/New_York"),
                "2026-11-01T05:30:00Z",
                Some("2026-11-02T06:30:00Z"),
            ),
            // London repeats 01:00-02:00 on 2026-10-25: a job with a wildcard hour runs
            // in both passes (00:00Z and 01:00Z), a fixed-time job in the first only.
            (
                "hourly across fall-back",
                cron("0 * * * *", "Europe/London"),
                "2026-10-25T00:30:00Z",
                Some("2026-10-25T01:00:00Z"),
            ),
            (
                "every minute runs through both passes",
                cron("* * * * *", "Europe/London"),
                "2026-10-25T00:59:30Z",
                Some("2026-10-25T01:00:00Z"),
            ),
            (
                "31st skips short months",
                cron("0 0 31 * *", "UTC"),
                "2026-04-01T00:00:00Z",
                Some("2026-05-31T00:00:00Z"),
            ),
            (
                "last day of February",
                cron("0 12 L * *", "UTC"),
                "2026-02-10T00:00:00Z",
                Some("2026-02-28T12:00:00Z"),
            ),
            (
                "last day, leap year",
                cron("0 12 L 2 *", "UTC"),
                "2027-06-01T00:00:00Z",
                Some("2028-02-29T12:00:00Z"),
            ),
            (
                "29 February",
                cron("0 0 29 2 *", "UTC"),
                "2026-03-01T00:00:00Z",
                Some("2028-02-29T00:00:00Z"),
            ),
            (
                "weekdays",
                cron("0 9 * * 1-5", "UTC"),
                "2026-11-20T10:00:00Z",
                Some("2026-11-23T09:00:00Z"),
            ),
            (
                "year end in Tokyo",
                cron("0 0 1 1 *", "Asia/Tokyo"),
                "2026-12-31T00:00:00Z",
                Some("2026-12-31T15:00:00Z"),
            ),
            (
                "every, before its anchor",
                Schedule::Every {
                    every_ms: 60_000,
                    anchor: ms("2026-01-01T00:00:00Z"),
                },
                "2025-12-31T00:00:00Z",
                Some("2026-01-01T00:00:00Z"),
            ),
            (
                "every, anchored",
                Schedule::Every {
                    every_ms: 900_000,
                    anchor: ms("2026-01-01T00:05:00Z"),
                },
                "2026-01-01T01:00:00Z",
                Some("2026-01-01T01:05:00Z"),
            ),
            (
                "every, on the boundary",
                Schedule::Every {
                    every_ms: 900_000,
                    anchor: ms("2026-01-01T00:05:00Z"),
                },
                "2026-01-01T01:05:00Z",
                Some("2026-01-01T01:20:00Z"),
            ),
            (
                "at, later",
                Schedule::At {
                    at: ms("2026-05-01T00:00:00Z"),
                },
                "2026-04-01T00:00:00Z",
                Some("2026-05-01T00:00:00Z"),
            ),
            (
                "at, past",
                Schedule::At {
                    at: ms("2026-05-01T00:00:00Z"),
                },
                "2026-05-01T00:00:00Z",
                None,
            ),
        ];
        for (what, schedule, after, expected) in cases {
            let next = schedule.next_after(ms(after));
            assert_eq!(next.map(iso), expected.map(|e| iso(ms(e))), "{what}");
        }
    }

    #[test]
    fn schedules_and_durations_are_validated() {
        assert_eq!(parse_duration_ms("90s").ok(), Some(90_000));
        assert_eq!(parse_duration_ms("1h30m").ok(), Some(5_400_000));
        assert_eq!(parse_duration_ms("2").ok(), Some(2_000));
        for bad in ["", "10x", "m", "-5", "0s", "99999999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
        assert!(cron("0 9 * * *", "Mars/Olympus").validate().is_err());
        assert!(cron("61 * * * *", "UTC").validate().is_err());
        assert!(cron("0 0 30 2 *", "UTC").validate().is_err());
        assert!(
            cron("* * * * * *", "UTC").validate().is_err(),
            "a seconds field is refused"
        );
        assert!(Schedule::Every {
            every_ms: 1_000,
            anchor: 0
        }
        .validate()
        .is_err());
        // An anchor at the far end of i64 (the API fuzzer sent one) is
        // refused, and the next-fire arithmetic does not overflow on it.
        let far = Schedule::Every {
            every_ms: 2_432_920_307,
            anchor: -9_223_372_036_854_775_807,
        };
        assert!(far.validate().is_err());
        assert_eq!(far.next_after(ms("2026-01-01T00:00:00Z")), None);
        let now = ms("2026-01-01T00:00:00Z");
        let at = resolve(
            NewSchedule::At {
                at: MillisOrText::Text("2026-01-02T00:00:00+01:00".into()),
            },
            now,
        );
        assert_eq!(
            at.ok(),
            Some(Schedule::At {
                at: ms("2026-01-01T23:00:00Z")
            })
        );
        let every = resolve(
            NewSchedule::Every {
                every: MillisOrText::Text("15m".into()),
                anchor: None,
            },
            now,
        );
        assert_eq!(
            every.ok(),
            Some(Schedule::Every {
                every_ms: 900_000,
                anchor: now + 900_000
            })
        );
        assert_eq!(human_duration(5_400_000), "1h30m");
    }
}
