//! Loyalty programme: accounts, the points ledger, tiers. Points are integers; every balance
//! change is a ledger row (see `service`).

pub mod service;

use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    audit_log::ActorKind,
    loyalty_account,
    points_transaction::{self, PointsKind},
    tier, tier_change,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::{
    audit,
    auth::{Permission, Principal},
    child_relation,
    customers::{Customer, CustomerLoader},
    graphql::{
        AppError, AppResult, authorize,
        children::children_page,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        ids::{new_id, parse_id, to_id},
        loader, state, transact,
    },
    workspaces,
};

#[derive(Clone)]
pub struct LoyaltyAccount(pub loyalty_account::Model);

/// The next rung of the ladder and what it takes.
#[derive(SimpleObject)]
pub struct NextTier {
    pub tier: Tier,
    pub points_needed: i64,
}

#[Object]
impl LoyaltyAccount {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        loader::<CustomerLoader>(ctx)?.load_one(self.0.customer_id).await
    }
    /// Spendable points; always the sum of the ledger.
    async fn points_balance(&self) -> i64 {
        self.0.points_balance
    }
    /// Everything ever earned; never decreases.
    async fn lifetime_points(&self) -> i64 {
        self.0.lifetime_points
    }
    /// Points owed from reversed orders whose points were already spent; kept from future earnings.
    async fn debt_points(&self) -> i64 {
        self.0.debt_points
    }
    /// Share this code: referrals reward both sides.
    async fn referral_code(&self) -> &str {
        &self.0.referral_code
    }
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Tier>> {
        match self.0.tier_id {
            Some(id) => Ok(loader::<TierLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    /// The next tier up and the lifetime points still needed; null at the top.
    async fn next_tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NextTier>> {
        let tiers = service::tiers(state(ctx).db(), self.0.workspace_id).await?;
        let current_rank = self.0.tier_id.and_then(|id| tiers.iter().find(|t| t.id == id)).map_or(i32::MIN, |t| t.rank);
        Ok(tiers
            .into_iter()
            .filter(|t| t.rank > current_rank)
            .min_by_key(|t| t.rank)
            .map(|t| NextTier { points_needed: (t.min_points - self.0.lifetime_points).max(0), tier: Tier(t) }))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The ledger, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<PointsTransaction>> {
        children_page::<AccountLedger, _>(ctx, self.0.id, PageArgs { first, after, last, before }, PointsTransaction)
            .await
    }
    /// Moves up and down the ladder, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn tier_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<TierChange>> {
        children_page::<AccountTierHistory, _>(ctx, self.0.id, PageArgs { first, after, last, before }, TierChange)
            .await
    }
}

child_relation!(
    /// An account's ledger, newest first.
    AccountLedger,
    points_transaction,
    AccountId,
    CreatedAt,
    Desc
);

child_relation!(
    /// An account's tier changes, newest first.
    AccountTierHistory,
    tier_change,
    AccountId,
    CreatedAt,
    Desc
);

pub struct PointsTransaction(pub points_transaction::Model);

#[Object]
impl PointsTransaction {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn kind(&self) -> PointsKind {
        self.0.kind
    }
    /// Signed: positive earns, negative spends.
    async fn points(&self) -> i64 {
        self.0.points
    }
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(to_id)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key.as_deref()
    }
    async fn actor_kind(&self) -> ActorKind {
        self.0.actor_kind
    }
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(to_id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct TierChange(pub tier_change::Model);

#[Object]
impl TierChange {
    #[graphql(name = "fromTier")]
    async fn previous_tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Tier>> {
        match self.0.from_tier_id {
            Some(id) => loader::<TierLoader>(ctx)?.load_one(id).await,
            None => Ok(None),
        }
    }
    #[graphql(name = "toTier")]
    async fn new_tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Tier>> {
        match self.0.to_tier_id {
            Some(id) => loader::<TierLoader>(ctx)?.load_one(id).await,
            None => Ok(None),
        }
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Clone)]
pub struct Tier(pub tier::Model);

#[Object]
impl Tier {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Higher is better.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// Lifetime points that qualify.
    async fn min_points(&self) -> i64 {
        self.0.min_points
    }
    /// Purchase points are multiplied by this / 100 (150 = ×1.5).
    async fn multiplier_percent(&self) -> i32 {
        self.0.multiplier_percent
    }
    async fn perks(&self) -> Vec<String> {
        serde_json::from_value(self.0.perks.clone()).unwrap_or_default()
    }
}

pub struct TierLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<Uuid> for TierLoader {
    type Value = Tier;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Tier>, Self::Error> {
        let rows = tier::Entity::find()
            .filter(tier::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|t| (t.id, Tier(t))).collect())
    }
}

/// Batches "the account of this customer" lookups of one request.
pub struct AccountByCustomerLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<Uuid> for AccountByCustomerLoader {
    type Value = LoyaltyAccount;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, LoyaltyAccount>, Self::Error> {
        let rows = loyalty_account::Entity::find()
            .filter(loyalty_account::Column::CustomerId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|a| (a.customer_id, LoyaltyAccount(a))).collect())
    }
}

#[derive(Default)]
pub struct LoyaltyQuery;

#[Object]
impl LoyaltyQuery {
    async fn loyalty_account(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<LoyaltyAccount> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(LoyaltyAccount(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }

    /// The VIP ladder, lowest rank first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn tiers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Tier>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let query = tier::Entity::find().filter(tier::Column::WorkspaceId.eq(principal.workspace_id()));
        let order = vec![SortKey::new(tier::Column::Rank, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, tier::Column::Id, args, Tier).await?)
    }
}

#[derive(InputObject)]
pub struct EnrollCustomerInput {
    pub customer_id: ID,
}

#[derive(SimpleObject)]
pub struct EnrollCustomerPayload {
    pub account: LoyaltyAccount,
    /// False when the customer already had an account (it is returned).
    pub created: bool,
}

#[derive(InputObject)]
pub struct CreateTierInput {
    pub name: String,
    pub rank: i32,
    pub min_points: i64,
    #[graphql(default = 100)]
    pub multiplier_percent: i32,
    #[graphql(default)]
    pub perks: Vec<String>,
}

#[derive(SimpleObject)]
pub struct TierPayload {
    pub tier: Tier,
}

#[derive(InputObject)]
pub struct ChangePointsInput {
    pub account_id: ID,
    /// Bonuses are positive; adjustments may be negative.
    pub points: i64,
    pub reason: String,
    /// Retrying with the same key never changes points twice.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct PointsPayload {
    pub account: LoyaltyAccount,
    pub transaction: PointsTransaction,
    /// True when this was a retry of a change already made.
    pub replayed: bool,
}

async fn create_tier<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    input: CreateTierInput,
) -> AppResult<tier::Model> {
    let name = crate::contact::normalize_name(&input.name, "input.name")?;
    if input.min_points < 0 {
        return Err(AppError::bad_input("input.minPoints", "cannot be negative"));
    }
    if !(100..=1000).contains(&input.multiplier_percent) {
        return Err(AppError::bad_input("input.multiplierPercent", "between 100 (×1) and 1000 (×10)"));
    }
    let taken = tier::Entity::find()
        .filter(tier::Column::WorkspaceId.eq(principal.workspace_id()))
        .filter(tier::Column::Rank.eq(input.rank))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!("a tier with rank {} exists", input.rank)));
    }
    let now = Utc::now();
    let row = tier::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(principal.workspace_id()),
        name: Set(name),
        rank: Set(input.rank),
        min_points: Set(input.min_points),
        multiplier_percent: Set(input.multiplier_percent),
        perks: Set(serde_json::json!(input.perks)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        principal.workspace_id(),
        principal.actor(),
        "tier.create",
        "tier",
        Some(row.id),
        serde_json::json!({ "name": row.name }),
    )
    .await?;
    Ok(row)
}

