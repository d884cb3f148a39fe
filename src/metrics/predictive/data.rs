//! From purchases to model inputs, as lifetimes' `summary_data_from_transaction_data` (§12 of the
//! metrics specification): per-customer `(x, t_x, T, m̄)`, grouping into distinct triples for the fit, and
//! a calibration/holdout split with its report.
//!
//! Purchases arrive as `(day, value)`: `day` is an integer calendar-day number in the workspace time zone,
//! `value` the order value. Orders on the same day are one purchase (their values summed).

use serde::{Deserialize, Serialize};

use super::{PredictiveError, PredictiveResult, TimeUnit, bgnbd::BgNbdParams};

/// One customer's model inputs, in the model's time unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary<K> {
    pub key: K,
    /// Repeat purchases: days with purchases, minus 1.
    pub x: u32,
    /// Time from the first to the last purchase.
    pub t_x: f64,
    /// `T`: time from the first purchase to the end of observation.
    pub age: f64,
    /// `m̄`: mean value of the repeat purchases (the first left out); 0 when `x = 0`.
    pub monetary_value: f64,
}

/// Distinct `(x, t_x, T)` with the number of customers who share it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Triple {
    pub x: u32,
    pub t_x: f64,
    pub age: f64,
    pub count: u64,
}

/// A customer's calibration-period summary and what they did in the holdout period after it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationHoldout<K> {
    pub calibration: CustomerSummary<K>,
    /// Days with purchases in the holdout period.
    pub holdout_purchases: u32,
    /// Mean value of those purchase days (orders of one day summed); 0 without any.
    pub holdout_monetary_value: f64,
    /// Length of the holdout period in the model's unit.
    pub holdout_duration: f64,
}

/// Predicted against actual holdout purchases for customers with calibration frequency in
/// `[min_x, max_x]` (`max_x = None`: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HoldoutGroup {
    pub min_x: u32,
    pub max_x: Option<u32>,
    pub customers: u64,
    /// Mean actual holdout purchases; `None` for an empty group.
    pub actual_mean: Option<f64>,
    /// Mean of `E[Y(holdout) | x, t_x, T]`; `None` for an empty group.
    pub predicted_mean: Option<f64>,
}

/// Per-customer summaries at `observation_end_day`. Orders after that day are ignored; customers without
/// orders up to it are left out. Customers whose first purchase is on `observation_end_day` have `T = 0`:
/// they are returned (they can be scored) but [`group`] leaves them out of the fit.
pub fn summarise<K: Clone>(
    customers: &[(K, Vec<(i64, f64)>)],
    observation_end_day: i64,
    unit: TimeUnit,
) -> PredictiveResult<Vec<CustomerSummary<K>>> {
    let mut days = Vec::new();
    let mut summaries = Vec::with_capacity(customers.len());
    for (index, (key, orders)) in customers.iter().enumerate() {
        merge_days(index, orders, observation_end_day, &mut days)?;
        if let Some(summary) = summary_of(key, &days, observation_end_day, unit)? {
            summaries.push(summary);
        }
    }
    Ok(summaries)
}

/// Distinct triples of the customers with `T > 0`, sorted by `(x, t_x, T)`.
pub fn group<K>(summaries: &[CustomerSummary<K>]) -> Vec<Triple> {
    let mut keys: Vec<(u32, u64, u64)> = summaries
        .iter()
        .filter(|s| s.age > 0.0)
        // Non-negative floats order like their bit patterns, and sort faster that way.
        .map(|s| (s.x, s.t_x.to_bits(), s.age.to_bits()))
        .collect();
    keys.sort_unstable();
    let mut triples: Vec<Triple> = Vec::new();
    for (x, t_x, age) in keys {
        let (t_x, age) = (f64::from_bits(t_x), f64::from_bits(age));
        match triples.last_mut() {
            Some(last) if last.x == x && last.t_x == t_x && last.age == age => last.count += 1,
            _ => triples.push(Triple { x, t_x, age, count: 1 }),
        }
    }
    triples
}

