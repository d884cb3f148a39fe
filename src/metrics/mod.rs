//! Retention metrics; `predictive` holds the BG/NBD, Gamma-Gamma and predictive CLV models.
pub mod predictive;