/// A manager's bonus or correction, audited.
async fn change_points<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    kind: PointsKind,
    input: ChangePointsInput,
) -> AppResult<service::Posted> {
    let id = parse_id(&input.account_id, "input.accountId")?;
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::bad_input("input.reason", "say why"));
    }
    if input.points == 0 || (kind == PointsKind::EarnBonus && input.points < 0) {
        return Err(AppError::bad_input(
            "input.points",
            "a bonus is a positive number of points; an adjustment is not zero",
        ));
    }
    let key = input.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::bad_input("input.idempotencyKey", "1 to 200 characters"));
    }
    let account = service::lock(db, principal.workspace_id(), id).await?;
    let settings = workspaces::service::settings(db, principal.workspace_id()).await?;
    let posting = service::Posting {
        kind,
        points: input.points,
        order_id: None,
        reason: Some(reason.clone()),
        idempotency_key: Some(format!("manual:{key}")),
        actor: principal.actor(),
    };
    let posted = service::post(db, account, posting, settings.allow_negative_balance, Utc::now()).await?;
    if !posted.replayed {
        let action = if kind == PointsKind::EarnBonus { "points.bonus" } else { "points.adjust" };
        let diff = serde_json::json!({ "points": input.points, "reason": reason });
        audit::record(db, principal.workspace_id(), principal.actor(), action, "loyalty_account", Some(id), diff)
            .await?;
    }
    Ok(posted)
}

