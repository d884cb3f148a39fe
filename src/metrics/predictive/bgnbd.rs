//! BG/NBD model (Fader, Hardie & Lee 2005): likelihood, maximum-likelihood fit on grouped data and the
//! paper's predictions (eqs. 8, 9, 10 and P(alive)).
//!
//! A customer is `(x, t_x, T)`: `x` repeat purchases, the last at `t_x`, observed for `T`, all measured from
//! the first purchase in the model's time unit (`age` stands for `T` in code).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use statrs::function::{
    beta::{checked_beta_reg, ln_beta},
    gamma::{digamma, ln_gamma},
};

use super::{
    FitOptions, LOG_BOUND, MIN_CUSTOMERS, MIN_REPEAT_BUYERS, PredictiveError, PredictiveResult,
    data::Triple,
    hypergeometric::pfaff_complement,
    optimise::{self, Objective},
};

/// BG/NBD parameters: purchase rates λ ~ Gamma(shape `r`, rate `alpha`), dropout probabilities
/// p ~ Beta(`a`, `b`). `alpha` is in the time unit of the data (it scales with time; the others do not).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Standard errors of the fitted parameters (delta method from the log-parameter Hessian).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdStdErrors {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    /// Total log-likelihood at `params`, in the time unit of the data (not the optimiser's rescaled time)
    /// and without the penalty, so it is comparable with the literature (CDNOW: −9582.4 in weeks).
    pub log_likelihood: f64,
    /// `None` when the Hessian of −LL is not positive definite (a flat or degenerate optimum). With a
    /// penalty they come from the penalised objective.
    pub std_errors: Option<BgNbdStdErrors>,
    /// Customers in the fit (those with `T > 0`).
    pub customers: u64,
    /// Customers in the fit with `x > 0`.
    pub repeat_buyers: u64,
    /// The L2 penalty used; 0 unless requested.
    pub penalty: f64,
    /// Norm of the gradient of the mean log-likelihood with respect to the log-parameters at the
    /// optimum; about 0 at a proper maximum.
    pub gradient_norm: f64,
    /// Parameters that ran to the edge of the search box ([`LOG_BOUND`]): the data show no spread
    /// there (`r`, `alpha`: everyone buys at the same rate; `a`, `b`: everyone drops out alike).
    #[serde(default)]
    pub at_bounds: Vec<String>,
}

/// Checks one customer the way lifetimes does: finite, non-negative, `t_x ≤ T`, and `t_x = 0` when `x = 0`.
pub fn validate_customer(x: u32, t_x: f64, age: f64) -> PredictiveResult<()> {
    let invalid =
        |reason: &str| Err(PredictiveError::InvalidInput(format!("{reason} (x = {x}, t_x = {t_x}, T = {age})")));
    if !t_x.is_finite() || !age.is_finite() {
        return invalid("t_x and T must be finite");
    }
    if t_x < 0.0 || age < 0.0 {
        return invalid("t_x and T must not be negative");
    }
    if t_x > age {
        return invalid("t_x must not exceed T");
    }
    if x == 0 && t_x != 0.0 {
        return invalid("t_x must be 0 when x = 0");
    }
    Ok(())
}

fn validate_horizon(t: f64) -> PredictiveResult<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(PredictiveError::InvalidInput(format!("the horizon t must be finite and not negative, got {t}")))
    }
}

impl BgNbdParams {
    /// Checks that every parameter is positive and finite.
    pub fn validate(&self) -> PredictiveResult<()> {
        let values = [self.r, self.alpha, self.a, self.b];
        if values.iter().all(|v| v.is_finite() && *v > 0.0) {
            Ok(())
        } else {
            Err(PredictiveError::InvalidParameters(format!("BG/NBD parameters must be positive and finite: {self:?}")))
        }
    }

