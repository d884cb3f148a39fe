//! Retention, churn and purchase metrics per period (docs/metrics.md §1–2), computed from each
//! customer's purchase days. Pure: the caller loads them.
//!
//! Periods and the activity window are made of local calendar days (workspace time zone): a
//! customer is active at the start of day `b` when they bought on one of the W days before it
//! (days `b − W` … `b − 1`), so W = 90 means 90 calendar days also across a change of clocks.

use super::{activity::PurchaseDay, periods::BoundaryIndex};

/// The counts of one period `[from, to)`; the rates derive from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// |S|: active at `from`.
    pub start: u64,
    /// |E|: active at `to`.
    pub end: u64,
    /// |N|: first completed order in the period.
    pub new: u64,
    /// |S ∩ E|.
    pub retained: u64,
    /// |S \ E|.
    pub churned: u64,
    /// In E, not in S and not new: came back.
    pub reactivated: u64,
    pub orders: u64,
    pub revenue_minor: i128,
    /// |C|: customers with an order in the period.
    pub ordering: u64,
    /// Customers with two or more orders in the period.
    pub repeat: u64,
    /// Ordering customers who had ordered before the period.
    pub returning: u64,
}

impl Counts {
    pub fn retention(&self) -> Option<f64> {
        ratio(self.retained, self.start)
    }
    pub fn churn(&self) -> Option<f64> {
        ratio(self.churned, self.start)
    }
    /// The textbook (|E| − |N|) / |S|: counts reactivated customers as retained.
    pub fn crr_textbook(&self) -> Option<f64> {
        (self.start > 0).then(|| (self.end as f64 - self.new as f64) / self.start as f64)
    }
    pub fn purchase_frequency(&self) -> Option<f64> {
        ratio(self.orders, self.ordering)
    }
    pub fn repeat_purchase_rate(&self) -> Option<f64> {
        ratio(self.repeat, self.ordering)
    }
    pub fn returning_customer_rate(&self) -> Option<f64> {
        ratio(self.returning, self.ordering)
    }
}

/// `numerator / denominator`, or null for an empty denominator (never NaN).
pub fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The counts of each period of `bounds` (day numbers: n + 1 boundaries make n periods) and of
/// the whole span, over customers given by their purchase days (oldest first), with an activity
/// window of `window` days.
///
/// The work per customer follows their purchase days, not the periods (a daily series over two
/// years has 730 of them): each day makes the customer active at the boundaries in
/// `[day + 1, day + window]`, and those index ranges, merged, go into difference arrays.
pub fn series<'a>(
    customers: impl IntoIterator<Item = &'a [PurchaseDay]>,
    bounds: &[i32],
    window: i32,
) -> (Vec<Counts>, Counts) {
    let periods = bounds.len().saturating_sub(1);
    if periods == 0 {
        return (Vec::new(), Counts::default());
    }
    let (first_bound, last_bound) = (bounds[0], bounds[periods]);
    // Active at boundary j, and active at both boundaries of period i, as difference arrays.
    let mut active = vec![0i64; bounds.len() + 1];
    let mut both = vec![0i64; periods + 1];
    let mut tallies = vec![Tally::default(); periods];
    let mut span = Tally::default();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let index = BoundaryIndex::new(bounds, window);
    for days in customers {
        let (Some(first), Some(last)) = (days.first(), days.last()) else { continue };
        if last.day < first_bound - window || first.day >= last_bound {
            continue; // never active at a boundary, no order in the span
        }
        // Boundary ranges where the customer is active, merged when they touch: active at j and
        // j + 1 through two different purchases still counts as retained over period j.
        ranges.clear();
        for d in days {
            let (lo, hi) = (index.at_or_before(d.day), index.at_or_before(d.day.saturating_add(window)));
            if lo < hi {
                match ranges.last_mut() {
                    Some(range) if lo <= range.1 + 1 => range.1 = hi - 1,
                    _ => ranges.push((lo, hi - 1)),
                }
            }
        }
        for &(lo, hi) in &ranges {
            active[lo] += 1;
            active[hi + 1] -= 1;
            both[lo] += 1;
            both[hi] -= 1;
        }
        let starts_active = ranges.first().is_some_and(|r| r.0 == 0);
        let ends_active = ranges.last().is_some_and(|r| r.1 == periods);

        // Orders per period, grouped as the sorted days pass through the periods.
        let is_new = first.day >= first_bound;
        let mut in_span = Placed::default();
        let mut i = days.partition_point(|d| d.day < first_bound);
        while i < days.len() && days[i].day < last_bound {
            let period = index.at_or_before(days[i].day) - 1;
            let mut placed = Placed::default();
            while i < days.len() && days[i].day < bounds[period + 1] {
                placed.add(&days[i]);
                i += 1;
            }
            let end = bounds[period + 1];
            // The first period's last purchase is the last one before its end.
            let new_here = first.day >= bounds[period] && placed.orders > 0;
            let active_at_end = days[i - 1].day >= end - window;
            tallies[period].add(new_here, new_here && active_at_end, first.day < bounds[period], &placed);
            in_span.orders += placed.orders;
            in_span.revenue_minor += placed.revenue_minor;
        }
        span.retained += u64::from(starts_active && ends_active);
        span.add(is_new, is_new && ends_active, !is_new, &in_span);
    }
    let running = |diffs: &[i64]| -> Vec<u64> {
        diffs
            .iter()
            .scan(0i64, |sum, d| {
                *sum += d;
                Some((*sum).max(0) as u64)
            })
            .collect()
    };
    let (active, both) = (running(&active), running(&both));
    let buckets = (0..periods)
        .map(|i| {
            tallies[i].retained = both[i];
            tallies[i].counts(active[i], active[i + 1])
        })
        .collect();
    (buckets, span.counts(active[0], active[periods]))
}

