//! Significance of an A/B test, with no database in it: a treatment variant against the control on
//! a rate (two-proportion z-test with its score interval) or on a mean (Welch's t-test), Holm's correction when several
//! treatments are compared with one control, and the sample-ratio check that tells whether the
//! split itself went wrong.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// Treatment minus control, with a two-sided confidence interval and p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub difference: f64,
    /// `difference / control`; `None` when the control's value is 0.
    pub relative_lift: Option<f64>,
    pub low: f64,
    pub high: f64,
    /// Two-sided, under "no difference".
    pub p_value: f64,
}

/// Count, mean and (unbiased) variance of one variant's per-customer values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    /// Σ(x − mean)².
    squares: f64,
}

impl Sample {
    /// From n, Σx and Σx², as SQL sums them.
    pub fn from_moments(n: u64, sum: f64, sum_of_squares: f64) -> Self {
        if n == 0 {
            return Sample::default();
        }
        let mean = sum / n as f64;
        // Rounding can leave a tiny negative where all values are equal.
        Sample { n, mean, squares: (sum_of_squares - sum * mean).max(0.0) }
    }

    /// `None` below two values.
    pub fn variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.squares / (self.n - 1) as f64)
    }
}

fn lift(difference: f64, control: f64) -> Option<f64> {
    (control != 0.0).then(|| difference / control)
}

/// (successes, trials) of control and treatment. The p-value is the pooled two-proportion z-test's
/// (the score test of "no difference"); the interval is the same score test inverted (Miettinen &
/// Nurminen's interval without their n/(n−1) factor, as Farrington & Manning give it): every
/// difference the test would not reject at `1 − confidence`. So the interval excludes 0 exactly
/// when the p-value is below `1 − confidence`, and it stays inside [−1, 1] and honest with few or
/// no purchasers. `None` when a variant has no trials.
pub fn compare_proportions(control: (u64, u64), treatment: (u64, u64), confidence: f64) -> Option<Comparison> {
    let ((kc, nc), (kt, nt)) = (control, treatment);
    if nc == 0 || nt == 0 {
        return None;
    }
    let score = ProportionScore { control: (kc as f64, nc as f64), treatment: (kt as f64, nt as f64) };
    let (pc, pt) = (kc as f64 / nc as f64, kt as f64 / nt as f64);
    let difference = pt - pc;
    let p_value = 2.0 * Normal::standard().sf(score.statistic(0.0).abs());
    let z = Normal::standard().inverse_cdf(0.5 + confidence / 2.0);
    Some(Comparison {
        difference,
        relative_lift: lift(difference, pc),
        low: score.solve(z, -1.0, difference),
        high: score.solve(-z, difference, 1.0),
        p_value,
    })
}

/// The score test of "treatment rate − control rate = δ", from (successes, trials) of each.
struct ProportionScore {
    control: (f64, f64),
    treatment: (f64, f64),
}

impl ProportionScore {
    /// (observed difference − δ) / its standard error, with both rates estimated under the
    /// hypothesis (their constrained maximum likelihood, Farrington & Manning's closed form of the
    /// cubic). At δ = 0 that is the pooled rate, so this is the pooled z statistic. Decreasing in δ.
    fn statistic(&self, delta: f64) -> f64 {
        let ((kc, nc), (kt, nt)) = (self.control, self.treatment);
        let (p1, p2) = (kt / nt, kc / nc);
        let theta = nc / nt;
        let a = 1.0 + theta;
        let b = -(1.0 + theta + p1 + theta * p2 + delta * (theta + 2.0));
        let c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p2;
        let d = -p1 * delta * (1.0 + delta);
        let v = b.powi(3) / (27.0 * a.powi(3)) - b * c / (6.0 * a * a) + d / (2.0 * a);
        let u = v.signum() * (b * b / (9.0 * a * a) - c / (3.0 * a)).max(0.0).sqrt();
        // With u = 0 the cubic has a triple root and the angle does not matter.
        let w = if u == 0.0 { 0.0 } else { (std::f64::consts::PI + (v / u.powi(3)).clamp(-1.0, 1.0).acos()) / 3.0 };
        let treatment_rate = (2.0 * u * w.cos() - b / (3.0 * a)).clamp(0.0, 1.0);
        let control_rate = (treatment_rate - delta).clamp(0.0, 1.0);
        let variance = treatment_rate * (1.0 - treatment_rate) / nt + control_rate * (1.0 - control_rate) / nc;
        let off = p1 - p2 - delta;
        if variance > 0.0 {
            off / variance.sqrt()
        } else if off == 0.0 {
            0.0
        } else {
            // No spread under the hypothesis, yet the data differ from it: impossible under it.
            off.signum() * f64::INFINITY
        }
    }

