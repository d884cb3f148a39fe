//! Connecting, pooling and migrating, with the quirks of each backend handled here only.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::is_postgres;

/// Opens a pool. SQLite gets WAL (readers never wait for the writer), a busy timeout instead of
/// instant "database is locked" errors, foreign keys on, and a few connections: sea-orm defaults
/// to one, which deadlocks a request that reads while another holds a transaction.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(10)).sqlx_logging(false);
    if is_postgres(url) {
        options.max_connections(16).min_connections(1);
    } else {
        options.max_connections(4).min_connections(1).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Statement journals (multi-row inserts with ON CONFLICT) and temp tables in memory,
                // and a 64 MiB page cache per connection instead of 2 MiB, so big writes do not spill
                // dirty pages to the WAL mid-transaction (pages are allocated as used).
                .pragma("temp_store", "MEMORY")
                .pragma("cache_size", "-65536")
        });
    }
    Database::connect(options).await.context("cannot connect to the database")
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("database migration failed")
}

/// A cheap round trip, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}
