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
use integer_encoding::VarInt;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, OnConflict},
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

/// Rows written per statement when a whole workspace is rebuilt.
const ROWS_PER_INSERT: usize = 2_000;

fn put<V: VarInt>(out: &mut Vec<u8>, value: V) {
    let mut buf = [0u8; 10];
    let n = value.encode_var(&mut buf);
    out.extend_from_slice(&buf[..n]);
}

fn take<V: VarInt>(bytes: &[u8], pos: &mut usize) -> AppResult<V> {
    let (value, n) = bytes
        .get(*pos..)
        .and_then(V::decode_var)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a customer_activity row is cut short")))?;
    *pos += n;
    Ok(value)
}

/// Packs purchase days as varints: the number of days, then per day its distance from the previous
/// one (from day 0 for the first), its order count and its revenue. About 5 bytes a day, and
/// self-delimiting: rows the database concatenates split apart again without separators.
pub fn encode(days: &[PurchaseDay]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + days.len() * 6);
    put(&mut out, days.len() as u64);
    let mut previous = 0i64;
    for d in days {
        put(&mut out, i64::from(d.day) - previous);
        put(&mut out, d.orders);
        put(&mut out, d.revenue_minor);
        previous = i64::from(d.day);
    }
    out
}

/// Appends one customer's days, packed at the front of `bytes`, to `out`; returns the bytes read.
fn decode_one(bytes: &[u8], out: &mut Vec<PurchaseDay>) -> AppResult<usize> {
    let mut pos = 0;
    let count: u64 = take(bytes, &mut pos)?;
    let mut day = 0i64;
    for _ in 0..count {
        day += take::<i64>(bytes, &mut pos)?;
        let orders = take(bytes, &mut pos)?;
        let revenue_minor = take(bytes, &mut pos)?;
        let day = i32::try_from(day).map_err(|_| AppError::Internal(anyhow::anyhow!("a purchase day out of range")))?;
        out.push(PurchaseDay { day, orders, revenue_minor });
    }
    Ok(pos)
}

/// Appends the days of one packed row to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<PurchaseDay>) -> AppResult<()> {
    if decode_one(bytes, out)? != bytes.len() {
        return Err(AppError::Internal(anyhow::anyhow!("a customer_activity row has trailing bytes")));
    }
    Ok(())
}

/// Folds completed orders `(placed_at, amount_minor)` into purchase days in `zone`, oldest first.
pub fn fold(orders: &[(DateTime<Utc>, i64)], zone: Tz) -> Vec<PurchaseDay> {
    merge_days(orders.iter().map(|(at, amount)| (local_day(*at, zone), *amount)).collect())
}

