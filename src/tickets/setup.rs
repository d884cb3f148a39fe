//! Setting up the desk: SLA policies per priority, business hours and holidays, agent groups.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{NaiveDate, Utc};
use entity::{
    agent_group, agent_group_member, business_hours,
    enums::Priority,
    holiday,
    sla_policy::{self, BreachAction},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{
    business_time::{DAY_MINUTES, format_clock, parse_clock},
    routing,
    sla::{self, Targets},
};
use crate::{
    audit,
    auth::{Actor, Permission},
    graphql::{
        AppError, AppResult, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        ids::{new_id, parse_id, to_id},
        loader, state, transact,
    },
    users::{User, UserLoader},
    workspaces,
};

/// The longest target accepted: a year of business minutes.
const MAX_TARGET_MINUTES: i32 = 525_600;

#[derive(SimpleObject)]
pub struct SlaPolicy {
    pub priority: Priority,
    pub first_response_minutes: i32,
    pub next_reply_minutes: i32,
    pub resolution_minutes: i32,
    /// Alerts go out this many minutes before a target is due.
    pub warning_minutes: i32,
    pub breach_action: BreachAction,
    /// True while the workspace uses the built-in targets for this priority.
    pub is_default: bool,
}

fn minutes(d: chrono::Duration) -> i32 {
    i32::try_from(d.num_minutes()).unwrap_or(i32::MAX)
}

impl SlaPolicy {
    fn from_targets(t: Targets, is_default: bool) -> Self {
        SlaPolicy {
            priority: t.priority,
            first_response_minutes: minutes(t.first_response),
            next_reply_minutes: minutes(t.next_reply),
            resolution_minutes: minutes(t.resolution),
            warning_minutes: minutes(t.warning),
            breach_action: t.breach_action,
            is_default,
        }
    }
}

#[derive(InputObject)]
pub struct SetSlaPolicyInput {
    pub priority: Priority,
    pub first_response_minutes: i32,
    pub next_reply_minutes: i32,
    pub resolution_minutes: i32,
    #[graphql(default = 30)]
    pub warning_minutes: i32,
    #[graphql(default_with = "BreachAction::Notify")]
    pub breach_action: BreachAction,
}

#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "BusinessHoursSlotInput")]
pub struct BusinessHoursSlot {
    pub weekday: Weekday,
    /// `HH:MM`, local time of the workspace.
    pub start: String,
    /// `HH:MM` (up to `24:00`), exclusive.
    pub end: String,
}

#[derive(SimpleObject)]
pub struct BusinessHours {
    /// The workspace time zone the slots are in.
    pub timezone: String,
    pub slots: Vec<BusinessHoursSlot>,
    /// No slots: SLA clocks run around the clock.
    pub always_open: bool,
}

#[derive(InputObject)]
pub struct SetBusinessHoursInput {
    /// Replaces every slot; an empty list means always open.
    pub slots: Vec<BusinessHoursSlot>,
}

pub struct Holiday(pub holiday::Model);

#[Object]
impl Holiday {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn date(&self) -> NaiveDate {
        self.0.date
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
}

#[derive(InputObject)]
pub struct AddHolidayInput {
    pub date: NaiveDate,
    pub name: String,
}

#[derive(InputObject)]
pub struct RemoveHolidayInput {
    pub date: NaiveDate,
}

#[derive(Clone)]
pub struct AgentGroup(pub agent_group::Model);

#[Object]
impl AgentGroup {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Escalations to this level are routed to this group.
    async fn escalation_level(&self) -> super::EscalationLevel {
        super::EscalationLevel::of(self.0.escalation_level)
    }
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AgentGroupMember>> {
        Ok(loader::<GroupMembersLoader>(ctx)?.load_one(self.0.id).await?.unwrap_or_default())
    }
}

#[derive(Clone)]
pub struct AgentGroupMember(pub agent_group_member::Model);

#[Object]
impl AgentGroupMember {
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loader::<UserLoader>(ctx)?.load_one(self.0.user_id).await?.map(User))
    }
    /// Most open tickets round-robin gives this agent; null is no limit.
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }
    async fn last_assigned_at(&self) -> Option<chrono::DateTime<Utc>> {
        self.0.last_assigned_at
    }
}

