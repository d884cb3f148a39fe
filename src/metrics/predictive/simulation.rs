//! Seeded draws from the BG/NBD and Gamma-Gamma generative processes, for the parameter-recovery
//! tests and the fit benchmark.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::{PredictiveError, PredictiveResult, bgnbd::BgNbdParams, data::Triple, gamma_gamma::GammaGammaParams};

fn invalid(err: impl std::fmt::Display) -> PredictiveError {
    PredictiveError::InvalidParameters(err.to_string())
}

/// Purchase times of `n` customers under the BG/NBD process: the first purchase uniform in
/// `[0, first_before)`, observation until `end`. Each customer's λ ~ Gamma(r, α) and p ~ Beta(a, b); while
/// alive they buy at rate λ and drop out with probability p after each repeat purchase.
pub fn bgnbd_purchases(
    params: &BgNbdParams,
    n: usize,
    first_before: f64,
    end: f64,
    seed: u64,
) -> PredictiveResult<Vec<Vec<f64>>> {
    params.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let rates = Gamma::new(params.r, 1.0 / params.alpha).map_err(invalid)?;
    let dropouts = Beta::new(params.a, params.b).map_err(invalid)?;
    if !(first_before > 0.0 && end.is_finite()) {
        return Err(PredictiveError::InvalidInput(format!(
            "first purchases before {first_before}, observed until {end}"
        )));
    }
    Ok((0..n)
        .map(|_| {
            let (lambda, p) = (rates.sample(&mut rng), dropouts.sample(&mut rng));
            let mut t = rng.random_range(0.0..first_before);
            let mut times = vec![t];
            let Ok(gap) = Exp::new(lambda) else { return times };
            loop {
                t += gap.sample(&mut rng);
                if t > end {
                    break;
                }
                times.push(t);
                if rng.random_bool(p) {
                    break;
                }
            }
            times
        })
        .collect())
}

/// Ungrouped `(x, t_x, T)` triples (count 1) from [`bgnbd_purchases`].
pub fn bgnbd_triples(
    params: &BgNbdParams,
    n: usize,
    first_before: f64,
    end: f64,
    seed: u64,
) -> PredictiveResult<Vec<Triple>> {
    Ok(bgnbd_purchases(params, n, first_before, end, seed)?
        .iter()
        .map(|times| Triple {
            x: (times.len() - 1) as u32,
            t_x: times[times.len() - 1] - times[0],
            age: end - times[0],
            count: 1,
        })
        .collect())
}

/// `(x, m̄)` of `n` repeat buyers under the Gamma-Gamma model, with `x` uniform in `1..=max_x`.
pub fn gamma_gamma_spend(
    params: &GammaGammaParams,
    n: usize,
    max_x: u32,
    seed: u64,
) -> PredictiveResult<Vec<(u32, f64)>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let scales = Gamma::new(params.q, 1.0 / params.gamma).map_err(invalid)?;
    (0..n)
        .map(|_| {
            let nu: f64 = scales.sample(&mut rng);
            let spend = Gamma::new(params.p, 1.0 / nu).map_err(invalid)?;
            let x = rng.random_range(1..=max_x.max(1));
            let total: f64 = (0..x).map(|_| spend.sample(&mut rng)).sum();
            Ok((x, total / f64::from(x)))
        })
        .collect()
}