    /// The δ in `[low, high]` where the statistic crosses `target`, by bisection (it is monotone).
    fn solve(&self, target: f64, mut low: f64, mut high: f64) -> f64 {
        // 2 / 2^64 is far below the resolution of an f64 in [−1, 1].
        for _ in 0..64 {
            let mid = 0.5 * (low + high);
            if self.statistic(mid) > target {
                low = mid;
            } else {
                high = mid;
            }
        }
        0.5 * (low + high)
    }
}

/// Welch's t-test on the means (unequal variances, Welch–Satterthwaite degrees of freedom). `None`
/// when a variant has fewer than two values. With no spread in either variant the difference is
/// exact: p is 1 when the means agree and 0 when they do not.
pub fn compare_means(control: &Sample, treatment: &Sample, confidence: f64) -> Option<Comparison> {
    let (vc, vt) = (control.variance()? / control.n as f64, treatment.variance()? / treatment.n as f64);
    let difference = treatment.mean - control.mean;
    let se = (vc + vt).sqrt();
    let relative_lift = lift(difference, control.mean);
    if se == 0.0 {
        let p_value = if difference == 0.0 { 1.0 } else { 0.0 };
        return Some(Comparison { difference, relative_lift, low: difference, high: difference, p_value });
    }
    let freedom = (vc + vt).powi(2) / (vc.powi(2) / (control.n - 1) as f64 + vt.powi(2) / (treatment.n - 1) as f64);
    let t = StudentsT::new(0.0, 1.0, freedom).ok()?;
    let p_value = 2.0 * t.sf((difference / se).abs());
    let quantile = t.inverse_cdf(0.5 + confidence / 2.0);
    Some(Comparison {
        difference,
        relative_lift,
        low: difference - quantile * se,
        high: difference + quantile * se,
        p_value,
    })
}

