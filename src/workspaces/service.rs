//! Creating and reading workspaces (tenants).

use chrono::Utc;
use entity::workspace;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit,
    auth::Actor,
    graphql::{AppError, AppResult, ids::new_id},
};

pub struct NewWorkspace<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub currency: &'a str,
    pub timezone: &'a str,
}

pub async fn create<C: ConnectionTrait>(db: &C, actor: Actor, input: NewWorkspace<'_>) -> AppResult<workspace::Model> {
    let slug = input.slug.trim().to_ascii_lowercase();
    if !valid_slug(&slug) {
        return Err(AppError::bad_input(
            "slug",
            "slug must be 2–64 characters: lower-case letters, digits and dashes, starting with a letter or digit",
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_input("name", "name must have 1 to 200 characters"));
    }
    let currency = crate::money::validate_currency(input.currency, "currency")?;
    if input.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AppError::bad_input("timezone", "timezone must be an IANA name such as Europe/Berlin"));
    }
    if find_by_slug(db, &slug).await?.is_some() {
        return Err(AppError::Conflict(format!("a workspace with slug `{slug}` already exists")));
    }
    let now = Utc::now();
    let model = workspace::ActiveModel {
        id: Set(new_id()),
        slug: Set(slug),
        name: Set(name.to_owned()),
        currency: Set(currency),
        timezone: Set(input.timezone.to_owned()),
        settings: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(db, model.id, actor, "workspace.create", "workspace", Some(model.id), json!({ "slug": model.slug }))
        .await?;
    Ok(model)
}

pub async fn find_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> AppResult<Option<workspace::Model>> {
    Ok(workspace::Entity::find().filter(workspace::Column::Slug.eq(slug.trim().to_ascii_lowercase())).one(db).await?)
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<workspace::Model> {
    workspace::Entity::find_by_id(id).one(db).await?.ok_or_else(|| AppError::not_found("workspace"))
}

/// The workspace, row-locked until the transaction ends (PostgreSQL; SQLite serialises writers),
/// for the rare changes that read workspace-wide state and write on it (exclusive experiments).
pub async fn lock<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<workspace::Model> {
    workspace::Entity::find_by_id(id).lock_exclusive().one(db).await?.ok_or_else(|| AppError::not_found("workspace"))
}

/// The workspace's time zone (validated when the workspace was created).
pub fn zone(workspace: &workspace::Model) -> chrono_tz::Tz {
    workspace.timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// The workspace's rules (defaults where unset).
pub async fn settings<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<super::settings::WorkspaceSettings> {
    Ok(super::settings::WorkspaceSettings::from_json(&get(db, id).await?.settings))
}

/// Changes some settings: `patch` is an object of setting names (as in `WorkspaceSettings`) and
/// their new values; the others stay. Unknown names and ill-typed values are refused.
pub async fn update_settings<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    actor: Actor,
    patch: &serde_json::Value,
) -> AppResult<super::settings::WorkspaceSettings> {
    use super::settings::WorkspaceSettings;
    let serde_json::Value::Object(changes) = patch else {
        return Err(AppError::bad_input("input.patch", "an object of setting names and values"));
    };
    let workspace = get(db, id).await?;
    let mut merged = serde_json::to_value(WorkspaceSettings::from_json(&workspace.settings))
        .map_err(|e| AppError::Internal(e.into()))?;
    for (name, value) in changes {
        let field = format!("input.patch.{name}");
        let Some(slot) = merged.get_mut(name) else {
            return Err(AppError::bad_input(field, format!("`{name}` is not a workspace setting")));
        };
        *slot = value.clone();
        if serde_json::from_value::<WorkspaceSettings>(merged.clone()).is_err() {
            return Err(AppError::bad_input(field, format!("`{value}` is not a valid value for `{name}`")));
        }
    }
    let settings: WorkspaceSettings =
        serde_json::from_value(merged.clone()).map_err(|e| AppError::Internal(e.into()))?;
    // Only the changed settings: a stored value from before a range existed must not block others.
    for name in changes.keys() {
        if let Some(reason) = settings.out_of_range(name) {
            return Err(AppError::bad_input(format!("input.patch.{name}"), reason));
        }
    }
    let mut active = workspace.into_active_model();
    active.settings = Set(merged);
    active.updated_at = Set(Utc::now());
    active.update(db).await?;
    audit::record(db, id, actor, "workspace.settings", "workspace", Some(id), patch.clone()).await?;
    Ok(settings)
}

fn valid_slug(slug: &str) -> bool {
    (2..=64).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::valid_slug;

    #[test]
    fn slugs_are_url_safe() {
        assert!(valid_slug("demo"));
        assert!(valid_slug("acme-2"));
        assert!(!valid_slug("-acme"));
        assert!(!valid_slug("a"));
        assert!(!valid_slug("Acme Inc"));
    }
}
