//! Gamma-Gamma spend model (Fader & Hardie 2013, note 025; Fader, Hardie & Lee 2005, "RFM and CLV").
//!
//! A customer's transaction values are Gamma(p, ν) with mean p/ν; ν ~ Gamma(shape q, rate γ) across
//! customers (lifetimes calls γ `v`). Fitted on repeat buyers (`x ≥ 1`) by the mean `m̄` of their repeat
//! transactions.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::{
    FitOptions, LOG_BOUND, MIN_REPEAT_BUYERS, PredictiveError, PredictiveResult,
    data::CustomerSummary,
    optimise::{self, Objective},
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    /// Total log-likelihood of the `m̄` values at `params` (in the data's money unit, without the penalty).
    pub log_likelihood: f64,
    /// Customers in the fit: `x ≥ 1` and `m̄ > 0`.
    pub repeat_buyers: u64,
    /// Pearson correlation of `x` and `m̄` among them. The model assumes spend independent of frequency,
    /// so this should be near 0 (CDNOW: 0.11). `None` if either has no variance.
    pub frequency_spend_correlation: Option<f64>,
    /// The L2 penalty used; 0 unless requested.
    pub penalty: f64,
    /// Norm of the gradient of the mean log-likelihood in the fitted coordinates; about 0 at a maximum.
    pub gradient_norm: f64,
    /// Parameters that ran to the edge of the search box ([`super::LOG_BOUND`]): `q` and `gamma` when
    /// every customer's orders scatter around the same mean.
    #[serde(default)]
    pub at_bounds: Vec<String>,
}

impl GammaGammaParams {
    /// Checks that the parameters are positive and finite.
    pub fn validate(&self) -> PredictiveResult<()> {
        if [self.p, self.q, self.gamma].iter().all(|v| v.is_finite() && *v > 0.0) {
            Ok(())
        } else {
            Err(PredictiveError::InvalidParameters(format!("Gamma-Gamma parameters must be positive: {self:?}")))
        }
    }

    /// `ln f(m̄ | x)` of one repeat buyer (`x ≥ 1`, `m̄ > 0`).
    pub fn log_likelihood(&self, x: u32, monetary_value: f64) -> PredictiveResult<f64> {
        self.validate()?;
        if x == 0 || !(monetary_value.is_finite() && monetary_value > 0.0) {
            return Err(PredictiveError::InvalidInput(format!(
                "the Gamma-Gamma likelihood needs x ≥ 1 and m̄ > 0, got x = {x}, m̄ = {monetary_value}"
            )));
        }
        let Self { p, q, gamma } = *self;
        let (xf, m) = (f64::from(x), monetary_value);
        let px = p * xf;
        Ok(ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * gamma.ln() + (px - 1.0) * m.ln() + px * xf.ln()
            - (px + q) * (gamma + xf * m).ln())
    }

    /// Population mean spend per transaction, `p γ/(q − 1)`; needs `q > 1`.
    pub fn population_mean(&self) -> PredictiveResult<f64> {
        self.validate()?;
        if self.q <= 1.0 {
            return Err(PredictiveError::InvalidParameters(format!("the mean spend needs q > 1, got q = {}", self.q)));
        }
        Ok(self.p * self.gamma / (self.q - 1.0))
    }

    /// `E[M | x, m̄] = p (γ + x m̄)/(p x + q − 1)`, the expected spend per transaction given `x` repeat
    /// transactions averaging `m̄`. For `x = 0` this is the population mean and `m̄` is ignored.
    pub fn conditional_expected_value(&self, x: u32, monetary_value: f64) -> PredictiveResult<f64> {
        let population = self.population_mean()?;
        if x == 0 {
            return Ok(population);
        }
        if !(monetary_value.is_finite() && monetary_value >= 0.0) {
            return Err(PredictiveError::InvalidInput(format!("m̄ must be finite and ≥ 0, got {monetary_value}")));
        }
        let Self { p, q, gamma } = *self;
        let xf = f64::from(x);
        Ok(p * (gamma + xf * monetary_value) / (p * xf + q - 1.0))
    }
}

