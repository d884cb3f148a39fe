//! Predictive customer lifetime value, the lifetimes method (§11 of the metrics specification):
//! expected spend per transaction times expected transactions per month, discounted monthly.

use super::{
    PredictiveError, PredictiveResult, TimeUnit, bgnbd::BgNbdParams, data::CustomerSummary,
    gamma_gamma::GammaGammaParams,
};

/// `CLV = Σ_{k=1..H} E[M | x, m̄] · (E[Y(k f)] − E[Y((k−1) f)]) / (1 + d)^k` for `H = months` and
/// `d = monthly_discount_rate`, where `E[Y]` is conditional on the customer's `(x, t_x, T)` and `f` is the
/// number of `unit`s in a month. `unit` must be the unit both models were fitted in; deriving `f` from it
/// avoids lifetimes' default of days for weekly models. `H = 0` gives 0.
/// The longest horizon (50 years): each month is one model evaluation, so an unbounded horizon
/// would let one query spin for hours.
pub const MAX_MONTHS: u32 = 600;

pub fn customer_lifetime_value<K>(
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    summary: &CustomerSummary<K>,
    months: u32,
    monthly_discount_rate: f64,
    unit: TimeUnit,
) -> PredictiveResult<f64> {
    if months > MAX_MONTHS {
        return Err(PredictiveError::InvalidInput(format!("the horizon is at most {MAX_MONTHS} months, got {months}")));
    }
    if !(monthly_discount_rate.is_finite() && monthly_discount_rate > -1.0) {
        return Err(PredictiveError::InvalidInput(format!(
            "the monthly discount rate must be finite and > −1, got {monthly_discount_rate}"
        )));
    }
    let CustomerSummary { x, t_x, age, monetary_value, .. } = *summary;
    let spend = gg.conditional_expected_value(x, monetary_value)?;
    let month = unit.per_month();
    let (mut clv, mut previous, mut discount) = (0.0, 0.0, 1.0);
    for k in 1..=months {
        let expected = bg.conditional_expected_purchases(f64::from(k) * month, x, t_x, age)?;
        discount /= 1.0 + monthly_discount_rate;
        clv += spend * (expected - previous) * discount;
        previous = expected;
    }
    // With H = 0 the loop never validates the inputs; do it so that bad data is not silently worth 0.
    if months == 0 {
        bg.probability_alive(x, t_x, age)?;
    }
    Ok(clv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: BgNbdParams = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    const GG: GammaGammaParams = GammaGammaParams { p: 6.25, q: 3.74, gamma: 15.44 };

    fn customer(x: u32, t_x: f64, age: f64, monetary_value: f64) -> CustomerSummary<()> {
        CustomerSummary { key: (), x, t_x, age, monetary_value }
    }

    #[test]
    fn horizons_beyond_the_maximum_are_refused() {
        let c = customer(2, 30.43, 38.86, 22.35);
        assert!(customer_lifetime_value(&BG, &GG, &c, MAX_MONTHS, 0.01, TimeUnit::Week).is_ok());
        // u32::MAX months would be four billion model evaluations for one customer: refused at once.
        assert!(customer_lifetime_value(&BG, &GG, &c, MAX_MONTHS + 1, 0.01, TimeUnit::Week).is_err());
        assert!(customer_lifetime_value(&BG, &GG, &c, u32::MAX, 0.01, TimeUnit::Week).is_err());
    }

    #[test]
    fn zero_months_is_worth_nothing() {
        assert_eq!(
            customer_lifetime_value(&BG, &GG, &customer(2, 30.43, 38.86, 22.35), 0, 0.01, TimeUnit::Week).unwrap(),
            0.0
        );
        assert!(customer_lifetime_value(&BG, &GG, &customer(2, 40.0, 38.86, 22.35), 0, 0.01, TimeUnit::Week).is_err());
    }

    #[test]
    fn undiscounted_value_is_spend_times_expected_purchases() {
        // With d = 0 the monthly increments telescope to E[M]·E[Y(H f)].
        let c = customer(2, 30.43, 38.86, 22.35);
        let spend = GG.conditional_expected_value(2, 22.35).unwrap();
        for (unit, month) in [(TimeUnit::Week, 4.345), (TimeUnit::Day, 30.0)] {
            let value = customer_lifetime_value(&BG, &GG, &c, 12, 0.0, unit).unwrap();
            let expected = spend * BG.conditional_expected_purchases(12.0 * month, 2, 30.43, 38.86).unwrap();
            assert!((value - expected).abs() < 1e-12 * expected, "{unit:?}: {value} vs {expected}");
        }
    }

    #[test]
    fn discounts_each_month() {
        // Two months at 1 %: E[M]·(E[Y(f)]/1.01 + (E[Y(2f)] − E[Y(f)])/1.01²).
        let c = customer(5, 20.0, 30.0, 40.0);
        let spend = GG.conditional_expected_value(5, 40.0).unwrap();
        let first = BG.conditional_expected_purchases(4.345, 5, 20.0, 30.0).unwrap();
        let second = BG.conditional_expected_purchases(8.69, 5, 20.0, 30.0).unwrap();
        let expected = spend * (first / 1.01 + (second - first) / (1.01 * 1.01));
        let value = customer_lifetime_value(&BG, &GG, &c, 2, 0.01, TimeUnit::Week).unwrap();
        assert!((value - expected).abs() < 1e-12 * expected);
        let undiscounted = customer_lifetime_value(&BG, &GG, &c, 2, 0.0, TimeUnit::Week).unwrap();
        assert!(value < undiscounted);
        assert!(customer_lifetime_value(&BG, &GG, &c, 2, -1.0, TimeUnit::Week).is_err());
        assert!(customer_lifetime_value(&BG, &GG, &c, 2, f64::NAN, TimeUnit::Week).is_err());
    }

    #[test]
    fn one_time_buyers_are_worth_the_population_spend() {
        let c = customer(0, 0.0, 38.86, 0.0);
        let value = customer_lifetime_value(&BG, &GG, &c, 12, 0.0, TimeUnit::Week).unwrap();
        let expected =
            GG.population_mean().unwrap() * BG.conditional_expected_purchases(12.0 * 4.345, 0, 0.0, 38.86).unwrap();
        assert!(value > 0.0 && (value - expected).abs() < 1e-12 * expected);
    }
}
