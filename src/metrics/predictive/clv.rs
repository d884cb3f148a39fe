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
pub fn customer_lifetime_value<K>(
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    summary: &CustomerSummary<K>,
    months: u32,
    monthly_discount_rate: f64,
    unit: TimeUnit,
) -> PredictiveResult<f64> {
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
    #[test]
    fn placeholder() {}
}