/// Active at the start of `day`: a purchase on one of the `window` days before it.
pub fn active_at(days: &[PurchaseDay], day: i32, window: i32) -> bool {
    let before = days.partition_point(|d| d.day < day);
    before > 0 && days[before - 1].day >= day - window
}

/// A customer's orders within one period.
#[derive(Default)]
struct Placed {
    orders: u64,
    revenue_minor: i128,
}

impl Placed {
    fn add(&mut self, day: &PurchaseDay) {
        self.orders += u64::from(day.orders);
        self.revenue_minor += i128::from(day.revenue_minor);
    }
}

/// One period's counts other than S and E (`retained` is filled in at the end).
#[derive(Clone, Default)]
struct Tally {
    retained: u64,
    new: u64,
    new_at_end: u64,
    orders: u64,
    revenue_minor: i128,
    ordering: u64,
    repeat: u64,
    returning: u64,
}

impl Tally {
    /// Adds one customer with orders in the period: new in it (first purchase there), new and
    /// active at its end, bought before it, and their orders in it.
    fn add(&mut self, is_new: bool, new_at_end: bool, bought_before: bool, placed: &Placed) {
        self.new += u64::from(is_new);
        self.new_at_end += u64::from(new_at_end);
        if placed.orders > 0 {
            self.orders += placed.orders;
            self.revenue_minor += placed.revenue_minor;
            self.ordering += 1;
            self.repeat += u64::from(placed.orders >= 2);
            self.returning += u64::from(bought_before);
        }
    }

