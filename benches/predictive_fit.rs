//! Fit timings of the predictive models on simulated customers: `cargo bench --bench predictive_fit`.
//!
//! For 100,000 and 1,000,000 customers drawn from the BG/NBD process (r = 0.5, α = 60, a = 0.8,
//! b = 3; two years of daily data, first purchases over the first 600 days) with Gamma-Gamma order
//! values (p = 6, q = 4, γ = 15): the data preparation (`summarise`, `group`), the BG/NBD and
//! Gamma-Gamma fits, and the 12-month CLV of every customer; the median of `RUNS` runs each.

use std::time::{Duration, Instant};

use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Gamma};
use vafa::metrics::predictive::{
    BgNbdParams, FitOptions, TimeUnit, bgnbd, customer_lifetime_value, data, gamma_gamma, simulation,
};

const RUNS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let truth = BgNbdParams { r: 0.5, alpha: 60.0, a: 0.8, b: 3.0 };
    println!(
        "| customers | distinct (x, t_x, T) | summarise + group | BG/NBD fit | Gamma-Gamma fit | fits in all | 12-month CLV of everyone |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in [100_000, 1_000_000] {
        let mut rng = StdRng::seed_from_u64(9);
        let scales = Gamma::new(4.0, 1.0 / 15.0).expect("valid Gamma");
        let customers: Vec<(usize, Vec<(i64, f64)>)> = simulation::bgnbd_purchases(&truth, n, 600.0, 730.0, 3)
            .expect("valid parameters")
            .into_iter()
            .enumerate()
            .map(|(key, times)| {
                let spend = Gamma::new(6.0, 1.0 / scales.sample(&mut rng)).expect("valid Gamma");
                (key, times.iter().map(|t| (t.floor() as i64, spend.sample(&mut rng))).collect())
            })
            .collect();
        let (mut prepare, mut bg, mut gg, mut clv) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut triples_len = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let summaries = data::summarise(&customers, 730, TimeUnit::Day).expect("valid data");
            let triples = data::group(&summaries);
            let prepared = started.elapsed();
            let bg_fit = bgnbd::fit(&triples, FitOptions::default()).expect("BG/NBD fit");
            let bg_done = started.elapsed();
            let gg_fit = gamma_gamma::fit(&summaries, FitOptions::default()).expect("Gamma-Gamma fit");
            let gg_done = started.elapsed();
            let total: f64 = summaries
                .iter()
                .map(|s| {
                    customer_lifetime_value(&bg_fit.params, &gg_fit.params, s, 12, 0.01, TimeUnit::Day).unwrap_or(0.0)
                })
                .sum();
            let valued = started.elapsed();
            assert!(total > 0.0 && (bg_fit.params.r - truth.r).abs() < 0.1 * truth.r, "{bg_fit:?}");
            triples_len = triples.len();
            prepare.push(prepared);
            bg.push(bg_done - prepared);
            gg.push(gg_done - bg_done);
            clv.push(valued - gg_done);
        }
        let (prepare, bg, gg, clv) = (median(prepare), median(bg), median(gg), median(clv));
        println!(
            "| {n} | {triples_len} | {prepare:.2?} | {bg:.2?} | {gg:.2?} | {:.2?} | {clv:.2?} |",
            prepare + bg + gg
        );
    }
}
