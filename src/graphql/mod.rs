//! The toolkit every domain uses: request context and guards, errors, ids, Relay connections and
//! filter inputs. Domains import from here; nothing here imports a domain.

pub mod children;
pub mod connection;
pub mod context;
pub mod error;
pub mod filter;
pub mod ids;
pub mod limits;
pub mod selection_order;

pub use context::{RequestContext, authorize, authorize_or_customer, loader, principal, state};
pub use error::{AppError, AppResult};

use sea_orm::{DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};

/// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise. On
/// SQLite the transaction takes the write lock at `BEGIN` (`IMMEDIATE`), so concurrent writers
/// queue instead of failing when a read snapshot goes stale.
pub async fn transact<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> AppResult<T>,
) -> AppResult<T> {
    let options =
        TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
    let mark = crate::events::mark();
    let txn = db.begin_with_options(options).await?;
    let outcome = match work(&txn).await {
        Ok(value) => txn.commit().await.map(|()| value).map_err(AppError::from),
        Err(err) => Err(err),
    };
    if outcome.is_err() {
        // What this transaction raised never happened.
        crate::events::rollback_to(mark);
    }
    outcome
}
