//! Relay connections over any sea-orm query: keyset pagination on an order that always ends in
//! `id` (so it is total and stable), opaque cursors that carry the sort values of their row, and a
//! `totalCount` that is only counted when asked for.

use std::{future::Future, pin::Pin, sync::Arc};

use async_graphql::{
    Enum, Object, OutputType,
    connection::{Connection, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{
    ColumnTrait, ColumnType, Condition, DatabaseConnection, EntityTrait, ExprTrait, IdenStatic, IntoSimpleExpr,
    ModelTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Value,
    sea_query::{Expr, Func, SimpleExpr},
};
use serde_json::json;

use super::error::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

/// Relay pagination arguments, as received.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Where rows with no value go in an order.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum NullsPlacement {
    First,
    #[default]
    Last,
}

/// One column of a connection's order.
#[derive(Clone, Debug)]
pub struct SortKey<C> {
    pub column: C,
    pub direction: SortDirection,
    /// For a nullable column: the value that stands in for NULL, chosen so NULLs sort where asked.
    pub null_as: Option<Value>,
}

impl<C> SortKey<C> {
    pub fn new(column: C, direction: SortDirection) -> Self {
        SortKey { column, direction, null_as: None }
    }

    /// A nullable timestamp column, NULLs placed first or last whatever the direction.
    pub fn nullable_time(column: C, direction: SortDirection, nulls: NullsPlacement) -> Self {
        use chrono::{DateTime, Utc};
        let low = (direction == SortDirection::Asc) == (nulls == NullsPlacement::First);
        let stand_in = if low { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC };
        // Four-digit years keep SQLite's text timestamps in order.
        let stand_in = stand_in.clamp(
            "0001-01-01T00:00:00Z".parse().unwrap_or(DateTime::<Utc>::MIN_UTC),
            "9999-12-31T23:59:59Z".parse().unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        SortKey { column, direction, null_as: Some(Value::from(stand_in)) }
    }
}

impl<C: ColumnTrait> SortKey<C> {
    /// The expression sorted on: the column, or `COALESCE(column, stand-in)`.
    pub fn expr(&self) -> SimpleExpr {
        match &self.null_as {
            None => self.column.into_simple_expr(),
            Some(value) => Func::coalesce([self.column.into_simple_expr(), Expr::val(value.clone())]).into(),
        }
    }
}

type CountFuture = Pin<Box<dyn Future<Output = AppResult<u64>> + Send>>;

/// The connection's `totalCount`, evaluated lazily: clients that do not ask pay nothing.
pub struct TotalCount(Arc<dyn Fn() -> CountFuture + Send + Sync>);

#[Object]
impl TotalCount {
    /// Number of nodes matching the filter, across all pages.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.0)().await?)
    }
}

pub type Page<N> = Connection<String, N, TotalCount, EmptyFields>;

/// Complexity of a connection field: each requested node costs its selection.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let n = first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| n.clamp(0, MAX_PAGE_SIZE as i32) as usize);
    n.max(1) * child_complexity + 1
}

/// Pages `query` (already filtered to the caller's workspace) in `order`, then `id` ascending.
pub async fn paginate<E, N>(
    db: &DatabaseConnection,
    query: Select<E>,
    order: Vec<SortKey<E::Column>>,
    id: E::Column,
    args: PageArgs,
    to_node: impl Fn(E::Model) -> N,
) -> AppResult<Page<N>>
where
    E: EntityTrait,
    E::Model: Sync,
    N: OutputType,
{
    let order = with_id(order, id);
    let fingerprint = order_fingerprint(&order);
    let window = Window::from_args(&args)?;
    let total = TotalCount::of(db, query.clone());

    let mut select = query;
    if let Some(cursor) = &args.after {
        let values = decode_cursor(cursor, &fingerprint, &order, "after")?;
        select = select.filter(keyset_condition(&order, &values, true));
    }
    if let Some(cursor) = &args.before {
        let values = decode_cursor(cursor, &fingerprint, &order, "before")?;
        select = select.filter(keyset_condition(&order, &values, false));
    }
    let from_end = matches!(window, Window::Last(_));
    for key in &order {
        let ascending = (key.direction == SortDirection::Asc) != from_end;
        select = select.order_by(key.expr(), if ascending { Order::Asc } else { Order::Desc });
    }
    let size = match window {
        Window::First(n) | Window::Last(n) => n,
    };
    let mut rows = select.limit(size as u64 + 1).all(db).await?;
    let has_more = rows.len() > size;
    rows.truncate(size);
    if from_end {
        rows.reverse();
    }
    let (has_previous, has_next) =
        if from_end { (has_more, args.before.is_some()) } else { (args.after.is_some(), has_more) };
    build_page(rows, &order, has_previous, has_next, total, to_node)
}

