//! The points ledger. Every balance change is a ledger row written in the same transaction as
//! the balance, with the account row locked (PostgreSQL) or the database write-locked (SQLite,
//! `BEGIN IMMEDIATE`), so `points_balance == sum(ledger)` holds at every commit. Changes that
//! clients retry carry an idempotency key, unique per workspace.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    loyalty_account, order,
    points_transaction::{self, PointsKind},
    tier, tier_change,
};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, Func},
};
use uuid::Uuid;

use crate::{
    auth::Actor,
    customers,
    graphql::{AppError, AppResult, ids::new_id},
    money,
    workspaces::{
        self,
        settings::{PointsRounding, TierDowngrade, TierQualification, WorkspaceSettings},
    },
};

/// Referral codes: no look-alike characters; 32^10 ≈ 10^15 codes, so they cannot be guessed.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 10;

fn referral_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// Points a purchase earns: `amount × rate × multiplier`, in integers (no floats), rounded as
/// the workspace says. `exponent` is the currency's number of decimals.
pub fn purchase_points(
    amount_minor: i64,
    exponent: u32,
    rate: i64,
    multiplier_percent: i32,
    rounding: PointsRounding,
) -> i64 {
    let numerator = i128::from(amount_minor.max(0)) * i128::from(rate.max(0)) * i128::from(multiplier_percent.max(0));
    let denominator = 100 * 10_i128.pow(exponent);
    let points = match rounding {
        PointsRounding::Down => numerator / denominator,
        PointsRounding::Up => (numerator + denominator - 1) / denominator,
        PointsRounding::Nearest => (numerator + denominator / 2) / denominator,
    };
    // Capped: the rate and multiplier are bounded, but a maximal order at the top rate is not a reason to refuse it.
    i64::try_from(points).unwrap_or(i64::MAX).min(MAX_POINTS)
}

/// The most points one posting, reward, tier threshold or points setting may carry: far above any
/// real programme, and small enough that millions of postings still sum within an `i64`.
pub const MAX_POINTS: i64 = 1_000_000_000_000;

/// Checks a number of points against `-MAX_POINTS..=MAX_POINTS` (callers refuse signs they do not take).
pub fn check_points(points: i64, field: &str) -> AppResult<i64> {
    if (-MAX_POINTS..=MAX_POINTS).contains(&points) {
        Ok(points)
    } else {
        Err(AppError::bad_input(field, format!("at most {MAX_POINTS} points")))
    }
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<loyalty_account::Model> {
    loyalty_account::Entity::find_by_id(id)
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("loyalty account"))
}

/// The account, locked until the transaction ends (PostgreSQL), so balance checks and the
/// write that follows see the same balance.
pub async fn lock<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<loyalty_account::Model> {
    loyalty_account::Entity::find_by_id(id)
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("loyalty account"))
}

pub async fn of_customer<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    customer_id: Uuid,
) -> AppResult<Option<loyalty_account::Model>> {
    Ok(loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .filter(loyalty_account::Column::CustomerId.eq(customer_id))
        .one(db)
        .await?)
}

/// Opens the customer's account (or returns the one they have: one per customer).
pub async fn enroll<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<(loyalty_account::Model, bool)> {
    // Under the customer's lock, so concurrent enrolments find the first one's account instead of
    // failing on the one-account-per-customer key.
    let customer = customers::service::lock(db, workspace_id, customer_id).await?;
    if let Some(existing) = of_customer(db, workspace_id, customer.id).await? {
        return Ok((existing, false));
    }
    let mut code = referral_code();
    while loyalty_account::Entity::find()
        .filter(loyalty_account::Column::ReferralCode.eq(&code))
        .one(db)
        .await?
        .is_some()
    {
        code = referral_code();
    }
    let account = loyalty_account::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(customer.id),
        points_balance: Set(0),
        lifetime_points: Set(0),
        debt_points: Set(0),
        tier_id: Set(None),
        referral_code: Set(code),
        version: Set(0),
        pending_points: Set(0),
        tier_since: Set(None),
        below_tier_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let account = promote(db, account, now).await?;
    Ok((account, true))
}