/// Orders as `(day, amount_minor)`, in any order, merged into purchase days, oldest first.
pub fn merge_days(mut placed: Vec<(i32, i64)>) -> Vec<PurchaseDay> {
    // Sorted by day, not by instant: a zone that turns its clocks back across midnight can put a
    // later instant on an earlier local day.
    placed.sort_by_key(|(day, _)| *day);
    let mut days: Vec<PurchaseDay> = Vec::new();
    for (day, amount) in placed {
        match days.last_mut() {
            Some(last) if last.day == day => {
                last.orders += 1;
                // Saturating: a day would need millions of maximal orders to reach it.
                last.revenue_minor = last.revenue_minor.saturating_add(amount);
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
        customer_activity::Entity::delete_by_id((customer.workspace_id, customer.id)).exec(db).await?;
        return Ok(());
    }
    let zone = workspaces::service::zone(&workspaces::service::get(db, customer.workspace_id).await?);
    let days = fold(orders, zone);
    customer_activity::Entity::insert(row(customer.workspace_id, customer.id, &days, Utc::now()))
        .on_conflict(
            OnConflict::columns([customer_activity::Column::WorkspaceId, customer_activity::Column::CustomerId])
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
    // Deleted customers are few: leave them out here rather than with a join the planner may
    // misjudge right after a bulk load.
    let deleted: std::collections::HashSet<Uuid> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_not_null())
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let rows: Vec<(Uuid, DateTime<Utc>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::CustomerId)
        .column(order::Column::PlacedAt)
        .column(order::Column::AmountMinor)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
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
        if !deleted.contains(&customer_id) {
            pending.push(row(workspace_id, customer_id, &fold(&orders, zone), now));
        }
        orders.clear();
        if !pending.is_empty() && (pending.len() == ROWS_PER_INSERT || rows.peek().is_none()) {
            customer_activity::Entity::insert_many(std::mem::take(&mut pending)).exec_without_returning(db).await?;
        }
    }
    Ok(())
}

/// Purchase days of many customers, stored back to back.
#[derive(Default)]
pub struct Activities {
    /// Who each entry is; empty when loaded with [`load_days`].
    customers: Vec<Uuid>,
    /// Entry i's days are `days[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<usize>,
    days: Vec<PurchaseDay>,
}

impl Activities {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Entry `i`'s purchase days, oldest first.
    pub fn days(&self, i: usize) -> &[PurchaseDay] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.days[start..self.ends[i]]
    }

    /// Every customer's purchase days.
    pub fn all_days(&self) -> impl Iterator<Item = &[PurchaseDay]> {
        (0..self.len()).map(|i| self.days(i))
    }

    /// Customers and their purchase days (loaded with [`load`]).
    pub fn iter(&self) -> impl Iterator<Item = (Uuid, &[PurchaseDay])> {
        self.customers.iter().enumerate().map(|(i, id)| (*id, self.days(i)))
    }

    fn push(&mut self, bytes: &[u8]) -> AppResult<()> {
        decode_into(bytes, &mut self.days)?;
        self.ends.push(self.days.len());
        Ok(())
    }

    /// Appends every customer packed back to back in `bytes`.
    fn push_concatenated(&mut self, bytes: &[u8]) -> AppResult<()> {
        let mut pos = 0;
        while pos < bytes.len() {
            pos += decode_one(&bytes[pos..], &mut self.days)?;
            self.ends.push(self.days.len());
        }
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

fn select(workspace_id: Uuid, selection: Selection) -> sea_orm::Select<customer_activity::Entity> {
    let mut query =
        customer_activity::Entity::find().select_only().filter(customer_activity::Column::WorkspaceId.eq(workspace_id));
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
    query
}

/// The selected customers' purchase days, with who they are.
pub async fn load<C: ConnectionTrait>(db: &C, workspace_id: Uuid, selection: Selection) -> AppResult<Activities> {
    let rows: Vec<(Uuid, Vec<u8>)> = select(workspace_id, selection)
        .column(customer_activity::Column::CustomerId)
        .column(customer_activity::Column::Days)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Activities {
        customers: Vec::with_capacity(rows.len()),
        ends: Vec::with_capacity(rows.len()),
        days: Vec::with_capacity(rows.iter().map(|(_, b)| b.len() / 4).sum()),
    };
    for (customer_id, bytes) in rows {
        out.customers.push(customer_id);
        out.push(&bytes)?;
    }
    Ok(out)
}

/// The selected customers' purchase days, anonymously, for counting. The database concatenates the
/// rows into one value: the drivers spend a few microseconds on every row they hand over, which
/// for 100,000 customers would cost more than everything else the metric queries do.
pub async fn load_days<C: ConnectionTrait>(db: &C, workspace_id: Uuid, selection: Selection) -> AppResult<Activities> {
    let concatenated = match db.get_database_backend() {
        DbBackend::Postgres => "string_agg(days, ''::bytea)",
        _ => "CAST(group_concat(days, '') AS BLOB)",
    };
    let packed: Option<Option<Vec<u8>>> =
        select(workspace_id, selection).expr(Expr::cust(concatenated)).into_tuple().one(db).await?;
    let packed = packed.flatten().unwrap_or_default();
    let mut out = Activities { days: Vec::with_capacity(packed.len() / 4), ..Activities::default() };
    out.push_concatenated(&packed)?;
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
        let packed = encode(&days);
        assert!(packed.len() < days.len() * 6, "{} bytes", packed.len());
        assert!(decode_into(&packed[..packed.len() - 1], &mut back).is_err(), "a torn row is an error, not a guess");
        let mut both = Activities::default();
        both.push_concatenated(&[encode(&days), encode(&days[1..])].concat()).unwrap();
        assert_eq!((both.len(), both.days(0), both.days(1)), (2, &days[..], &days[1..]));
        let utc = fold(&orders, chrono_tz::UTC);
        assert_eq!(
            utc[0],
            PurchaseDay { day: day(3, 1), orders: 2, revenue_minor: 750 },
            "both late orders on 1 March"
        );
    }
}
