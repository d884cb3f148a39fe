//! Opaque rotating refresh tokens. Presenting a token rotates it; presenting one that was
//! already rotated (a sign it was stolen) revokes every token of its family.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::refresh_token;
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::graphql::{AppError, AppResult, ids::new_id};

/// A refresh token as handed to the client (only once) and when it expires.
pub struct IssuedRefreshToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub id: Uuid,
}

/// 256 random bits, URL-safe.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub async fn issue<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    ttl: std::time::Duration,
) -> AppResult<IssuedRefreshToken> {
    let token = random_secret();
    let now = Utc::now();
    let expires_at = now + ttl;
    let id = new_id();
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id),
        user_id: Set(user_id),
        family_id: Set(family_id),
        token_hash: Set(sha256_hex(&token)),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        replaced_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(IssuedRefreshToken { token, expires_at, id })
}

/// Looks a presented token up by its hash.
pub async fn find<C: ConnectionTrait>(db: &C, token: &str) -> AppResult<Option<refresh_token::Model>> {
    Ok(refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(sha256_hex(token))).one(db).await?)
}

/// Marks `old` as replaced by `new_id`, only if nobody rotated it first. Returns whether this
/// call won: two concurrent refreshes with one token must not both succeed.
pub async fn mark_rotated<C: ConnectionTrait>(db: &C, old: Uuid, new_id: Uuid) -> AppResult<bool> {
    let now = Utc::now();
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .col_expr(refresh_token::Column::ReplacedBy, Expr::value(new_id))
        .col_expr(refresh_token::Column::UpdatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(old))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every live token of a family (logout, or reuse of a rotated token).
pub async fn revoke_family<C: ConnectionTrait>(db: &C, family_id: Uuid) -> AppResult<u64> {
    revoke_where(db, refresh_token::Column::FamilyId.eq(family_id)).await
}

/// Revokes every live token of a user (deactivation).
pub async fn revoke_user<C: ConnectionTrait>(db: &C, user_id: Uuid) -> AppResult<u64> {
    revoke_where(db, refresh_token::Column::UserId.eq(user_id)).await
}

async fn revoke_where<C: ConnectionTrait>(db: &C, condition: sea_orm::sea_query::SimpleExpr) -> AppResult<u64> {
    let now = Utc::now();
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .col_expr(refresh_token::Column::UpdatedAt, Expr::value(now))
        .filter(condition)
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The error for every unusable refresh token; the reason is not revealed.
pub fn rejected() -> AppError {
    AppError::Unauthenticated("invalid, expired or revoked refresh token".to_owned())
}
