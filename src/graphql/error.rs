//! The one error type of every service function, and its mapping onto GraphQL errors.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts anything that
//! does into a bare error message, which would silently drop `extensions.code`. Without it, `?`
//! in a resolver uses the conversion below and the code always reaches the client.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

#[derive(Debug)]
pub enum AppError {
    /// No or invalid credentials.
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this.
    Forbidden(String),
    /// The thing does not exist in the caller's workspace (other workspaces' rows included).
    NotFound {
        entity: &'static str,
    },
    /// Input failed validation; `field` names the input field (dotted path).
    BadUserInput {
        field: String,
        message: String,
    },
    /// A uniqueness or idempotency clash.
    Conflict(String),
    /// A state machine refused the move.
    InvalidTransition(String),
    /// The account cannot pay for this.
    InsufficientPoints(String),
    /// Too little data for a statistical model.
    InsufficientData(String),
    /// A live subscription may have missed events; it goes on.
    EventsMissed(String),
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// Anything unexpected; logged in full, shown to the client as "internal error" only.
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadUserInput { field: field.into(), message: message.into() }
    }

    pub fn not_found(entity: &'static str) -> Self {
        AppError::NotFound { entity }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound { .. } => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::InvalidTransition(_) => "INVALID_TRANSITION",
            AppError::InsufficientPoints(_) => "INSUFFICIENT_POINTS",
            AppError::InsufficientData(_) => "INSUFFICIENT_DATA",
            AppError::EventsMissed(_) => "EVENTS_MISSED",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see.
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m)
            | AppError::InvalidTransition(m)
            | AppError::InsufficientPoints(m)
            | AppError::InsufficientData(m)
            | AppError::EventsMissed(m) => m.clone(),
            AppError::NotFound { entity } => format!("{entity} not found"),
            AppError::BadUserInput { message, .. } => message.clone(),
            AppError::RateLimited { message, .. } => message.clone(),
            AppError::Internal(_) => "internal error".to_owned(),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(inner) = &err {
            tracing::error!(error = ?inner, "internal error");
        }
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                AppError::RateLimited { retry_after_secs, .. } => ext.set("retryAfter", *retry_after_secs),
                _ => {}
            }
        })
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
            tracing::debug!(%detail, "unique constraint violation");
            return AppError::Conflict("a record with the same unique value already exists".to_owned());
        }
        AppError::Internal(err.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(err: AppError) -> (String, serde_json::Value) {
        let gql: async_graphql::Error = err.into();
        let ext = serde_json::to_value(gql.extensions).unwrap();
        (gql.message, ext)
    }

    #[test]
    fn every_error_carries_its_code() {
        let (msg, ext) = extensions(AppError::bad_input("input.email", "not an email"));
        assert_eq!(msg, "not an email");
        assert_eq!(ext["code"], "BAD_USER_INPUT");
        assert_eq!(ext["field"], "input.email");
        let (_, ext) = extensions(AppError::RateLimited { message: "slow down".into(), retry_after_secs: 7 });
        assert_eq!(ext["retryAfter"], 7);
    }

    #[test]
    fn internal_errors_leak_nothing() {
        let (msg, ext) = extensions(AppError::Internal(anyhow::anyhow!("password=hunter2 at db.rs:12")));
        assert_eq!(msg, "internal error");
        assert_eq!(ext["code"], "INTERNAL");
    }
}