/// Splits each customer's history at `calibration_end_day`: the summary up to and including that day,
/// and the purchase days in `(calibration_end_day, observation_end_day]`. Customers whose first purchase
/// is after the calibration period are left out (they cannot be scored from it), as in lifetimes.
pub fn calibration_holdout<K: Clone>(
    customers: &[(K, Vec<(i64, f64)>)],
    calibration_end_day: i64,
    observation_end_day: i64,
    unit: TimeUnit,
) -> PredictiveResult<Vec<CalibrationHoldout<K>>> {
    if observation_end_day <= calibration_end_day {
        return Err(PredictiveError::InvalidInput(format!(
            "the observation end ({observation_end_day}) must be after the calibration end ({calibration_end_day})"
        )));
    }
    let holdout_duration = (observation_end_day - calibration_end_day) as f64 / unit.days();
    let mut days = Vec::new();
    let mut rows = Vec::new();
    for (index, (key, orders)) in customers.iter().enumerate() {
        merge_days(index, orders, observation_end_day, &mut days)?;
        let split = days.partition_point(|&(day, _)| day <= calibration_end_day);
        let Some(calibration) = summary_of(key, &days[..split], calibration_end_day, unit)? else {
            continue;
        };
        let holdout = &days[split..];
        let holdout_purchases = u32::try_from(holdout.len())
            .map_err(|_| PredictiveError::InvalidInput(format!("customer #{index} has too many purchase days")))?;
        let holdout_monetary_value = if holdout.is_empty() {
            0.0
        } else {
            holdout.iter().map(|&(_, value)| value).sum::<f64>() / holdout.len() as f64
        };
        rows.push(CalibrationHoldout { calibration, holdout_purchases, holdout_monetary_value, holdout_duration });
    }
    Ok(rows)
}

/// Mean predicted and actual holdout purchases per calibration frequency `x = 0, 1, …, 6` and `7+`
/// (lifetimes' `plot_calibration_purchases_vs_holdout_purchases`).
pub fn holdout_report<K>(params: &BgNbdParams, rows: &[CalibrationHoldout<K>]) -> PredictiveResult<Vec<HoldoutGroup>> {
    const OPEN_FROM: u32 = 7;
    // (customers, Σ actual, Σ predicted) per group.
    let mut sums = [(0_u64, 0.0, 0.0); OPEN_FROM as usize + 1];
    for row in rows {
        let c = &row.calibration;
        let predicted = params.conditional_expected_purchases(row.holdout_duration, c.x, c.t_x, c.age)?;
        let group = &mut sums[c.x.min(OPEN_FROM) as usize];
        group.0 += 1;
        group.1 += f64::from(row.holdout_purchases);
        group.2 += predicted;
    }
    Ok(sums
        .iter()
        .zip(0..)
        .map(|(&(customers, actual, predicted), x)| {
            let mean = |total: f64| (customers > 0).then(|| total / customers as f64);
            HoldoutGroup {
                min_x: x,
                max_x: (x < OPEN_FROM).then_some(x),
                customers,
                actual_mean: mean(actual),
                predicted_mean: mean(predicted),
            }
        })
        .collect())
}

/// The customer's purchase days up to `end_day`, sorted, with the values of one day summed, into `days`.
fn merge_days(index: usize, orders: &[(i64, f64)], end_day: i64, days: &mut Vec<(i64, f64)>) -> PredictiveResult<()> {
    days.clear();
    for &(day, value) in orders {
        if !(value.is_finite() && value >= 0.0) {
            return Err(PredictiveError::InvalidInput(format!(
                "customer #{index} has an order value of {value} on day {day}; values must be finite and ≥ 0"
            )));
        }
        if day <= end_day {
            days.push((day, value));
        }
    }
    days.sort_unstable_by_key(|&(day, _)| day);
    days.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 += later.1;
        }
        same
    });
    Ok(())
}