crate::id_loader!(AgentGroupLoader, agent_group, AgentGroup);

pub struct GroupMembersLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<Uuid> for GroupMembersLoader {
    type Value = Vec<AgentGroupMember>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<AgentGroupMember>>, Self::Error> {
        let mut out: HashMap<Uuid, Vec<AgentGroupMember>> = HashMap::new();
        for member in routing::members(&self.0, keys).await? {
            out.entry(member.group_id).or_default().push(AgentGroupMember(member));
        }
        Ok(out)
    }
}

#[derive(InputObject)]
pub struct CreateAgentGroupInput {
    pub name: String,
    #[graphql(default_with = "super::EscalationLevel::Support")]
    pub escalation_level: super::EscalationLevel,
}

#[derive(InputObject)]
pub struct SetAgentGroupMemberInput {
    pub group_id: ID,
    pub user_id: ID,
    pub capacity: Option<i32>,
}

#[derive(InputObject)]
pub struct RemoveAgentGroupMemberInput {
    pub group_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct AgentGroupPayload {
    pub group: AgentGroup,
}

fn check_minutes(value: i32, field: &str, min: i32) -> AppResult<()> {
    if !(min..=MAX_TARGET_MINUTES).contains(&value) {
        return Err(AppError::bad_input(field, format!("between {min} and {MAX_TARGET_MINUTES} minutes")));
    }
    Ok(())
}

pub async fn set_policy<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: SetSlaPolicyInput,
) -> AppResult<Targets> {
    check_minutes(input.first_response_minutes, "input.firstResponseMinutes", 1)?;
    check_minutes(input.next_reply_minutes, "input.nextReplyMinutes", 1)?;
    check_minutes(input.resolution_minutes, "input.resolutionMinutes", 1)?;
    check_minutes(input.warning_minutes, "input.warningMinutes", 0)?;
    let now = Utc::now();
    let existing = sla_policy::Entity::find()
        .filter(sla_policy::Column::WorkspaceId.eq(workspace_id))
        .filter(sla_policy::Column::Priority.eq(input.priority))
        .one(db)
        .await?;
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(p) => p.into_active_model(),
        None => sla_policy::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            priority: Set(input.priority),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.first_response_minutes = Set(input.first_response_minutes);
    row.next_reply_minutes = Set(input.next_reply_minutes);
    row.resolution_minutes = Set(input.resolution_minutes);
    row.warning_minutes = Set(input.warning_minutes);
    row.breach_action = Set(input.breach_action);
    row.updated_at = Set(now);
    if is_new {
        row.insert(db).await?;
    } else {
        row.update(db).await?;
    }
    audit::record(
        db,
        workspace_id,
        actor,
        "sla_policy.set",
        "sla_policy",
        None,
        serde_json::json!({ "priority": format!("{:?}", input.priority) }),
    )
    .await?;
    sla::targets(db, workspace_id, input.priority).await
}

fn slot_minutes(slot: &BusinessHoursSlot, index: usize) -> AppResult<(usize, i32, i32)> {
    let field = format!("input.slots[{index}]");
    let start = parse_clock(&slot.start).ok_or_else(|| AppError::bad_input(&field, "start must be HH:MM"))?;
    let end = parse_clock(&slot.end).ok_or_else(|| AppError::bad_input(&field, "end must be HH:MM (up to 24:00)"))?;
    if start >= end || end > DAY_MINUTES {
        return Err(AppError::bad_input(&field, "a slot must end after it starts, on the same day"));
    }
    let day = WEEK.iter().position(|d| *d == slot.weekday).unwrap_or(0);
    Ok((day, start, end))
}

