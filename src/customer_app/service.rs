//! One-time login codes for customers (magic-link style): staff or an integration issues one,
//! the customer's app exchanges it once, within minutes, for a customer token. Codes are stored
//! hashed, so a database leak does not hand out logins.

use chrono::{DateTime, Duration, Utc};
use entity::customer_login_code;
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    audit,
    auth::Actor,
    customers,
    graphql::{AppError, AppResult, ids::new_id},
};

/// How long a code works.
pub const CODE_TTL_MINUTES: i64 = 15;
/// No look-alike characters; 32^24 = 2^120 codes, so guessing is hopeless.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const LENGTH: usize = 24;

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..LENGTH).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A new code for the customer; only its hash is kept.
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<(String, DateTime<Utc>)> {
    let customer = customers::service::get(db, workspace_id, customer_id).await?;
    let code = new_code();
    let expires_at = now + Duration::minutes(CODE_TTL_MINUTES);
    customer_login_code::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(customer.id),
        code_hash: Set(hash(&code)),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "customer.login_code",
        "customer",
        Some(customer.id),
        serde_json::json!({ "expiresAt": expires_at }),
    )
    .await?;
    Ok((code, expires_at))
}

/// Uses the code: (workspace, customer) when it is known, unused and not expired. The use is a
/// conditional update, so two concurrent exchanges of one code cannot both succeed.
pub async fn redeem<C: ConnectionTrait>(db: &C, code: &str, now: DateTime<Utc>) -> AppResult<(Uuid, Uuid)> {
    let invalid = || AppError::Unauthenticated("the code is unknown, used or expired".to_owned());
    let found = customer_login_code::Entity::find()
        .filter(customer_login_code::Column::CodeHash.eq(hash(code)))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    let used = customer_login_code::Entity::update_many()
        .col_expr(customer_login_code::Column::UsedAt, Expr::value(now))
        .col_expr(customer_login_code::Column::UpdatedAt, Expr::value(now))
        .filter(customer_login_code::Column::Id.eq(found.id))
        .filter(customer_login_code::Column::UsedAt.is_null())
        .filter(customer_login_code::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Err(invalid());
    }
    let customer = customers::service::get(db, found.workspace_id, found.customer_id).await.map_err(|_| invalid())?;
    Ok((customer.workspace_id, customer.id))
}