fn payload(posted: service::Posted) -> PointsPayload {
    PointsPayload {
        account: LoyaltyAccount(posted.account),
        transaction: PointsTransaction(posted.transaction),
        replayed: posted.replayed,
    }
}

#[derive(Default)]
pub struct LoyaltyMutation;

#[Object]
impl LoyaltyMutation {
    /// Opens the customer's loyalty account (one per customer; enrolling twice returns it).
    async fn enroll_customer(
        &self,
        ctx: &Context<'_>,
        input: EnrollCustomerInput,
    ) -> async_graphql::Result<EnrollCustomerPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let customer_id = parse_id(&input.customer_id, "input.customerId")?;
        let (account, created) = transact(state(ctx).db(), async |txn| {
            service::enroll(txn, principal.workspace_id(), customer_id, Utc::now()).await
        })
        .await?;
        Ok(EnrollCustomerPayload { account: LoyaltyAccount(account), created })
    }

    /// Adds a rung to the VIP ladder (admins and managers).
    async fn create_tier(&self, ctx: &Context<'_>, input: CreateTierInput) -> async_graphql::Result<TierPayload> {
        let principal = authorize(ctx, Permission::ManageLoyalty)?;
        let tier = transact(state(ctx).db(), async |txn| create_tier(txn, principal, input).await).await?;
        Ok(TierPayload { tier: Tier(tier) })
    }

    /// Grants bonus points (admins and managers; audited).
    async fn award_bonus(&self, ctx: &Context<'_>, input: ChangePointsInput) -> async_graphql::Result<PointsPayload> {
        let principal = authorize(ctx, Permission::ManageLoyalty)?;
        let posted =
            transact(state(ctx).db(), async |txn| change_points(txn, principal, PointsKind::EarnBonus, input).await)
                .await?;
        Ok(payload(posted))
    }

    /// Corrects a balance either way (admins and managers; audited).
    async fn adjust_points(&self, ctx: &Context<'_>, input: ChangePointsInput) -> async_graphql::Result<PointsPayload> {
        let principal = authorize(ctx, Permission::ManageLoyalty)?;
        let posted =
            transact(state(ctx).db(), async |txn| change_points(txn, principal, PointsKind::Adjust, input).await)
                .await?;
        Ok(payload(posted))
    }
}
