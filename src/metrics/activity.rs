//! The purchase-day rollup (`customer_activity`): each live customer's completed orders folded into
//! calendar days of the workspace time zone, with the day's order count and revenue. Every metric
//! whose periods are made of local days (retention, cohorts, customer value, the predictive models'
//! data preparation) reads this instead of the orders: a workspace with 100,000 customers and
//! 1,000,000 orders is 100,000 short rows. It is rewritten in the same transaction as any change to
//! a customer's completed orders, so it is exact, never a cache that lags.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::{
    customer, customer_activity,
    order::{self, OrderStatus},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, sea_query::OnConflict,
};
use uuid::Uuid;

use super::periods::local_day;
use crate::{
    graphql::{AppError, AppResult},
    workspaces,
};

/// One local calendar day with completed orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseDay {
    /// A [`super::periods::day_number`].
    pub day: i32,
    pub orders: u32,
    pub revenue_minor: i64,
}

/// Bytes per packed day: day (i32), orders (u32), revenue (i64), little-endian.
const RECORD: usize = 16;

/// Rows written per statement when a whole workspace is rebuilt.
const ROWS_PER_INSERT: usize = 2_000;

pub fn encode(days: &[PurchaseDay]) -> Vec<u8> {
    let mut out = Vec::with_capacity(days.len() * RECORD);
    for d in days {
        out.extend_from_slice(&d.day.to_le_bytes());
        out.extend_from_slice(&d.orders.to_le_bytes());
        out.extend_from_slice(&d.revenue_minor.to_le_bytes());
    }
    out
}

/// Appends the days packed in `bytes` to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<PurchaseDay>) -> AppResult<()> {
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(AppError::Internal(anyhow::anyhow!("a customer_activity row is not whole records")));
    }
    out.extend(bytes.chunks_exact(RECORD).map(|r| {
        let (day, rest) = r.split_at(4);
        let (orders, revenue) = rest.split_at(4);
        PurchaseDay {
            day: i32::from_le_bytes(day.try_into().unwrap_or_default()),
            orders: u32::from_le_bytes(orders.try_into().unwrap_or_default()),
            revenue_minor: i64::from_le_bytes(revenue.try_into().unwrap_or_default()),
        }
    }));
    Ok(())
}

/// Folds completed orders `(placed_at, amount_minor)` into purchase days in `zone`, oldest first.
pub fn fold(orders: &[(DateTime<Utc>, i64)], zone: Tz) -> Vec<PurchaseDay> {
    let mut placed: Vec<(i32, i64)> = orders.iter().map(|(at, amount)| (local_day(*at, zone), *amount)).collect();
    // Sorted by day, not by instant: a zone that turns its clocks back across midnight can put a
    // later instant on an earlier local day.
    placed.sort_by_key(|(day, _)| *day);
    let mut days: Vec<PurchaseDay> = Vec::new();
    for (day, amount) in placed {
        match days.last_mut() {
            Some(last) if last.day == day => {
                last.orders += 1;
                last.revenue_minor += amount;
            }
            _ => days.push(PurchaseDay { day, orders: 1, revenue_minor: amount }),
        }
    }
    days
}

fn row(
    workspace_id: Uuid,
    customer_id: Uuid,
    days: &[PurchaseDay],
    now: DateTime<Utc>,
) -> customer_activity::ActiveModel {
    let orders: u64 = days.iter().map(|d| u64::from(d.orders)).sum();
    customer_activity::ActiveModel {
        customer_id: Set(customer_id),
        workspace_id: Set(workspace_id),
        first_day: Set(days.first().map_or(0, |d| d.day)),
        last_day: Set(days.last().map_or(0, |d| d.day)),
        orders: Set(i32::try_from(orders).unwrap_or(i32::MAX)),
        days: Set(encode(days)),
        updated_at: Set(now),
    }
}

/// The customer's completed orders `(placed_at, amount_minor)`, oldest first.
pub async fn completed_orders<C: ConnectionTrait>(db: &C, customer_id: Uuid) -> AppResult<Vec<(DateTime<Utc>, i64)>> {
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::PlacedAt)
        .column(order::Column::AmountMinor)
        .filter(order::Column::CustomerId.eq(customer_id))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
        .order_by_asc(order::Column::PlacedAt)
        .into_tuple()
        .all(db)
        .await?)
}

