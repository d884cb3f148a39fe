//! Fitting machinery shared by the BG/NBD and Gamma-Gamma models: multi-start L-BFGS (argmin) finished
//! by Newton steps, with Nelder-Mead (argmin) as the fallback; a Hessian from finite differences of the
//! analytic gradient; and a parallel sum over data rows.

use std::{cell::RefCell, num::NonZeroUsize, thread};

use argmin::{
    core::{CostFunction, Error, Executor, Gradient, State},
    solver::{linesearch::MoreThuenteLineSearch, neldermead::NelderMead, quasinewton::LBFGS},
};

use super::{PredictiveError, PredictiveResult};

/// A smooth function of `N` unconstrained parameters, to be minimised.
pub(super) trait Objective<const N: usize> {
    /// The value at `point`, with its gradient written to `gradient`. Not finite outside the domain.
    fn evaluate(&self, point: &[f64; N], gradient: &mut [f64; N]) -> f64;

    /// Whether `point` is up against a limit of the search, where the gradient need not vanish.
    fn at_limit(&self, _point: &[f64; N]) -> bool {
        false
    }
}

/// `inner` over log-parameters held inside `(−bound, bound)`: the search runs on `u` with
/// `ln θ = bound · tanh(u / bound)`. The map is one to one, so an interior optimum is exactly the
/// optimum without the box; a likelihood that keeps rising as a parameter runs off to 0 or ∞ (data
/// with no spread in that respect: every customer buying at the same rate, say) stops near the edge
/// instead of carrying the special functions to overflow.
pub(super) struct Boxed<'a, O> {
    pub inner: &'a O,
    pub bound: f64,
}

impl<O> Boxed<'_, O> {
    /// Log-parameters of the search point `u`.
    pub fn inner_point<const N: usize>(&self, u: &[f64; N]) -> [f64; N] {
        u.map(|v| self.bound * (v / self.bound).tanh())
    }

    /// The search point of log-parameters `p` (clamped just inside the box).
    pub fn search_point<const N: usize>(&self, p: &[f64; N]) -> [f64; N] {
        p.map(|v| self.bound * (v / self.bound).clamp(-0.999_999, 0.999_999).atanh())
    }

    /// Indices of the log-parameters within `e` (a factor 2.7) of the edge.
    pub fn at_edge<const N: usize>(&self, p: &[f64; N]) -> Vec<usize> {
        (0..N).filter(|i| p[*i].abs() > self.bound - 1.0).collect()
    }
}

impl<O: Objective<N>, const N: usize> Objective<N> for Boxed<'_, O> {
    fn evaluate(&self, u: &[f64; N], gradient: &mut [f64; N]) -> f64 {
        let value = self.inner.evaluate(&self.inner_point(u), gradient);
        for (g, v) in gradient.iter_mut().zip(u) {
            let t = (v / self.bound).tanh();
            *g *= 1.0 - t * t;
        }
        value
    }

    fn at_limit(&self, u: &[f64; N]) -> bool {
        !self.at_edge(&self.inner_point(u)).is_empty()
    }
}

/// The best point found and the objective there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Minimum<const N: usize> {
    pub point: [f64; N],
    pub value: f64,
    pub gradient: [f64; N],
    /// Euclidean norm of `gradient`.
    pub gradient_norm: f64,
}

/// L-BFGS stops at this gradient norm; Newton steps take it from there. Objectives are means over
/// customers, so the scale does not depend on the data size.
const LBFGS_GRADIENT: f64 = 1e-6;
/// A gradient norm below this counts as converged; above it the Nelder-Mead polish runs.
const CONVERGED_GRADIENT: f64 = 1e-7;
/// Newton steps stop here: sums over hundreds of thousands of rows are not more precise than that.
const NEWTON_GRADIENT: f64 = 1e-11;

