//! API keys for integrations: `vafa_<prefix>_<secret>`, shown once, stored hashed, scoped.

use chrono::{Duration, Utc};
use entity::api_key;
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, ApiScope, Principal, tokens};
use crate::{
    audit,
    graphql::{AppError, AppResult, ids::new_id},
};

pub const KEY_PREFIX: &str = "vafa_";
const PREFIX_LEN: usize = 12;
const MAX_NAME_CHARS: usize = 100;
/// `last_used_at` is written at most this often per key, not on every request.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// A key just created: the full secret exists only in this value.
pub struct CreatedApiKey {
    pub key: api_key::Model,
    pub secret: String,
}

pub fn scopes_of(key: &api_key::Model) -> Vec<ApiScope> {
    serde_json::from_value(key.scopes.clone()).unwrap_or_default()
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    name: &str,
    scopes: &[ApiScope],
) -> AppResult<CreatedApiKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::bad_input("input.name", format!("name must have 1 to {MAX_NAME_CHARS} characters")));
    }
    if scopes.is_empty() {
        return Err(AppError::bad_input("input.scopes", "give the key at least one scope"));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();

    let prefix: String =
        rand::rng().sample_iter(&Alphanumeric).take(PREFIX_LEN).map(|c| char::from(c).to_ascii_lowercase()).collect();
    let secret = tokens::random_secret();
    let now = Utc::now();
    let key = api_key::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        name: Set(name.to_owned()),
        prefix: Set(prefix.clone()),
        secret_hash: Set(tokens::sha256_hex(&secret)),
        scopes: Set(json!(scopes)),
        created_by: Set(actor.id),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "api_key.create",
        "api_key",
        Some(key.id),
        json!({ "name": key.name, "scopes": scopes }),
    )
    .await?;
    Ok(CreatedApiKey { secret: format!("{KEY_PREFIX}{prefix}_{secret}"), key })
}

pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
) -> AppResult<api_key::Model> {
    let key = api_key::Entity::find_by_id(id)
        .filter(api_key::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let now = Utc::now();
    let mut active = key.into_active_model();
    active.revoked_at = Set(Some(now));
    active.updated_at = Set(now);
    let key = active.update(db).await?;
    crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: key.id });
    audit::record(db, workspace_id, actor, "api_key.revoke", "api_key", Some(key.id), json!({})).await?;
    Ok(key)
}

/// Turns a presented key into an integration principal.
pub async fn authenticate(db: &DatabaseConnection, presented: &str) -> AppResult<Principal> {
    let rejected = || AppError::Unauthenticated("invalid or revoked API key".to_owned());
    let rest = presented.strip_prefix(KEY_PREFIX).ok_or_else(rejected)?;
    let (prefix, secret) = rest.split_once('_').ok_or_else(rejected)?;
    let key = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .one(db)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(rejected)?;
    // Comparing digests, not secrets: timing reveals nothing useful about the secret.
    if tokens::sha256_hex(secret) != key.secret_hash {
        return Err(rejected());
    }
    let now = Utc::now();
    if key.last_used_at.is_none_or(|t| now - t > Duration::seconds(LAST_USED_GRANULARITY_SECS)) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(db)
            .await?;
    }
    Ok(Principal::Integration { api_key_id: key.id, workspace_id: key.workspace_id, scopes: scopes_of(&key) })
}
