//! Loyalty programme: accounts, the points ledger, tiers. Points are integers; every balance
//! change is a ledger row (see `service`).

pub mod expiry;
pub mod referrals;
pub mod rewards;
pub mod service;

use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    audit_log::ActorKind,
    loyalty_account,
    points_transaction::{self, PointsKind},
    redemption::{self, RedemptionStatus},
    referral::{self, ReferralStatus},
    reward::{self, RewardKind},
    tier, tier_change,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::{
    audit,
    auth::{Actor, Permission, Principal},
    child_relation,
    customers::{Customer, CustomerLoader},
    graphql::{
        AppError, AppResult, authorize, authorize_or_customer,
        children::children_page,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        ids::{new_id, parse_id, to_id},
        loader, state, transact,
    },
    workspaces,
};

/// The furthest `expiringPoints(days:)` looks ahead (ten years).
pub const MAX_EXPIRING_DAYS: u32 = 3650;

#[derive(Clone)]
pub struct LoyaltyAccount(pub loyalty_account::Model);

#[derive(SimpleObject)]
pub struct ExpiringPoints {
    pub expires_at: DateTime<Utc>,
    pub points: i64,
}

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
    /// Staff only: customers signed in to an app see their own data through `myAccount`.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        authorize(ctx, Permission::ReadCustomers)?;
        loader::<CustomerLoader>(ctx)?.load_one(self.0.customer_id).await
    }
    /// Spendable points; always the sum of the ledger.
    async fn points_balance(&self) -> i64 {
        self.0.points_balance
    }
    /// Earned but not spendable yet (the workspace's pending period, e.g. a returns window).
    async fn pending_points(&self) -> i64 {
        self.0.pending_points
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
    /// The points that count towards a tier under the workspace's rule (`tierQualification`):
    /// lifetime points, or points earned in the last 12 months net of reversals.
    async fn qualifying_points(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let db = state(ctx).db();
        let settings = workspaces::service::settings(db, self.0.workspace_id).await?;
        Ok(service::qualifying_points(db, &self.0, &settings, Utc::now()).await?)
    }
    /// The next tier up and the qualifying points still needed; null at the top.
    async fn next_tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NextTier>> {
        let db = state(ctx).db();
        let settings = workspaces::service::settings(db, self.0.workspace_id).await?;
        let points = service::qualifying_points(db, &self.0, &settings, Utc::now()).await?;
        let tiers = service::tiers(db, self.0.workspace_id).await?;
        let current_rank = self.0.tier_id.and_then(|id| tiers.iter().find(|t| t.id == id)).map_or(i32::MIN, |t| t.rank);
        Ok(tiers
            .into_iter()
            .filter(|t| t.rank > current_rank)
            .min_by_key(|t| t.rank)
            .map(|t| NextTier { points_needed: (t.min_points - points).max(0), tier: Tier(t) }))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Points that will expire within `days` (oldest spent first), by expiry time.
    async fn expiring_points(&self, ctx: &Context<'_>, days: u32) -> async_graphql::Result<Vec<ExpiringPoints>> {
        let ledger = expiry::ledger_of(state(ctx).db(), self.0.id).await?;
        if !(1..=MAX_EXPIRING_DAYS).contains(&days) {
            return Err(AppError::bad_input("days", format!("from 1 to {MAX_EXPIRING_DAYS} days")).into());
        }
        let until = Utc::now() + chrono::Duration::days(days.into());
        Ok(expiry::expiring(&ledger, until)
            .into_iter()
            .map(|(expires_at, points)| ExpiringPoints { expires_at, points })
            .collect())
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
    /// Rewards bought and their coupons, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn redemptions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Redemption>> {
        children_page::<AccountRedemptions, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Redemption)
            .await
    }
    /// Customers and leads this account referred, newest first (status PENDING, QUALIFIED,
    /// REWARDED, or REFUSED with the reason).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Referral>> {
        children_page::<AccountReferrals, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Referral).await
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

child_relation!(
    /// The referrals an account made, newest first.
    AccountReferrals,
    referral,
    ReferrerAccountId,
    CreatedAt,
    Desc
);