pub async fn set_hours<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    slots: &[BusinessHoursSlot],
) -> AppResult<()> {
    let mut parsed = Vec::with_capacity(slots.len());
    for (index, slot) in slots.iter().enumerate() {
        let (day, start, end) = slot_minutes(slot, index)?;
        if parsed.iter().any(|&(d, s, e): &(usize, i32, i32)| d == day && start < e && s < end) {
            return Err(AppError::bad_input(format!("input.slots[{index}]"), "slots of one day must not overlap"));
        }
        parsed.push((day, start, end));
    }
    business_hours::Entity::delete_many().filter(business_hours::Column::WorkspaceId.eq(workspace_id)).exec(db).await?;
    let now = Utc::now();
    for (day, start, end) in parsed {
        business_hours::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            weekday: Set(day as i32),
            start_minute: Set(start),
            end_minute: Set(end),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    audit::record(db, workspace_id, actor, "business_hours.set", "workspace", Some(workspace_id), serde_json::json!({}))
        .await
}

pub async fn hours<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<BusinessHours> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let rows = business_hours::Entity::find()
        .filter(business_hours::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(business_hours::Column::Weekday)
        .order_by_asc(business_hours::Column::StartMinute)
        .all(db)
        .await?;
    Ok(BusinessHours {
        timezone: workspace.timezone,
        always_open: rows.is_empty(),
        slots: rows
            .iter()
            .map(|r| BusinessHoursSlot {
                weekday: WEEK[(r.weekday as usize).min(6)],
                start: format_clock(r.start_minute),
                end: format_clock(r.end_minute),
            })
            .collect(),
    })
}

pub async fn add_holiday<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    date: NaiveDate,
    name: &str,
) -> AppResult<holiday::Model> {
    let name = crate::contact::normalize_name(name, "input.name")?;
    let exists = holiday::Entity::find()
        .filter(holiday::Column::WorkspaceId.eq(workspace_id))
        .filter(holiday::Column::Date.eq(date))
        .one(db)
        .await?;
    if exists.is_some() {
        return Err(AppError::Conflict(format!("{date} is already a holiday")));
    }
    let now = Utc::now();
    Ok(holiday::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        date: Set(date),
        name: Set(name),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn remove_holiday<C: ConnectionTrait>(db: &C, workspace_id: Uuid, date: NaiveDate) -> AppResult<()> {
    let removed = holiday::Entity::delete_many()
        .filter(holiday::Column::WorkspaceId.eq(workspace_id))
        .filter(holiday::Column::Date.eq(date))
        .exec(db)
        .await?;
    if removed.rows_affected == 0 {
        return Err(AppError::not_found("holiday"));
    }
    Ok(())
}

#[derive(Default)]
pub struct SupportSetupQuery;

#[Object]
impl SupportSetupQuery {
    /// SLA targets of every priority, most urgent first.
    async fn sla_policies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SlaPolicy>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let db = state(ctx).db();
        let stored: Vec<Priority> = sla_policy::Entity::find()
            .filter(sla_policy::Column::WorkspaceId.eq(principal.workspace_id()))
            .all(db)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|p| p.priority)
            .collect();
        Ok(sla::all_targets(db, principal.workspace_id())
            .await?
            .into_iter()
            .map(|t| SlaPolicy::from_targets(t, !stored.contains(&t.priority)))
            .collect())
    }

    async fn business_hours(&self, ctx: &Context<'_>) -> async_graphql::Result<BusinessHours> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        Ok(hours(state(ctx).db(), principal.workspace_id()).await?)
    }

    /// Holidays, by date.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn holidays(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Holiday>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let query = holiday::Entity::find().filter(holiday::Column::WorkspaceId.eq(principal.workspace_id()));
        let order = vec![SortKey::new(holiday::Column::Date, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, holiday::Column::Id, args, Holiday).await?)
    }

    /// Agent groups, by name.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn agent_groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<AgentGroup>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let query = agent_group::Entity::find().filter(agent_group::Column::WorkspaceId.eq(principal.workspace_id()));
        let order = vec![SortKey::new(agent_group::Column::Name, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, agent_group::Column::Id, args, AgentGroup).await?)
    }
}

