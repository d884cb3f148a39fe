//! Business-time arithmetic: due times and elapsed time counted only inside opening hours
//! (several slots per weekday, in the workspace time zone, minus holidays). Pure: no database.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Minutes in a day; a slot may end at 1440 (midnight of the next day).
pub const DAY_MINUTES: i32 = 24 * 60;
/// How far ahead a due time is searched for; beyond it the calendar is treated as closed.
const SEARCH_DAYS: i64 = 3 * 366;

/// Opening slot `[start, end)` in minutes from local midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub start: i32,
    pub end: i32,
}

/// When the business is open. With no slots at all it is always open (24/7 support).
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: Tz,
    /// Index 0 = Monday … 6 = Sunday; sorted, non-overlapping.
    week: [Vec<Slot>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn always_open(tz: Tz) -> Self {
        Calendar { tz, week: Default::default(), holidays: BTreeSet::new() }
    }

    /// `slots` are (weekday 0 = Monday, slot); overlapping slots of a day are merged.
    pub fn new(
        tz: Tz,
        slots: impl IntoIterator<Item = (usize, Slot)>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        let mut week: [Vec<Slot>; 7] = Default::default();
        for (day, slot) in slots {
            if day < 7 && slot.start < slot.end {
                week[day].push(Slot { start: slot.start.max(0), end: slot.end.min(DAY_MINUTES) });
            }
        }
        for day in &mut week {
            day.sort();
            let mut merged: Vec<Slot> = Vec::with_capacity(day.len());
            for slot in day.drain(..) {
                match merged.last_mut() {
                    Some(last) if slot.start <= last.end => last.end = last.end.max(slot.end),
                    _ => merged.push(slot),
                }
            }
            *day = merged;
        }
        Calendar { tz, week, holidays: holidays.into_iter().collect() }
    }

    fn is_always_open(&self) -> bool {
        self.week.iter().all(Vec::is_empty)
    }

    /// The open intervals of one local date, in UTC.
    fn open_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = date.weekday().num_days_from_monday() as usize;
        self.week[day]
            .iter()
            .map(|slot| (self.instant(date, slot.start), self.instant(date, slot.end)))
            .filter(|(start, end)| start < end)
            .collect()
    }

    /// Local `date` + `minutes` as a UTC instant. A time skipped by a DST change maps to the
    /// moment the clocks jumped to; a repeated one to its first occurrence.
    fn instant(&self, date: NaiveDate, minutes: i32) -> DateTime<Utc> {
        let local: NaiveDateTime = date.and_time(chrono::NaiveTime::MIN) + Duration::minutes(minutes.into());
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
            LocalResult::None => {
                let mut probe = local;
                loop {
                    probe += Duration::minutes(15);
                    if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                        return t.with_timezone(&Utc);
                    }
                }
            }
        }
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The instant `business` of open time after `start`; `None` if the calendar has no open
    /// time in the next three years (e.g. every day a holiday).
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> Option<DateTime<Utc>> {
        if self.is_always_open() || business <= Duration::zero() {
            return Some(start + business.max(Duration::zero()));
        }
        let mut remaining = business;
        // Start a day early: a local date's slots can begin before `start`'s UTC date.
        let first = self.local_date(start) - Duration::days(1);
        for offset in 0..SEARCH_DAYS {
            let date = first + Duration::days(offset);
            for (open, close) in self.open_intervals(date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let available = close - from;
                if remaining <= available {
                    return Some(from + remaining);
                }
                remaining -= available;
            }
        }
        None
    }

    /// Open time between `from` and `to` (zero when `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.is_always_open() {
            return to - from;
        }
        let mut total = Duration::zero();
        let mut date = self.local_date(from) - Duration::days(1);
        let last = self.local_date(to) + Duration::days(1);
        while date <= last {
            for (open, close) in self.open_intervals(date) {
                let (start, end) = (open.max(from), close.min(to));
                if start < end {
                    total += end - start;
                }
            }
            date += Duration::days(1);
        }
        total
    }
}

/// Parses `HH:MM` (00:00–24:00) into minutes from midnight.
pub fn parse_clock(text: &str) -> Option<i32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    ((0..60).contains(&m) && (0..=DAY_MINUTES).contains(&minutes)).then_some(minutes)
}