/// Fits `(p, q, γ)` by maximum likelihood on the repeat buyers among `summaries` (`x ≥ 1`, `m̄ > 0`;
/// others are skipped). `q` is kept above 1 by fitting `ln(q − 1)`, so the population mean exists.
/// Spend is rescaled to mean 1 for the optimiser and `γ` converted back. Needs at least
/// [`MIN_REPEAT_BUYERS`] repeat buyers.
pub fn fit<K>(summaries: &[CustomerSummary<K>], options: FitOptions) -> PredictiveResult<GammaGammaFit> {
    if !(options.penalty.is_finite() && options.penalty >= 0.0) {
        return Err(PredictiveError::InvalidInput(format!("the penalty must be ≥ 0, got {}", options.penalty)));
    }
    let mut buyers = Vec::new();
    for s in summaries {
        if !(s.monetary_value.is_finite() && s.monetary_value >= 0.0) {
            return Err(PredictiveError::InvalidInput(format!("m̄ must be finite and ≥ 0, got {}", s.monetary_value)));
        }
        if s.x >= 1 && s.monetary_value > 0.0 {
            buyers.push((f64::from(s.x), s.monetary_value));
        }
    }
    let repeat_buyers = buyers.len() as u64;
    if repeat_buyers < MIN_REPEAT_BUYERS {
        return Err(PredictiveError::InsufficientData { customers: summaries.len() as u64, repeat_buyers });
    }
    let n = buyers.len() as f64;
    let scale = buyers.iter().map(|&(_, m)| m).sum::<f64>() / n;
    let data = Prepared::new(&buyers, scale);
    let objective = Likelihood::new(&data, options.penalty);
    // Starts with population mean p γ/(q − 1) = 1 (the rescaled mean spend) and increasingly tight spend.
    let start = |p: f64, q: f64| [p.ln(), (q - 1.0).ln(), ((q - 1.0) / p).ln()];
    let boxed = optimise::Boxed { inner: &objective, bound: LOG_BOUND };
    let starts = [start(1.0, 2.0), start(4.0, 3.0), start(10.0, 5.0)].map(|p| boxed.search_point(&p));
    let mut best = optimise::minimise(&boxed, &starts)?;
    best.point = boxed.inner_point(&best.point);
    let at_bounds = boxed.at_edge(&best.point).into_iter().map(|i| ["p", "q", "gamma"][i].to_owned()).collect();

    let [p, q_minus_one, gamma_rescaled] = best.point.map(f64::exp);
    let params = GammaGammaParams { p, q: 1.0 + q_minus_one, gamma: gamma_rescaled * scale };
    let mut gradient = [0.0; 3];
    let mean_rescaled = -Likelihood::new(&data, 0.0).evaluate(&best.point, &mut gradient);
    // m̄ is a density variable: dividing it by c adds ln c per customer.
    let log_likelihood = mean_rescaled * n - n * scale.ln();
    Ok(GammaGammaFit {
        params,
        log_likelihood,
        repeat_buyers,
        frequency_spend_correlation: pearson(&buyers),
        penalty: options.penalty,
        gradient_norm: best.gradient_norm,
        at_bounds,
    })
}

fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    let (mean_x, mean_y) = pairs.iter().fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x / n, sy + y / n));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for &(x, y) in pairs {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Repeat buyers with spend rescaled, and the sums that do not depend on the parameters.
struct Prepared {
    /// `(x, m̄ / scale)`.
    buyers: Vec<(f64, f64)>,
    /// Distinct x and how many buyers have it.
    xs: Vec<(f64, f64)>,
    n: f64,
    /// `Σ x ln m̄ + Σ x ln x` and `Σ ln m̄`, on rescaled spend.
    sum_x_ln_mx: f64,
    sum_ln_m: f64,
}

impl Prepared {
    fn new(buyers: &[(f64, f64)], scale: f64) -> Self {
        let buyers: Vec<(f64, f64)> = buyers.iter().map(|&(x, m)| (x, m / scale)).collect();
        let mut xs: Vec<(f64, f64)> = Vec::new();
        let mut sorted: Vec<f64> = buyers.iter().map(|&(x, _)| x).collect();
        sorted.sort_unstable_by(f64::total_cmp);
        for x in sorted {
            match xs.last_mut() {
                Some(last) if last.0 == x => last.1 += 1.0,
                _ => xs.push((x, 1.0)),
            }
        }
        let sum_x_ln_mx = buyers.iter().map(|&(x, m)| x * (m.ln() + x.ln())).sum();
        let sum_ln_m = buyers.iter().map(|&(_, m)| m.ln()).sum();
        Prepared { n: buyers.len() as f64, buyers, xs, sum_x_ln_mx, sum_ln_m }
    }
}

/// `−(LL − penalty)/N` in `(ln p, ln(q − 1), ln γ)`.
struct Likelihood<'a> {
    data: &'a Prepared,
    penalty: f64,
    workers: usize,
}

