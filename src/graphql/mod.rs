//! The toolkit every domain uses: request context and guards, errors, ids, Relay connections and
//! filter inputs. Domains import from here; nothing here imports a domain.

pub mod children;
pub mod connection;
pub mod context;
pub mod error;
pub mod filter;
pub mod ids;

pub use context::{RequestContext, authorize, loader, principal, state};
pub use error::{AppError, AppResult};

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

/// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise.
pub async fn transact<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> AppResult<T>,
) -> AppResult<T> {
    let txn = db.begin().await?;
    let value = work(&txn).await?;
    txn.commit().await?;
    Ok(value)
}
