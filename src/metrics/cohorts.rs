//! The cohort retention matrix (METRICS.md §6): customers grouped by the period of their first
//! completed order; cell (c, k) counts those who ordered in period c + k. Periods after the
//! current one are left out, never shown as 0; the current one is partial.

use chrono::{DateTime, Utc};

use super::retention::History;

/// One cell of a cohort's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// k: periods since the cohort's period.
    pub offset: usize,
    pub period_start: DateTime<Utc>,
    /// Cohort customers with an order in period c + k.
    pub customers: u64,
    /// Cohort customers with an order in period c + k or later ("unbounded" retention).
    pub customers_or_later: u64,
    pub revenue_minor: i128,
    /// The period is still running.
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    pub period_start: DateTime<Utc>,
    pub size: u64,
    pub cells: Vec<Cell>,
}

/// `bounds` are period boundaries from the first cohort's period to the end of the period containing
/// `now`; the first `cohorts` periods are cohorts. `customers` holds each customer's first order time
/// and completed orders.
pub fn matrix(bounds: &[DateTime<Utc>], cohorts: usize, customers: &[History], now: DateTime<Utc>) -> Vec<Cohort> {
    let periods = bounds.len().saturating_sub(1);
    let index = |t: DateTime<Utc>| super::periods::index_of(bounds, t);
    // Per cohort: size, and per offset: customers, customers with their last order at that offset or later, revenue.
    let mut size = vec![0u64; cohorts];
    let mut ordered = vec![vec![0u64; periods]; cohorts];
    let mut last_at = vec![vec![0u64; periods]; cohorts];
    let mut revenue = vec![vec![0i128; periods]; cohorts];
    for History { first_order_at, orders } in customers {
        let Some(c) = first_order_at.and_then(index).filter(|c| *c < cohorts) else { continue };
        size[c] += 1;
        let mut seen = vec![false; periods - c];
        for (at, amount) in orders {
            let Some(p) = index(*at).filter(|p| *p >= c) else { continue };
            seen[p - c] = true;
            revenue[c][p - c] += i128::from(*amount);
        }
        for (k, hit) in seen.iter().enumerate() {
            ordered[c][k] += u64::from(*hit);
        }
        if let Some(last) = seen.iter().rposition(|hit| *hit) {
            last_at[c][last] += 1;
        }
    }
    let current = index(now);
    (0..cohorts)
        .map(|c| {
            let visible = current.map_or(periods - c, |cur| (cur + 1).saturating_sub(c));
            let mut or_later = 0;
            let mut cells: Vec<Cell> = (0..visible)
                .rev()
                .map(|k| {
                    or_later += last_at[c][k];
                    Cell {
                        offset: k,
                        period_start: bounds[c + k],
                        customers: ordered[c][k],
                        customers_or_later: or_later,
                        revenue_minor: revenue[c][k],
                        partial: current == Some(c + k),
                    }
                })
                .collect();
            cells.reverse();
            Cohort { period_start: bounds[c], size: size[c], cells }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(0, 0).unwrap() + Duration::days(n)
    }

    #[test]
    fn cells_count_orders_per_period_and_stop_at_the_current_one() {
        // Four 10-day periods; "now" is inside the third.
        let bounds: Vec<_> = (0..5).map(|i| day(i * 10)).collect();
        let history = |first: i64, orders: &[(i64, i64)]| History {
            first_order_at: Some(day(first)),
            orders: orders.iter().map(|(d, a)| (day(*d), *a)).collect(),
        };
        let customers = vec![
            history(1, &[(1, 100), (25, 50)]),  // cohort 0, back in period 2
            history(2, &[(2, 10), (3, 10)]),    // cohort 0, never back
            history(12, &[(12, 70), (15, 30)]), // cohort 1
        ];
        let m = matrix(&bounds, 2, &customers, day(21));
        assert_eq!(m[0].size, 2);
        let zero: Vec<_> =
            m[0].cells.iter().map(|c| (c.offset, c.customers, c.customers_or_later, c.partial)).collect();
        assert_eq!(zero, [(0, 2, 2, false), (1, 0, 1, false), (2, 1, 1, true)], "no cell for the future period 3");
        assert_eq!(m[0].cells[0].revenue_minor, 120);
        assert_eq!(m[1].cells.len(), 2);
        assert_eq!((m[1].size, m[1].cells[0].customers, m[1].cells[0].revenue_minor), (1, 1, 100));
    }
}
