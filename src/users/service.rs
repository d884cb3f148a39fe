//! Staff users: creation, deactivation, lookup. Every function is scoped to one workspace.

use chrono::Utc;
use entity::{user, user::UserRole};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, Select,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit,
    auth::{Actor, password, tokens},
    contact::{normalize_email, normalize_name},
    graphql::{AppError, AppResult, ids::new_id},
};

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub password: String,
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: NewUser,
) -> AppResult<user::Model> {
    let email = normalize_email(&input.email, "input.email")?;
    let name = normalize_name(&input.name, "input.name")?;
    password::validate(&input.password, "input.password")?;
    if find_by_email(db, workspace_id, &email).await?.is_some() {
        return Err(AppError::Conflict("a user with this email already exists in the workspace".to_owned()));
    }
    let password_hash = password::hash(input.password).await?;
    let now = Utc::now();
    let user = user::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        email: Set(email),
        password_hash: Set(password_hash),
        name: Set(name),
        role: Set(input.role),
        active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "user.create",
        "user",
        Some(user.id),
        json!({ "email": user.email, "role": user.role.to_value() }),
    )
    .await?;
    Ok(user)
}

/// Deactivates a user and revokes their refresh tokens; their access tokens stop working at once
/// because every request re-reads the user.
pub async fn deactivate<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    user_id: Uuid,
) -> AppResult<user::Model> {
    if actor.id == Some(user_id) {
        return Err(AppError::bad_input("input.userId", "you cannot deactivate yourself"));
    }
    let user = get(db, workspace_id, user_id).await?;
    if !user.active {
        return Ok(user);
    }
    let now = Utc::now();
    let mut active = user.into_active_model();
    active.active = Set(false);
    active.updated_at = Set(now);
    let user = active.update(db).await?;
    tokens::revoke_user(db, user.id).await?;
    crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: user.id });
    audit::record(db, workspace_id, actor, "user.deactivate", "user", Some(user.id), json!({ "active": false }))
        .await?;
    Ok(user)
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, user_id: Uuid) -> AppResult<user::Model> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::WorkspaceId.eq(workspace_id))
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The workspace's users matching `condition`.
pub fn query(workspace_id: Uuid, condition: Condition) -> Select<user::Entity> {
    user::Entity::find().filter(user::Column::WorkspaceId.eq(workspace_id)).filter(condition)
}