/// Tells subscribers (`loyaltyAccountChanged`) once the surrounding request or job is done.
fn changed(account_id: Uuid, workspace_id: Uuid) {
    crate::events::raise(crate::events::Event::LoyaltyAccountChanged { workspace_id, account_id });
}

/// A change to post to the ledger.
pub struct Posting {
    pub kind: PointsKind,
    /// Set on EXPIRE rows: the earning row that expired.
    pub lot_id: Option<Uuid>,
    pub points: i64,
    pub order_id: Option<Uuid>,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
    /// Earned points spendable only from then on (the pending period); `None` = at once.
    pub available_at: Option<DateTime<Utc>>,
    pub actor: Actor,
}

pub struct Posted {
    pub transaction: points_transaction::Model,
    pub account: loyalty_account::Model,
    /// True when this was a retry of a change already posted.
    pub replayed: bool,
}

/// Earned points expire `pointsExpiryMonths` after they become spendable (when the workspace sets it).
async fn expiry_of<C: ConnectionTrait>(
    db: &C,
    account: &loyalty_account::Model,
    kind: PointsKind,
    points: i64,
    from: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    if !earns_lifetime(kind, points) {
        return Ok(None);
    }
    let months = workspaces::service::settings(db, account.workspace_id).await?.points_expiry_months;
    Ok((months > 0).then(|| from.checked_add_months(chrono::Months::new(months))).flatten())
}

fn earns_lifetime(kind: PointsKind, points: i64) -> bool {
    points > 0
        && matches!(
            kind,
            PointsKind::EarnPurchase | PointsKind::EarnBonus | PointsKind::EarnReferral | PointsKind::Adjust
        )
}