/// The summary from merged purchase days (see [`merge_days`]) observed until `end_day`; `None` without any.
fn summary_of<K: Clone>(
    key: &K,
    days: &[(i64, f64)],
    end_day: i64,
    unit: TimeUnit,
) -> PredictiveResult<Option<CustomerSummary<K>>> {
    let (Some(&(first, _)), Some(&(last, _))) = (days.first(), days.last()) else {
        return Ok(None);
    };
    let x = u32::try_from(days.len() - 1)
        .map_err(|_| PredictiveError::InvalidInput("a customer has more than 2^32 purchase days".into()))?;
    let monetary_value =
        if x > 0 { days[1..].iter().map(|&(_, value)| value).sum::<f64>() / f64::from(x) } else { 0.0 };
    Ok(Some(CustomerSummary {
        key: key.clone(),
        x,
        t_x: (last - first) as f64 / unit.days(),
        age: (end_day - first) as f64 / unit.days(),
        monetary_value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::predictive::{FitOptions, bgnbd, simulation};

    fn summary(key: &'static str, x: u32, t_x: f64, age: f64, monetary_value: f64) -> CustomerSummary<&'static str> {
        CustomerSummary { key, x, t_x, age, monetary_value }
    }

    #[test]
    fn summarises_purchase_days() {
        let customers = vec![
            // Two orders on day 10 are one purchase worth 12; day 40 is after the end.
            ("a", vec![(24, 9.0), (10, 5.0), (40, 100.0), (17, 3.0), (10, 7.0)]),
            // First purchase on the last day: T = 0.
            ("b", vec![(30, 20.0)]),
            // Nothing until the end: left out.
            ("c", vec![(31, 20.0)]),
            ("d", vec![(0, 4.0), (0, 0.0)]),
        ];
        let days = summarise(&customers, 30, TimeUnit::Day).unwrap();
        assert_eq!(
            days,
            vec![summary("a", 2, 14.0, 20.0, 6.0), summary("b", 0, 0.0, 0.0, 0.0), summary("d", 0, 0.0, 30.0, 0.0)]
        );
        let weeks = summarise(&customers, 30, TimeUnit::Week).unwrap();
        assert_eq!(weeks[0], summary("a", 2, 2.0, 20.0 / 7.0, 6.0));
        // CDNOW: a first purchase on 1 January 1997 and the calibration end on 30 September is T = 272/7 = 38.86 weeks.
        let cdnow = summarise(&[(1, vec![(0, 11.77)])], 272, TimeUnit::Week).unwrap();
        assert_eq!(format!("{:.2}", cdnow[0].age), "38.86");

        let negative = vec![("e", vec![(3, -1.0)])];
        assert!(matches!(summarise(&negative, 30, TimeUnit::Day), Err(PredictiveError::InvalidInput(_))));
        let not_a_number = vec![("e", vec![(3, f64::NAN)])];
        assert!(summarise(&not_a_number, 30, TimeUnit::Day).is_err());
    }

    #[test]
    fn groups_distinct_triples_without_zero_ages() {
        let summaries = [
            summary("a", 1, 5.0, 10.0, 3.0),
            summary("b", 0, 0.0, 10.0, 0.0),
            summary("c", 1, 5.0, 10.0, 8.0),
            summary("d", 0, 0.0, 0.0, 0.0),
            summary("e", 0, 0.0, 10.0, 0.0),
            summary("f", 1, 4.0, 10.0, 1.0),
        ];
        assert_eq!(
            group(&summaries),
            vec![
                Triple { x: 0, t_x: 0.0, age: 10.0, count: 2 },
                Triple { x: 1, t_x: 4.0, age: 10.0, count: 1 },
                Triple { x: 1, t_x: 5.0, age: 10.0, count: 2 },
            ]
        );
    }

    #[test]
    fn splits_calibration_and_holdout() {
        let customers = vec![
            ("a", vec![(0, 10.0), (5, 4.0), (12, 6.0), (12, 1.0), (15, 2.0), (25, 50.0)]),
            // First purchase in the holdout period: not scored.
            ("b", vec![(11, 10.0)]),
            ("c", vec![(3, 10.0)]),
        ];
        let rows = calibration_holdout(&customers, 10, 20, TimeUnit::Day).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].calibration, summary("a", 1, 5.0, 10.0, 4.0));
        assert_eq!(
            (rows[0].holdout_purchases, rows[0].holdout_monetary_value, rows[0].holdout_duration),
            (2, 4.5, 10.0)
        );
        assert_eq!(rows[1].calibration, summary("c", 0, 0.0, 7.0, 0.0));
        assert_eq!((rows[1].holdout_purchases, rows[1].holdout_monetary_value), (0, 0.0));
        assert!(calibration_holdout(&customers, 20, 20, TimeUnit::Day).is_err());
    }

    #[test]
    fn holdout_predictions_track_actual_purchases() {
        // 20,000 simulated customers over 78 weeks, first purchases in the first 12; purchase times become
        // calendar days (orders on one day merge). Fit on the first 39 weeks, predict the next 39.
        let truth = bgnbd::BgNbdParams { r: 0.5, alpha: 6.0, a: 0.8, b: 2.5 };
        let customers: Vec<(usize, Vec<(i64, f64)>)> = simulation::bgnbd_purchases(&truth, 20_000, 12.0, 78.0, 5)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(key, times)| (key, times.iter().map(|t| ((t * 7.0).floor() as i64, 10.0)).collect()))
            .collect();
        let rows = calibration_holdout(&customers, 273, 546, TimeUnit::Week).unwrap();
        let calibration: Vec<_> = rows.iter().map(|row| row.calibration).collect();
        let fitted = bgnbd::fit(&group(&calibration), FitOptions::default()).unwrap();
        let report = holdout_report(&fitted.params, &rows).unwrap();
        assert_eq!(report.len(), 8);
        assert_eq!((report[7].min_x, report[7].max_x), (7, None));
        assert_eq!(report.iter().map(|g| g.customers).sum::<u64>(), rows.len() as u64);
        for group in report.iter().filter(|g| g.customers >= 300) {
            let (actual, predicted) = (group.actual_mean.unwrap(), group.predicted_mean.unwrap());
            assert!((predicted - actual).abs() < 0.1 * actual + 0.05, "{group:?}");
        }
        let empty = holdout_report::<usize>(&fitted.params, &[]).unwrap();
        assert!(empty.iter().all(|g| g.customers == 0 && g.actual_mean.is_none() && g.predicted_mean.is_none()));
    }
}