    /// `ln L` of one customer (FHL 2005, rearranged as in its Excel section; the bracket by log-sum-exp).
    pub fn log_likelihood(&self, x: u32, t_x: f64, age: f64) -> PredictiveResult<f64> {
        self.validate()?;
        validate_customer(x, t_x, age)?;
        let Self { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let head = ln_gamma(r + xf) - ln_gamma(r) + r * alpha.ln() + ln_beta(a, b + xf) - ln_beta(a, b);
        let survived = -(r + xf) * (alpha + age).ln();
        let bracket = if x > 0 {
            let dropped = a.ln() - (b + xf - 1.0).ln() - (r + xf) * (alpha + t_x).ln();
            log_sum_exp(survived, dropped)
        } else {
            survived
        };
        Ok(head + bracket)
    }

    /// `E[X(t)]`, expected repeat purchases of a new customer in `(0, t]` (eq. 9). Exactly 0 at `t = 0`.
    pub fn expected_purchases(&self, t: f64) -> PredictiveResult<f64> {
        self.validate()?;
        validate_horizon(t)?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let Self { r, alpha, a, b } = *self;
        // Eq. 9 is (a+b−1)/(a−1)·[1 − (α/(α+t))^r 2F1(r, b; a+b−1; t/(α+t))]; `pfaff_complement` evaluates
        // that bracket with the 0/0 at a = 1 cancelled analytically, so a = 1 needs no nudge.
        pfaff_complement(r, b, a + b - 1.0, t / (alpha + t))
    }

    /// `P(X(t) = n)`, the probability of exactly `n` repeat purchases in `(0, t]` for a new customer (eq. 8).
    pub fn probability_of_n(&self, t: f64, n: u32) -> PredictiveResult<f64> {
        self.validate()?;
        validate_horizon(t)?;
        if t == 0.0 {
            return Ok(if n == 0 { 1.0 } else { 0.0 });
        }
        let Self { r, alpha, a, b } = *self;
        let nf = f64::from(n);
        // ln(α/(α+t)) and ln(t/(α+t)) without cancellation for small or large t.
        let ln_stay = -(t / alpha).ln_1p();
        let ln_move = -(alpha / t).ln_1p();
        let first = (ln_beta(a, b + nf) - ln_beta(a, b) + ln_gamma(r + nf) - ln_gamma(r) - ln_gamma(nf + 1.0)
            + r * ln_stay
            + nf * ln_move)
            .exp();
        if n == 0 {
            return Ok(first);
        }
        // 1 − Σ_{j<n} NB(j; r, p) with p = t/(α+t) is the negative-binomial upper tail P(J ≥ n) = I_p(n, r);
        // the complement is summed directly unless it is close to 1, where it would cancel.
        let mut pmf = (r * ln_stay).exp();
        let mut below = 0.0;
        let p = t / (alpha + t);
        for j in 0..n {
            below += pmf;
            pmf *= (r + f64::from(j)) / (f64::from(j) + 1.0) * p;
        }
        let tail = if below <= 0.5 {
            1.0 - below
        } else {
            checked_beta_reg(nf, r, p).map_err(|e| PredictiveError::Numerical(format!("incomplete beta: {e}")))?
        };
        let second = (ln_beta(a + 1.0, b + nf - 1.0) - ln_beta(a, b)).exp() * tail;
        Ok(first + second)
    }

    /// `E[Y(t) | x, t_x, T]`, expected purchases in the next `t` units of a customer with history
    /// `(x, t_x, T)` (eq. 10). Exactly 0 at `t = 0`.
    pub fn conditional_expected_purchases(&self, t: f64, x: u32, t_x: f64, age: f64) -> PredictiveResult<f64> {
        let alive = self.probability_alive(x, t_x, age)?;
        validate_horizon(t)?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let Self { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        // Eq. 10's numerator is the bracket of eq. 9 with r + x, b + x and α + T; its denominator is 1/P(alive).
        let numerator = pfaff_complement(r + xf, b + xf, a + b + xf - 1.0, t / (alpha + age + t))?;
        Ok(numerator * alive)
    }

    /// `P(alive | x, t_x, T)` (Fader, Hardie & Lee, note 021). It is 1 for `x = 0`: the model cannot tell
    /// that a one-time buyer has lapsed.
    pub fn probability_alive(&self, x: u32, t_x: f64, age: f64) -> PredictiveResult<f64> {
        self.validate()?;
        validate_customer(x, t_x, age)?;
        if x == 0 {
            return Ok(1.0);
        }
        let Self { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        // a/(b+x−1)·((α+T)/(α+t_x))^(r+x), in logs; a huge odds ratio gives exactly 0, which is right.
        let ln_odds = a.ln() - (b + xf - 1.0).ln() + (r + xf) * ((age - t_x) / (alpha + t_x)).ln_1p();
        Ok(1.0 / (1.0 + ln_odds.exp()))
    }
}

fn log_sum_exp(u: f64, v: f64) -> f64 {
    let high = u.max(v);
    high + (-(u - v).abs()).exp().ln_1p()
}

/// Total log-likelihood of grouped data (each triple weighted by its count) and its gradient with respect
/// to `(ln r, ln α, ln a, ln b)`. The work is per distinct triple.
pub fn log_likelihood(params: &BgNbdParams, triples: &[Triple]) -> PredictiveResult<(f64, [f64; 4])> {
    params.validate()?;
    let data = Prepared::new(triples, 1.0)?;
    if data.customers == 0.0 {
        return Ok((0.0, [0.0; 4]));
    }
    let objective = Likelihood::new(&data, 0.0);
    let point = [params.r.ln(), params.alpha.ln(), params.a.ln(), params.b.ln()];
    let mut gradient = [0.0; 4];
    let mean = -objective.evaluate(&point, &mut gradient);
    let n = data.customers;
    Ok((mean * n, gradient.map(|g| -g * n)))
}

/// Fits the model by maximum likelihood on grouped data.
///
/// Time is rescaled so that the longest `T` is 1 (as lifetimes does; it keeps the parameters near 1),
/// the log-parameters are fitted by L-BFGS from several starts, and `alpha` and the log-likelihood are
/// converted back to the data's unit. Triples with `T = 0` carry no information and are left out.
/// Needs at least [`MIN_CUSTOMERS`] customers and [`MIN_REPEAT_BUYERS`] repeat buyers.
pub fn fit(triples: &[Triple], options: FitOptions) -> PredictiveResult<BgNbdFit> {
    if !(options.penalty.is_finite() && options.penalty >= 0.0) {
        return Err(PredictiveError::InvalidInput(format!("the penalty must be ≥ 0, got {}", options.penalty)));
    }
    let longest = triples.iter().filter(|t| t.count > 0).map(|t| t.age).fold(0.0, f64::max);
    let data = Prepared::new(triples, if longest > 0.0 { longest } else { 1.0 })?;
    // Totals are counts summed as f64; they are exact below 2^53.
    let (customers, repeat_buyers) = (data.customers as u64, data.repeat_buyers as u64);
    if customers < MIN_CUSTOMERS || repeat_buyers < MIN_REPEAT_BUYERS {
        return Err(PredictiveError::InsufficientData { customers, repeat_buyers });
    }
    let objective = Likelihood::new(&data, options.penalty);
    // Mean purchase rate per (rescaled) time unit; a start point puts the Gamma mean r/α there.
    let rate = (data.sum_x / data.sum_age).max(1e-6);
    let start = |r: f64, a: f64, b: f64| [r.ln(), (r / rate).ln(), a.ln(), b.ln()];
    let boxed = optimise::Boxed { inner: &objective, bound: LOG_BOUND };
    let starts = [[0.1; 4], start(0.5, 0.8, 2.5), start(2.0, 2.0, 6.0)].map(|p| boxed.search_point(&p));
    let mut best = optimise::minimise(&boxed, &starts)?;
    best.point = boxed.inner_point(&best.point);
    let at_bounds = boxed.at_edge(&best.point).into_iter().map(|i| ["r", "alpha", "a", "b"][i].to_owned()).collect();

    let [r, alpha_rescaled, a, b] = best.point.map(f64::exp);
    let params = BgNbdParams { r, alpha: alpha_rescaled * data.scale, a, b };
    let mut gradient = [0.0; 4];
    let mean_rescaled = -Likelihood::new(&data, 0.0).evaluate(&best.point, &mut gradient);
    // ln L scales by c^−x when time is divided by c (§9 "Units").
    let log_likelihood = mean_rescaled * data.customers - data.sum_x * data.scale.ln();

    // Covariance of the log-parameters = inverse Hessian of −LL; the objective is −(LL − penalty)/N.
    // Log-parameters differ from the rescaled ones by a constant, so the Hessian is the same in both units.
    let hessian = optimise::hessian(&objective, &best.point, 1e-5).map(|row| row.map(|h| h * data.customers));
    let std_errors = optimise::invert_positive_definite(&hessian).map(|covariance| {
        let se = |i: usize, value: f64| value * covariance[i][i].sqrt();
        BgNbdStdErrors { r: se(0, params.r), alpha: se(1, params.alpha), a: se(2, params.a), b: se(3, params.b) }
    });
    Ok(BgNbdFit {
        params,
        log_likelihood,
        std_errors,
        customers,
        repeat_buyers,
        penalty: options.penalty,
        gradient_norm: best.gradient_norm,
        at_bounds,
    })
}

/// One distinct triple, with indices into the tables of distinct values.
#[derive(Debug, Clone, Copy)]
struct Row {
    x: f64,
    x_slot: u32,
    age_slot: u32,
    recency_slot: u32,
    weight: f64,
}

/// Grouped data in rescaled time, laid out so that one evaluation costs a few table lookups, one `exp`
/// and one `ln_1p` per distinct triple: `ln(α + T)` is computed once per distinct `T`, and the terms
/// that depend only on `x` once per distinct `x`.
struct Prepared {
    rows: Vec<Row>,
    ages: Vec<f64>,
    recencies: Vec<f64>,
    /// Distinct x and the total weight of each.
    xs: Vec<(f64, f64)>,
    customers: f64,
    repeat_buyers: f64,
    sum_x: f64,
    sum_age: f64,
    /// Time was divided by this.
    scale: f64,
}

impl Prepared {
    fn new(triples: &[Triple], scale: f64) -> PredictiveResult<Self> {
        // Slots are u32 to keep a row at 32 bytes.
        if u32::try_from(triples.len()).is_err() {
            return Err(PredictiveError::InvalidInput(format!("{} distinct triples are too many", triples.len())));
        }
        let mut ages = Vec::new();
        let mut recencies = Vec::new();
        let mut xs = Vec::new();
        for t in triples {
            validate_customer(t.x, t.t_x, t.age)?;
            if t.count > 0 && t.age > 0.0 {
                ages.push(t.age / scale);
                recencies.push(t.t_x / scale);
                xs.push(t.x);
            }
        }
        let distinct = |values: &mut Vec<f64>| {
            values.sort_unstable_by(f64::total_cmp);
            values.dedup();
        };
        distinct(&mut ages);
        distinct(&mut recencies);
        xs.sort_unstable();
        xs.dedup();
        let slot = |values: &[f64], v: f64| values.partition_point(|&w| w < v) as u32;

        let mut x_weights = vec![0.0; xs.len()];
        let mut rows = Vec::with_capacity(triples.len());
        let (mut customers, mut repeat_buyers, mut sum_x, mut sum_age) = (0.0, 0.0, 0.0, 0.0);
        for t in triples.iter().filter(|t| t.count > 0 && t.age > 0.0) {
            let weight = t.count as f64;
            let x_slot = xs.partition_point(|&x| x < t.x);
            x_weights[x_slot] += weight;
            let (age, recency) = (t.age / scale, t.t_x / scale);
            rows.push(Row {
                x: f64::from(t.x),
                x_slot: x_slot as u32,
                age_slot: slot(&ages, age),
                recency_slot: slot(&recencies, recency),
                weight,
            });
            customers += weight;
            sum_x += weight * f64::from(t.x);
            sum_age += weight * age;
            if t.x > 0 {
                repeat_buyers += weight;
            }
        }
        let xs = xs.iter().zip(x_weights).map(|(&x, w)| (f64::from(x), w)).collect();
        Ok(Prepared { rows, ages, recencies, xs, customers, repeat_buyers, sum_x, sum_age, scale })
    }
}

/// Per-evaluation tables, allocated once per fit.
struct Scratch {
    /// `(ln(α + T), 1/(α + T))` per distinct T.
    age_terms: Vec<(f64, f64)>,
    /// The same per distinct `t_x`.
    recency_terms: Vec<(f64, f64)>,
    /// `(ln a − ln(b + x − 1), 1/(b + x − 1))` per distinct x (unused for x = 0).
    x_terms: Vec<(f64, f64)>,
}

/// `−(LL − penalty)/N` as a function of the log-parameters; dividing by N keeps the optimiser's
/// tolerances independent of the data size.
struct Likelihood<'a> {
    data: &'a Prepared,
    penalty: f64,
    workers: usize,
    scratch: RefCell<Scratch>,
}

impl<'a> Likelihood<'a> {
    fn new(data: &'a Prepared, penalty: f64) -> Self {
        let scratch = Scratch {
            age_terms: vec![(0.0, 0.0); data.ages.len()],
            recency_terms: vec![(0.0, 0.0); data.recencies.len()],
            x_terms: vec![(0.0, 0.0); data.xs.len()],
        };
        Likelihood { data, penalty, workers: optimise::worker_count(), scratch: RefCell::new(scratch) }
    }
}

impl Objective<4> for Likelihood<'_> {
    fn evaluate(&self, point: &[f64; 4], gradient: &mut [f64; 4]) -> f64 {
        let [r, alpha, a, b] = point.map(f64::exp);
        if ![r, alpha, a, b].iter().all(|t| t.is_normal()) {
            // exp over- or underflowed: far outside any plausible fit, and the special functions would fail.
            return f64::NAN;
        }
        let data = self.data;
        let mut scratch = self.scratch.borrow_mut();
        let Scratch { age_terms, recency_terms, x_terms } = &mut *scratch;
        for (terms, values) in [(&mut *age_terms, &data.ages), (&mut *recency_terms, &data.recencies)] {
            for (term, v) in terms.iter_mut().zip(values) {
                *term = ((alpha + v).ln(), 1.0 / (alpha + v));
            }
        }
        let (ln_a, mut head, mut d_r, mut d_a, mut d_b) = (a.ln(), 0.0, 0.0, 0.0, 0.0);
        let (ln_gamma_r, digamma_r, digamma_b, digamma_ab) = (ln_gamma(r), digamma(r), digamma(b), digamma(a + b));
        let ln_beta_ab = ln_beta(a, b);
        for (term, &(x, w)) in x_terms.iter_mut().zip(&data.xs) {
            // Terms of ln L that depend on x only: ln Γ(r+x) − ln Γ(r) + ln B(a, b+x) − ln B(a, b).
            head += w * (ln_gamma(r + x) - ln_gamma_r + ln_beta(a, b + x) - ln_beta_ab);
            let digamma_abx = digamma(a + b + x);
            d_r += w * (digamma(r + x) - digamma_r);
            d_a += w * (digamma_ab - digamma_abx);
            d_b += w * (digamma(b + x) - digamma_abx - digamma_b + digamma_ab);
            if x > 0.0 {
                *term = (ln_a - (b + x - 1.0).ln(), 1.0 / (b + x - 1.0));
            }
        }
        let n = data.customers;
        head += n * r * alpha.ln();
        d_r += n * alpha.ln();
        let mut d_alpha = n * r / alpha;

        let (age_terms, recency_terms, x_terms) = (&*age_terms, &*recency_terms, &*x_terms);
        let [bracket, br_r, br_alpha, br_a, br_b] = optimise::parallel_sum(&data.rows, self.workers, |rows| {
            let mut s = [0.0; 5];
            for row in rows {
                let rx = r + row.x;
                let (ln_age, inv_age) = age_terms[row.age_slot as usize];
                let survived = -rx * ln_age;
                if row.x == 0.0 {
                    s[0] += row.weight * survived;
                    s[1] -= row.weight * ln_age;
                    s[2] -= row.weight * rx * inv_age;
                    continue;
                }
                let (ln_recency, inv_recency) = recency_terms[row.recency_slot as usize];
                let (ln_ratio, inv_bx) = x_terms[row.x_slot as usize];
                let dropped = ln_ratio - rx * ln_recency;
                // Log-sum-exp and the softmax weight `share` of the "dropped out after t_x" branch.
                let e = (-(survived - dropped).abs()).exp();
                let share = if dropped >= survived { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
                let w = row.weight;
                s[0] += w * (survived.max(dropped) + e.ln_1p());
                s[1] -= w * ((1.0 - share) * ln_age + share * ln_recency);
                s[2] -= w * rx * ((1.0 - share) * inv_age + share * inv_recency);
                s[3] += w * share;
                s[4] -= w * share * inv_bx;
            }
            s
        });
        let log_likelihood = head + bracket;
        d_r += br_r;
        d_alpha += br_alpha;
        d_a += br_a / a;
        d_b += br_b;

        let theta = [r, alpha, a, b];
        let penalty = self.penalty * theta.iter().map(|t| t * t).sum::<f64>();
        for (i, d) in [d_r, d_alpha, d_a, d_b].into_iter().enumerate() {
            // Chain rule to log-parameters: ∂/∂ln θ = θ ∂/∂θ.
            gradient[i] = -(theta[i] * d - 2.0 * self.penalty * theta[i] * theta[i]) / n;
        }
        -(log_likelihood - penalty) / n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::predictive::{data, simulation};

    /// Fader, Hardie & Lee (2005), CDNOW, weeks.
    const CDNOW: BgNbdParams = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    const ONES: BgNbdParams = BgNbdParams { r: 1.0, alpha: 1.0, a: 1.0, b: 1.0 };

    fn close(value: f64, expected: f64, relative: f64) -> bool {
        (value - expected).abs() <= relative * expected.abs()
    }

    #[test]
    fn likelihood_of_small_cases_by_hand() {
        // x = 0: L = (α/(α+T))^r; r = 0.5, α = 2, T = 6 gives (1/4)^0.5 = 1/2.
        let p = BgNbdParams { r: 0.5, alpha: 2.0, a: 0.7, b: 1.3 };
        assert!(close(p.log_likelihood(0, 0.0, 6.0).unwrap(), 0.5_f64.ln(), 1e-14));
        // x = 1, r = α = a = b = 1: L = Γ(2)/Γ(1)·1·B(1, 2)/B(1, 1)·[(1+T)^−2 + a/b·(1+t_x)^−2]
        //   = 1/2·(1/16 + 1/4) = 5/32 at t_x = 1, T = 3.
        assert!(close(ONES.log_likelihood(1, 1.0, 3.0).unwrap(), (5.0_f64 / 32.0).ln(), 1e-14));
        // x = 2: Γ(3)/Γ(1) = 2, B(1, 3)/B(1, 1) = 1/3, bracket 4^−3 + 1/2·2^−3 = 5/64, so L = 2/3·5/64 = 5/96.
        assert!(close(ONES.log_likelihood(2, 1.0, 3.0).unwrap(), (5.0_f64 / 96.0).ln(), 1e-14));
        // Large x with t_x ≪ T: the log-sum-exp keeps the dropped-out branch that a direct sum would lose.
        assert!(CDNOW.log_likelihood(400, 1.0, 5000.0).unwrap().is_finite());
    }

    #[test]
    fn grouped_likelihood_and_gradient_agree_with_the_per_customer_form() {
        let triples = [
            Triple { x: 0, t_x: 0.0, age: 38.86, count: 7 },
            Triple { x: 2, t_x: 30.43, age: 38.86, count: 3 },
            Triple { x: 1, t_x: 0.5, age: 20.0, count: 1 },
            Triple { x: 12, t_x: 35.0, age: 36.0, count: 2 },
            Triple { x: 2, t_x: 1.0, age: 38.86, count: 1 },
            Triple { x: 0, t_x: 0.0, age: 0.0, count: 4 }, // T = 0 adds nothing
        ];
        let (total, gradient) = log_likelihood(&CDNOW, &triples).unwrap();
        let direct: f64 =
            triples.iter().map(|t| t.count as f64 * CDNOW.log_likelihood(t.x, t.t_x, t.age).unwrap()).sum();
        assert!(close(total, direct, 1e-13), "{total} vs {direct}");
        let h = 1e-6;
        for i in 0..4 {
            let shifted = |delta: f64| {
                let mut logs = [CDNOW.r.ln(), CDNOW.alpha.ln(), CDNOW.a.ln(), CDNOW.b.ln()];
                logs[i] += delta;
                let [r, alpha, a, b] = logs.map(f64::exp);
                log_likelihood(&BgNbdParams { r, alpha, a, b }, &triples).unwrap().0
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(
                (gradient[i] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "∂/∂θ{i}: {} vs {numeric}",
                gradient[i]
            );
        }
    }

    // Reference values from python3 mpmath 1.3 at 50 digits: eqs. 8, 9 and 10 written out with `hyp2f1`,
    // `beta`, `gamma` and `factorial` at the CDNOW parameters.

    #[test]
    fn conditional_expectation_matches_the_spreadsheet_example() {
        let value = CDNOW.conditional_expected_purchases(39.0, 2, 30.43, 38.86).unwrap();
        assert!((value - 1.226).abs() < 5e-4, "{value}");
        // (t, x, t_x, T, E[Y(t) | x, t_x, T])
        let references = [
            (39.0, 2, 30.43, 38.86, 1.2260281747671444),
            (39.0, 0, 0.0, 38.86, 0.19509805201126265),
            (520.0, 10, 35.0, 38.86, 32.15734670001692),
            (100000.0, 2, 30.43, 38.86, 48.616844073588744),
            (0.5, 1, 1.0, 20.0, 0.008110030200564196),
        ];
        for (t, x, t_x, age, reference) in references {
            let value = CDNOW.conditional_expected_purchases(t, x, t_x, age).unwrap();
            assert!(close(value, reference, 1e-11), "E[Y({t}) | {x}, {t_x}, {age}] = {value}, expected {reference}");
        }
    }

    #[test]
    fn unconditional_expectation_and_count_distribution_match_references() {
        for (t, reference) in [
            (1.0, 0.05326789117165828),
            (39.0, 1.196723193320817),
            (520.0, 4.9746178618496595),
            (100000.0, 29.607861654554956),
        ] {
            let value = CDNOW.expected_purchases(t).unwrap();
            assert!(close(value, reference, 1e-11), "E[X({t})] = {value}, expected {reference}");
        }
        // (t, n, P(X(t) = n))
        let references = [
            (39.0, 0, 0.5737863520960094),
            (39.0, 1, 0.19939528083591146),
            (39.0, 5, 0.017965493866579044),
            (39.0, 40, 1.505289310761624e-05),
            (520.0, 2, 0.11506182544069954),
            (0.01, 3, 7.978845462322025e-10),
            (100000.0, 7, 0.028311706489560107),
        ];
        for (t, n, reference) in references {
            let value = CDNOW.probability_of_n(t, n).unwrap();
            assert!(close(value, reference, 1e-10), "P(X({t}) = {n}) = {value}, expected {reference}");
        }
        // The distribution sums to 1 and its mean is eq. 9.
        let (mut total, mut mean) = (0.0, 0.0);
        for n in 0..2000 {
            let p = CDNOW.probability_of_n(39.0, n).unwrap();
            total += p;
            mean += f64::from(n) * p;
        }
        assert!(close(total, 1.0, 1e-12), "{total}");
        assert!(close(mean, CDNOW.expected_purchases(39.0).unwrap(), 1e-9), "{mean}");
    }

    #[test]
    fn probability_alive() {
        assert_eq!(CDNOW.probability_alive(0, 0.0, 38.86).unwrap(), 1.0);
        // 1/(1 + a/(b+x−1)·((α+T)/(α+t_x))^(r+x)) = 1/(1 + 1/2·2³) = 1/5 with all parameters 1, x = 2, t_x = 1, T = 3.
        assert!(close(ONES.probability_alive(2, 1.0, 3.0).unwrap(), 0.2, 1e-15));
        // A recent purchase makes the customer likelier alive; a frequent buyer silent for long is gone.
        assert!(CDNOW.probability_alive(5, 38.0, 38.86).unwrap() > CDNOW.probability_alive(5, 10.0, 38.86).unwrap());
        assert!(CDNOW.probability_alive(400, 1.0, 5000.0).unwrap() < 1e-100);
    }

    #[test]
    fn zero_horizon_gives_exactly_zero() {
        assert_eq!(CDNOW.expected_purchases(0.0).unwrap(), 0.0);
        assert_eq!(CDNOW.conditional_expected_purchases(0.0, 3, 10.0, 38.0).unwrap(), 0.0);
        assert_eq!(CDNOW.probability_of_n(0.0, 0).unwrap(), 1.0);
        assert_eq!(CDNOW.probability_of_n(0.0, 2).unwrap(), 0.0);
    }

    #[test]
    fn a_equal_to_one_is_the_limit() {
        // mpmath: c/(c−b)·[1 − (1−z)^r+x 2F1(…)] at c = b + 1e−50 (120 digits), r = 0.243, α = 4.414,
        // b = 2.426, x = 0, T = 38.86, t = 39 and 100,000.
        let p = BgNbdParams { a: 1.0, ..CDNOW };
        let at_39 = p.conditional_expected_purchases(39.0, 0, 0.0, 38.86).unwrap();
        assert!(close(at_39, 0.19107701257392298, 1e-12), "{at_39}");
        let far = p.conditional_expected_purchases(100000.0, 0, 0.0, 38.86).unwrap();
        assert!(close(far, 8.756492476779444, 1e-12), "{far}");
        for a in [1.0 - 1e-9, 1.0 + 1e-9] {
            let near = BgNbdParams { a, ..CDNOW }.conditional_expected_purchases(39.0, 0, 0.0, 38.86).unwrap();
            assert!(close(near, at_39, 1e-8), "a = {a}: {near}");
        }
        assert!(p.expected_purchases(39.0).unwrap() > 0.0);
    }

    #[test]
    fn rejects_invalid_input() {
        let invalid = |result: PredictiveResult<f64>| matches!(result, Err(PredictiveError::InvalidInput(_)));
        assert!(invalid(CDNOW.expected_purchases(-1.0)));
        assert!(invalid(CDNOW.expected_purchases(f64::NAN)));
        assert!(invalid(CDNOW.conditional_expected_purchases(-0.5, 1, 1.0, 2.0)));
        assert!(invalid(CDNOW.conditional_expected_purchases(1.0, 1, 3.0, 2.0)), "t_x > T");
        assert!(invalid(CDNOW.probability_alive(0, 1.0, 2.0)), "t_x ≠ 0 with x = 0");
        assert!(invalid(CDNOW.log_likelihood(1, -1.0, 2.0)), "negative t_x");
        assert!(invalid(CDNOW.log_likelihood(1, 1.0, f64::INFINITY)));
        assert!(invalid(CDNOW.probability_of_n(-1.0, 1)));
        let bad = BgNbdParams { r: 0.0, ..CDNOW };
        assert!(matches!(bad.expected_purchases(1.0), Err(PredictiveError::InvalidParameters(_))));
        let triples = [Triple { x: 0, t_x: 1.0, age: 2.0, count: 1 }];
        assert!(matches!(fit(&triples, FitOptions::default()), Err(PredictiveError::InvalidInput(_))));
    }

    #[test]
    fn refuses_to_fit_too_little_data() {
        let few = simulation::bgnbd_triples(&CDNOW, 99, 12.0, 39.0, 1).unwrap();
        assert!(matches!(
            fit(&few, FitOptions::default()),
            Err(PredictiveError::InsufficientData { customers: 99, .. })
        ));
        let no_repeats: Vec<Triple> =
            (0..500).map(|i| Triple { x: 0, t_x: 0.0, age: f64::from(i % 30 + 1), count: 1 }).collect();
        assert!(matches!(
            fit(&no_repeats, FitOptions::default()),
            Err(PredictiveError::InsufficientData { customers: 500, repeat_buyers: 0 })
        ));
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = BgNbdParams { r: 0.5, alpha: 6.0, a: 0.8, b: 2.5 };
        // 20,000 customers, first purchases staggered over 12 weeks, observed to week 39 (like CDNOW).
        let triples = simulation::bgnbd_triples(&truth, 20_000, 12.0, 39.0, 7).unwrap();
        let fitted = fit(&triples, FitOptions::default()).unwrap();
        let p = fitted.params;
        let se = fitted.std_errors.unwrap();
        for (name, value, expected, error) in [
            ("r", p.r, truth.r, se.r),
            ("α", p.alpha, truth.alpha, se.alpha),
            ("a", p.a, truth.a, se.a),
            ("b", p.b, truth.b, se.b),
        ] {
            assert!(close(value, expected, 0.15), "{name} = {value} ± {error}, truth {expected}");
            assert!((value - expected).abs() < 3.0 * error, "{name} = {value} ± {error}, truth {expected}");
        }
        assert!(fitted.gradient_norm < 1e-6, "{fitted:?}");
        assert_eq!(fitted.customers, 20_000);
        // The reported LL is the LL of the data in its own unit at the fitted parameters.
        let (ll, _) = log_likelihood(&p, &triples).unwrap();
        assert!((fitted.log_likelihood - ll).abs() < 1e-6, "{} vs {ll}", fitted.log_likelihood);

        // The same customers in days: α scales by 7, LL moves by −Σx ln 7, r, a, b stay.
        let days: Vec<Triple> = triples.iter().map(|t| Triple { t_x: 7.0 * t.t_x, age: 7.0 * t.age, ..*t }).collect();
        let in_days = fit(&days, FitOptions::default()).unwrap();
        let sum_x: f64 = triples.iter().map(|t| f64::from(t.x)).sum();
        assert!(close(in_days.params.alpha, 7.0 * p.alpha, 1e-5), "{:?} vs {p:?}", in_days.params);
        assert!(close(in_days.params.b, p.b, 1e-5));
        assert!((in_days.log_likelihood - (fitted.log_likelihood - sum_x * 7.0_f64.ln())).abs() < 1e-4);

        // A penalty pulls the parameters in and is reported.
        let penalised = fit(&triples, FitOptions { penalty: 1.0 }).unwrap();
        assert_eq!(penalised.penalty, 1.0);
        assert!(penalised.params.b < p.b && penalised.log_likelihood < fitted.log_likelihood);
    }

    /// When every customer drops out with the same probability p, the Beta spread vanishes: the fit
    /// runs a and b towards infinity with a/(a + b) → p. Predictions must stay finite and tend to the
    /// fixed-p model: E[X(t)] = (1 − (α/(α + p·t))^r)/p.
    #[test]
    fn homogeneous_dropout_fits_and_predicts() {
        let truth = BgNbdParams { r: 1.5, alpha: 20.0, a: 3000.0, b: 7000.0 };
        let triples = data::group(
            &simulation::bgnbd_triples(&truth, 5000, 30.0, 78.0, 11)
                .unwrap()
                .iter()
                .map(|t| data::CustomerSummary { key: (), x: t.x, t_x: t.t_x, age: t.age, monetary_value: 0.0 })
                .collect::<Vec<_>>(),
        );
        let result = fit(&triples, FitOptions::default()).unwrap();
        let fitted = result.params;
        assert!(fitted.a + fitted.b > 1e4, "the spread collapses: {fitted:?}");
        assert!(result.at_bounds.contains(&"b".to_owned()), "and says so: {:?}", result.at_bounds);
        let p = fitted.a / (fitted.a + fitted.b);
        assert!((p - 0.3).abs() < 0.02, "{p}");
        for t in [52.0, 520.0] {
            let limit = (1.0 - (fitted.alpha / (fitted.alpha + p * t)).powf(fitted.r)) / p;
            let value = fitted.expected_purchases(t).unwrap();
            assert!(close(value, limit, 1e-3), "t = {t}: {value} vs the fixed-p limit {limit}");
        }
        let next_year = fitted.conditional_expected_purchases(52.0, 3, 20.0, 50.0).unwrap();
        assert!(next_year.is_finite() && next_year > 0.0, "{next_year}");
    }
}