/// Posts one ledger row and moves the balance with it. `account` must be locked (see [`lock`]).
/// A retry with the same key returns the first posting; the same key with other content is a
/// `CONFLICT`. Spending below zero is `INSUFFICIENT_POINTS` unless `allow_negative`.
pub async fn post<C: ConnectionTrait>(
    db: &C,
    account: loyalty_account::Model,
    posting: Posting,
    allow_negative: bool,
    now: DateTime<Utc>,
) -> AppResult<Posted> {
    if let Some(key) = &posting.idempotency_key {
        let earlier = points_transaction::Entity::find()
            .filter(points_transaction::Column::WorkspaceId.eq(account.workspace_id))
            .filter(points_transaction::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?;
        if let Some(earlier) = earlier {
            let same =
                earlier.account_id == account.id && earlier.kind == posting.kind && earlier.points == posting.points;
            if !same {
                return Err(AppError::Conflict(format!("idempotency key `{key}` was used for a different change")));
            }
            return Ok(Posted { transaction: earlier, account, replayed: true });
        }
    }
    // With a pending period the points wait in `pending_points` (not the balance, not lifetime
    // points) until the job releases them.
    let available_at = posting.available_at.filter(|at| *at > now);
    let pending = available_at.is_some();
    let available_at = available_at.unwrap_or(now);
    let points = check_points(posting.points, "input.points")?;
    let too_many = || AppError::bad_input("input.points", "that many points do not fit in an account");
    let balance = account.points_balance.checked_add(points).ok_or_else(too_many)?;
    // The relative updates below must not overflow in SQL either (an INTERNAL error there).
    account.lifetime_points.checked_add(Ord::max(points, 0)).ok_or_else(too_many)?;
    account.pending_points.checked_add(points).ok_or_else(too_many)?;
    if !pending && posting.points < 0 && balance < 0 && !allow_negative {
        return Err(AppError::InsufficientPoints(format!(
            "the account has {} points; {} are needed",
            account.points_balance, -posting.points
        )));
    }
    let transaction = points_transaction::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(account.workspace_id),
        account_id: Set(account.id),
        kind: Set(posting.kind),
        points: Set(posting.points),
        order_id: Set(posting.order_id),
        reason: Set(posting.reason),
        idempotency_key: Set(posting.idempotency_key),
        expires_at: Set(expiry_of(db, &account, posting.kind, posting.points, available_at).await?),
        lot_id: Set(posting.lot_id),
        pending: Set(pending),
        available_at: Set(Some(available_at)),
        actor_kind: Set(posting.actor.kind),
        actor_id: Set(posting.actor.id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    // Scoped: sea-query's `ExprTrait` shadows `Ord::min`/`max` on integers.
    use sea_orm::ExprTrait;
    let lifetime = if !pending && earns_lifetime(posting.kind, posting.points) { posting.points } else { 0 };
    let add = |column: loyalty_account::Column, points: i64| (column, Expr::col(column).add(points));
    let changes = if pending {
        vec![add(loyalty_account::Column::PendingPoints, posting.points)]
    } else {
        vec![
            add(loyalty_account::Column::PointsBalance, posting.points),
            add(loyalty_account::Column::LifetimePoints, lifetime),
        ]
    };
    // Relative updates: correct even if something else moved the balance in between.
    let mut update = loyalty_account::Entity::update_many()
        .col_expr(loyalty_account::Column::Version, Expr::col(loyalty_account::Column::Version).add(1))
        .col_expr(loyalty_account::Column::UpdatedAt, Expr::value(now));
    for (column, value) in changes {
        update = update.col_expr(column, value);
    }
    update.filter(loyalty_account::Column::Id.eq(account.id)).exec(db).await?;
    changed(account.id, account.workspace_id);
    let account = get(db, account.workspace_id, account.id).await?;
    let account = if lifetime > 0 { promote(db, account, now).await? } else { account };
    Ok(Posted { transaction, account, replayed: false })
}

/// The job: pending points whose time has come join the balance (and lifetime points), account by
/// account under the account lock. A row is released once: the update only takes rows still pending.
pub async fn release_pending<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let accounts: Vec<Uuid> = points_transaction::Entity::find()
        .select_only()
        .column(points_transaction::Column::AccountId)
        .distinct()
        .filter(points_transaction::Column::WorkspaceId.eq(workspace_id))
        .filter(points_transaction::Column::Pending.eq(true))
        .filter(points_transaction::Column::AvailableAt.lte(now))
        .into_tuple()
        .all(db)
        .await?;
    let mut released = 0;
    for account_id in accounts {
        let account = lock(db, workspace_id, account_id).await?;
        let due = points_transaction::Entity::find()
            .filter(points_transaction::Column::AccountId.eq(account_id))
            .filter(points_transaction::Column::Pending.eq(true))
            .filter(points_transaction::Column::AvailableAt.lte(now))
            .all(db)
            .await?;
        if due.is_empty() {
            continue;
        }
        points_transaction::Entity::update_many()
            .col_expr(points_transaction::Column::Pending, Expr::value(false))
            .col_expr(points_transaction::Column::UpdatedAt, Expr::value(now))
            .filter(points_transaction::Column::Id.is_in(due.iter().map(|t| t.id)))
            .exec(db)
            .await?;
        let points: i64 = due.iter().map(|t| t.points).sum();
        // An earning and the reversal of it that both waited add nothing to lifetime points.
        let lifetime: i64 =
            due.iter().filter(|t| QUALIFYING_KINDS.contains(&t.kind)).map(|t| t.points).sum::<i64>().max(0);
        let mut active: loyalty_account::ActiveModel = account.clone().into();
        active.points_balance = Set(account.points_balance + points);
        active.pending_points = Set(account.pending_points - points);
        active.lifetime_points = Set(account.lifetime_points + lifetime);
        active.version = Set(account.version + 1);
        active.updated_at = Set(now);
        let account = active.update(db).await?;
        changed(account.id, account.workspace_id);
        if lifetime > 0 {
            promote(db, account, now).await?;
        }
        released += due.len() as u64;
    }
    Ok(released)
}

async fn set_debt<C: ConnectionTrait>(db: &C, account_id: Uuid, debt: i64) -> AppResult<()> {
    loyalty_account::Entity::update_many()
        .col_expr(loyalty_account::Column::DebtPoints, Expr::value(debt))
        .filter(loyalty_account::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The tiers of a workspace, lowest rank first.
pub async fn tiers<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<Vec<tier::Model>> {
    Ok(tier::Entity::find()
        .filter(tier::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(tier::Column::Rank)
        .all(db)
        .await?)
}

/// The highest tier `points` qualify for.
pub fn qualifying(tiers: &[tier::Model], points: i64) -> Option<&tier::Model> {
    tiers.iter().filter(|t| t.min_points <= points).max_by_key(|t| t.rank)
}

const QUALIFYING_KINDS: [PointsKind; 5] = [
    PointsKind::EarnPurchase,
    PointsKind::EarnBonus,
    PointsKind::EarnReferral,
    PointsKind::Adjust,
    PointsKind::Reversal,
];

/// Start of the rolling qualification window.
fn rolling_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(chrono::Months::new(12)).unwrap_or(now)
}

/// The points that count towards a tier: lifetime points, or (rolling) what was earned in the last
/// 12 months net of reversals, never below zero.
pub async fn qualifying_points<C: ConnectionTrait>(
    db: &C,
    account: &loyalty_account::Model,
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    if settings.tier_qualification == TierQualification::Lifetime {
        return Ok(account.lifetime_points);
    }
    let mut per_account = rolling_points(db, account.workspace_id, Some(account.id), now).await?;
    Ok(per_account.remove(&account.id).unwrap_or(0))
}

/// Rolling-year qualifying points per account of the workspace (or of one account).
async fn rolling_points<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    account_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, i64>> {
    let mut query = points_transaction::Entity::find()
        .select_only()
        .column(points_transaction::Column::AccountId)
        .expr_as(
            Func::cast_as(Func::sum(Expr::col(points_transaction::Column::Points)), Alias::new("BIGINT")),
            "points",
        )
        .filter(points_transaction::Column::WorkspaceId.eq(workspace_id))
        .filter(points_transaction::Column::Pending.eq(false))
        .filter(points_transaction::Column::Kind.is_in(QUALIFYING_KINDS))
        .filter(points_transaction::Column::CreatedAt.gt(rolling_window_start(now)))
        .group_by(points_transaction::Column::AccountId);
    if let Some(id) = account_id {
        query = query.filter(points_transaction::Column::AccountId.eq(id));
    }
    let rows: Vec<(Uuid, Option<i64>)> = query.into_tuple().all(db).await?;
    Ok(rows.into_iter().map(|(id, sum)| (id, sum.unwrap_or(0).max(0))).collect())
}

/// Moves the account to `target`, recording why; a new tier starts a new qualification period.
async fn change_tier<C: ConnectionTrait>(
    db: &C,
    account: loyalty_account::Model,
    target: Option<&tier::Model>,
    reason: String,
    now: DateTime<Utc>,
) -> AppResult<loyalty_account::Model> {
    tier_change::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(account.workspace_id),
        account_id: Set(account.id),
        from_tier_id: Set(account.tier_id),
        to_tier_id: Set(target.map(|t| t.id)),
        reason: Set(reason),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let mut active: loyalty_account::ActiveModel = account.into();
    active.tier_id = Set(target.map(|t| t.id));
    active.tier_since = Set(Some(now));
    active.below_tier_since = Set(None);
    active.updated_at = Set(now);
    let account = active.update(db).await?;
    changed(account.id, account.workspace_id);
    Ok(account)
}

/// Promotes the account at once when its qualifying points reach a higher tier.
async fn promote<C: ConnectionTrait>(
    db: &C,
    account: loyalty_account::Model,
    now: DateTime<Utc>,
) -> AppResult<loyalty_account::Model> {
    let tiers = tiers(db, account.workspace_id).await?;
    if tiers.is_empty() {
        return Ok(account);
    }
    let settings = workspaces::service::settings(db, account.workspace_id).await?;
    let points = qualifying_points(db, &account, &settings, now).await?;
    let Some(target) = qualifying(&tiers, points) else { return Ok(account) };
    let current_rank = account.tier_id.and_then(|id| tiers.iter().find(|t| t.id == id)).map(|t| t.rank);
    if current_rank.is_some_and(|rank| rank >= target.rank) {
        return Ok(account);
    }
    let reason = format!("{points} qualifying points reach {}", target.name);
    change_tier(db, account, Some(target), reason, now).await
}

/// The downgrade policy, run by the job: accounts that no longer qualify for their tier move down
/// to the tier they qualify for, when the workspace's policy says so. Returns the accounts moved.
pub async fn review_tiers<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let settings = workspaces::service::settings(db, workspace_id).await?;
    if settings.tier_downgrade == TierDowngrade::Never {
        return Ok(0);
    }
    let tiers = tiers(db, workspace_id).await?;
    let accounts = loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .filter(loyalty_account::Column::TierId.is_not_null())
        .all(db)
        .await?;
    let rolling = match settings.tier_qualification {
        TierQualification::RollingYear => rolling_points(db, workspace_id, None, now).await?,
        TierQualification::Lifetime => HashMap::new(),
    };
    let mut moved = 0;
    for account in accounts {
        let points = match settings.tier_qualification {
            TierQualification::Lifetime => account.lifetime_points,
            TierQualification::RollingYear => rolling.get(&account.id).copied().unwrap_or(0),
        };
        let target = qualifying(&tiers, points);
        let current = account.tier_id.and_then(|id| tiers.iter().find(|t| t.id == id));
        let below = match (current, target) {
            (Some(current), Some(target)) => target.rank < current.rank,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !below {
            if account.below_tier_since.is_some() {
                let mut active: loyalty_account::ActiveModel = account.into();
                active.below_tier_since = Set(None);
                active.update(db).await?;
            }
            continue;
        }
        let due = match settings.tier_downgrade {
            TierDowngrade::Never => false,
            TierDowngrade::EndOfPeriod => account
                .tier_since
                .and_then(|since| since.checked_add_months(chrono::Months::new(12)))
                .is_none_or(|period_end| period_end <= now),
            TierDowngrade::AfterDaysBelow => account
                .below_tier_since
                .is_some_and(|since| now - since >= chrono::Duration::days(settings.tier_downgrade_days)),
        };
        if due {
            let reason = match settings.tier_downgrade {
                TierDowngrade::EndOfPeriod => {
                    format!("{points} qualifying points at the end of the qualification period")
                }
                _ => format!("{points} qualifying points for {} days", settings.tier_downgrade_days),
            };
            change_tier(db, account, target, reason, now).await?;
            moved += 1;
        } else if account.below_tier_since.is_none() {
            let mut active: loyalty_account::ActiveModel = account.into();
            active.below_tier_since = Set(Some(now));
            active.update(db).await?;
        }
    }
    Ok(moved)
}

/// Folds the merged customer's account into the survivor's: the ledger, tier history, balance,
/// lifetime points and debt move over together, so every balance still equals its ledger.
pub async fn merge_accounts<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    survivor_id: Uuid,
    merged_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(merged) = of_customer(db, workspace_id, merged_id).await? else { return Ok(()) };
    let merged = lock(db, workspace_id, merged.id).await?;
    let Some(survivor) = of_customer(db, workspace_id, survivor_id).await? else {
        let mut active: loyalty_account::ActiveModel = merged.into();
        active.customer_id = Set(survivor_id);
        active.updated_at = Set(now);
        active.update(db).await?;
        return Ok(());
    };
    let survivor = lock(db, workspace_id, survivor.id).await?;
    points_transaction::Entity::update_many()
        .col_expr(points_transaction::Column::AccountId, Expr::value(survivor.id))
        .filter(points_transaction::Column::AccountId.eq(merged.id))
        .exec(db)
        .await?;
    tier_change::Entity::update_many()
        .col_expr(tier_change::Column::AccountId, Expr::value(survivor.id))
        .filter(tier_change::Column::AccountId.eq(merged.id))
        .exec(db)
        .await?;
    loyalty_account::Entity::delete_by_id(merged.id).exec(db).await?;
    let mut active: loyalty_account::ActiveModel = survivor.clone().into();
    active.points_balance = Set(survivor.points_balance + merged.points_balance);
    active.lifetime_points = Set(survivor.lifetime_points + merged.lifetime_points);
    active.debt_points = Set(survivor.debt_points + merged.debt_points);
    active.version = Set(survivor.version + 1);
    active.updated_at = Set(now);
    let survivor = active.update(db).await?;
    changed(survivor.id, survivor.workspace_id);
    promote(db, survivor, now).await?;
    Ok(())
}

/// With the workspace option on, the customer of a complaint whose SLA was breached gets the
/// goodwill points, once per complaint.
pub async fn goodwill_for_breach<C: ConnectionTrait>(
    db: &C,
    complaint: &entity::ticket::Model,
    now: DateTime<Utc>,
) -> AppResult<Option<Posted>> {
    let settings = workspaces::service::settings(db, complaint.workspace_id).await?;
    let (Some(customer_id), points) = (complaint.customer_id, settings.goodwill_points_on_breach) else {
        return Ok(None);
    };
    if points <= 0 || complaint.kind != entity::ticket::TicketKind::Complaint {
        return Ok(None);
    }
    let account = match of_customer(db, complaint.workspace_id, customer_id).await? {
        Some(account) => account,
        None if settings.loyalty_auto_enroll => enroll(db, complaint.workspace_id, customer_id, now).await?.0,
        None => return Ok(None),
    };
    let account = lock(db, complaint.workspace_id, account.id).await?;
    let posting = Posting {
        lot_id: None,
        kind: PointsKind::EarnBonus,
        points,
        order_id: None,
        reason: Some(format!("goodwill: complaint #{} missed its SLA", complaint.number)),
        idempotency_key: Some(format!("goodwill:{}", complaint.id)),
        available_at: None,
        actor: Actor::SYSTEM,
    };
    post(db, account, posting, settings.allow_negative_balance, now).await.map(Some)
}

fn earn_key(order_id: Uuid) -> String {
    format!("order:{order_id}:earn")
}

/// Points for a completed order, once per order (enrolling the customer first when the workspace
/// enrols automatically), plus the first-purchase bonus on a customer's first completed order.
/// Outstanding debt is netted first. With a pending period, both wait until it is over.
pub async fn earn_for_order<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    actor: Actor,
    now: DateTime<Utc>,
) -> AppResult<Option<Posted>> {
    let settings = workspaces::service::settings(db, order.workspace_id).await?;
    let account = match of_customer(db, order.workspace_id, order.customer_id).await? {
        Some(account) => account,
        None if settings.loyalty_auto_enroll => enroll(db, order.workspace_id, order.customer_id, now).await?.0,
        None => return Ok(None),
    };
    let account = lock(db, order.workspace_id, account.id).await?;
    let multiplier = match account.tier_id {
        Some(id) => tier::Entity::find_by_id(id).one(db).await?.map_or(100, |t| t.multiplier_percent),
        None => 100,
    };
    let exponent = money::exponent(&order.currency).unwrap_or(2);
    let earned = purchase_points(
        order.amount_minor,
        exponent,
        settings.points_per_currency_unit,
        multiplier,
        settings.points_rounding,
    );
    let available_at = (settings.points_pending_days > 0)
        .then(|| order.placed_at + chrono::Duration::days(settings.points_pending_days));
    let netted = earned.min(account.debt_points);
    if netted > 0 {
        set_debt(db, account.id, account.debt_points - netted).await?;
    }
    let mut posted = None;
    let mut account = account;
    if earned > 0 {
        let reason = (netted > 0).then(|| format!("{earned} earned, {netted} kept against earlier debt"));
        let posting = Posting {
            lot_id: None,
            kind: PointsKind::EarnPurchase,
            points: earned - netted,
            order_id: Some(order.id),
            reason,
            idempotency_key: Some(earn_key(order.id)),
            available_at,
            actor,
        };
        let done = post(db, account, posting, settings.allow_negative_balance, now).await?;
        account = done.account.clone();
        posted = Some(done);
    }
    if settings.first_purchase_bonus_points > 0 && is_first_order(db, order).await? {
        let posting = Posting {
            lot_id: None,
            kind: PointsKind::EarnBonus,
            points: settings.first_purchase_bonus_points,
            order_id: Some(order.id),
            reason: Some("first purchase bonus".to_owned()),
            idempotency_key: Some(format!("first-purchase:{}", order.customer_id)),
            available_at,
            actor,
        };
        let done = post(db, account, posting, settings.allow_negative_balance, now).await?;
        posted = posted.or(Some(done));
    }
    Ok(posted)
}

async fn is_first_order<C: ConnectionTrait>(db: &C, order: &order::Model) -> AppResult<bool> {
    use sea_orm::PaginatorTrait;
    let completed = order::Entity::find()
        .filter(order::Column::CustomerId.eq(order.customer_id))
        .filter(order::Column::Status.eq(order::OrderStatus::Completed))
        .count(db)
        .await?;
    Ok(completed <= 1)
}

/// A bonus granted once per occasion (`key`), e.g. for feedback or the birthday month. Enrols
/// the customer when the workspace enrols automatically; does nothing otherwise.
pub async fn grant_bonus<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    customer_id: Uuid,
    points: i64,
    reason: String,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<Option<Posted>> {
    if points <= 0 {
        return Ok(None);
    }
    let settings = workspaces::service::settings(db, workspace_id).await?;
    let account = match of_customer(db, workspace_id, customer_id).await? {
        Some(account) => account,
        None if settings.loyalty_auto_enroll => enroll(db, workspace_id, customer_id, now).await?.0,
        None => return Ok(None),
    };
    let account = lock(db, workspace_id, account.id).await?;
    let posting = Posting {
        lot_id: None,
        kind: PointsKind::EarnBonus,
        points,
        order_id: None,
        reason: Some(reason),
        idempotency_key: Some(key),
        available_at: None,
        actor: Actor::SYSTEM,
    };
    post(db, account, posting, settings.allow_negative_balance, now).await.map(Some)
}

/// The job: the birthday-month bonus, once a year, for members whose birthday month it is (in the
/// workspace's time zone). Returns how many were granted.
pub async fn birthday_bonuses<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    use chrono::Datelike;
    let settings = workspaces::service::settings(db, workspace_id).await?;
    if settings.birthday_bonus_points <= 0 {
        return Ok(0);
    }
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let zone = workspaces::service::zone(&workspace);
    let today = now.with_timezone(&zone).date_naive();
    let members: Vec<(Uuid, Option<chrono::NaiveDate>)> = loyalty_account::Entity::find()
        .select_only()
        .column(loyalty_account::Column::CustomerId)
        .column(entity::customer::Column::Birthday)
        .join(
            sea_orm::JoinType::InnerJoin,
            loyalty_account::Entity::belongs_to(entity::customer::Entity)
                .from(loyalty_account::Column::CustomerId)
                .to(entity::customer::Column::Id)
                .into(),
        )
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .filter(entity::customer::Column::Birthday.is_not_null())
        .filter(entity::customer::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let given: Vec<Option<String>> = points_transaction::Entity::find()
        .select_only()
        .column(points_transaction::Column::IdempotencyKey)
        .filter(points_transaction::Column::WorkspaceId.eq(workspace_id))
        .filter(points_transaction::Column::IdempotencyKey.like(format!("birthday:%:{}", today.year())))
        .into_tuple()
        .all(db)
        .await?;
    let given: std::collections::HashSet<String> = given.into_iter().flatten().collect();
    let mut granted = 0;
    for (customer_id, birthday) in members {
        if birthday.is_none_or(|b| b.month() != today.month()) {
            continue;
        }
        let key = format!("birthday:{customer_id}:{}", today.year());
        if !given.contains(&key) {
            let reason = "birthday month bonus".to_owned();
            grant_bonus(db, workspace_id, customer_id, settings.birthday_bonus_points, reason, key, now).await?;
            granted += 1;
        }
    }
    Ok(granted)
}

/// Takes back exactly what an order put on the ledger (its purchase points and first-purchase
/// bonus), once. Points still pending are cancelled within the pending total. Spent points go below
/// zero only if the workspace allows it; otherwise the part that cannot be taken becomes debt.
pub async fn reverse_for_order<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    actor: Actor,
    now: DateTime<Utc>,
) -> AppResult<Option<Posted>> {
    let Some(account) = of_customer(db, order.workspace_id, order.customer_id).await? else { return Ok(None) };
    let account = lock(db, order.workspace_id, account.id).await?;
    let earnings = points_transaction::Entity::find()
        .filter(points_transaction::Column::WorkspaceId.eq(order.workspace_id))
        .filter(points_transaction::Column::OrderId.eq(order.id))
        .filter(points_transaction::Column::Kind.is_in([PointsKind::EarnPurchase, PointsKind::EarnBonus]))
        .all(db)
        .await?;
    let earned: i64 = earnings.iter().map(|t| t.points).sum();
    if earned <= 0 {
        return Ok(None);
    }
    let reverse_key = Some(format!("order:{}:reverse", order.id));
    // Still pending: cancel it where it waits, so nothing of it is ever spendable.
    if let Some(pending) = earnings.iter().find(|t| t.pending) {
        let posting = Posting {
            lot_id: None,
            kind: PointsKind::Reversal,
            points: -earned,
            order_id: Some(order.id),
            reason: Some(format!("order {} reversed before its points were available", order.external_ref)),
            idempotency_key: reverse_key,
            available_at: pending.available_at,
            actor,
        };
        return post(db, account, posting, true, now).await.map(Some);
    }
    let settings: WorkspaceSettings = workspaces::service::settings(db, order.workspace_id).await?;
    let taken = if settings.allow_negative_balance { earned } else { earned.min(account.points_balance.max(0)) };
    let owed = earned - taken;
    if owed > 0 {
        set_debt(db, account.id, account.debt_points + owed).await?;
    }
    let posting = Posting {
        lot_id: None,
        kind: PointsKind::Reversal,
        points: -taken,
        order_id: Some(order.id),
        reason: Some(if owed > 0 {
            format!("order {} reversed: {taken} taken back, {owed} owed", order.external_ref)
        } else {
            format!("order {} reversed", order.external_ref)
        }),
        idempotency_key: reverse_key,
        available_at: None,
        actor,
    };
    post(db, account, posting, true, now).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purchase_points_are_integers_with_the_workspace_rounding() {
        // 19.99 EUR at 1 point per euro.
        assert_eq!(purchase_points(1999, 2, 1, 100, PointsRounding::Down), 19);
        assert_eq!(purchase_points(1999, 2, 1, 100, PointsRounding::Nearest), 20);
        assert_eq!(purchase_points(1900, 2, 1, 100, PointsRounding::Up), 19);
        assert_eq!(purchase_points(1901, 2, 1, 100, PointsRounding::Up), 20);
        // Gold ×1.5 at 2 points per euro: 10.00 → 30.
        assert_eq!(purchase_points(1000, 2, 2, 150, PointsRounding::Down), 30);
        // Currencies without decimals.
        assert_eq!(purchase_points(1500, 0, 1, 100, PointsRounding::Down), 1500);
        assert_eq!(purchase_points(-500, 2, 1, 100, PointsRounding::Down), 0);
    }

    #[test]
    fn referral_codes_are_long_and_unambiguous() {
        let code = referral_code();
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_ne!(referral_code(), referral_code());
    }
}
