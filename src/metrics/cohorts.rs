//! The cohort retention matrix (docs/metrics.md §6): customers grouped by the period of their first
//! completed order; cell (c, k) counts those who ordered in period c + k. Periods after the
//! current one are left out, never shown as 0; the current one is partial.

use super::activity::PurchaseDay;

/// One cell of a cohort's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// k: periods since the cohort's period.
    pub offset: usize,
    /// The period's first day (a day number).
    pub period_start: i32,
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
    /// The cohort period's first day (a day number).
    pub period_start: i32,
    pub size: u64,
    pub cells: Vec<Cell>,
}

/// `bounds` are period boundaries (day numbers) from the first cohort's period to the end of the
/// period containing `today`; the first `cohorts` periods are cohorts. `customers` are purchase
/// days, oldest first.
pub fn matrix<'a>(
    bounds: &[i32],
    cohorts: usize,
    customers: impl IntoIterator<Item = &'a [PurchaseDay]>,
    today: i32,
) -> Vec<Cohort> {
    let periods = bounds.len().saturating_sub(1);
    let lookup = super::periods::BoundaryIndex::new(bounds, 0);
    let index = |day: i32| lookup.at_or_before(day).checked_sub(1).filter(|i| *i < periods);
    // Per cohort: size, and per offset: customers, customers with their last order at that offset or later, revenue.
    let mut size = vec![0u64; cohorts];
    let mut ordered = vec![vec![0u64; periods]; cohorts];
    let mut last_at = vec![vec![0u64; periods]; cohorts];
    let mut revenue = vec![vec![0i128; periods]; cohorts];
    for days in customers {
        let Some(c) = days.first().and_then(|d| index(d.day)).filter(|c| *c < cohorts) else { continue };
        size[c] += 1;
        // Days are sorted, so each period's days come together: count the period once.
        let mut last = None;
        for d in days {
            let Some(p) = index(d.day) else { break };
            if last != Some(p) {
                ordered[c][p - c] += 1;
                last = Some(p);
            }
            revenue[c][p - c] += i128::from(d.revenue_minor);
        }
        if let Some(p) = last {
            last_at[c][p - c] += 1;
        }
    }
    let current = index(today);
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
    use super::*;

    #[test]
    fn cells_count_orders_per_period_and_stop_at_the_current_one() {
        // Four 10-day periods; today is inside the third.
        let bounds: Vec<i32> = (0..5).map(|i| i * 10).collect();
        let history = |orders: &[(i32, i64)]| -> Vec<PurchaseDay> {
            orders.iter().map(|&(day, revenue_minor)| PurchaseDay { day, orders: 1, revenue_minor }).collect()
        };
        let customers = [
            history(&[(1, 100), (25, 50)]), // cohort 0, back in period 2
            history(&[(2, 10), (3, 10)]),   // cohort 0, never back
            history(&[(12, 70), (15, 30)]), // cohort 1
        ];
        let m = matrix(&bounds, 2, customers.iter().map(Vec::as_slice), 21);
        assert_eq!(m[0].size, 2);
        let zero: Vec<_> =
            m[0].cells.iter().map(|c| (c.offset, c.customers, c.customers_or_later, c.partial)).collect();
        assert_eq!(zero, [(0, 2, 2, false), (1, 0, 1, false), (2, 1, 1, true)], "no cell for the future period 3");
        assert_eq!(m[0].cells[0].revenue_minor, 120);
        assert_eq!(m[1].cells.len(), 2);
        assert_eq!((m[1].size, m[1].cells[0].customers, m[1].cells[0].revenue_minor), (1, 1, 100));
        assert_eq!(m[1].cells[1].period_start, 20);
    }
}
