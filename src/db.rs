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
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|connection, _| {
                Box::pin(async move {
                    let mut handle = connection.lock_handle().await?;
                    unicode_lower::register(handle.as_raw_handle().as_ptr())
                        .map_err(|message| sea_orm::sqlx::Error::Configuration(message.into()))
                })
            })
        });
    }
    Database::connect(options).await.context("cannot connect to the database")
}

/// SQLite's own `lower()` folds ASCII only (`ÄRGER` stays `ÄRGER`), so case-insensitive search
/// missed most non-English text. Every SQLite connection replaces it with Rust's Unicode
/// lowercase, as PostgreSQL's `lower()` already is. Written by hand: sqlx has no API to register
/// a scalar function, so this goes through SQLite's C interface.
mod unicode_lower {
    use std::ffi::{c_char, c_int};

    use libsqlite3_sys as ffi;

    pub fn register(db: *mut ffi::sqlite3) -> Result<(), String> {
        let flags = ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS;
        // SAFETY: `db` is an open connection, locked for us by sqlx; the name is a C string
        // literal and `lower` matches the callback signature SQLite expects.
        let rc = unsafe {
            ffi::sqlite3_create_function_v2(
                db,
                c"lower".as_ptr(),
                1,
                flags,
                std::ptr::null_mut(),
                Some(lower),
                None,
                None,
                None,
            )
        };
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(format!("cannot register lower(): SQLite error {rc}")) }
    }

    unsafe extern "C" fn lower(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
        // SAFETY: SQLite passes `argc` (registered as 1) valid values and a live context; the text
        // pointer is valid for `sqlite3_value_bytes` bytes until the next call on that value, and
        // SQLITE_TRANSIENT makes SQLite copy the result before `lowered` is dropped.
        unsafe {
            if argc != 1 {
                ffi::sqlite3_result_null(ctx);
                return;
            }
            let value = *argv;
            let text = ffi::sqlite3_value_text(value);
            if ffi::sqlite3_value_type(value) == ffi::SQLITE_NULL || text.is_null() {
                ffi::sqlite3_result_null(ctx);
                return;
            }
            let length = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
            let lowered = String::from_utf8_lossy(std::slice::from_raw_parts(text, length)).to_lowercase();
            match c_int::try_from(lowered.len()) {
                Ok(length) => {
                    ffi::sqlite3_result_text(ctx, lowered.as_ptr().cast::<c_char>(), length, ffi::SQLITE_TRANSIENT())
                }
                Err(_) => ffi::sqlite3_result_error_toobig(ctx),
            }
        }
    }
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("database migration failed")
}

/// How long one start-up connection attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// [`connect`], retried with backoff for up to `patience` while the database is unreachable
/// (the server may start before its database during a restart or an outage).
pub async fn connect_when_up(url: &str, patience: Duration) -> anyhow::Result<DatabaseConnection> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        // Short attempts: an unreachable database is retried, not waited on for the pool's 10 s.
        let attempt_result = match tokio::time::timeout(ATTEMPT_TIMEOUT, connect(url)).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        };
        match attempt_result {
            Ok(db) => return Ok(db),
            Err(err) if started.elapsed() + delay < patience => {
                tracing::warn!(attempt, error = %format!("{err:#}"), retry_in = ?delay, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(err) => {
                return Err(err.context(format!("the database was still unreachable after {} s", patience.as_secs())));
            }
        }
    }
}

/// How long a readiness check waits for the database before calling it unavailable.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// A cheap round trip, for readiness checks; false when it does not come back within a second.
pub async fn ping(db: &DatabaseConnection) -> bool {
    matches!(tokio::time::timeout(PING_TIMEOUT, db.ping()).await, Ok(Ok(())))
}