impl<'a> Likelihood<'a> {
    fn new(data: &'a Prepared, penalty: f64) -> Self {
        Likelihood { data, penalty, workers: optimise::worker_count() }
    }
}

impl Objective<3> for Likelihood<'_> {
    fn evaluate(&self, point: &[f64; 3], gradient: &mut [f64; 3]) -> f64 {
        let [p, q_minus_one, gamma] = point.map(f64::exp);
        if ![p, q_minus_one, gamma].iter().all(|t| t.is_normal()) {
            // exp over- or underflowed: far outside any plausible fit, and the special functions would fail.
            return f64::NAN;
        }
        let q = 1.0 + q_minus_one;
        let data = self.data;
        let n = data.n;
        // Σ over distinct x of ln Γ(px + q) − ln Γ(px) and the digamma terms of its derivatives.
        let (mut head, mut d_p, mut d_q) = (0.0, 0.0, 0.0);
        for &(x, count) in &data.xs {
            let px = p * x;
            head += count * (ln_gamma(px + q) - ln_gamma(px));
            let digamma_pxq = digamma(px + q);
            d_p += count * x * (digamma_pxq - digamma(px));
            d_q += count * digamma_pxq;
        }
        // Σ ln(γ + x m̄), Σ x ln(γ + x m̄), Σ 1/(γ + x m̄), Σ x/(γ + x m̄).
        let [s_ln, s_x_ln, s_inv, s_x_inv] = optimise::parallel_sum(&data.buyers, self.workers, |buyers| {
            let mut s = [0.0; 4];
            for &(x, m) in buyers {
                let denominator = gamma + x * m;
                let (ln, inv) = (denominator.ln(), 1.0 / denominator);
                s[0] += ln;
                s[1] += x * ln;
                s[2] += inv;
                s[3] += x * inv;
            }
            s
        });
        let ln_gamma_scale = gamma.ln();
        let log_likelihood = head - n * ln_gamma(q) + n * q * ln_gamma_scale + p * data.sum_x_ln_mx
            - data.sum_ln_m
            - p * s_x_ln
            - q * s_ln;
        d_p += data.sum_x_ln_mx - s_x_ln;
        d_q += -n * digamma(q) + n * ln_gamma_scale - s_ln;
        let d_gamma = n * q / gamma - p * s_x_inv - q * s_inv;

        let theta = [p, q, gamma];
        let penalty = self.penalty * theta.iter().map(|t| t * t).sum::<f64>();
        // Chain rule: ∂/∂ln p = p ∂/∂p, ∂/∂ln(q − 1) = (q − 1) ∂/∂q, ∂/∂ln γ = γ ∂/∂γ.
        let jacobian = [p, q_minus_one, gamma];
        for (i, d) in [d_p, d_q, d_gamma].into_iter().enumerate() {
            gradient[i] = -(jacobian[i] * (d - 2.0 * self.penalty * theta[i])) / n;
        }
        -(log_likelihood - penalty) / n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::predictive::simulation;

    /// Fader & Hardie (2013), CDNOW.
    const CDNOW: GammaGammaParams = GammaGammaParams { p: 6.25, q: 3.74, gamma: 15.44 };

    fn summaries(spend: &[(u32, f64)]) -> Vec<CustomerSummary<usize>> {
        spend
            .iter()
            .enumerate()
            .map(|(key, &(x, monetary_value))| CustomerSummary { key, x, t_x: 1.0, age: 2.0, monetary_value })
            .collect()
    }

    #[test]
    fn likelihood_of_small_cases_by_hand() {
        let p = GammaGammaParams { p: 1.0, q: 2.0, gamma: 1.0 };
        // x = 1, p = 1: m̄ ~ Exponential(ν), ν ~ Gamma(2, 1), so f(m) = ∫ ν e^−νm ν e^−ν dν = 2/(1+m)³ = 1/4 at m = 1.
        assert!((p.log_likelihood(1, 1.0).unwrap() - 0.25_f64.ln()).abs() < 1e-14);
        // x = 2: m̄ ~ Gamma(2, 2ν), f(m) = ∫ 4ν² m e^−2νm ν e^−ν dν = 24m/(1+2m)⁴ = 24/81 at m = 1.
        assert!((p.log_likelihood(2, 1.0).unwrap() - (24.0_f64 / 81.0).ln()).abs() < 1e-14);
        assert!(p.log_likelihood(0, 1.0).is_err());
        assert!(p.log_likelihood(1, 0.0).is_err());
    }

    #[test]
    fn conditional_expected_value_matches_the_spreadsheet() {
        // CDNOW customers 1, 2, 3 and 6 (x, m̄) and E[M] from Fader & Hardie's note 025 spreadsheet, which
        // uses unrounded parameters: within 0.1, as lifetimes' test has it.
        for (x, m, expected) in [(2, 22.35, 24.65), (1, 11.77, 18.91), (0, 0.0, 35.17), (7, 73.74, 71.46)] {
            let value = CDNOW.conditional_expected_value(x, m).unwrap();
            assert!((value - expected).abs() < 0.1, "E[M | {x}, {m}] = {value}, expected {expected}");
        }
        // The weighted form: w m̄ + (1 − w) p γ/(q − 1) with w = p x/(p x + q − 1).
        let w = 6.25 * 2.0 / (6.25 * 2.0 + 2.74);
        let weighted = w * 22.35 + (1.0 - w) * CDNOW.population_mean().unwrap();
        assert!((CDNOW.conditional_expected_value(2, 22.35).unwrap() - weighted).abs() < 1e-12);
        assert_eq!(CDNOW.conditional_expected_value(0, 123.0).unwrap(), CDNOW.population_mean().unwrap());
        let no_mean = GammaGammaParams { q: 1.0, ..CDNOW };
        assert!(matches!(no_mean.conditional_expected_value(0, 0.0), Err(PredictiveError::InvalidParameters(_))));
        assert!(matches!(CDNOW.conditional_expected_value(1, -1.0), Err(PredictiveError::InvalidInput(_))));
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = GammaGammaParams { p: 6.0, q: 4.0, gamma: 15.0 };
        let data = summaries(&simulation::gamma_gamma_spend(&truth, 20_000, 10, 11).unwrap());
        let fitted = fit(&data, FitOptions::default()).unwrap();
        let p = fitted.params;
        for (name, value, expected) in [("p", p.p, truth.p), ("q", p.q, truth.q), ("γ", p.gamma, truth.gamma)] {
            assert!((value - expected).abs() < 0.15 * expected, "{name} = {value}, truth {expected}");
        }
        let mean = p.population_mean().unwrap();
        assert!((mean - truth.population_mean().unwrap()).abs() < 0.03 * mean, "{mean}");
        assert!(fitted.gradient_norm < 1e-6, "{fitted:?}");
        assert_eq!(fitted.repeat_buyers, 20_000);
        assert!(fitted.frequency_spend_correlation.unwrap().abs() < 0.03, "spend is independent of x here");
        // The reported LL is that of the data in its own money unit.
        let direct: f64 = data.iter().map(|s| p.log_likelihood(s.x, s.monetary_value).unwrap()).sum();
        assert!((fitted.log_likelihood - direct).abs() < 1e-6 * direct.abs(), "{} vs {direct}", fitted.log_likelihood);
    }

    #[test]
    fn fits_repeat_buyers_only_and_needs_enough_of_them() {
        let truth = GammaGammaParams { p: 6.0, q: 4.0, gamma: 15.0 };
        let mut spend = simulation::gamma_gamma_spend(&truth, 19, 5, 3).unwrap();
        // One-time buyers and repeat buyers whose repeat orders were all worth 0 are left out.
        spend.extend([(0, 0.0), (0, 0.0), (3, 0.0)]);
        assert!(matches!(
            fit(&summaries(&spend), FitOptions::default()),
            Err(PredictiveError::InsufficientData { customers: 22, repeat_buyers: 19 })
        ));
        spend.push((2, 30.0));
        assert_eq!(fit(&summaries(&spend), FitOptions::default()).unwrap().repeat_buyers, 20);
        spend.push((2, -1.0));
        assert!(matches!(fit(&summaries(&spend), FitOptions::default()), Err(PredictiveError::InvalidInput(_))));
    }

    #[test]
    fn correlation_of_frequency_and_spend() {
        assert_eq!(pearson(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]), Some(1.0));
        assert!((pearson(&[(1.0, 3.0), (2.0, 1.0), (3.0, 2.0)]).unwrap() + 0.5).abs() < 1e-15);
        assert_eq!(pearson(&[(1.0, 2.0), (1.0, 4.0)]), None, "no variance in x");
    }
}