/// Minimises `objective`: L-BFGS from each start, the best result finished by Newton steps on the
/// finite-difference Hessian, and a Nelder-Mead polish only if the gradient is still not small.
pub(super) fn minimise<O: Objective<N>, const N: usize>(
    objective: &O,
    starts: &[[f64; N]],
) -> PredictiveResult<Minimum<N>> {
    let mut best: Option<Minimum<N>> = None;
    let mut failures = Vec::new();
    for start in starts {
        match lbfgs(objective, start) {
            Ok(found) => best = Some(best.map_or(found, |b| better(b, found))),
            Err(error) => failures.push(error.to_string()),
        }
    }
    let start = match best.map(|found| newton(objective, found)) {
        // At the edge of a box the remaining slope points out of it: polishing cannot do better.
        Some(found) if found.gradient_norm <= CONVERGED_GRADIENT || objective.at_limit(&found.point) => {
            return Ok(found);
        }
        Some(found) => {
            best = Some(found);
            found.point
        }
        // No L-BFGS run got anywhere: let the derivative-free method try from the first start.
        None => *starts.first().ok_or_else(|| PredictiveError::FitFailed("no start point".into()))?,
    };
    match nelder_mead(objective, &start) {
        Ok(polished) => Ok(best.map_or(polished, |b| better(b, polished))),
        Err(error) => best.ok_or_else(|| {
            failures.push(error.to_string());
            PredictiveError::FitFailed(failures.join("; "))
        }),
    }
}

fn better<const N: usize>(a: Minimum<N>, b: Minimum<N>) -> Minimum<N> {
    if b.value < a.value { b } else { a }
}

/// Up to three Newton steps from `found`, each kept only if it shrinks the gradient without raising the
/// cost beyond rounding. Near the optimum the likelihood is close to quadratic, so one or two steps take
/// the gradient from L-BFGS's tolerance to the rounding level, at 2N gradient evaluations each.
fn newton<O: Objective<N>, const N: usize>(objective: &O, mut found: Minimum<N>) -> Minimum<N> {
    for _ in 0..3 {
        if found.gradient_norm <= NEWTON_GRADIENT {
            break;
        }
        let Some(inverse) = invert_positive_definite(&hessian(objective, &found.point, 1e-5)) else {
            break;
        };
        let mut point = found.point;
        for (i, p) in point.iter_mut().enumerate() {
            *p -= (0..N).map(|j| inverse[i][j] * found.gradient[j]).sum::<f64>();
        }
        match finish(objective, &point) {
            Ok(next)
                if next.gradient_norm < found.gradient_norm
                    && next.value <= found.value + 1e-12 * found.value.abs().max(1.0) =>
            {
                found = next;
            }
            _ => break,
        }
    }
    found
}

fn lbfgs<O: Objective<N>, const N: usize>(objective: &O, start: &[f64; N]) -> Result<Minimum<N>, Error> {
    let initial = finish(objective, start)?;
    // A safety net for flat valleys: stop when a step no longer changes the cost beyond its rounding
    // error, where curvature pairs built from differences of noise would point anywhere.
    let tolerance_cost = 1e-13 * initial.value.abs().max(1.0);
    let problem = Problem::new(objective, false);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(LBFGS_GRADIENT)?
        .with_tolerance_cost(tolerance_cost)?;
    let result = Executor::new(problem, solver).configure(|state| state.param(start.to_vec()).max_iters(100)).run()?;
    let best = result.state().get_best_param().ok_or_else(|| Error::msg("L-BFGS returned no point"))?;
    finish(objective, best)
}

fn nelder_mead<O: Objective<N>, const N: usize>(objective: &O, start: &[f64; N]) -> Result<Minimum<N>, Error> {
    let mut simplex = vec![start.to_vec()];
    for i in 0..N {
        let mut vertex = start.to_vec();
        vertex[i] += 0.05;
        simplex.push(vertex);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(1e-13)?;
    let result =
        Executor::new(Problem::new(objective, true), solver).configure(|state| state.max_iters(2_000)).run()?;
    let best = result.state().get_best_param().ok_or_else(|| Error::msg("Nelder-Mead returned no point"))?;
    finish(objective, best)
}

fn finish<O: Objective<N>, const N: usize>(objective: &O, point: &[f64]) -> Result<Minimum<N>, Error> {
    let point: [f64; N] = point.try_into().map_err(|_| Error::msg("wrong parameter count"))?;
    let mut gradient = [0.0; N];
    let value = objective.evaluate(&point, &mut gradient);
    if !value.is_finite() {
        return Err(Error::msg("no finite likelihood at the optimiser's end point"));
    }
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    Ok(Minimum { point, value, gradient, gradient_norm })
}

/// A point, the objective there and its gradient.
type Evaluation<const N: usize> = ([f64; N], f64, [f64; N]);

/// argmin's view of an [`Objective`]. Line searches ask for the cost and then the gradient at the same
/// point; both come from one evaluation, kept until the next point.
struct Problem<'a, O, const N: usize> {
    objective: &'a O,
    /// Nelder-Mead ranks points and copes with +∞; L-BFGS gets an error instead, which ends that run.
    lenient: bool,
    last: RefCell<Option<Evaluation<N>>>,
}

