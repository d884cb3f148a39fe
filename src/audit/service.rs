//! Writing and reading the audit log. Writes happen inside the caller's transaction, so an
//! audited change and its audit row commit or vanish together.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use crate::{
    auth::Actor,
    graphql::{AppResult, ids::new_id},
};

pub async fn record<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    action: &str,
    entity: &str,
    entity_id: Option<Uuid>,
    diff: serde_json::Value,
) -> AppResult<()> {
    let now = Utc::now();
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        actor_kind: Set(actor.kind),
        actor_id: Set(actor.id),
        action: Set(action.to_owned()),
        entity: Set(entity.to_owned()),
        entity_id: Set(entity_id),
        diff: Set(diff),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The workspace's entries, optionally for one entity.
pub fn query(workspace_id: Uuid, entity_id: Option<Uuid>) -> Select<audit_log::Entity> {
    let mut select = audit_log::Entity::find().filter(audit_log::Column::WorkspaceId.eq(workspace_id));
    if let Some(id) = entity_id {
        select = select.filter(audit_log::Column::EntityId.eq(id));
    }
    select
}