/// `order` made total by a final `id` ascending.
pub fn with_id<C>(mut order: Vec<SortKey<C>>, id: C) -> Vec<SortKey<C>> {
    order.push(SortKey::new(id, SortDirection::Asc));
    order
}

/// A connection over rows already fetched in `order` (which ends in `id`).
pub fn build_page<M: ModelTrait, N: OutputType>(
    rows: Vec<M>,
    order: &[SortKey<<M::Entity as EntityTrait>::Column>],
    has_previous: bool,
    has_next: bool,
    total: TotalCount,
    to_node: impl Fn(M) -> N,
) -> AppResult<Page<N>> {
    let fingerprint = order_fingerprint(order);
    let mut connection = Connection::with_additional_fields(has_previous, has_next, total);
    for row in rows {
        let cursor = encode_cursor(&fingerprint, order, &row)?;
        connection.edges.push(Edge::new(cursor, to_node(row)));
    }
    Ok(connection)
}

impl TotalCount {
    /// Counts `query` when asked.
    pub fn of<E: EntityTrait>(db: &DatabaseConnection, query: Select<E>) -> TotalCount
    where
        E::Model: Sync,
    {
        let (db, query) = (db.clone(), query);
        TotalCount(Arc::new(move || {
            let (db, query) = (db.clone(), query.clone());
            Box::pin(async move { Ok(query.count(&db).await?) })
        }))
    }
}

pub(crate) enum Window {
    First(usize),
    Last(usize),
}

impl PageArgs {
    /// `Some(n)` for a plain first page (`first` or nothing, no cursors): the case batch loaders serve.
    pub fn plain_first(&self) -> Option<usize> {
        if self.after.is_some() || self.before.is_some() {
            return None;
        }
        match Window::from_args(self) {
            Ok(Window::First(n)) => Some(n),
            _ => None,
        }
    }
}

impl Window {
    pub(crate) fn from_args(args: &PageArgs) -> AppResult<Window> {
        let check = |n: i32, field: &str| -> AppResult<usize> {
            if !(0..=MAX_PAGE_SIZE as i32).contains(&n) {
                return Err(AppError::bad_input(field, format!("`{field}` must be between 0 and {MAX_PAGE_SIZE}")));
            }
            Ok(n as usize)
        };
        match (args.first, args.last) {
            (Some(_), Some(_)) => Err(AppError::bad_input("last", "pass either `first` or `last`, not both")),
            (Some(n), None) => Ok(Window::First(check(n, "first")?)),
            (None, Some(n)) => Ok(Window::Last(check(n, "last")?)),
            (None, None) => Ok(Window::First(DEFAULT_PAGE_SIZE)),
        }
    }
}

/// Rows strictly after (or before) the cursor row in `order`:
/// `k1 > v1 OR (k1 = v1 AND k2 > v2) OR …`, with `<` for descending keys.
fn keyset_condition<C: ColumnTrait>(order: &[SortKey<C>], values: &[Value], after: bool) -> Condition {
    let mut any = Condition::any();
    for (i, key) in order.iter().enumerate() {
        let mut all = Condition::all();
        for (earlier, value) in order[..i].iter().zip(values) {
            all = all.add(earlier.expr().eq(value.clone()));
        }
        let greater = (key.direction == SortDirection::Asc) == after;
        let value = values[i].clone();
        all = all.add(if greater { key.expr().gt(value) } else { key.expr().lt(value) });
        any = any.add(all);
    }
    any
}