/// Writes the customer's row from `orders` (their completed orders), or removes it when there are
/// none or the customer is deleted.
pub async fn store<C: ConnectionTrait>(
    db: &C,
    customer: &customer::Model,
    orders: &[(DateTime<Utc>, i64)],
) -> AppResult<()> {
    if orders.is_empty() || customer.deleted_at.is_some() {
        customer_activity::Entity::delete_by_id(customer.id).exec(db).await?;
        return Ok(());
    }
    let zone = workspaces::service::zone(&workspaces::service::get(db, customer.workspace_id).await?);
    let days = fold(orders, zone);
    customer_activity::Entity::insert(row(customer.workspace_id, customer.id, &days, Utc::now()))
        .on_conflict(
            OnConflict::column(customer_activity::Column::CustomerId)
                .update_columns([
                    customer_activity::Column::FirstDay,
                    customer_activity::Column::LastDay,
                    customer_activity::Column::Orders,
                    customer_activity::Column::Days,
                    customer_activity::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Rewrites the customer's row from their orders as they stand.
pub async fn refresh<C: ConnectionTrait>(db: &C, customer: &customer::Model) -> AppResult<()> {
    let orders = completed_orders(db, customer.id).await?;
    store(db, customer, &orders).await
}

/// Rebuilds every row of the workspace from its orders (after a bulk import).
pub async fn rebuild_workspace<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<()> {
    let zone = workspaces::service::zone(&workspaces::service::get(db, workspace_id).await?);
    customer_activity::Entity::delete_many()
        .filter(customer_activity::Column::WorkspaceId.eq(workspace_id))
        .exec(db)
        .await?;
    let live = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .into_query();
    let rows: Vec<(Uuid, DateTime<Utc>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::CustomerId)
        .column(order::Column::PlacedAt)
        .column(order::Column::AmountMinor)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
        .filter(order::Column::CustomerId.in_subquery(live))
        .order_by_asc(order::Column::CustomerId)
        .order_by_asc(order::Column::PlacedAt)
        .into_tuple()
        .all(db)
        .await?;
    let now = Utc::now();
    let mut pending = Vec::with_capacity(ROWS_PER_INSERT);
    let mut orders = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some((customer_id, placed_at, amount)) = rows.next() {
        orders.push((placed_at, amount));
        if rows.peek().is_some_and(|(next, _, _)| *next == customer_id) {
            continue;
        }
        pending.push(row(workspace_id, customer_id, &fold(&orders, zone), now));
        orders.clear();
        if pending.len() == ROWS_PER_INSERT || rows.peek().is_none() {
            customer_activity::Entity::insert_many(std::mem::take(&mut pending)).exec_without_returning(db).await?;
        }
    }
    Ok(())
}

/// Purchase days of many customers, stored back to back.
#[derive(Default)]
pub struct Activities {
    pub customers: Vec<Uuid>,
    /// Customer i's days are `days[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<usize>,
    days: Vec<PurchaseDay>,
}

impl Activities {
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// Customer `i`'s purchase days, oldest first (never empty).
    pub fn days(&self, i: usize) -> &[PurchaseDay] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.days[start..self.ends[i]]
    }

    pub fn iter(&self) -> impl Iterator<Item = (Uuid, &[PurchaseDay])> {
        (0..self.len()).map(|i| (self.customers[i], self.days(i)))
    }

    fn push(&mut self, customer_id: Uuid, bytes: &[u8]) -> AppResult<()> {
        decode_into(bytes, &mut self.days)?;
        self.customers.push(customer_id);
        self.ends.push(self.days.len());
        Ok(())
    }
}

/// Which customers' purchase days to read.
#[derive(Default)]
pub struct Selection {
    /// Only customers matching this condition on the `customer` table.
    pub segment: Option<Condition>,
    /// Only these customers.
    pub customers: Option<Vec<Uuid>>,
    /// Only customers with a purchase on this day or later.
    pub active_since: Option<i32>,
    /// Only customers whose first purchase is before this day.
    pub first_before: Option<i32>,
}

/// The purchase days of the workspace's live customers with completed orders.
pub async fn load<C: ConnectionTrait>(db: &C, workspace_id: Uuid, selection: Selection) -> AppResult<Activities> {
    let mut query = customer_activity::Entity::find()
        .select_only()
        .column(customer_activity::Column::CustomerId)
        .column(customer_activity::Column::Days)
        .filter(customer_activity::Column::WorkspaceId.eq(workspace_id));
    if let Some(day) = selection.active_since {
        query = query.filter(customer_activity::Column::LastDay.gte(day));
    }
    if let Some(day) = selection.first_before {
        query = query.filter(customer_activity::Column::FirstDay.lt(day));
    }
    if let Some(ids) = selection.customers {
        query = query.filter(customer_activity::Column::CustomerId.is_in(ids));
    }
    if let Some(condition) = selection.segment {
        let members = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::WorkspaceId.eq(workspace_id))
            .filter(condition)
            .into_query();
        query = query.filter(customer_activity::Column::CustomerId.in_subquery(members));
    }
    let rows: Vec<(Uuid, Vec<u8>)> = query.into_tuple().all(db).await?;
    let mut out = Activities {
        customers: Vec::with_capacity(rows.len()),
        ends: Vec::with_capacity(rows.len()),
        days: Vec::with_capacity(rows.iter().map(|(_, b)| b.len() / RECORD).sum()),
    };
    for (customer_id, bytes) in rows {
        out.push(customer_id, &bytes)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::periods::day_number;

    #[test]
    fn orders_fold_into_local_days_and_round_trip() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let orders = [
            (at("2026-03-01T22:30:00Z"), 500), // 23:30 in Berlin: 1 March
            (at("2026-03-01T23:30:00Z"), 250), // 00:30 in Berlin: 2 March
            (at("2026-03-02T10:00:00Z"), 0),   // a zero-value order still counts
            (at("2026-03-05T10:00:00Z"), 100),
        ];
        let days = fold(&orders, berlin);
        let day = |m, d| day_number(chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap());
        assert_eq!(
            days,
            [
                PurchaseDay { day: day(3, 1), orders: 1, revenue_minor: 500 },
                PurchaseDay { day: day(3, 2), orders: 2, revenue_minor: 250 },
                PurchaseDay { day: day(3, 5), orders: 1, revenue_minor: 100 },
            ]
        );
        let mut back = Vec::new();
        decode_into(&encode(&days), &mut back).unwrap();
        assert_eq!(back, days);
        assert!(decode_into(&[1, 2, 3], &mut back).is_err(), "a torn record is an error, not a guess");
        let utc = fold(&orders, chrono_tz::UTC);
        assert_eq!(
            utc[0],
            PurchaseDay { day: day(3, 1), orders: 2, revenue_minor: 750 },
            "both late orders on 1 March"
        );
    }
}
