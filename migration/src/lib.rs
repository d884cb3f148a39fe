//! Schema migrations. One file per step; every step runs on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_crm;
mod m20261122_000003_tickets;
mod m20261122_000004_loyalty;
mod m20261122_000005_loyalty_rules;
mod m20261122_000006_predictions;
mod m20261122_000007_customer_activity;
mod m20261122_000008_customer_risk;
mod m20261201_000009_experiments;
mod m20261202_000010_attribution;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_crm::Migration),
            Box::new(m20261122_000003_tickets::Migration),
            Box::new(m20261122_000004_loyalty::Migration),
            Box::new(m20261122_000005_loyalty_rules::Migration),
            Box::new(m20261122_000006_predictions::Migration),
            Box::new(m20261122_000007_customer_activity::Migration),
            Box::new(m20261122_000008_customer_risk::Migration),
            Box::new(m20261201_000009_experiments::Migration),
            Box::new(m20261202_000010_attribution::Migration),
        ]
    }
}
