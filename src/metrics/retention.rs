//! Retention, churn and purchase metrics per period (METRICS.md §1–2), computed from each
//! customer's purchase days. Pure: the caller loads them.
//!
//! Periods and the activity window are made of local calendar days (workspace time zone): a
//! customer is active at the start of day `b` when they bought on one of the W days before it
//! (days `b − W` … `b − 1`), so W = 90 means 90 calendar days also across a change of clocks.

use super::activity::PurchaseDay;

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
pub fn series<'a>(
    customers: impl IntoIterator<Item = &'a [PurchaseDay]>,
    bounds: &[i32],
    window: i32,
) -> (Vec<Counts>, Counts) {
    let periods = bounds.len().saturating_sub(1);
    let mut buckets = vec![Counts::default(); periods];
    let mut total = Counts::default();
    if periods == 0 {
        return (buckets, total);
    }
    let mut active = vec![false; bounds.len()];
    for days in customers {
        let Some(first) = days.first().map(|d| d.day) else { continue };
        // Active at each boundary: the last purchase before it is within the window.
        let mut before = 0;
        for (flag, &b) in active.iter_mut().zip(bounds) {
            while before < days.len() && days[before].day < b {
                before += 1;
            }
            *flag = before > 0 && days[before - 1].day >= b - window;
        }
        let mut next = days.partition_point(|d| d.day < bounds[0]);
        let mut span = Placed::default();
        for (i, counts) in buckets.iter_mut().enumerate() {
            let mut placed = Placed::default();
            while next < days.len() && days[next].day < bounds[i + 1] {
                placed.add(&days[next]);
                next += 1;
            }
            span.orders += placed.orders;
            span.revenue_minor += placed.revenue_minor;
            counts.add(active[i], active[i + 1], first, (bounds[i], bounds[i + 1]), placed);
        }
        total.add(active[0], active[periods], first, (bounds[0], bounds[periods]), span);
    }
    (buckets, total)
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

impl Counts {
    /// Adds one customer: active at the period's start and end, first purchase day, orders in it.
    fn add(&mut self, in_start: bool, in_end: bool, first: i32, (from, to): (i32, i32), placed: Placed) {
        let is_new = from <= first && first < to;
        self.start += u64::from(in_start);
        self.end += u64::from(in_end);
        self.new += u64::from(is_new);
        self.retained += u64::from(in_start && in_end);
        self.churned += u64::from(in_start && !in_end);
        self.reactivated += u64::from(in_end && !in_start && !is_new);
        if placed.orders > 0 {
            self.orders += placed.orders;
            self.revenue_minor += placed.revenue_minor;
            self.ordering += 1;
            self.repeat += u64::from(placed.orders >= 2);
            self.returning += u64::from(first < from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One purchase day per entry: (day, amount); one order each unless repeated.
    fn customer(orders: &[(i32, i64)]) -> Vec<PurchaseDay> {
        let mut days: Vec<PurchaseDay> = Vec::new();
        for &(day, amount) in orders {
            match days.last_mut() {
                Some(last) if last.day == day => {
                    last.orders += 1;
                    last.revenue_minor += amount;
                }
                _ => days.push(PurchaseDay { day, orders: 1, revenue_minor: amount }),
            }
        }
        days
    }

    fn period(customers: &[Vec<PurchaseDay>], from: i32, to: i32, window: i32) -> Counts {
        series(customers.iter().map(Vec::as_slice), &[from, to], window).1
    }

    /// METRICS.md §1's example: S = 100 of whom 60 stay, 15 earlier customers come back, 30 new
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
}
