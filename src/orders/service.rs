//! Orders: idempotent recording, refunds and cancellations. Each change keeps the customer's
//! order statistics and lifecycle stage in step, in the same transaction.

use chrono::{DateTime, Duration, DurationRound, Utc};
use entity::order::{self, OrderChannel, OrderStatus};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, TryInsertResult,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit,
    auth::Actor,
    customers::{self, lifecycle},
    graphql::{AppError, AppResult, ids::new_id},
    loyalty, money, workspaces,
};

pub struct OrderInput {
    pub customer_id: Uuid,
    pub external_ref: String,
    pub amount: Decimal,
    /// Defaults to the workspace currency, which is the only one accepted.
    pub currency: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub channel: OrderChannel,
}

pub struct Recorded {
    pub order: order::Model,
    /// False when an identical order with this reference already existed (a retry).
    pub created: bool,
}

/// Records an order once. The same `externalRef` with the same content returns the existing
/// order; with different content it is a `CONFLICT`.
pub async fn record<C: ConnectionTrait>(db: &C, workspace_id: Uuid, input: OrderInput) -> AppResult<Recorded> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let currency = match &input.currency {
        Some(code) => money::validate_currency(code, "input.currency")?,
        None => workspace.currency.clone(),
    };
    if currency != workspace.currency {
        return Err(AppError::bad_input(
            "input.currency",
            format!("orders must be in the workspace currency ({})", workspace.currency),
        ));
    }
    let amount_minor = money::to_minor(input.amount, &currency, "input.amount")?;
    let external_ref = customers::service::normalize_external_ref(&input.external_ref, "input.externalRef")?;
    let placed_at = check_placed_at(input.placed_at, Utc::now(), "input.placedAt")?;
    // Before the insert: see `customers::service::lock`.
    let customer = customers::service::lock(db, workspace_id, input.customer_id).await?;

    let now = Utc::now();
    let inserted = order::Entity::insert(order::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(customer.id),
        external_ref: Set(external_ref.clone()),
        amount_minor: Set(amount_minor),
        currency: Set(currency.clone()),
        placed_at: Set(placed_at),
        status: Set(OrderStatus::Completed),
        channel: Set(input.channel),
        refunded_at: Set(None),
        cancelled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([order::Column::WorkspaceId, order::Column::ExternalRef])
    .exec_without_returning(db)
    .await?;
    let created = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
    let order = find_by_ref(db, workspace_id, &external_ref).await?.ok_or_else(|| AppError::not_found("order"))?;
    if !created {
        let same = order.customer_id == customer.id
            && order.amount_minor == amount_minor
            && order.currency == currency
            && order.placed_at == placed_at
            && order.channel == input.channel;
        if !same {
            return Err(AppError::Conflict(format!(
                "an order with external reference `{external_ref}` already exists with different details"
            )));
        }
        return Ok(Recorded { order, created: false });
    }
    after_change(db, workspace_id, order.customer_id).await?;
    loyalty::service::earn_for_order(db, &order, Actor::SYSTEM, now).await?;
    loyalty::referrals::on_order(db, &order, now).await?;
    Ok(Recorded { order, created: true })
}

/// Clock skew allowed for orders stamped by another system's clock.
pub const MAX_PLACED_AHEAD: Duration = Duration::minutes(5);

/// An order's time, truncated to the microseconds both backends keep (so retries compare equal):
/// from 1970-01-01 (UTC) to `now` + [`MAX_PLACED_AHEAD`]. The API and the CSV import both use it.
pub fn check_placed_at(placed_at: DateTime<Utc>, now: DateTime<Utc>, field: &str) -> AppResult<DateTime<Utc>> {
    let placed_at = placed_at.duration_trunc(Duration::microseconds(1)).unwrap_or(placed_at);
    if placed_at < DateTime::UNIX_EPOCH {
        return Err(AppError::bad_input(field, "an order cannot be placed before 1970-01-01"));
    }
    if placed_at > now + MAX_PLACED_AHEAD {
        return Err(AppError::bad_input(field, "an order cannot be placed in the future"));
    }
    Ok(placed_at)
}

