//! Writes synthetic CSV files for `vafa import` (benchmarks, demos): deterministic for a seed.
//!
//! `vafa-gen orders --rows 1000000 --customers 100000 > orders.csv`
//! `vafa-gen customers --rows 100000 > customers.csv`

use std::io::{BufWriter, Write};

use chrono::Duration;
use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng, rngs::StdRng};

#[derive(Parser)]
struct Args {
    #[arg(value_enum)]
    kind: Kind,
    #[arg(long, default_value_t = 1_000)]
    rows: u64,
    /// Distinct customers the orders belong to.
    #[arg(long, default_value_t = 100)]
    customers: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// First day of the 700 days the orders are spread over.
    #[arg(long, default_value = "2024-01-01")]
    start: chrono::NaiveDate,
}

#[derive(ValueEnum, Clone, Copy)]
enum Kind {
    Customers,
    Orders,
}

const CITIES: [&str; 6] = ["Berlin", "Hamburg", "Munich", "Cologne", "Leipzig", "Vienna"];

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let start = args.start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    match args.kind {
        Kind::Customers => {
            writeln!(out, "external_ref,name,email,city,birthday")?;
            for i in 0..args.rows {
                let birthday = format!(
                    "{}-{:02}-{:02}",
                    rng.random_range(1950..2005),
                    rng.random_range(1..13),
                    rng.random_range(1..29)
                );
                let city = CITIES[rng.random_range(0..CITIES.len())];
                writeln!(out, "cust-{i},Customer {i},customer{i}@example.com,{city},{birthday}")?;
            }
        }
        Kind::Orders => {
            writeln!(out, "customer_ref,placed_at,amount,external_ref")?;
            for i in 0..args.rows {
                let customer = rng.random_range(0..args.customers.max(1));
                let at = start + Duration::seconds(rng.random_range(0..(700 * 86_400)));
                let cents: u32 = rng.random_range(500..50_000);
                writeln!(out, "cust-{customer},{},{}.{:02},ord-{i}", at.to_rfc3339(), cents / 100, cents % 100)?;
            }
        }
    }
    out.flush()
}
