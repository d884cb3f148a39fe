//! Leads: potential customers, scored and worked until they convert or are disqualified.

pub mod score;
pub mod service;

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    enums::{AcquisitionSource, Priority},
    lead::{self, LeadCategory, LeadStatus},
};
use sea_orm::{
    Condition, ExprTrait, QueryFilter,
    sea_query::{Expr, Func, LikeExpr},
};

use crate::{
    auth::Permission,
    customers::{Customer, CustomerLoader},
    graphql::{
        AppResult, authorize,
        children::children_page,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, IdFilter, IntFilter, boolean_ops},
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    interactions::{Interaction, LeadInteractions},
    profile::{Profile, ProfileInput},
    profile_of,
    users::{User, UserLoader},
};

pub struct Lead(pub lead::Model);

#[Object]
impl Lead {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    async fn source(&self) -> AcquisitionSource {
        self.0.source
    }
    async fn category(&self) -> LeadCategory {
        self.0.category
    }
    async fn status(&self) -> LeadStatus {
        self.0.status
    }
    /// 0–100; see `scoreReasons` for how it was reached.
    async fn score(&self) -> i32 {
        self.0.score
    }
    /// Each rule's points and why.
    async fn score_reasons(&self) -> Vec<score::ScoreReason> {
        serde_json::from_value(self.0.score_reasons.clone()).unwrap_or_default()
    }
    /// Derived from the score: URGENT ≥ 75, HIGH ≥ 55, NORMAL ≥ 30, else LOW.
    async fn priority(&self) -> Priority {
        self.0.priority
    }
    async fn profile(&self) -> Profile {
        profile_of!(&self.0)
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.owner_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
    async fn referred_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        match self.0.referred_by_customer_id {
            Some(id) => Ok(loader::<CustomerLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    async fn converted_customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        match self.0.converted_customer_id {
            Some(id) => Ok(loader::<CustomerLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    async fn converted_at(&self) -> Option<DateTime<Utc>> {
        self.0.converted_at
    }
    async fn disqualify_reason(&self) -> Option<&str> {
        self.0.disqualify_reason.as_deref()
    }
    async fn not_now_until(&self) -> Option<DateTime<Utc>> {
        self.0.not_now_until
    }
    async fn last_interaction_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_interaction_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Contacts with the lead, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Interaction>> {
        children_page::<LeadInteractions, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Interaction).await
    }
}

#[derive(InputObject, Default)]
pub struct LeadFilter {
    pub status: Option<EnumFilter<LeadStatus>>,
    pub category: Option<EnumFilter<LeadCategory>>,
    pub source: Option<EnumFilter<AcquisitionSource>>,
    pub priority: Option<EnumFilter<Priority>>,
    pub owner_id: Option<IdFilter>,
    pub score: Option<IntFilter>,
    pub created_at: Option<DateTimeFilter>,
    /// Case-insensitive text in the name, email or company.
    pub search: Option<String>,
    pub and: Option<Vec<LeadFilter>>,
    pub or: Option<Vec<LeadFilter>>,
    pub not: Option<Box<LeadFilter>>,
}

impl LeadFilter {
    fn condition(&self) -> AppResult<Condition> {
        let mut all = Condition::all();
        if let Some(f) = &self.status {
            all = all.add(f.condition(lead::Column::Status));
        }
        if let Some(f) = &self.category {
            all = all.add(f.condition(lead::Column::Category));
        }
        if let Some(f) = &self.source {
            all = all.add(f.condition(lead::Column::Source));
        }
        if let Some(f) = &self.priority {
            all = all.add(f.condition(lead::Column::Priority));
        }
        if let Some(f) = &self.owner_id {
            all = all.add(f.condition(lead::Column::OwnerId, "filter.ownerId")?);
        }
        if let Some(f) = &self.score {
            all = all.add(f.condition(lead::Column::Score));
        }
        if let Some(f) = &self.created_at {
            all = all.add(f.condition(lead::Column::CreatedAt));
        }
        if let Some(text) = self.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", crate::graphql::filter::escape_like(&text.to_lowercase()));
            let mut any = Condition::any();
            for column in [lead::Column::Name, lead::Column::Email, lead::Column::Company] {
                any = any
                    .add(Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\')));
            }
            all = all.add(any);
        }
        boolean_ops(all, &self.and, &self.or, &self.not, |f| f.condition())
    }
}

#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum LeadOrderField {
    Score,
    /// Same as SCORE: priority is derived from the score.
    Priority,
    CreatedAt,
    Name,
}

#[derive(InputObject, Clone, Copy)]
pub struct LeadOrder {
    pub field: LeadOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

#[derive(Default)]
pub struct LeadQuery;

#[Object]
impl LeadQuery {
    /// Leads of the workspace. Default: highest score first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<LeadFilter>,
        order_by: Option<Vec<LeadOrder>>,
    ) -> async_graphql::Result<Page<Lead>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let mut query = service::query(principal.workspace_id());
        if let Some(filter) = &filter {
            query = query.filter(filter.condition()?);
        }
        let order = order_by
            .unwrap_or_else(|| vec![LeadOrder { field: LeadOrderField::Score, direction: SortDirection::Desc }])
            .into_iter()
            .map(|o| {
                let column = match o.field {
                    LeadOrderField::Score | LeadOrderField::Priority => lead::Column::Score,
                    LeadOrderField::CreatedAt => lead::Column::CreatedAt,
                    LeadOrderField::Name => lead::Column::Name,
                };
                SortKey::new(column, o.direction)
            })
            .collect();
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, lead::Column::Id, args, Lead).await?)
    }