/// COMPLETED → REFUNDED. A refunded order leaves every metric.
pub async fn refund<C: ConnectionTrait>(db: &C, workspace_id: Uuid, actor: Actor, id: Uuid) -> AppResult<order::Model> {
    change_status(db, workspace_id, actor, id, OrderStatus::Refunded).await
}

/// COMPLETED → CANCELLED.
pub async fn cancel<C: ConnectionTrait>(db: &C, workspace_id: Uuid, actor: Actor, id: Uuid) -> AppResult<order::Model> {
    change_status(db, workspace_id, actor, id, OrderStatus::Cancelled).await
}

async fn change_status<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    to: OrderStatus,
) -> AppResult<order::Model> {
    // The customer first, then the order (see `customers::service::lock`); the order locked too, so
    // two concurrent refunds of one order cannot both see it completed.
    let customer_id = get(db, workspace_id, id).await?.customer_id;
    customers::service::lock(db, workspace_id, customer_id).await?;
    let current = order::Entity::find_by_id(id)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    if current.customer_id != customer_id {
        // Moved by a merge between the two reads; the client may simply retry.
        return Err(AppError::Conflict("the order moved to another customer; retry".to_owned()));
    }
    if current.status != OrderStatus::Completed {
        return Err(AppError::InvalidTransition(format!(
            "only a completed order can be {}; this one is {}",
            if to == OrderStatus::Refunded { "refunded" } else { "cancelled" },
            format!("{:?}", current.status).to_lowercase()
        )));
    }
    let now = Utc::now();
    let mut active = current.into_active_model();
    active.status = Set(to);
    match to {
        OrderStatus::Refunded => active.refunded_at = Set(Some(now)),
        OrderStatus::Cancelled => active.cancelled_at = Set(Some(now)),
        OrderStatus::Completed => {}
    }
    active.updated_at = Set(now);
    let order = active.update(db).await?;
    after_change(db, workspace_id, order.customer_id).await?;
    loyalty::service::reverse_for_order(db, &order, actor, now).await?;
    loyalty::referrals::on_order_reversed(db, &order, now).await?;
    let action = if to == OrderStatus::Refunded { "order.refund" } else { "order.cancel" };
    audit::record(
        db,
        workspace_id,
        actor,
        action,
        "order",
        Some(order.id),
        json!({ "externalRef": order.external_ref }),
    )
    .await?;
    Ok(order)
}

/// Statistics and lifecycle follow the customer's orders.
async fn after_change<C: ConnectionTrait>(db: &C, workspace_id: Uuid, customer_id: Uuid) -> AppResult<()> {
    let settings = workspaces::service::settings(db, workspace_id).await?;
    let customer = customers::service::get(db, workspace_id, customer_id).await?;
    let customer = customers::service::refresh_order_stats(db, customer).await?;
    lifecycle::reevaluate(db, customer, &settings, Utc::now()).await?;
    Ok(())
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("order"))
}

async fn find_by_ref<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    external_ref: &str,
) -> AppResult<Option<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .filter(order::Column::ExternalRef.eq(external_ref))
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_placed_from_1970_to_a_few_minutes_ahead() {
        let now = Utc::now();
        let field = |r: AppResult<DateTime<Utc>>| match r {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("expected bad input, got {other:?}"),
        };
        assert_eq!(check_placed_at(DateTime::UNIX_EPOCH, now, "at").unwrap(), DateTime::UNIX_EPOCH);
        assert_eq!(field(check_placed_at(DateTime::UNIX_EPOCH - Duration::microseconds(1), now, "at")), "at");
        assert!(check_placed_at(now + MAX_PLACED_AHEAD, now, "at").is_ok(), "clock skew allowed");
        assert!(check_placed_at(now + MAX_PLACED_AHEAD + Duration::seconds(1), now, "at").is_err());
        assert!(check_placed_at(DateTime::<Utc>::MIN_UTC, now, "at").is_err());
        let precise = DateTime::UNIX_EPOCH + Duration::nanoseconds(1_234_567);
        assert_eq!(check_placed_at(precise, now, "at").unwrap().timestamp_subsec_nanos(), 1_234_000, "microseconds");
    }
}
