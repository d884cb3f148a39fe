//! Lists hanging off a parent (a customer's orders, notes, …) without N+1 queries: a page of
//! 100 parents asking for their first few children costs one statement, using
//! `ROW_NUMBER() OVER (PARTITION BY parent …)` on both backends.

use std::{collections::HashMap, marker::PhantomData};

use async_graphql::{Context, OutputType};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, ModelTrait, Order, QueryFilter, QueryTrait, Select, Value,
    sea_query::{Alias, Asterisk, Expr, Func, Query, WindowStatement},
};
use uuid::Uuid;

use super::{
    AppError, AppResult,
    connection::{Page, PageArgs, SortDirection, SortKey, TotalCount, build_page, paginate, with_id},
    loader, state,
};

/// A parent → children relation, e.g. customer → orders.
pub trait ChildRelation: Send + Sync + 'static {
    type Entity: EntityTrait<Model: Clone + Send + Sync>;
    /// The children of one parent.
    fn of(parent: Uuid) -> Select<Self::Entity> {
        Self::Entity::find().filter(Self::parent_column().eq(parent))
    }
    fn parent_column() -> <Self::Entity as EntityTrait>::Column;
    fn id_column() -> <Self::Entity as EntityTrait>::Column;
    /// The default order (before the final `id`).
    fn order() -> Vec<SortKey<<Self::Entity as EntityTrait>::Column>>;
}

/// Declares a [`ChildRelation`]: `child_relation!(Name, entity_module, ParentColumn, OrderColumn, Asc|Desc)`.
#[macro_export]
macro_rules! child_relation {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $parent:ident, $order:ident, $direction:ident) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::graphql::children::ChildRelation for $name {
            type Entity = $entity::Entity;
            fn parent_column() -> $entity::Column {
                $entity::Column::$parent
            }
            fn id_column() -> $entity::Column {
                $entity::Column::Id
            }
            fn order() -> Vec<$crate::graphql::connection::SortKey<$entity::Column>> {
                vec![$crate::graphql::connection::SortKey::new(
                    $entity::Column::$order,
                    $crate::graphql::connection::SortDirection::$direction,
                )]
            }
        }
    };
}

/// Declares a DataLoader that batches "row by id" lookups of one request into one `IN` query and
/// wraps each row in its GraphQL node: `id_loader!(Name, entity_module, Node)`. The ids come from
/// rows already scoped to the caller's workspace.
#[macro_export]
macro_rules! id_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $node:ident) => {
        $(#[$doc])*
        pub struct $name(pub sea_orm::DatabaseConnection);

        impl async_graphql::dataloader::Loader<uuid::Uuid> for $name {
            type Value = $node;
            type Error = async_graphql::Error;

            async fn load(
                &self,
                keys: &[uuid::Uuid],
            ) -> Result<std::collections::HashMap<uuid::Uuid, $node>, Self::Error> {
                use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
                let rows = $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(keys.iter().copied()))
                    .all(&self.0)
                    .await
                    .map_err($crate::graphql::AppError::from)?;
                Ok(rows.into_iter().map(|row| (row.id, $node(row))).collect())
            }
        }
    };
}

/// Batches "first n children" requests of one GraphQL request.
pub struct ChildrenLoader<R> {
    db: DatabaseConnection,
    relation: PhantomData<R>,
}

impl<R> ChildrenLoader<R> {
    pub fn new(db: DatabaseConnection) -> Self {
        ChildrenLoader { db, relation: PhantomData }
    }
}