/// A referee brought in with an account's referral code.
pub struct Referral(pub referral::Model);

#[Object]
impl Referral {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn status(&self) -> ReferralStatus {
        self.0.status
    }
    /// Why a REFUSED referral will never pay (self-referral, loop, shared email or phone, …).
    async fn refusal_reason(&self) -> Option<&str> {
        self.0.refusal_reason.as_deref()
    }
    async fn referrer(&self, ctx: &Context<'_>) -> async_graphql::Result<LoyaltyAccount> {
        Ok(LoyaltyAccount(service::get(state(ctx).db(), self.0.workspace_id, self.0.referrer_account_id).await?))
    }
    /// Staff only: the referred customer.
    async fn referee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        authorize(ctx, Permission::ReadCustomers)?;
        match self.0.referee_customer_id {
            Some(id) => loader::<CustomerLoader>(ctx)?.load_one(id).await,
            None => Ok(None),
        }
    }
    /// The referred lead, while (or before) it became a customer.
    async fn referee_lead_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        authorize(ctx, Permission::ReadCustomers)?;
        Ok(self.0.referee_lead_id.map(to_id))
    }
    async fn qualifying_order_id(&self) -> Option<ID> {
        self.0.qualifying_order_id.map(to_id)
    }
    async fn qualified_at(&self) -> Option<DateTime<Utc>> {
        self.0.qualified_at
    }
    /// When the rewards are paid if the qualifying order is still completed then.
    async fn reward_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.reward_due_at
    }
    async fn rewarded_at(&self) -> Option<DateTime<Utc>> {
        self.0.rewarded_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

child_relation!(
    /// An account's redemptions, newest first.
    AccountRedemptions,
    redemption,
    AccountId,
    CreatedAt,
    Desc
);

#[derive(Clone)]
pub struct Reward(pub reward::Model);

crate::id_loader!(
    /// Batches reward lookups of one request (a page of redemptions).
    RewardLoader,
    reward,
    Reward
);

#[Object]
impl Reward {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn kind(&self) -> RewardKind {
        self.0.kind
    }
    /// PERCENT_DISCOUNT: the percentage; AMOUNT_DISCOUNT: the amount in the workspace currency.
    async fn value(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<rust_decimal::Decimal>> {
        let Some(value) = self.0.value else { return Ok(None) };
        if self.0.kind != RewardKind::AmountDiscount {
            return Ok(Some(value.into()));
        }
        let workspace = workspaces::service::get(state(ctx).db(), self.0.workspace_id).await?;
        Ok(Some(crate::money::from_minor(value, &workspace.currency)))
    }
    async fn cost_points(&self) -> i64 {
        self.0.cost_points
    }
    /// Only accounts at this tier rank or above can redeem it.
    async fn min_tier_rank(&self) -> Option<i32> {
        self.0.min_tier_rank
    }
    /// Left in stock; null is unlimited.
    async fn stock(&self) -> Option<i64> {
        self.0.stock
    }
    async fn active_from(&self) -> Option<DateTime<Utc>> {
        self.0.active_from
    }
    async fn active_to(&self) -> Option<DateTime<Utc>> {
        self.0.active_to
    }
    async fn coupon_valid_days(&self) -> i32 {
        self.0.coupon_valid_days
    }
}

pub struct Redemption(pub redemption::Model);

#[Object]
impl Redemption {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn reward(&self, ctx: &Context<'_>) -> async_graphql::Result<Reward> {
        loader::<RewardLoader>(ctx)?
            .load_one(self.0.reward_id)
            .await?
            .ok_or_else(|| AppError::not_found("reward").into())
    }
    async fn account_id(&self) -> ID {
        to_id(self.0.account_id)
    }
    async fn points(&self) -> i64 {
        self.0.points
    }
    async fn coupon_code(&self) -> &str {
        &self.0.coupon_code
    }
    /// ISSUED until used, cancelled or past `expiresAt`.
    async fn status(&self) -> RedemptionStatus {
        match self.0.status {
            RedemptionStatus::Issued if self.0.expires_at <= Utc::now() => RedemptionStatus::Expired,
            status => status,
        }
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn used_at(&self) -> Option<DateTime<Utc>> {
        self.0.used_at
    }
    async fn used_order_id(&self) -> Option<ID> {
        self.0.used_order_id.map(to_id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Whether a coupon can be used, and why not.
#[derive(SimpleObject)]
pub struct CouponCheck {
    pub valid: bool,
    pub reason: Option<String>,
    pub redemption: Redemption,
}

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
    /// True while the points wait for their pending period; they count in `pendingPoints`, not the balance.
    async fn pending(&self) -> bool {
        self.0.pending
    }
    /// When the points became (or become) spendable.
    async fn available_at(&self) -> Option<DateTime<Utc>> {
        self.0.available_at
    }
    /// When what is left of these earned points expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
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

crate::id_loader!(TierLoader, tier, Tier);

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
    /// The workspace's referrals, newest first; `status: REFUSED` lists the flagged ones to review.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<ReferralStatus>,
    ) -> async_graphql::Result<Page<Referral>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let mut query = referral::Entity::find().filter(referral::Column::WorkspaceId.eq(principal.workspace_id()));
        if let Some(status) = status {
            query = query.filter(referral::Column::Status.eq(status));
        }
        let order = vec![SortKey::new(referral::Column::CreatedAt, SortDirection::Desc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, referral::Column::Id, args, Referral).await?)
    }

    async fn loyalty_account(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<LoyaltyAccount> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(LoyaltyAccount(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }

    /// The reward catalogue, cheapest first. With `accountId`: only what that account may see
    /// (its tier) and can afford now.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn rewards(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        account_id: Option<ID>,
    ) -> async_graphql::Result<Page<Reward>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let query = match &account_id {
            Some(id) => {
                let account = service::get(db, principal.workspace_id(), parse_id(id, "accountId")?).await?;
                rewards::affordable(db, &account, Utc::now()).await?
            }
            None => reward::Entity::find().filter(reward::Column::WorkspaceId.eq(principal.workspace_id())),
        };
        let order = vec![SortKey::new(reward::Column::CostPoints, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(db, query, order, reward::Column::Id, args, Reward).await?)
    }

    /// Checks a coupon code without using it.
    async fn validate_coupon(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<CouponCheck> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let coupon = rewards::find_coupon(state(ctx).db(), principal.workspace_id(), &code).await?;
        let reason = rewards::unusable_reason(&coupon, Utc::now());
        Ok(CouponCheck { valid: reason.is_none(), reason: reason.map(str::to_owned), redemption: Redemption(coupon) })
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
pub struct RewardInput {
    pub name: String,
    pub description: Option<String>,
    pub kind: RewardKind,
    /// PERCENT_DISCOUNT: 1–100; AMOUNT_DISCOUNT: an amount in the workspace currency.
    pub value: Option<rust_decimal::Decimal>,
    pub cost_points: i64,
    pub min_tier_rank: Option<i32>,
    /// Null is unlimited.
    pub stock: Option<i64>,
    pub active_from: Option<DateTime<Utc>>,
    pub active_to: Option<DateTime<Utc>>,
    #[graphql(default = 30)]
    pub coupon_valid_days: i32,
}

#[derive(InputObject)]
pub struct UpdateRewardInput {
    pub reward_id: ID,
    pub reward: RewardInput,
}

#[derive(SimpleObject)]
pub struct RewardPayload {
    pub reward: Reward,
}

#[derive(InputObject)]
pub struct RedeemRewardInput {
    pub account_id: ID,
    pub reward_id: ID,
    /// Retrying with the same key returns the same redemption and never spends twice.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct RedemptionPayload {
    pub redemption: Redemption,
    pub account: LoyaltyAccount,
    /// False when this was a retry of an earlier redemption.
    pub created: bool,
}

#[derive(InputObject)]
pub struct UseCouponInput {
    pub code: String,
    pub order_id: ID,
}

#[derive(InputObject)]
pub struct CancelRedemptionInput {
    pub redemption_id: ID,
}

async fn reward_fields<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    input: RewardInput,
) -> AppResult<rewards::RewardInput> {
    let value = match (input.kind, input.value) {
        (RewardKind::AmountDiscount, Some(amount)) => {
            let workspace = workspaces::service::get(db, workspace_id).await?;
            Some(crate::money::to_minor(amount, &workspace.currency, "input.value")?)
        }
        (_, Some(value)) => Some(
            i64::try_from(value.trunc().mantissa())
                .ok()
                .filter(|_| value.fract().is_zero())
                .ok_or_else(|| AppError::bad_input("input.value", "a whole percentage"))?,
        ),
        (_, None) => None,
    };
    Ok(rewards::RewardInput {
        name: input.name,
        description: input.description,
        kind: input.kind,
        value,
        cost_points: input.cost_points,
        min_tier_rank: input.min_tier_rank,
        stock: input.stock,
        active_from: input.active_from,
        active_to: input.active_to,
        coupon_valid_days: input.coupon_valid_days,
    })
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

/// Adds a tier; also used by the demo seed.
pub async fn create_tier<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: CreateTierInput,
) -> AppResult<tier::Model> {
    let name = crate::contact::normalize_name(&input.name, "input.name")?;
    if !(0..=service::MAX_POINTS).contains(&input.min_points) {
        return Err(AppError::bad_input("input.minPoints", format!("from 0 to {} points", service::MAX_POINTS)));
    }
    if !(100..=1000).contains(&input.multiplier_percent) {
        return Err(AppError::bad_input("input.multiplierPercent", "between 100 (×1) and 1000 (×10)"));
    }
    let taken = tier::Entity::find()
        .filter(tier::Column::WorkspaceId.eq(workspace_id))
        .filter(tier::Column::Rank.eq(input.rank))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!("a tier with rank {} exists", input.rank)));
    }
    let now = Utc::now();
    let row = tier::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
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
        workspace_id,
        actor,
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
    service::check_points(input.points, "input.points")?;
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
        lot_id: None,
        points: input.points,
        order_id: None,
        reason: Some(reason.clone()),
        idempotency_key: Some(format!("manual:{key}")),
        available_at: None,
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
        let tier = transact(state(ctx).db(), async |txn| {
            create_tier(txn, principal.workspace_id(), principal.actor(), input).await
        })
        .await?;
        Ok(TierPayload { tier: Tier(tier) })
    }

    /// Adds a reward to the catalogue (admins and managers).
    async fn create_reward(&self, ctx: &Context<'_>, input: RewardInput) -> async_graphql::Result<RewardPayload> {
        let principal = authorize(ctx, Permission::ManageLoyalty)?;
        let ws = principal.workspace_id();
        let reward = transact(state(ctx).db(), async |txn| {
            let fields = reward_fields(txn, ws, input).await?;
            rewards::save(txn, ws, None, fields).await
        })
        .await?;
        Ok(RewardPayload { reward: Reward(reward) })
    }

    /// Replaces a reward's fields (admins and managers); issued coupons keep their terms.
    async fn update_reward(&self, ctx: &Context<'_>, input: UpdateRewardInput) -> async_graphql::Result<RewardPayload> {
        let principal = authorize(ctx, Permission::ManageLoyalty)?;
        let ws = principal.workspace_id();
        let id = parse_id(&input.reward_id, "input.rewardId")?;
        let reward = transact(state(ctx).db(), async |txn| {
            let fields = reward_fields(txn, ws, input.reward).await?;
            rewards::save(txn, ws, Some(id), fields).await
        })
        .await?;
        Ok(RewardPayload { reward: Reward(reward) })
    }

    /// Buys a reward with points and issues its coupon; safe to retry with the same key.
    async fn redeem_reward(
        &self,
        ctx: &Context<'_>,
        input: RedeemRewardInput,
    ) -> async_graphql::Result<RedemptionPayload> {
        let principal = authorize_or_customer(ctx, Permission::WriteCustomers)?;
        let ws = principal.workspace_id();
        let account_id = parse_id(&input.account_id, "input.accountId")?;
        let reward_id = parse_id(&input.reward_id, "input.rewardId")?;
        if let Some(customer_id) = principal.customer_id() {
            // Customers redeem for themselves only; another account does not exist for them.
            let account = service::get(state(ctx).db(), ws, account_id).await?;
            if account.customer_id != customer_id {
                return Err(AppError::not_found("loyalty account").into());
            }
        }
        let (redemption, account, created) = transact(state(ctx).db(), async |txn| {
            let (redemption, created) =
                rewards::redeem(txn, ws, account_id, reward_id, &input.idempotency_key, principal.actor(), Utc::now())
                    .await?;
            Ok((redemption, service::get(txn, ws, account_id).await?, created))
        })
        .await?;
        Ok(RedemptionPayload { redemption: Redemption(redemption), account: LoyaltyAccount(account), created })
    }

    /// Uses a coupon on an order, once (shops and POS systems); a used, cancelled or expired coupon is
    /// INVALID_TRANSITION.
    async fn use_coupon(&self, ctx: &Context<'_>, input: UseCouponInput) -> async_graphql::Result<Redemption> {
        let principal = authorize(ctx, Permission::WriteOrders)?;
        let order_id = parse_id(&input.order_id, "input.orderId")?;
        let used = transact(state(ctx).db(), async |txn| {
            rewards::use_coupon(txn, principal.workspace_id(), &input.code, order_id, Utc::now()).await
        })
        .await?;
        Ok(Redemption(used))
    }

    /// Cancels an unused coupon: the points come back and the stock is restored; a used or cancelled
    /// one is INVALID_TRANSITION.
    async fn cancel_redemption(
        &self,
        ctx: &Context<'_>,
        input: CancelRedemptionInput,
    ) -> async_graphql::Result<RedemptionPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let ws = principal.workspace_id();
        let id = parse_id(&input.redemption_id, "input.redemptionId")?;
        let (redemption, account) = transact(state(ctx).db(), async |txn| {
            let redemption = rewards::cancel(txn, ws, id, principal.actor(), Utc::now()).await?;
            let account = service::get(txn, ws, redemption.account_id).await?;
            Ok((redemption, account))
        })
        .await?;
        Ok(RedemptionPayload { redemption: Redemption(redemption), account: LoyaltyAccount(account), created: false })
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

#[derive(Default)]
pub struct LoyaltySubscription;

#[async_graphql::Subscription]
impl LoyaltySubscription {
    /// The account each time its balance, pending points, debt or tier changes (apps showing the
    /// balance). Staff with customer access, or the account's own customer.
    async fn loyalty_account_changed(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
    ) -> async_graphql::Result<impl futures_util::Stream<Item = async_graphql::Result<LoyaltyAccount>> + use<>> {
        let principal = crate::graphql::authorize_or_customer(ctx, Permission::ReadCustomers)?;
        let workspace_id = principal.workspace_id();
        let account_id = parse_id(&account_id, "accountId")?;
        let app = state(ctx).clone();
        let account = service::get(app.db(), workspace_id, account_id).await?;
        if principal.customer_id().is_some_and(|id| id != account.customer_id) {
            return Err(AppError::not_found("loyalty account").into());
        }
        let receiver = app.events().subscribe();
        Ok(futures_util::stream::unfold((receiver, app), move |(mut receiver, app)| async move {
            loop {
                let event = match crate::events::next_of_workspace(&mut receiver, workspace_id).await? {
                    Ok(event) => event,
                    Err(missed) => return Some((Err(missed.into()), (receiver, app))),
                };
                if *event != (crate::events::Event::LoyaltyAccountChanged { workspace_id, account_id }) {
                    continue;
                }
                match service::get(app.db(), workspace_id, account_id).await {
                    Ok(account) => return Some((Ok(LoyaltyAccount(account)), (receiver, app))),
                    // Merged away or deleted: nothing more will come.
                    Err(AppError::NotFound { .. }) => return None,
                    Err(err) => tracing::warn!(error = ?err, "cannot load a changed loyalty account"),
                }
            }
        }))
    }
}