    /// A new customer is never in S, so E \ S splits into the new ones and the reactivated ones.
    fn counts(&self, start: u64, end: u64) -> Counts {
        Counts {
            start,
            end,
            new: self.new,
            retained: self.retained,
            churned: start - self.retained,
            reactivated: end - self.retained - self.new_at_end,
            orders: self.orders,
            revenue_minor: self.revenue_minor,
            ordering: self.ordering,
            repeat: self.repeat,
            returning: self.returning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders as (day, amount).
    fn customer(orders: &[(i32, i64)]) -> Vec<PurchaseDay> {
        crate::metrics::activity::merge_days(orders.to_vec())
    }

    fn period(customers: &[Vec<PurchaseDay>], from: i32, to: i32, window: i32) -> Counts {
        series(customers.iter().map(Vec::as_slice), &[from, to], window).1
    }

    /// docs/metrics.md §1's example: S = 100 of whom 60 stay, 15 earlier customers come back, 30 new
    /// customers all active at the end → E = 105, textbook CRR 0.75, retention 0.60, churn 0.40.
    #[test]
    fn the_specification_example() {
        let (from, to) = (200, 230);
        let mut all = Vec::new();
        for i in 0..60 {
            all.push(customer(&[(0, 1000), (150 + i % 10, 1000), (225, 1000)])); // active at both ends
        }
        for _ in 0..40 {
            all.push(customer(&[(0, 1000), (130, 1000)])); // active at `from` only (130 ≥ 200 − 90)
        }
        for _ in 0..15 {
            all.push(customer(&[(0, 1000), (50, 1000), (220, 500)])); // lapsed, then back in the period
        }
        for _ in 0..30 {
            all.push(customer(&[(210, 2000)])); // new
        }
        let c = period(&all, from, to, 90);
        assert_eq!((c.start, c.end, c.new, c.retained, c.churned, c.reactivated), (100, 105, 30, 60, 40, 15));
        assert_eq!(c.crr_textbook(), Some(0.75));
        assert_eq!(c.retention(), Some(0.6));
        assert_eq!(c.churn(), Some(0.4));
        assert_eq!(c.orders, 60 + 15 + 30);
        assert_eq!(c.revenue_minor, 60 * 1000 + 15 * 500 + 30 * 2000);
        assert_eq!(c.ordering, 105);
        assert_eq!(c.repeat, 0);
        assert_eq!(c.returning, 75);
    }

    #[test]
    fn empty_denominators_are_null_and_windows_are_half_open() {
        let c = period(&[], 0, 30, 90);
        assert_eq!((c.retention(), c.churn(), c.crr_textbook(), c.purchase_frequency()), (None, None, None, None));
        // An order on the day `to` belongs to the next period and is not "active at to".
        let c = period(&[customer(&[(30, 100)])], 0, 30, 90);
        assert_eq!((c.orders, c.end, c.new), (0, 0, 0));
        // A purchase W days before `from` still makes the customer active at `from`; a day more does not.
        let at_edge = [customer(&[(0, 100)])];
        assert_eq!(period(&at_edge, 90, 91, 90).start, 1);
        assert_eq!(period(&at_edge, 91, 92, 90).start, 0);
        // Two orders in the period make a repeat customer, also on one day.
        let twice = [customer(&[(5, 100), (5, 300)])];
        let c = period(&twice, 0, 30, 90);
        assert_eq!((c.repeat_purchase_rate(), c.purchase_frequency(), c.revenue_minor), (Some(1.0), Some(2.0), 400));
    }

    #[test]
    fn buckets_add_up_to_the_span() {
        // Three 10-day buckets; the span's orders are the buckets' orders, its S and E their ends.
        let all = [
            customer(&[(1, 10), (12, 20), (25, 30)]),
            customer(&[(3, 5)]),
            customer(&[(28, 7), (28, 8)]),
            customer(&[(-40, 1)]),
        ];
        let (buckets, total) = series(all.iter().map(Vec::as_slice), &[0, 10, 20, 30], 15);
        assert_eq!(buckets.iter().map(|b| b.orders).sum::<u64>(), total.orders);
        assert_eq!(total.orders, 6);
        assert_eq!((buckets[0].start, buckets[0].end, buckets[0].new), (0, 2, 2));
        assert_eq!((buckets[1].start, buckets[1].end, buckets[1].retained, buckets[1].churned), (2, 1, 1, 1));
        assert_eq!((buckets[2].new, buckets[2].repeat, buckets[2].returning), (1, 1, 1));
        assert_eq!((total.start, total.end, total.new, total.reactivated), (0, 2, 3, 0));
        assert_eq!(buckets[2].end, 2, "active at day 30: purchases on days 25 and 28");
    }

    /// The definitions applied literally, customer by customer and boundary by boundary.
    fn by_definition(customers: &[Vec<PurchaseDay>], from: i32, to: i32, window: i32) -> Counts {
        let active = |days: &[PurchaseDay], b: i32| days.iter().any(|d| b - window <= d.day && d.day < b);
        let mut c = Counts::default();
        for days in customers {
            let (s, e) = (active(days, from), active(days, to));
            let is_new = days.first().is_some_and(|d| from <= d.day && d.day < to);
            let placed: Vec<_> = days.iter().filter(|d| from <= d.day && d.day < to).collect();
            let orders: u64 = placed.iter().map(|d| u64::from(d.orders)).sum();
            c.start += u64::from(s);
            c.end += u64::from(e);
            c.new += u64::from(is_new);
            c.retained += u64::from(s && e);
            c.churned += u64::from(s && !e);
            c.reactivated += u64::from(e && !s && !is_new);
            if orders > 0 {
                c.orders += orders;
                c.revenue_minor += placed.iter().map(|d| i128::from(d.revenue_minor)).sum::<i128>();
                c.ordering += 1;
                c.repeat += u64::from(orders >= 2);
                c.returning += u64::from(days[0].day < from);
            }
        }
        c
    }

    #[test]
    fn every_bucket_matches_the_definitions_on_random_histories() {
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let customers: Vec<Vec<PurchaseDay>> = (0..400)
            .map(|_| {
                let mut day = next(300) as i32 - 100;
                let mut days = Vec::new();
                for _ in 0..=next(8) {
                    days.push(PurchaseDay { day, orders: 1 + next(3) as u32, revenue_minor: next(5_000) as i64 });
                    day += 1 + next(120) as i32;
                }
                days
            })
            .collect();
        for (step, window) in [(1, 30), (7, 90), (30, 90), (45, 20), (200, 90)] {
            let bounds: Vec<i32> = (0..=400 / step).map(|k| k * step).collect();
            let (buckets, total) = series(customers.iter().map(Vec::as_slice), &bounds, window);
            for (i, counts) in buckets.iter().enumerate() {
                let expected = by_definition(&customers, bounds[i], bounds[i + 1], window);
                assert_eq!(*counts, expected, "period {i} of {step} days, window {window}");
            }
            let whole = by_definition(&customers, bounds[0], bounds[bounds.len() - 1], window);
            assert_eq!(total, whole, "span of {step}-day periods, window {window}");
        }
    }
}
