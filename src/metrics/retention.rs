//! Retention, churn and purchase metrics per period (METRICS.md §1–2), computed from each
//! customer's completed orders. Pure: the caller loads the histories.

use chrono::{DateTime, Duration, Utc};

/// One customer's completed orders (sorted by time) within the span the buckets need, and the time of
/// their first completed order ever.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub first_order_at: Option<DateTime<Utc>>,
    /// `(placed_at, amount_minor)`, oldest first.
    pub orders: Vec<(DateTime<Utc>, i64)>,
}

impl History {
    /// Active at `t`: a completed order in `[t − window, t)`.
    fn active_at(&self, t: DateTime<Utc>, window: Duration) -> bool {
        let start = t - window;
        let i = self.orders.partition_point(|(at, _)| *at < start);
        self.orders.get(i).is_some_and(|(at, _)| *at < t)
    }
}

/// The counts of one period `[from, to)`; the rates derive from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
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

/// The counts of `[from, to)` with activity window `window`.
pub fn period<'a>(
    histories: impl IntoIterator<Item = &'a History>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: Duration,
) -> Counts {
    let mut c = Counts { from, to, ..Counts::default() };
    for h in histories {
        let in_start = h.active_at(from, window);
        let in_end = h.active_at(to, window);
        let is_new = h.first_order_at.is_some_and(|first| from <= first && first < to);
        c.start += u64::from(in_start);
        c.end += u64::from(in_end);
        c.new += u64::from(is_new);
        c.retained += u64::from(in_start && in_end);
        c.churned += u64::from(in_start && !in_end);
        c.reactivated += u64::from(in_end && !in_start && !is_new);
        let first = h.orders.partition_point(|(at, _)| *at < from);
        let last = h.orders.partition_point(|(at, _)| *at < to);
        let placed = &h.orders[first..last];
        if !placed.is_empty() {
            c.orders += placed.len() as u64;
            c.revenue_minor += placed.iter().map(|(_, amount)| i128::from(*amount)).sum::<i128>();
            c.ordering += 1;
            c.repeat += u64::from(placed.len() >= 2);
            c.returning += u64::from(h.first_order_at.is_some_and(|f| f < from));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(0, 0).unwrap() + Duration::days(n)
    }

    fn customer(first: i64, orders: &[(i64, i64)]) -> History {
        History { first_order_at: Some(day(first)), orders: orders.iter().map(|(d, a)| (day(*d), *a)).collect() }
    }

    /// METRICS.md §1's example: S = 100 of whom 60 stay, 15 earlier customers come back, 30 new
    /// customers all active at the end → E = 105, textbook CRR 0.75, retention 0.60, churn 0.40.
    #[test]
    fn the_specification_example() {
        let w = Duration::days(90);
        let (from, to) = (200, 230);
        let mut all = Vec::new();
        for i in 0..60 {
            all.push(customer(0, &[(150 + i % 10, 1000), (225, 1000)])); // active at both ends
        }
        for _ in 0..40 {
            all.push(customer(0, &[(130, 1000)])); // active at `from` only (130 ≥ 200 − 90)
        }
        for _ in 0..15 {
            all.push(customer(0, &[(50, 1000), (220, 500)])); // lapsed, then back in the period
        }
        for _ in 0..30 {
            all.push(customer(210, &[(210, 2000)])); // new
        }
        let c = period(&all, day(from), day(to), w);
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
        let c = period(&[], day(0), day(30), Duration::days(90));
        assert_eq!((c.retention(), c.churn(), c.crr_textbook(), c.purchase_frequency()), (None, None, None, None));
        // An order exactly at `to` belongs to the next period and is not "active at to" (window is [to − W, to)).
        let h = customer(30, &[(30, 100)]);
        let c = period([&h], day(0), day(30), Duration::days(90));
        assert_eq!((c.orders, c.end, c.new), (0, 0, 0));
        // Exactly W before `from` is still active at `from`; a day more is not.
        let at_edge = customer(0, &[(0, 100)]);
        assert_eq!(period([&at_edge], day(90), day(91), Duration::days(90)).start, 1);
        assert_eq!(period([&at_edge], day(91), day(92), Duration::days(90)).start, 0);
        // Two orders in the period make a repeat customer.
        let twice = customer(5, &[(5, 100), (6, 300)]);
        let c = period([&twice], day(0), day(30), Duration::days(90));
        assert_eq!((c.repeat_purchase_rate(), c.purchase_frequency()), (Some(1.0), Some(2.0)));
    }
}