/// Holm–Bonferroni adjusted p-values, in the order given: each stays comparable with the
/// unadjusted significance level while the family of comparisons keeps its error rate.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Chi-square goodness of fit of the customers per variant against the planned weights. A small
/// p-value (say below 0.001) means the split is not what was planned, and the results are suspect.
/// `None` with fewer than two variants or nobody assigned.
pub fn sample_ratio_p_value(observed: &[u64], weights: &[u32]) -> Option<f64> {
    let total: u64 = observed.iter().sum();
    let weight_sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if observed.len() < 2 || observed.len() != weights.len() || total == 0 || weight_sum == 0 {
        return None;
    }
    let statistic: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = total as f64 * f64::from(w) / weight_sum as f64;
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    let chi = ChiSquared::new((observed.len() - 1) as f64).ok()?;
    Some(chi.sf(statistic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    fn sample(values: &[f64]) -> Sample {
        Sample::from_moments(values.len() as u64, values.iter().sum(), values.iter().map(|x| x * x).sum())
    }

    // Reference values from scipy 1.17 (stats.norm, stats.ttest_ind(equal_var=False), stats.chisquare).
    // The score intervals were checked independently of the closed form: the constrained maximum
    // likelihood found by bisecting its score equation, the statistic inverted by bisection.
    #[test]
    fn two_proportions_match_the_score_test_and_its_interval() {
        let c = compare_proportions((200, 1000), (250, 1000), 0.95).unwrap();
        assert!(close(c.difference, 0.05, 1e-15));
        assert!(close(c.relative_lift.unwrap(), 0.25, 1e-12));
        assert!(close(c.p_value, 0.007419649261025687, 1e-12), "{c:?}");
        assert!(close(c.low, 0.013425137285157578, 1e-10) && close(c.high, 0.08654791162197709, 1e-10), "{c:?}");
        // The shape: 1 of 37 against 10 of 74. An unpooled (Wald) interval beside this
        // p-value claimed [0.014, 0.202], excluding 0 while p = 0.072.
        let c = compare_proportions((1, 37), (10, 74), 0.95).unwrap();
        assert!(close(c.p_value, 0.07234083628663403, 1e-10), "{c:?}");
        assert!(close(c.low, -0.013731593702889726, 1e-10) && close(c.high, 0.21004244300541086, 1e-10), "{c:?}");
        let c = compare_proportions((3, 10), (9, 10), 0.95).unwrap();
        assert!(close(c.p_value, 0.006169899320544151, 1e-10), "{c:?}");
        assert!(close(c.low, 0.18212649945676712, 1e-10) && close(c.high, 0.836950330889672, 1e-10), "{c:?}");
    }

    #[test]
    fn the_rate_interval_excludes_zero_exactly_when_the_test_rejects() {
        for (nc, nt) in [(37, 74), (10, 10), (50, 40), (200, 3)] {
            for confidence in [0.9, 0.95, 0.99] {
                let alpha = 1.0 - confidence;
                for kc in 0..=nc {
                    for kt in 0..=nt {
                        let c = compare_proportions((kc, nc), (kt, nt), confidence).unwrap();
                        // A p-value on the boundary itself may fall either way in floating point.
                        if (c.p_value - alpha).abs() < 1e-9 {
                            continue;
                        }
                        let excludes_zero = c.low > 0.0 || c.high < 0.0;
                        assert_eq!(excludes_zero, c.p_value < alpha, "{kc}/{nc} vs {kt}/{nt} at {confidence}: {c:?}");
                        assert!(-1.0 <= c.low && c.low <= c.difference && c.difference <= c.high && c.high <= 1.0);
                    }
                }
            }
        }
    }

    #[test]
    fn degenerate_proportions() {
        assert_eq!(compare_proportions((0, 0), (1, 10), 0.95), None, "an empty variant has no rate");
        let none_bought = compare_proportions((0, 50), (0, 40), 0.95).unwrap();
        assert_eq!((none_bought.difference, none_bought.p_value, none_bought.relative_lift), (0.0, 1.0, None));
        assert!(none_bought.low < 0.0 && none_bought.high > 0.0, "50 and 40 non-buyers do not prove equal rates");
        let all_bought = compare_proportions((50, 50), (40, 40), 0.95).unwrap();
        assert_eq!(all_bought.p_value, 1.0);
        assert!(all_bought.low < 0.0 && all_bought.high > 0.0, "{all_bought:?}");
        let opposite = compare_proportions((0, 20), (20, 20), 0.95).unwrap();
        assert!(opposite.p_value < 1e-6 && opposite.low > 0.5 && close(opposite.high, 1.0, 1e-12), "{opposite:?}");
    }

    #[test]
    fn welch_matches_scipy() {
        let control = sample(&[0.0, 0.0, 10.0, 20.0, 30.0]);
        let treatment = sample(&[0.0, 15.0, 25.0, 35.0, 40.0, 45.0]);
        assert_eq!((control.mean, control.variance()), (12.0, Some(170.0)));
        let c = compare_means(&control, &treatment, 0.95).unwrap();
        assert!(close(c.difference, 160.0 / 6.0 - 12.0, 1e-12));
        assert!(close(c.p_value, 0.13939521692138337, 1e-9), "{c:?}");
        assert!(close(c.low, -5.80065729895075, 1e-7) && close(c.high, 35.13399063228408, 1e-7), "{c:?}");
    }

    #[test]
    fn degenerate_means() {
        let one = sample(&[5.0]);
        let two = sample(&[5.0, 5.0]);
        assert_eq!(compare_means(&one, &two, 0.95), None, "a variance needs two values");
        let same = compare_means(&two, &two, 0.95).unwrap();
        assert_eq!((same.p_value, same.low, same.high), (1.0, 0.0, 0.0));
        let zeros = sample(&[0.0, 0.0]);
        let exact = compare_means(&zeros, &two, 0.95).unwrap();
        assert_eq!((exact.difference, exact.p_value, exact.relative_lift), (5.0, 0.0, None));
    }

    #[test]
    fn holm_adjusts_step_down_and_keeps_order() {
        let adjusted = holm(&[0.01, 0.04, 0.03]);
        let expected = [0.03, 0.06, 0.06];
        assert!(adjusted.iter().zip(expected).all(|(a, e)| close(*a, e, 1e-12)), "{adjusted:?}");
        assert_eq!(holm(&[0.7]), vec![0.7], "one comparison is not adjusted");
        assert_eq!(holm(&[0.6, 0.9]), vec![1.0, 1.0], "capped at 1");
    }

    #[test]
    fn sample_ratio_check() {
        assert!(close(sample_ratio_p_value(&[480, 520], &[1, 1]).unwrap(), 0.20590321073206466, 1e-12));
        let three = sample_ratio_p_value(&[1030, 480, 490], &[2, 1, 1]).unwrap();
        assert!(close(three, 0.38674102345450123, 1e-12), "{three}");
        assert_eq!(sample_ratio_p_value(&[0, 0], &[1, 1]), None);
        assert_eq!(sample_ratio_p_value(&[10], &[1]), None);
    }
}