impl<'a, O: Objective<N>, const N: usize> Problem<'a, O, N> {
    fn new(objective: &'a O, lenient: bool) -> Self {
        Problem { objective, lenient, last: RefCell::new(None) }
    }

    fn evaluate(&self, param: &[f64]) -> Result<(f64, [f64; N]), Error> {
        let point: [f64; N] = param.try_into().map_err(|_| Error::msg("wrong parameter count"))?;
        if let Some((cached, value, gradient)) = *self.last.borrow()
            && cached == point
        {
            return Ok((value, gradient));
        }
        let mut gradient = [0.0; N];
        let value = self.objective.evaluate(&point, &mut gradient);
        *self.last.borrow_mut() = Some((point, value, gradient));
        Ok((value, gradient))
    }
}

impl<O: Objective<N>, const N: usize> CostFunction for Problem<'_, O, N> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, param: &Vec<f64>) -> Result<f64, Error> {
        let (value, _) = self.evaluate(param)?;
        match (value.is_finite(), self.lenient) {
            (true, _) => Ok(value),
            (false, true) => Ok(f64::INFINITY),
            (false, false) => Err(Error::msg("step left the likelihood's finite domain")),
        }
    }
}

impl<O: Objective<N>, const N: usize> Gradient for Problem<'_, O, N> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, param: &Vec<f64>) -> Result<Vec<f64>, Error> {
        let (value, gradient) = self.evaluate(param)?;
        if value.is_finite() && gradient.iter().all(|g| g.is_finite()) {
            Ok(gradient.to_vec())
        } else {
            Err(Error::msg("gradient is not finite"))
        }
    }
}

/// Hessian of `objective` at `point` by central differences of its analytic gradient (step `h`), symmetrised.
pub(super) fn hessian<O: Objective<N>, const N: usize>(objective: &O, point: &[f64; N], h: f64) -> [[f64; N]; N] {
    let mut rows = [[0.0; N]; N];
    for (j, row) in rows.iter_mut().enumerate() {
        let (mut up, mut down) = (*point, *point);
        up[j] += h;
        down[j] -= h;
        let (mut g_up, mut g_down) = ([0.0; N], [0.0; N]);
        objective.evaluate(&up, &mut g_up);
        objective.evaluate(&down, &mut g_down);
        for i in 0..N {
            row[i] = (g_up[i] - g_down[i]) / (2.0 * h);
        }
    }
    let mut symmetric = rows;
    for i in 0..N {
        for j in 0..N {
            symmetric[i][j] = 0.5 * (rows[i][j] + rows[j][i]);
        }
    }
    symmetric
}

/// Inverse of a symmetric matrix by Cholesky; `None` unless it is positive definite (a proper maximum).
pub(super) fn invert_positive_definite<const N: usize>(matrix: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    // matrix = L Lᵀ
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let pivot = matrix[i][i] - dot;
                if !(pivot > 0.0 && pivot.is_finite()) {
                    return None;
                }
                l[i][i] = pivot.sqrt();
            } else {
                l[i][j] = (matrix[i][j] - dot) / l[j][j];
            }
        }
    }
    // Columns of the inverse: solve L y = e_c, then Lᵀ x = y. The inverse is symmetric, so each column
    // is stored as a row.
    let mut inverse = [[0.0; N]; N];
    for (c, row) in inverse.iter_mut().enumerate() {
        let mut y = [0.0; N];
        for i in 0..N {
            let dot: f64 = (0..i).map(|k| l[i][k] * y[k]).sum();
            y[i] = (if i == c { 1.0 } else { 0.0 } - dot) / l[i][i];
        }
        for i in (0..N).rev() {
            let dot: f64 = (i + 1..N).map(|k| l[k][i] * row[k]).sum();
            row[i] = (y[i] - dot) / l[i][i];
        }
    }
    Some(inverse)
}

