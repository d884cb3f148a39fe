//! Follow-ups: scheduled touch points. Rule-made ones carry a rule key, unique per workspace,
//! so a rule fires once per occasion however often it runs.

use chrono::{DateTime, Utc};
use entity::follow_up::{self, FollowUpKind, FollowUpStatus};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TryInsertResult};
use uuid::Uuid;

use crate::graphql::{AppResult, ids::new_id};

pub struct NewFollowUp {
    pub workspace_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub kind: FollowUpKind,
    pub due_at: DateTime<Utc>,
    pub assignee_id: Option<Uuid>,
    pub rule_key: Option<String>,
    pub note: Option<String>,
}

/// Schedules a follow-up; with a rule key already used, nothing is written and `None` returned.
pub async fn schedule<C: ConnectionTrait>(db: &C, new: NewFollowUp) -> AppResult<Option<follow_up::Model>> {
    let now = Utc::now();
    let id = new_id();
    let inserted = follow_up::Entity::insert(follow_up::ActiveModel {
        id: Set(id),
        workspace_id: Set(new.workspace_id),
        customer_id: Set(new.customer_id),
        lead_id: Set(new.lead_id),
        kind: Set(new.kind),
        due_at: Set(new.due_at),
        status: Set(FollowUpStatus::Pending),
        assignee_id: Set(new.assignee_id),
        rule_key: Set(new.rule_key),
        note: Set(new.note),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([follow_up::Column::WorkspaceId, follow_up::Column::RuleKey])
    .exec_without_returning(db)
    .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(None);
    }
    Ok(follow_up::Entity::find().filter(follow_up::Column::Id.eq(id)).one(db).await?)
}

pub fn query(workspace_id: Uuid) -> sea_orm::Select<follow_up::Entity> {
    follow_up::Entity::find().filter(follow_up::Column::WorkspaceId.eq(workspace_id))
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<follow_up::Model> {
    query(workspace_id)
        .filter(follow_up::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| crate::graphql::AppError::not_found("follow-up"))
}

/// Closes a pending follow-up as DONE or SKIPPED, with an optional note.
pub async fn close<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
    to: FollowUpStatus,
    note: Option<String>,
) -> AppResult<follow_up::Model> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let current = get(db, workspace_id, id).await?;
    if current.status != FollowUpStatus::Pending {
        return Err(crate::graphql::AppError::InvalidTransition("the follow-up is already closed".to_owned()));
    }
    let now = Utc::now();
    let mut active = current.into_active_model();
    active.status = Set(to);
    active.closed_at = Set(Some(now));
    if let Some(note) = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        active.note = Set(Some(note));
    }
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}
