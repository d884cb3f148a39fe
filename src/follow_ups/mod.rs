//! Follow-ups: thank-yous, surveys, greetings, check-ins, reactivation and "not now" revisits.

pub mod rules;
pub mod service;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::follow_up::{self, FollowUpKind, FollowUpStatus};
use sea_orm::{Condition, QueryFilter};

use crate::{
    auth::Permission,
    child_relation,
    customers::{Customer, CustomerLoader},
    graphql::{
        AppError, AppResult, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, IdFilter},
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    users::{User, UserLoader},
};

pub struct FollowUp(pub follow_up::Model);

#[Object]
impl FollowUp {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn kind(&self) -> FollowUpKind {
        self.0.kind
    }
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }
    async fn status(&self) -> FollowUpStatus {
        self.0.status
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Set when a rule created it; one follow-up per rule and occasion.
    async fn rule_key(&self) -> Option<&str> {
        self.0.rule_key.as_deref()
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn lead_id(&self) -> Option<ID> {
        self.0.lead_id.map(to_id)
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        match self.0.customer_id {
            Some(id) => Ok(loader::<CustomerLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.assignee_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

child_relation!(
    /// A customer's follow-ups, soonest due first.
    CustomerFollowUps,
    follow_up,
    CustomerId,
    DueAt,
    Asc
);

#[derive(InputObject, Default)]
pub struct FollowUpFilter {
    pub status: Option<EnumFilter<FollowUpStatus>>,
    pub kind: Option<EnumFilter<FollowUpKind>>,
    pub due_at: Option<DateTimeFilter>,
    pub assignee_id: Option<IdFilter>,
    pub customer_id: Option<IdFilter>,
    pub lead_id: Option<IdFilter>,
}

impl FollowUpFilter {
    fn condition(&self) -> AppResult<Condition> {
        let mut all = Condition::all();
        if let Some(f) = &self.status {
            all = all.add(f.condition(follow_up::Column::Status));
        }
        if let Some(f) = &self.kind {
            all = all.add(f.condition(follow_up::Column::Kind));
        }
        if let Some(f) = &self.due_at {
            all = all.add(f.condition(follow_up::Column::DueAt));
        }
        if let Some(f) = &self.assignee_id {
            all = all.add(f.condition(follow_up::Column::AssigneeId, "filter.assigneeId")?);
        }
        if let Some(f) = &self.customer_id {
            all = all.add(f.condition(follow_up::Column::CustomerId, "filter.customerId")?);
        }
        if let Some(f) = &self.lead_id {
            all = all.add(f.condition(follow_up::Column::LeadId, "filter.leadId")?);
        }
        Ok(all)
    }
}

#[derive(Default)]
pub struct FollowUpQuery;

#[Object]
impl FollowUpQuery {
    /// Follow-ups of the workspace, soonest due first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn follow_ups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<FollowUpFilter>,
    ) -> async_graphql::Result<Page<FollowUp>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let mut query = service::query(principal.workspace_id());
        if let Some(filter) = &filter {
            query = query.filter(filter.condition()?);
        }
        let order = vec![SortKey::new(follow_up::Column::DueAt, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, follow_up::Column::Id, args, FollowUp).await?)
    }
}

#[derive(InputObject)]
pub struct ScheduleFollowUpInput {
    /// Exactly one of `customerId` and `leadId`.
    pub customer_id: Option<ID>,
    pub lead_id: Option<ID>,
    #[graphql(default_with = "FollowUpKind::Custom")]
    pub kind: FollowUpKind,
    pub due_at: DateTime<Utc>,
    pub assignee_id: Option<ID>,
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct CloseFollowUpInput {
    pub follow_up_id: ID,
    pub note: Option<String>,
}

#[derive(SimpleObject)]
pub struct FollowUpPayload {
    pub follow_up: FollowUp,
}

#[derive(Default)]
pub struct FollowUpMutation;

#[Object]
impl FollowUpMutation {
    /// Plans a touch point by hand.
    async fn schedule_follow_up(
        &self,
        ctx: &Context<'_>,
        input: ScheduleFollowUpInput,
    ) -> async_graphql::Result<FollowUpPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let workspace_id = principal.workspace_id();
        let customer_id = input.customer_id.as_ref().map(|id| parse_id(id, "input.customerId")).transpose()?;
        let lead_id = input.lead_id.as_ref().map(|id| parse_id(id, "input.leadId")).transpose()?;
        let assignee_id = input.assignee_id.as_ref().map(|id| parse_id(id, "input.assigneeId")).transpose()?;
        if customer_id.is_some() == lead_id.is_some() {
            return Err(AppError::bad_input("input.customerId", "give exactly one of customerId and leadId").into());
        }
        let created = transact(state(ctx).db(), async |txn| {
            if let Some(id) = customer_id {
                crate::customers::service::get(txn, workspace_id, id).await?;
            }
            if let Some(id) = lead_id {
                crate::leads::service::get(txn, workspace_id, id).await?;
            }
            if let Some(id) = assignee_id {
                crate::users::service::get(txn, workspace_id, id).await?;
            }
            let new = service::NewFollowUp {
                workspace_id,
                customer_id,
                lead_id,
                kind: input.kind,
                due_at: input.due_at,
                assignee_id,
                rule_key: None,
                note: input.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            };
            service::schedule(txn, new)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("follow-up not written")))
        })
        .await?;
        Ok(FollowUpPayload { follow_up: FollowUp(created) })
    }

    async fn complete_follow_up(
        &self,
        ctx: &Context<'_>,
        input: CloseFollowUpInput,
    ) -> async_graphql::Result<FollowUpPayload> {
        close(ctx, input, FollowUpStatus::Done).await
    }

    async fn skip_follow_up(
        &self,
        ctx: &Context<'_>,
        input: CloseFollowUpInput,
    ) -> async_graphql::Result<FollowUpPayload> {
        close(ctx, input, FollowUpStatus::Skipped).await
    }
}

async fn close(
    ctx: &Context<'_>,
    input: CloseFollowUpInput,
    to: FollowUpStatus,
) -> async_graphql::Result<FollowUpPayload> {
    let principal = authorize(ctx, Permission::WriteCustomers)?;
    let id = parse_id(&input.follow_up_id, "input.followUpId")?;
    let closed =
        transact(state(ctx).db(), async |txn| service::close(txn, principal.workspace_id(), id, to, input.note).await)
            .await?;
    Ok(FollowUpPayload { follow_up: FollowUp(closed) })
}