fn order_fingerprint<C: IdenStatic>(order: &[SortKey<C>]) -> String {
    order
        .iter()
        .map(|k| format!("{}:{}", k.column.as_str(), if k.direction == SortDirection::Asc { "a" } else { "d" }))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_cursor<M: ModelTrait>(
    fingerprint: &str,
    order: &[SortKey<<M::Entity as EntityTrait>::Column>],
    row: &M,
) -> AppResult<String> {
    let values = order
        .iter()
        .map(|key| {
            let value = row.get(key.column);
            match (&key.null_as, is_null(&value)) {
                (Some(stand_in), true) => value_to_json(stand_in.clone()),
                _ => value_to_json(value),
            }
        })
        .collect::<AppResult<Vec<_>>>()?;
    let payload = json!({ "o": fingerprint, "v": values });
    Ok(URL_SAFE_NO_PAD.encode(payload.to_string()))
}

fn decode_cursor<C: ColumnTrait>(
    cursor: &str,
    fingerprint: &str,
    order: &[SortKey<C>],
    field: &str,
) -> AppResult<Vec<Value>> {
    let invalid = || AppError::bad_input(field, format!("`{field}` is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let payload: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if payload["o"] != fingerprint {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` was made for a different order; start again without it"),
        ));
    }
    let values = payload["v"].as_array().filter(|v| v.len() == order.len()).ok_or_else(invalid)?;
    order
        .iter()
        .zip(values)
        .map(|(key, value)| json_to_value(value, key.column.def().get_column_type()).ok_or_else(invalid))
        .collect()
}

fn is_null(value: &Value) -> bool {
    matches!(
        value,
        Value::ChronoDateTimeUtc(None)
            | Value::String(None)
            | Value::BigInt(None)
            | Value::Int(None)
            | Value::Uuid(None)
    )
}

fn value_to_json(value: Value) -> AppResult<serde_json::Value> {
    Ok(match value {
        Value::Uuid(Some(v)) => json!(v.to_string()),
        Value::String(Some(v)) => json!(v),
        Value::ChronoDateTimeUtc(Some(v)) => json!(v.to_rfc3339()),
        Value::BigInt(Some(v)) => json!(v),
        Value::Int(Some(v)) => json!(v),
        Value::Bool(Some(v)) => json!(v),
        other => {
            return Err(AppError::Internal(anyhow::anyhow!("unsupported or null sort key value: {other:?}")));
        }
    })
}

fn json_to_value(value: &serde_json::Value, column_type: &ColumnType) -> Option<Value> {
    Some(match column_type {
        ColumnType::Uuid => Value::from(uuid::Uuid::parse_str(value.as_str()?).ok()?),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => Value::from(value.as_str()?.to_owned()),
        ColumnType::TimestampWithTimeZone | ColumnType::Timestamp | ColumnType::DateTime => {
            Value::from(chrono::DateTime::parse_from_rfc3339(value.as_str()?).ok()?.with_timezone(&chrono::Utc))
        }
        ColumnType::BigInteger => Value::from(value.as_i64()?),
        ColumnType::Integer => Value::from(i32::try_from(value.as_i64()?).ok()?),
        ColumnType::Boolean => Value::from(value.as_bool()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_bounded_and_exclusive() {
        let args = |first, last| PageArgs { first, last, ..Default::default() };
        assert!(matches!(Window::from_args(&args(None, None)), Ok(Window::First(DEFAULT_PAGE_SIZE))));
        assert!(matches!(Window::from_args(&args(Some(100), None)), Ok(Window::First(100))));
        assert!(Window::from_args(&args(Some(101), None)).is_err());
        assert!(Window::from_args(&args(Some(-1), None)).is_err());
        assert!(Window::from_args(&args(Some(1), Some(1))).is_err());
    }

    #[test]
    fn complexity_scales_with_page_size() {
        assert_eq!(page_complexity(Some(10), None, 3), 31);
        assert_eq!(page_complexity(None, None, 1), DEFAULT_PAGE_SIZE + 1);
        assert_eq!(page_complexity(Some(10_000), None, 1), MAX_PAGE_SIZE + 1);
    }
}
