//! Predictive customer-base models: BG/NBD for purchase counts (Fader, Hardie & Lee 2005), Gamma-Gamma for
//! spend (Fader & Hardie 2013) and the discounted CLV that combines them (the lifetimes method).
//!
//! Pure numerics: the caller supplies per-customer purchase days and values ([`data::summarise`]), fits
//! the models on grouped data and asks for predictions. Every fallible step returns [`PredictiveError`].

pub mod bgnbd;
pub mod clv;
pub mod data;
pub mod gamma_gamma;
pub mod hypergeometric;
mod optimise;

use serde::{Deserialize, Serialize};

pub use bgnbd::{BgNbdFit, BgNbdParams, BgNbdStdErrors};
pub use clv::customer_lifetime_value;
pub use data::{CalibrationHoldout, CustomerSummary, HoldoutGroup, Triple};
pub use gamma_gamma::{GammaGammaFit, GammaGammaParams};

/// Fewest customers (with a positive observation period) for a fit.
pub const MIN_CUSTOMERS: u64 = 100;
/// Fewest repeat buyers for a fit; with none at all the BG/NBD likelihood has no finite maximum.
pub const MIN_REPEAT_BUYERS: u64 = 20;

/// The time unit a model is fitted in. Purchase days are divided by [`TimeUnit::days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeUnit {
    Day,
    Week,
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }

    /// Units in one CLV month (lifetimes' `freq` multipliers: 30 days, 4.345 weeks).
    pub fn per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
        }
    }
}

/// Options shared by the BG/NBD and Gamma-Gamma fits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FitOptions {
    /// L2 penalty `λ × Σ θ²` on the parameters (lifetimes' `penalizer_coef`). It biases the estimates
    /// towards 0, so it is 0 (off) by default and reported with the fit. The BG/NBD penalty applies to the
    /// parameters in rescaled time (max T = 1), the Gamma-Gamma one to spend rescaled to mean 1, so that
    /// λ means the same whatever the units.
    pub penalty: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictiveError {
    /// Customer data or a prediction argument that the models cannot take (negative times, `t_x > T`, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Model parameters that are not positive and finite (or `q ≤ 1` for Gamma-Gamma predictions).
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// Too little data for a fit (§9 of the metrics specification: 100 customers and 20 repeat buyers).
    #[error(
        "insufficient data: {customers} customers and {repeat_buyers} repeat buyers; a fit needs at least \
         {MIN_CUSTOMERS} customers and {MIN_REPEAT_BUYERS} repeat buyers"
    )]
    InsufficientData { customers: u64, repeat_buyers: u64 },
    /// No start point of the optimiser reached a finite likelihood.
    #[error("the fit failed: {0}")]
    FitFailed(String),
    /// A special function could not be evaluated to full precision.
    #[error("numerical failure: {0}")]
    Numerical(String),
}

pub type PredictiveResult<T> = Result<T, PredictiveError>;