    async fn lead(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Lead> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(Lead(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }
}

#[derive(InputObject)]
pub struct CreateLeadInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub source: AcquisitionSource,
    pub category: LeadCategory,
    pub owner_id: Option<ID>,
    /// The customer who referred this lead.
    pub referred_by_customer_id: Option<ID>,
    /// A customer's referral code (wins over `referredByCustomerId`). Both sides earn the
    /// workspace's referral points when this lead, as a customer, completes a first order.
    pub referral_code: Option<String>,
    pub profile: Option<ProfileInput>,
}

#[derive(InputObject)]
pub struct UpdateLeadInput {
    pub lead_id: ID,
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub company: MaybeUndefined<String>,
    pub source: Option<AcquisitionSource>,
    pub category: Option<LeadCategory>,
    pub profile: Option<ProfileInput>,
}

#[derive(InputObject)]
pub struct AssignLeadInput {
    pub lead_id: ID,
    /// Null unassigns.
    pub owner_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateLeadStatusInput {
    pub lead_id: ID,
    /// CONTACTED, QUALIFIED, NURTURING, or NEW (to requalify a disqualified lead).
    pub status: LeadStatus,
}

#[derive(InputObject)]
pub struct DisqualifyLeadInput {
    pub lead_id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct MarkLeadNotNowInput {
    pub lead_id: ID,
    pub until: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(InputObject)]
pub struct ConvertLeadInput {
    pub lead_id: ID,
    /// Link the lead to this existing customer instead of creating one.
    pub merge_into_customer_id: Option<ID>,
    /// Link to the one customer with the lead's email or phone.
    #[graphql(default)]
    pub merge: bool,
    /// Only report what would happen.
    #[graphql(default)]
    pub dry_run: bool,
}

#[derive(SimpleObject)]
pub struct LeadPayload {
    pub lead: Lead,
}

#[derive(SimpleObject)]
pub struct ConvertLeadPayload {
    pub lead: Lead,
    /// The customer created or merged into (for a dry run: the merge target, if any).
    pub customer: Option<Customer>,
    pub action: service::ConversionAction,
    /// Customer fields taken from the lead.
    pub filled_fields: Vec<String>,
    /// Existing customers with the lead's email or phone.
    pub duplicate_candidates: Vec<Customer>,
    pub dry_run: bool,
}

fn optional_id(id: &Option<ID>, field: &str) -> AppResult<Option<uuid::Uuid>> {
    id.as_ref().map(|id| parse_id(id, field)).transpose()
}

#[derive(Default)]
pub struct LeadMutation;

#[Object]
impl LeadMutation {
    async fn create_lead(&self, ctx: &Context<'_>, input: CreateLeadInput) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let new = service::NewLead {
            name: input.name,
            email: input.email,
            phone: input.phone,
            company: input.company,
            source: input.source,
            category: input.category,
            owner_id: optional_id(&input.owner_id, "input.ownerId")?,
            referred_by_customer_id: optional_id(&input.referred_by_customer_id, "input.referredByCustomerId")?,
            referral_code: input.referral_code,
            profile: input.profile.unwrap_or_default(),
        };
        let lead = transact(state(ctx).db(), async |txn| {
            service::create(txn, principal.workspace_id(), principal.actor(), new).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    /// Changes a lead (not once converted): absent fields are kept, `null` clears.
    async fn update_lead(&self, ctx: &Context<'_>, input: UpdateLeadInput) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let changes = service::LeadChanges {
            name: input.name,
            email: input.email,
            phone: input.phone,
            company: input.company,
            source: input.source,
            category: input.category,
            profile: input.profile,
        };
        let lead = transact(state(ctx).db(), async |txn| {
            service::update(txn, principal.workspace_id(), principal.actor(), id, changes).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    async fn assign_lead(&self, ctx: &Context<'_>, input: AssignLeadInput) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let owner = optional_id(&input.owner_id, "input.ownerId")?;
        let lead = transact(state(ctx).db(), async |txn| {
            service::assign(txn, principal.workspace_id(), principal.actor(), id, owner).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    /// Moves a lead along NEW → CONTACTED → QUALIFIED ⇄ NURTURING (`INVALID_TRANSITION` otherwise).
    async fn update_lead_status(
        &self,
        ctx: &Context<'_>,
        input: UpdateLeadStatusInput,
    ) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let lead = transact(state(ctx).db(), async |txn| {
            service::set_status(txn, principal.workspace_id(), principal.actor(), id, input.status).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    async fn disqualify_lead(
        &self,
        ctx: &Context<'_>,
        input: DisqualifyLeadInput,
    ) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let lead = transact(state(ctx).db(), async |txn| {
            service::disqualify(txn, principal.workspace_id(), principal.actor(), id, &input.reason).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    /// "Not now": nurture the lead and revisit it on `until`.
    async fn mark_lead_not_now(
        &self,
        ctx: &Context<'_>,
        input: MarkLeadNotNowInput,
    ) -> async_graphql::Result<LeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let lead = transact(state(ctx).db(), async |txn| {
            service::not_now(txn, principal.workspace_id(), principal.actor(), id, input.until, input.reason).await
        })
        .await?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    /// Turns a lead into a customer in one transaction (or, with `dryRun`, says what would happen).
    async fn convert_lead(
        &self,
        ctx: &Context<'_>,
        input: ConvertLeadInput,
    ) -> async_graphql::Result<ConvertLeadPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.lead_id, "input.leadId")?;
        let options = service::ConvertOptions {
            merge_into: optional_id(&input.merge_into_customer_id, "input.mergeIntoCustomerId")?,
            merge: input.merge,
            dry_run: input.dry_run,
        };
        let conversion = transact(state(ctx).db(), async |txn| {
            service::convert(txn, principal.workspace_id(), principal.actor(), id, options).await
        })
        .await?;
        Ok(ConvertLeadPayload {
            lead: Lead(conversion.lead),
            customer: conversion.customer.map(Customer),
            action: conversion.action,
            filled_fields: conversion.filled_fields,
            duplicate_candidates: conversion.duplicate_candidates.into_iter().map(Customer).collect(),
            dry_run: conversion.dry_run,
        })
    }
}
