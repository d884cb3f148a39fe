//! Agent groups and round-robin assignment: the next ticket goes to the active member who was
//! assigned longest ago, skipping members at their capacity of open tickets.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{agent_group, agent_group_member, ticket, ticket::TicketStatus, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::graphql::{AppError, AppResult, ids::new_id};

/// Statuses in which a ticket counts against its assignee's capacity.
pub const OPEN_STATUSES: [TicketStatus; 4] =
    [TicketStatus::New, TicketStatus::Open, TicketStatus::PendingCustomer, TicketStatus::Escalated];

pub async fn get_group<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<agent_group::Model> {
    agent_group::Entity::find_by_id(id)
        .filter(agent_group::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("agent group"))
}

pub async fn create_group<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    name: &str,
    escalation_level: i32,
) -> AppResult<agent_group::Model> {
    let name = crate::contact::normalize_name(name, "input.name")?;
    if !(0..=2).contains(&escalation_level) {
        return Err(AppError::bad_input("input.escalationLevel", "0 (support), 1 (supervisor) or 2 (management)"));
    }
    let taken = agent_group::Entity::find()
        .filter(agent_group::Column::WorkspaceId.eq(workspace_id))
        .filter(agent_group::Column::Name.eq(&name))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!("a group named `{name}` already exists")));
    }
    let now = Utc::now();
    Ok(agent_group::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        name: Set(name),
        escalation_level: Set(escalation_level),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Adds a staff member to a group, or changes their capacity if already in it.
pub async fn set_member<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    group_id: Uuid,
    user_id: Uuid,
    capacity: Option<i32>,
) -> AppResult<agent_group_member::Model> {
    get_group(db, workspace_id, group_id).await?;
    crate::users::service::get(db, workspace_id, user_id).await?;
    if capacity.is_some_and(|c| c < 0) {
        return Err(AppError::bad_input("input.capacity", "capacity cannot be negative"));
    }
    let now = Utc::now();
    let existing = agent_group_member::Entity::find()
        .filter(agent_group_member::Column::GroupId.eq(group_id))
        .filter(agent_group_member::Column::UserId.eq(user_id))
        .one(db)
        .await?;
    Ok(match existing {
        Some(member) => {
            let mut active = member.into_active_model();
            active.capacity = Set(capacity);
            active.updated_at = Set(now);
            active.update(db).await?
        }
        None => {
            agent_group_member::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                group_id: Set(group_id),
                user_id: Set(user_id),
                capacity: Set(capacity),
                last_assigned_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?
        }
    })
}

pub async fn remove_member<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    group_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    get_group(db, workspace_id, group_id).await?;
    agent_group_member::Entity::delete_many()
        .filter(agent_group_member::Column::GroupId.eq(group_id))
        .filter(agent_group_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn members<C: ConnectionTrait>(db: &C, group_ids: &[Uuid]) -> AppResult<Vec<agent_group_member::Model>> {
    Ok(agent_group_member::Entity::find()
        .filter(agent_group_member::Column::GroupId.is_in(group_ids.iter().copied()))
        .order_by_asc(agent_group_member::Column::CreatedAt)
        .order_by_asc(agent_group_member::Column::Id)
        .all(db)
        .await?)
}

/// The group that handles an escalation level, if the workspace has one.
pub async fn group_for_level<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    level: i32,
) -> AppResult<Option<agent_group::Model>> {
    Ok(agent_group::Entity::find()
        .filter(agent_group::Column::WorkspaceId.eq(workspace_id))
        .filter(agent_group::Column::EscalationLevel.eq(level))
        .order_by_asc(agent_group::Column::CreatedAt)
        .one(db)
        .await?)
}

/// Picks the next agent of `group_id` (never `exclude`) and records the pick; `None` when every
/// member is inactive or at capacity. Concurrent picks in one group are serialised by locking
/// the group row (PostgreSQL; SQLite has one writer).
pub async fn next_agent<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    group_id: Uuid,
    exclude: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Option<Uuid>> {
    agent_group::Entity::find_by_id(group_id)
        .filter(agent_group::Column::WorkspaceId.eq(workspace_id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("agent group"))?;
    let mut candidates =
        agent_group_member::Entity::find().filter(agent_group_member::Column::GroupId.eq(group_id)).all(db).await?;
    let active: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in(candidates.iter().map(|m| m.user_id)))
        .filter(user::Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    candidates.retain(|m| active.contains(&m.user_id) && Some(m.user_id) != exclude);
    let load = open_tickets_of(db, workspace_id, &candidates.iter().map(|m| m.user_id).collect::<Vec<_>>()).await?;
    candidates.retain(|m| m.capacity.is_none_or(|cap| load.get(&m.user_id).copied().unwrap_or(0) < i64::from(cap)));
    // Never assigned first, then longest ago; ties in joining order.
    candidates.sort_by_key(|m| (m.last_assigned_at.is_some(), m.last_assigned_at, m.created_at, m.id));
    let Some(chosen) = candidates.into_iter().next() else { return Ok(None) };
    let user_id = chosen.user_id;
    let mut active = chosen.into_active_model();
    active.last_assigned_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(Some(user_id))
}

/// Open tickets per assignee.
async fn open_tickets_of<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    user_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, i64>> {
    let rows: Vec<(Option<Uuid>, i64)> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::AssigneeId)
        .column_as(ticket::Column::Id.count(), "open")
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .filter(ticket::Column::AssigneeId.is_in(user_ids.iter().copied()))
        .filter(ticket::Column::Status.is_in(OPEN_STATUSES))
        .group_by(ticket::Column::AssigneeId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, n)| id.map(|id| (id, n))).collect())
}