/// Minutes from midnight as `HH:MM`.
pub fn format_clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Monday–Friday 09:00–12:00 and 13:00–17:00 in Berlin.
    fn office(holidays: &[&str]) -> Calendar {
        let slots = (0..5).flat_map(|d| [(d, Slot { start: 540, end: 720 }), (d, Slot { start: 780, end: 1020 })]);
        Calendar::new("Europe/Berlin".parse().unwrap(), slots, holidays.iter().map(|d| d.parse().unwrap()))
    }

    #[test]
    fn within_one_slot() {
        // Monday 2026-11-23 10:00 Berlin = 09:00 UTC.
        let due = office(&[]).add(utc("2026-11-23T09:00:00Z"), Duration::minutes(60)).unwrap();
        assert_eq!(due, utc("2026-11-23T10:00:00Z"));
    }

    #[test]
    fn skips_the_lunch_gap() {
        // 11:30 Berlin + 60 min: 30 before lunch, 30 after 13:00 → 13:30 Berlin = 12:30 UTC.
        let due = office(&[]).add(utc("2026-11-23T10:30:00Z"), Duration::minutes(60)).unwrap();
        assert_eq!(due, utc("2026-11-23T12:30:00Z"));
    }

    #[test]
    fn over_night_and_weekend() {
        // Friday 16:00 Berlin + 120 min: 60 on Friday, then Monday 09:00 + 60 → Monday 10:00 Berlin.
        let cal = office(&[]);
        let due = cal.add(utc("2026-11-27T15:00:00Z"), Duration::minutes(120)).unwrap();
        assert_eq!(due, utc("2026-11-30T09:00:00Z"));
        assert_eq!(cal.between(utc("2026-11-27T15:00:00Z"), due), Duration::minutes(120));
    }

    #[test]
    fn filed_outside_hours_starts_at_opening() {
        // Saturday night: the clock starts Monday 09:00 Berlin (08:00 UTC).
        let due = office(&[]).add(utc("2026-11-28T22:00:00Z"), Duration::minutes(30)).unwrap();
        assert_eq!(due, utc("2026-11-30T08:30:00Z"));
    }

    #[test]
    fn holidays_are_closed() {
        // Monday 2026-11-30 is a holiday: Friday 16:00 + 120 → Tuesday 10:00 Berlin.
        let due = office(&["2026-11-30"]).add(utc("2026-11-27T15:00:00Z"), Duration::minutes(120)).unwrap();
        assert_eq!(due, utc("2026-12-01T09:00:00Z"));
    }

    #[test]
    fn daylight_saving_change() {
        // Berlin leaves summer time on Sunday 2026-10-25: Friday 16:00 CEST (14:00 UTC) + 120 min
        // → Monday 10:00 CET (09:00 UTC).
        let due = office(&[]).add(utc("2026-10-23T14:00:00Z"), Duration::minutes(120)).unwrap();
        assert_eq!(due, utc("2026-10-26T09:00:00Z"));
    }

    #[test]
    fn between_counts_only_open_time() {
        let cal = office(&[]);
        // Monday 08:00 → Tuesday 08:00 Berlin: a whole working day of 7 hours.
        assert_eq!(cal.between(utc("2026-11-23T07:00:00Z"), utc("2026-11-24T07:00:00Z")), Duration::hours(7));
        assert_eq!(cal.between(utc("2026-11-24T07:00:00Z"), utc("2026-11-23T07:00:00Z")), Duration::zero());
    }

    #[test]
    fn always_open_is_wall_time() {
        let cal = Calendar::always_open(Tz::UTC);
        let start = utc("2026-11-28T22:00:00Z");
        assert_eq!(cal.add(start, Duration::minutes(90)), Some(start + Duration::minutes(90)));
        assert_eq!(cal.between(start, start + Duration::hours(5)), Duration::hours(5));
    }

    #[test]
    fn a_calendar_of_only_holidays_has_no_due_time() {
        let slots = [(0, Slot { start: 540, end: 600 })];
        let mondays: Vec<NaiveDate> =
            (0..200).map(|w| "2026-11-23".parse::<NaiveDate>().unwrap() + Duration::weeks(w)).collect();
        let cal = Calendar::new(Tz::UTC, slots, mondays);
        assert_eq!(cal.add(utc("2026-11-23T00:00:00Z"), Duration::minutes(30)), None);
    }

    #[test]
    fn clock_text() {
        assert_eq!(parse_clock("09:30"), Some(570));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("24:01"), None);
        assert_eq!(parse_clock("9:60"), None);
        assert_eq!(parse_clock("nine"), None);
        assert_eq!(format_clock(570), "09:30");
    }
}