/// Rows per thread below which splitting the work costs more than it saves.
const ROWS_PER_THREAD: usize = 20_000;

/// Threads to use for sums over data rows.
pub(super) fn worker_count() -> usize {
    thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Rows summed in one run before the partial sum joins the total. Two-level summation keeps the rounding
/// error of a sum over n rows near (BLOCK + n/BLOCK)·ε instead of n·ε, which matters to the optimiser:
/// with 10⁶ rows plain summation makes the cost noisy at the 10⁻¹² level.
const BLOCK: usize = 1024;

/// `Σ f(block)` over blocks of `rows`.
fn blocked_sum<R, const K: usize>(rows: &[R], f: &impl Fn(&[R]) -> [f64; K]) -> [f64; K] {
    let mut total = [0.0; K];
    for block in rows.chunks(BLOCK) {
        for (t, p) in total.iter_mut().zip(f(block)) {
            *t += p;
        }
    }
    total
}

/// `Σ f(block)` over blocks of `rows`, in up to `workers` scoped threads.
pub(super) fn parallel_sum<R: Sync, const K: usize>(
    rows: &[R],
    workers: usize,
    f: impl Fn(&[R]) -> [f64; K] + Sync,
) -> [f64; K] {
    let workers = workers.min(rows.len() / ROWS_PER_THREAD).max(1);
    if workers == 1 {
        return blocked_sum(rows, &f);
    }
    let chunk = rows.len().div_ceil(workers);
    let f = &f;
    thread::scope(|scope| {
        let mut rest = rows.chunks(chunk);
        // This thread takes the first chunk while the others run.
        let first = rest.next().unwrap_or(&[]);
        let handles: Vec<_> = rest.map(|part| scope.spawn(move || blocked_sum(part, f))).collect();
        let mut total = blocked_sum(first, f);
        for handle in handles {
            // A panic in a worker is a bug in `f`; re-raise it here.
            let part = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (t, p) in total.iter_mut().zip(part) {
                *t += p;
            }
        }
        total
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock-like bowl with its minimum at (1, 2).
    struct Bowl;

    impl Objective<2> for Bowl {
        fn evaluate(&self, p: &[f64; 2], g: &mut [f64; 2]) -> f64 {
            let (u, v) = (p[0] - 1.0, p[1] - 2.0);
            g[0] = 2.0 * u + 0.5 * v;
            g[1] = 8.0 * v + 0.5 * u;
            u * u + 4.0 * v * v + 0.5 * u * v
        }
    }

    #[test]
    fn minimises_a_quadratic_and_its_hessian_inverts() {
        let found = minimise(&Bowl, &[[-3.0, 5.0], [0.0, 0.0]]).unwrap();
        assert!((found.point[0] - 1.0).abs() < 1e-8 && (found.point[1] - 2.0).abs() < 1e-8, "{found:?}");
        let h = hessian(&Bowl, &found.point, 1e-4);
        let inverse = invert_positive_definite(&h).unwrap();
        // [[2, .5], [.5, 8]]⁻¹ = [[8, −.5], [−.5, 2]] / 15.75
        assert!((inverse[0][0] - 8.0 / 15.75).abs() < 1e-9);
        assert!((inverse[0][1] + 0.5 / 15.75).abs() < 1e-9);
        assert!(invert_positive_definite(&[[1.0, 2.0], [2.0, 1.0]]).is_none(), "indefinite");
    }

    #[test]
    fn parallel_sum_matches_serial() {
        let rows: Vec<f64> = (0..100_000).map(f64::from).collect();
        let sum = |part: &[f64]| [part.iter().sum::<f64>(), part.len() as f64];
        assert_eq!(parallel_sum(&rows, 4, sum), [4_999_950_000.0, 100_000.0]);
    }
}
