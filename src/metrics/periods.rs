//! Period boundaries in the workspace time zone (docs/metrics.md §0): buckets are half-open
//! `[from, to)` and start at local midnight of a day, a Monday, a month, a quarter or a year.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::graphql::{AppError, AppResult};

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Quarter,
    Year,
}

/// Most buckets one query may ask for.
pub const MAX_BUCKETS: usize = 1_000;

/// The first instant of `date` in `zone` (the earliest one when a DST change skips midnight).
pub fn start_of(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match zone.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Midnight does not exist that day (a DST jump at 00:00): the day starts an hour later.
        None => zone
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The local date of the bucket that contains `date`.
fn floor(date: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Day => date,
        Granularity::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Granularity::Month => date.with_day(1).unwrap_or(date),
        Granularity::Quarter => NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).unwrap_or(date),
        Granularity::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date),
    }
}

fn next(date: NaiveDate, granularity: Granularity) -> Option<NaiveDate> {
    match granularity {
        Granularity::Day => date.checked_add_days(Days::new(1)),
        Granularity::Week => date.checked_add_days(Days::new(7)),
        Granularity::Month => date.checked_add_months(Months::new(1)),
        Granularity::Quarter => date.checked_add_months(Months::new(3)),
        Granularity::Year => date.checked_add_months(Months::new(12)),
    }
}

/// Bucket boundaries covering `[from, to)` as local dates: the first bucket starts at the bucket
/// containing `from`, the last ends at or after `to`; n buckets give n + 1 boundaries.
pub fn boundary_dates(from: NaiveDate, to: NaiveDate, granularity: Granularity) -> AppResult<Vec<NaiveDate>> {
    if to <= from {
        return Err(AppError::bad_input("input.to", "must be after `from`"));
    }
    let mut day = floor(from, granularity);
    let mut out = vec![day];
    while day < to {
        day = next(day, granularity).ok_or_else(|| AppError::bad_input("input.to", "out of range"))?;
        out.push(day);
        if out.len() > MAX_BUCKETS + 1 {
            return Err(AppError::bad_input(
                "input.granularity",
                format!("at most {MAX_BUCKETS} buckets; choose a coarser granularity"),
            ));
        }
    }
    Ok(out)
}

/// How many buckets `[from, to)` spans (at most [`MAX_BUCKETS`] + 1, which the query refuses):
/// for a query's cost, known before it runs.
pub fn bucket_count(from: NaiveDate, to: NaiveDate, granularity: Granularity) -> usize {
    boundary_dates(from, to, granularity).map_or(MAX_BUCKETS + 1, |b| b.len().saturating_sub(1)).max(1)
}

/// [`boundary_dates`] as instants: local midnights in `zone`.
pub fn boundaries(from: NaiveDate, to: NaiveDate, granularity: Granularity, zone: Tz) -> AppResult<Vec<DateTime<Utc>>> {
    Ok(boundary_dates(from, to, granularity)?.into_iter().map(|d| start_of(d, zone)).collect())
}

/// A calendar day as a number (days since 1 January of year 1), the unit of the purchase-day rollup.
pub fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}

/// The local calendar day of `t` in `zone`, as a [`day_number`].
pub fn local_day(t: DateTime<Utc>, zone: Tz) -> i32 {
    day_number(t.with_timezone(&zone).date_naive())
}

/// The date of a [`day_number`].
pub fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default()
}

/// For each day near a list of boundary days, how many boundaries fall on or before it: a table
/// lookup instead of a search, since the metric loops ask this for every purchase day.
pub struct BoundaryIndex {
    first: i32,
    /// `counts[k]`: boundaries on or before day `first + k`.
    counts: Vec<u16>,
    len: usize,
}

impl BoundaryIndex {
    /// `bounds` ascending, at most `MAX_BUCKETS + 1` of them; days before `bounds[0] - margin` are
    /// not asked often, so the table starts there.
    pub fn new(bounds: &[i32], margin: i32) -> Self {
        let (Some(&lo), Some(&hi)) = (bounds.first(), bounds.last()) else {
            return BoundaryIndex { first: 0, counts: Vec::new(), len: 0 };
        };
        let first = lo.saturating_sub(margin.max(0));
        let counts = (first..=hi).map(|day| bounds.partition_point(|b| *b <= day) as u16).collect();
        BoundaryIndex { first, counts, len: bounds.len() }
    }

    /// How many boundaries fall on or before `day`.
    pub fn at_or_before(&self, day: i32) -> usize {
        if day < self.first {
            return 0;
        }
        self.counts.get((day - self.first) as usize).map_or(self.len, |n| usize::from(*n))
    }
}

/// Which period of `bounds` (n + 1 boundaries, n periods) contains `t`, if any.
pub fn index_of(bounds: &[DateTime<Utc>], t: DateTime<Utc>) -> Option<usize> {
    let periods = bounds.len().saturating_sub(1);
    bounds.partition_point(|b| *b <= t).checked_sub(1).filter(|i| *i < periods)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn boundary_index_counts_boundaries_on_or_before_a_day() {
        let bounds = [10, 20, 50];
        let index = BoundaryIndex::new(&bounds, 5);
        for day in -10..70 {
            assert_eq!(index.at_or_before(day), bounds.partition_point(|b| *b <= day), "day {day}");
        }
    }

    #[test]
    fn months_start_at_local_midnight() {
        let b = boundaries(date(2026, 1, 15), date(2026, 4, 1), Granularity::Month, chrono_tz::Europe::Berlin).unwrap();
        let shown: Vec<String> = b.iter().map(|t| t.to_rfc3339()).collect();
        // Berlin midnights in UTC; summer time starts on 29 March.
        assert_eq!(
            shown,
            [
                "2025-12-31T23:00:00+00:00",
                "2026-01-31T23:00:00+00:00",
                "2026-02-28T23:00:00+00:00",
                "2026-03-31T22:00:00+00:00"
            ]
        );
    }

    #[test]
    fn weeks_start_on_monday_and_quarters_on_their_month() {
        let b = boundaries(date(2026, 11, 19), date(2026, 11, 24), Granularity::Week, chrono_tz::UTC).unwrap();
        assert_eq!(b[0].date_naive(), date(2026, 11, 16));
        assert_eq!(b.len(), 3);
        let q = boundaries(date(2026, 5, 5), date(2026, 7, 1), Granularity::Quarter, chrono_tz::UTC).unwrap();
        assert_eq!(q.iter().map(|t| t.date_naive()).collect::<Vec<_>>(), [date(2026, 4, 1), date(2026, 7, 1)]);
        assert!(boundaries(date(2026, 5, 5), date(2026, 5, 5), Granularity::Day, chrono_tz::UTC).is_err());
        assert!(boundaries(date(2000, 1, 1), date(2026, 1, 1), Granularity::Day, chrono_tz::UTC).is_err());
    }
}
