//! Rewards and coupons: the catalogue, redemption (points, tier, stock and window checked
//! atomically; retries return the same redemption), coupon validation, single use, cancellation.

use chrono::{DateTime, Duration, Utc};
use entity::{
    loyalty_account, order,
    points_transaction::PointsKind,
    redemption::{self, RedemptionStatus},
    reward::{self, RewardKind},
    tier,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    sea_query::Expr,
};
use uuid::Uuid;

use super::service::{self, Posting};
use crate::{
    auth::Actor,
    graphql::{AppError, AppResult, ids::new_id},
};

pub struct RewardInput {
    pub name: String,
    pub description: Option<String>,
    pub kind: RewardKind,
    pub value: Option<i64>,
    pub cost_points: i64,
    pub min_tier_rank: Option<i32>,
    pub stock: Option<i64>,
    pub active_from: Option<DateTime<Utc>>,
    pub active_to: Option<DateTime<Utc>>,
    pub coupon_valid_days: i32,
}

fn validate(input: &RewardInput) -> AppResult<String> {
    let name = crate::contact::normalize_name(&input.name, "input.name")?;
    if !(1..=service::MAX_POINTS).contains(&input.cost_points) {
        return Err(AppError::bad_input(
            "input.costPoints",
            format!("a reward costs from 1 to {} points", service::MAX_POINTS),
        ));
    }
    match (input.kind, input.value) {
        (RewardKind::PercentDiscount, Some(v)) if (1..=100).contains(&v) => {}
        (RewardKind::PercentDiscount, _) => {
            return Err(AppError::bad_input("input.value", "a percentage from 1 to 100"));
        }
        (RewardKind::AmountDiscount, Some(v)) if v > 0 => {}
        (RewardKind::AmountDiscount, _) => return Err(AppError::bad_input("input.value", "a positive amount")),
        _ => {}
    }
    if input.stock.is_some_and(|s| s < 0) {
        return Err(AppError::bad_input("input.stock", "cannot be negative"));
    }
    if let (Some(from), Some(to)) = (input.active_from, input.active_to)
        && to <= from
    {
        return Err(AppError::bad_input("input.activeTo", "must be after activeFrom"));
    }
    if !(1..=3650).contains(&input.coupon_valid_days) {
        return Err(AppError::bad_input("input.couponValidDays", "from 1 to 3650 days"));
    }
    Ok(name)
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<reward::Model> {
    reward::Entity::find_by_id(id)
        .filter(reward::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("reward"))
}

/// Creates a reward, or replaces the fields of `existing`.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    existing: Option<Uuid>,
    input: RewardInput,
) -> AppResult<reward::Model> {
    let name = validate(&input)?;
    let now = Utc::now();
    let mut row = match existing {
        Some(id) => get(db, workspace_id, id).await?.into(),
        None => reward::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.name = Set(name);
    row.description = Set(input.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()));
    row.kind = Set(input.kind);
    row.value = Set(input.value);
    row.cost_points = Set(input.cost_points);
    row.min_tier_rank = Set(input.min_tier_rank);
    row.stock = Set(input.stock);
    row.active_from = Set(input.active_from);
    row.active_to = Set(input.active_to);
    row.coupon_valid_days = Set(input.coupon_valid_days);
    row.updated_at = Set(now);
    Ok(if existing.is_some() { row.update(db).await? } else { row.insert(db).await? })
}

/// The account's tier rank (0 without a tier).
pub async fn tier_rank<C: ConnectionTrait>(db: &C, account: &loyalty_account::Model) -> AppResult<i32> {
    Ok(match account.tier_id {
        Some(id) => tier::Entity::find_by_id(id).one(db).await?.map_or(0, |t| t.rank),
        None => 0,
    })
}