impl<R: ChildRelation> async_graphql::dataloader::Loader<(Uuid, usize)> for ChildrenLoader<R> {
    type Value = Vec<<R::Entity as EntityTrait>::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(Uuid, usize)]) -> Result<HashMap<(Uuid, usize), Self::Value>, Self::Error> {
        let mut by_size: HashMap<usize, Vec<Uuid>> = HashMap::new();
        for (parent, n) in keys {
            by_size.entry(*n).or_default().push(*parent);
        }
        let mut out = HashMap::new();
        for (n, parents) in by_size {
            let mut rows = first_per_parent::<R>(&self.db, &parents, n).await?;
            for parent in parents {
                out.insert((parent, n), rows.remove(&parent).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

/// The first `n` children of each parent, in the relation's order, in one statement.
async fn first_per_parent<R: ChildRelation>(
    db: &DatabaseConnection,
    parents: &[Uuid],
    n: usize,
) -> AppResult<HashMap<Uuid, Vec<<R::Entity as EntityTrait>::Model>>> {
    let order = with_id(R::order(), R::id_column());
    let mut window = WindowStatement::partition_by(R::parent_column());
    for key in &order {
        window.order_by_expr(key.expr(), if key.direction == SortDirection::Asc { Order::Asc } else { Order::Desc });
    }
    let rank = Alias::new("rank_in_parent");
    let mut inner = R::Entity::find().filter(R::parent_column().is_in(parents.iter().copied())).into_query();
    inner.expr_window_as(Func::cust("ROW_NUMBER"), window, rank.clone());
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(rank.clone()).lte(n as i64))
        .order_by(rank, Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&outer);
    let rows = R::Entity::find().from_raw_sql(statement).all(db).await?;
    let mut grouped: HashMap<Uuid, Vec<_>> = HashMap::new();
    for row in rows {
        match row.get(R::parent_column()) {
            Value::Uuid(Some(parent)) => grouped.entry(parent).or_default().push(row),
            other => return Err(AppError::Internal(anyhow::anyhow!("child row without a parent id: {other:?}"))),
        }
    }
    Ok(grouped)
}

/// A page of `parent`'s children: a plain first page comes from the batch loader, anything
/// else (cursors, `last`) is paged directly.
pub async fn children_page<R: ChildRelation, N: OutputType>(
    ctx: &Context<'_>,
    parent: Uuid,
    args: PageArgs,
    to_node: impl Fn(<R::Entity as EntityTrait>::Model) -> N,
) -> async_graphql::Result<Page<N>>
where
    <R::Entity as EntityTrait>::Model: Sync,
{
    let db = state(ctx).db();
    let Some(n) = args.plain_first() else {
        return Ok(paginate(db, R::of(parent), R::order(), R::id_column(), args, to_node).await?);
    };
    let children = loader::<ChildrenLoader<R>>(ctx)?;
    let mut rows = children.load_one((parent, n + 1)).await?.unwrap_or_default();
    let has_next = rows.len() > n;
    rows.truncate(n);
    let order = with_id(R::order(), R::id_column());
    Ok(build_page(rows, &order, false, has_next, TotalCount::of(db, R::of(parent)), to_node)?)
}

/// The selections of a connection's nodes (`edges { node }` and `nodes`), for prefetching.
pub fn node_selections<'a>(ctx: &'a Context<'_>) -> [async_graphql::Lookahead<'a>; 2] {
    let connection = ctx.look_ahead();
    [connection.field("edges").field("node"), connection.field("nodes")]
}

/// Loads the children every node of a page asks for under `field`, for all `parents` at once,
/// into the request's loader cache. Batching then no longer depends on timing: the nodes'
/// own `children_page` calls find their rows already cached.
pub async fn prefetch<R: ChildRelation>(
    ctx: &Context<'_>,
    nodes: &[async_graphql::Lookahead<'_>],
    field: &str,
    parents: &[Uuid],
) -> async_graphql::Result<()> {
    if parents.is_empty() {
        return Ok(());
    }
    let mut sizes = Vec::new();
    for node in nodes {
        for selection in node.field(field).selection_fields() {
            let mut args = PageArgs::default();
            for (name, value) in selection.arguments()? {
                let as_int = |v: &async_graphql::Value| match v {
                    async_graphql::Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
                    _ => None,
                };
                match name.as_str() {
                    "first" => args.first = as_int(&value),
                    "last" => args.last = as_int(&value),
                    "after" | "before" => args.after = Some(String::new()),
                    _ => {}
                }
            }
            if let Some(n) = args.plain_first() {
                sizes.push(n + 1);
            }
        }
    }
    sizes.sort_unstable();
    sizes.dedup();
    let children = loader::<ChildrenLoader<R>>(ctx)?;
    for n in sizes {
        let mut rows = first_per_parent::<R>(state(ctx).db(), parents, n).await?;
        let fed: Vec<_> = parents.iter().map(|p| ((*p, n), rows.remove(p).unwrap_or_default())).collect();
        children.feed_many(fed).await;
    }
    Ok(())
}
