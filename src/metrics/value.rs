//! Customer value: the Pareto view (how much revenue the best customers bring) and the population
//! historical CLV (docs/metrics.md §3). Pure.

/// Customer shares at which the Pareto curve is reported.
pub const CURVE_POINTS: [f64; 13] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0];

/// `(customer share, revenue share)`: the top `customer share` of customers by spend bring
/// `revenue share` of the revenue. `spend` per customer, any order. Null shares without revenue.
pub fn pareto(spend: &mut [i64]) -> Vec<(f64, Option<f64>)> {
    spend.sort_unstable_by(|a, b| b.cmp(a));
    let total: i128 = spend.iter().map(|s| i128::from(*s)).sum();
    let n = spend.len();
    CURVE_POINTS
        .iter()
        .map(|share| {
            // The top ⌈share × n⌉ customers (at least one when there are any).
            let top = ((share * n as f64).ceil() as usize).min(n);
            let revenue: i128 = spend[..top].iter().map(|s| i128::from(*s)).sum();
            (*share, (total > 0).then(|| revenue as f64 / total as f64))
        })
        .collect()
}

/// `AOV × F_year × L_years`, and × margin: null without orders or without a lifespan (no churn and
/// none configured); never infinite.
pub fn historical_clv(aov: Option<f64>, yearly_frequency: Option<f64>, lifespan_years: Option<f64>) -> Option<f64> {
    Some(aov? * yearly_frequency? * lifespan_years?)
}

/// The configured lifespan, or `1 / annual churn` (the mean of a geometric lifetime); null when
/// annual churn is 0 or unknown.
pub fn lifespan_years(configured: f64, annual_churn: Option<f64>) -> Option<f64> {
    if configured > 0.0 {
        return Some(configured);
    }
    annual_churn.filter(|c| *c > 0.0).map(|c| 1.0 / c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_fifth_of_customers_and_their_revenue() {
        // Ten customers; the top two bring 800 of 1000.
        let mut spend = vec![10, 500, 20, 30, 300, 40, 50, 10, 20, 20];
        let curve = pareto(&mut spend);
        let at = |share: f64| curve.iter().find(|(s, _)| *s == share).unwrap().1;
        assert_eq!(at(0.2), Some(0.8));
        assert_eq!(at(0.1), Some(0.5));
        assert_eq!(at(0.01), Some(0.5), "at least one customer");
        assert_eq!(at(1.0), Some(1.0));
        assert_eq!(pareto(&mut [0, 0])[3].1, None, "no revenue, no shares");
    }

    #[test]
    fn clv_needs_every_factor_and_a_finite_lifespan() {
        assert_eq!(historical_clv(Some(50.0), Some(2.0), lifespan_years(0.0, Some(0.25))), Some(400.0));
        assert_eq!(lifespan_years(3.0, Some(0.5)), Some(3.0), "configured wins");
        assert_eq!(lifespan_years(0.0, Some(0.0)), None, "no churn: no finite lifespan");
        assert_eq!(historical_clv(None, Some(2.0), Some(1.0)), None);
    }
}