/// The workspace's rewards `account` may see (its tier) and can afford now, in stock and active.
pub async fn affordable<C: ConnectionTrait>(
    db: &C,
    account: &loyalty_account::Model,
    now: DateTime<Utc>,
) -> AppResult<sea_orm::Select<reward::Entity>> {
    let rank = tier_rank(db, account).await?;
    Ok(reward::Entity::find()
        .filter(reward::Column::WorkspaceId.eq(account.workspace_id))
        .filter(reward::Column::CostPoints.lte(account.points_balance))
        .filter(reward::Column::MinTierRank.is_null().or(reward::Column::MinTierRank.lte(rank)))
        .filter(reward::Column::ActiveFrom.is_null().or(reward::Column::ActiveFrom.lte(now)))
        .filter(reward::Column::ActiveTo.is_null().or(reward::Column::ActiveTo.gt(now)))
        .filter(reward::Column::Stock.is_null().or(reward::Column::Stock.gt(0))))
}

pub fn is_active(reward: &reward::Model, now: DateTime<Utc>) -> bool {
    reward.active_from.is_none_or(|from| from <= now) && reward.active_to.is_none_or(|to| now < to)
}

/// Buys `reward_id` with points and issues a coupon. Checks and writes happen with the account
/// locked (PostgreSQL) or the database write-locked (SQLite); stock is taken with a conditional
/// update that never goes below zero. The same `idempotency_key` returns the first redemption.
pub async fn redeem<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    account_id: Uuid,
    reward_id: Uuid,
    idempotency_key: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> AppResult<(redemption::Model, bool)> {
    let key = idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::bad_input("input.idempotencyKey", "1 to 200 characters"));
    }
    // Lock first, then look for an earlier attempt: a concurrent retry waits for the first.
    let account = service::lock(db, workspace_id, account_id).await?;
    let earlier = redemption::Entity::find()
        .filter(redemption::Column::WorkspaceId.eq(workspace_id))
        .filter(redemption::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?;
    if let Some(earlier) = earlier {
        if earlier.account_id != account.id || earlier.reward_id != reward_id {
            return Err(AppError::Conflict(format!("idempotency key `{key}` was used for another redemption")));
        }
        return Ok((earlier, false));
    }
    let reward = get(db, workspace_id, reward_id).await?;
    if !is_active(&reward, now) {
        return Err(AppError::InvalidTransition("this reward is not available now".to_owned()));
    }
    if reward.min_tier_rank.is_some_and(|min| min > 0)
        && tier_rank(db, &account).await? < reward.min_tier_rank.unwrap_or(0)
    {
        return Err(AppError::Forbidden("this reward is for a higher tier".to_owned()));
    }
    if account.points_balance < reward.cost_points {
        return Err(AppError::InsufficientPoints(format!(
            "the reward costs {} points; the account has {}",
            reward.cost_points, account.points_balance
        )));
    }
    if reward.stock.is_some() {
        let taken = reward::Entity::update_many()
            .col_expr(reward::Column::Stock, Expr::col(reward::Column::Stock).sub(1))
            .filter(reward::Column::Id.eq(reward.id))
            .filter(reward::Column::Stock.gt(0))
            .exec(db)
            .await?;
        if taken.rows_affected == 0 {
            return Err(AppError::Conflict("this reward is out of stock".to_owned()));
        }
    }
    let posting = Posting {
        lot_id: None,
        kind: PointsKind::Redeem,
        points: -reward.cost_points,
        order_id: None,
        reason: Some(format!("redeemed {}", reward.name)),
        idempotency_key: Some(format!("redeem:{key}")),
        available_at: None,
        actor,
    };
    service::post(db, account, posting, false, now).await?;
    let row = redemption::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        account_id: Set(account_id),
        reward_id: Set(reward.id),
        points: Set(reward.cost_points),
        coupon_code: Set(coupon_code()),
        status: Set(RedemptionStatus::Issued),
        expires_at: Set(now + Duration::days(reward.coupon_valid_days.into())),
        used_at: Set(None),
        used_order_id: Set(None),
        cancelled_at: Set(None),
        idempotency_key: Set(key.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok((row, true))
}

fn coupon_code() -> String {
    // 16 characters from 32: 80 bits, far beyond guessing.
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let raw: String = (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{}-{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12], &raw[12..16])
}

pub async fn find_coupon<C: ConnectionTrait>(db: &C, workspace_id: Uuid, code: &str) -> AppResult<redemption::Model> {
    redemption::Entity::find()
        .filter(redemption::Column::WorkspaceId.eq(workspace_id))
        .filter(redemption::Column::CouponCode.eq(code.trim().to_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("coupon"))
}

/// Why a coupon cannot be used now, if it cannot.
pub fn unusable_reason(coupon: &redemption::Model, now: DateTime<Utc>) -> Option<&'static str> {
    match coupon.status {
        RedemptionStatus::Used => Some("already used"),
        RedemptionStatus::Cancelled => Some("cancelled"),
        RedemptionStatus::Expired => Some("expired"),
        RedemptionStatus::Issued if coupon.expires_at <= now => Some("expired"),
        RedemptionStatus::Issued => None,
    }
}

/// Uses a coupon on an order, once: the status moves ISSUED → USED in one conditional update.
pub async fn use_coupon<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    code: &str,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<redemption::Model> {
    let coupon = find_coupon(db, workspace_id, code).await?;
    let order = order::Entity::find_by_id(order_id)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    if let Some(reason) = unusable_reason(&coupon, now) {
        return Err(AppError::InvalidTransition(format!("the coupon cannot be used: {reason}")));
    }
    let used = redemption::Entity::update_many()
        .col_expr(redemption::Column::Status, Expr::value(RedemptionStatus::Used))
        .col_expr(redemption::Column::UsedAt, Expr::value(now))
        .col_expr(redemption::Column::UsedOrderId, Expr::value(order.id))
        .col_expr(redemption::Column::UpdatedAt, Expr::value(now))
        .filter(redemption::Column::Id.eq(coupon.id))
        .filter(redemption::Column::Status.eq(RedemptionStatus::Issued))
        .exec(db)
        .await?;
    if used.rows_affected == 0 {
        return Err(AppError::InvalidTransition("the coupon cannot be used: already used".to_owned()));
    }
    find_coupon(db, workspace_id, code).await
}

/// Cancels an unused coupon: its points come back and the stock is restored.
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
    actor: Actor,
    now: DateTime<Utc>,
) -> AppResult<redemption::Model> {
    let coupon = redemption::Entity::find_by_id(id)
        .filter(redemption::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("redemption"))?;
    let account = service::lock(db, workspace_id, coupon.account_id).await?;
    let cancelled = redemption::Entity::update_many()
        .col_expr(redemption::Column::Status, Expr::value(RedemptionStatus::Cancelled))
        .col_expr(redemption::Column::CancelledAt, Expr::value(now))
        .col_expr(redemption::Column::UpdatedAt, Expr::value(now))
        .filter(redemption::Column::Id.eq(coupon.id))
        .filter(redemption::Column::Status.eq(RedemptionStatus::Issued))
        .exec(db)
        .await?;
    if cancelled.rows_affected == 0 {
        return Err(AppError::InvalidTransition("only an unused coupon can be cancelled".to_owned()));
    }
    let posting = Posting {
        lot_id: None,
        kind: PointsKind::Redeem,
        points: coupon.points,
        order_id: None,
        reason: Some("redemption cancelled".to_owned()),
        idempotency_key: Some(format!("redeem-cancel:{}", coupon.id)),
        available_at: None,
        actor,
    };
    service::post(db, account, posting, false, now).await?;
    reward::Entity::update_many()
        .col_expr(reward::Column::Stock, Expr::col(reward::Column::Stock).add(1))
        .filter(reward::Column::Id.eq(coupon.reward_id))
        .filter(reward::Column::Stock.is_not_null())
        .exec(db)
        .await?;
    redemption::Entity::find_by_id(id).one(db).await?.ok_or_else(|| AppError::not_found("redemption"))
}