#[derive(Default)]
pub struct SupportSetupMutation;

#[Object]
impl SupportSetupMutation {
    /// Sets the SLA targets of one priority (applies to tickets filed from now on).
    async fn set_sla_policy(&self, ctx: &Context<'_>, input: SetSlaPolicyInput) -> async_graphql::Result<SlaPolicy> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let targets = transact(state(ctx).db(), async |txn| {
            set_policy(txn, principal.workspace_id(), principal.actor(), input).await
        })
        .await?;
        Ok(SlaPolicy::from_targets(targets, false))
    }

    /// Replaces the business hours SLA clocks count in.
    async fn set_business_hours(
        &self,
        ctx: &Context<'_>,
        input: SetBusinessHoursInput,
    ) -> async_graphql::Result<BusinessHours> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let ws = principal.workspace_id();
        Ok(transact(state(ctx).db(), async |txn| {
            set_hours(txn, ws, principal.actor(), &input.slots).await?;
            hours(txn, ws).await
        })
        .await?)
    }

    async fn add_holiday(&self, ctx: &Context<'_>, input: AddHolidayInput) -> async_graphql::Result<Holiday> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let row = transact(state(ctx).db(), async |txn| {
            add_holiday(txn, principal.workspace_id(), input.date, &input.name).await
        })
        .await?;
        Ok(Holiday(row))
    }

    /// Removes a holiday; true when done.
    async fn remove_holiday(&self, ctx: &Context<'_>, input: RemoveHolidayInput) -> async_graphql::Result<bool> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        transact(state(ctx).db(), async |txn| remove_holiday(txn, principal.workspace_id(), input.date).await).await?;
        Ok(true)
    }

    async fn create_agent_group(
        &self,
        ctx: &Context<'_>,
        input: CreateAgentGroupInput,
    ) -> async_graphql::Result<AgentGroupPayload> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let level = match input.escalation_level {
            super::EscalationLevel::Support => 0,
            super::EscalationLevel::Supervisor => 1,
            super::EscalationLevel::Management => 2,
        };
        let group = transact(state(ctx).db(), async |txn| {
            routing::create_group(txn, principal.workspace_id(), &input.name, level).await
        })
        .await?;
        Ok(AgentGroupPayload { group: AgentGroup(group) })
    }

    /// Adds an agent to a group (or changes their capacity).
    async fn set_agent_group_member(
        &self,
        ctx: &Context<'_>,
        input: SetAgentGroupMemberInput,
    ) -> async_graphql::Result<AgentGroupPayload> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let group_id = parse_id(&input.group_id, "input.groupId")?;
        let user_id = parse_id(&input.user_id, "input.userId")?;
        let ws = principal.workspace_id();
        let group = transact(state(ctx).db(), async |txn| {
            routing::set_member(txn, ws, group_id, user_id, input.capacity).await?;
            routing::get_group(txn, ws, group_id).await
        })
        .await?;
        Ok(AgentGroupPayload { group: AgentGroup(group) })
    }

    async fn remove_agent_group_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveAgentGroupMemberInput,
    ) -> async_graphql::Result<AgentGroupPayload> {
        let principal = authorize(ctx, Permission::ManageSupport)?;
        let group_id = parse_id(&input.group_id, "input.groupId")?;
        let user_id = parse_id(&input.user_id, "input.userId")?;
        let ws = principal.workspace_id();
        let group = transact(state(ctx).db(), async |txn| {
            routing::remove_member(txn, ws, group_id, user_id).await?;
            routing::get_group(txn, ws, group_id).await
        })
        .await?;
        Ok(AgentGroupPayload { group: AgentGroup(group) })
    }
}
