//! Orders: what customers bought. Recording is idempotent on the sender's reference.

pub mod service;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::order::{self, OrderChannel, OrderStatus};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::{
    auth::Permission,
    child_relation,
    customers::{Customer, CustomerLoader},
    graphql::{
        AppError, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, IdFilter, MoneyFilter, StringFilter, boolean_ops},
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    money, workspaces,
};

pub struct Order(pub order::Model);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// The sender's reference; recording the same reference again never duplicates the order.
    async fn external_ref(&self) -> &str {
        &self.0.external_ref
    }
    async fn amount(&self) -> Decimal {
        money::from_minor(self.0.amount_minor, &self.0.currency)
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn placed_at(&self) -> DateTime<Utc> {
        self.0.placed_at
    }
    /// Only COMPLETED orders count in statistics and metrics.
    async fn status(&self) -> OrderStatus {
        self.0.status
    }
    async fn channel(&self) -> OrderChannel {
        self.0.channel
    }
    async fn refunded_at(&self) -> Option<DateTime<Utc>> {
        self.0.refunded_at
    }
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        loader::<CustomerLoader>(ctx)?
            .load_one(self.0.customer_id)
            .await?
            .ok_or_else(|| AppError::not_found("customer").into())
    }
}

child_relation!(
    /// A customer's orders, newest first.
    CustomerOrders,
    order,
    CustomerId,
    PlacedAt,
    Desc
);

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub customer_id: Option<IdFilter>,
    pub external_ref: Option<StringFilter>,
    pub status: Option<EnumFilter<OrderStatus>>,
    pub channel: Option<EnumFilter<OrderChannel>>,
    pub amount: Option<MoneyFilter>,
    pub placed_at: Option<DateTimeFilter>,
    pub and: Option<Vec<OrderFilter>>,
    pub or: Option<Vec<OrderFilter>>,
    pub not: Option<Box<OrderFilter>>,
}

impl OrderFilter {
    /// The condition on `order` rows; `currency` is the workspace's, for amount bounds.
    pub fn condition(&self, currency: &str) -> Result<Condition, AppError> {
        let mut all = Condition::all();
        if let Some(f) = &self.customer_id {
            all = all.add(f.condition(order::Column::CustomerId, "filter.customerId")?);
        }
        if let Some(f) = &self.external_ref {
            all = all.add(f.condition(order::Column::ExternalRef));
        }
        if let Some(f) = &self.status {
            all = all.add(f.condition(order::Column::Status));
        }
        if let Some(f) = &self.channel {
            all = all.add(f.condition(order::Column::Channel));
        }
        if let Some(f) = &self.amount {
            all = all.add(f.condition(order::Column::AmountMinor, currency, "filter.amount")?);
        }
        if let Some(f) = &self.placed_at {
            all = all.add(f.condition(order::Column::PlacedAt));
        }
        boolean_ops(all, &self.and, &self.or, &self.not, |f| f.condition(currency))
    }
}

#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum OrderOrderField {
    PlacedAt,
    Amount,
    CreatedAt,
}

#[derive(InputObject, Clone, Copy)]
pub struct OrderOrder {
    pub field: OrderOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// Orders of the workspace; default newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<OrderFilter>,
        order_by: Option<Vec<OrderOrder>>,
    ) -> async_graphql::Result<Page<Order>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = workspaces::service::get(db, principal.workspace_id()).await?;
        let mut query = order::Entity::find().filter(order::Column::WorkspaceId.eq(principal.workspace_id()));
        if let Some(filter) = &filter {
            query = query.filter(filter.condition(&workspace.currency)?);
        }
        let order = order_by
            .unwrap_or_else(|| vec![OrderOrder { field: OrderOrderField::PlacedAt, direction: SortDirection::Desc }])
            .into_iter()
            .map(|o| {
                let column = match o.field {
                    OrderOrderField::PlacedAt => order::Column::PlacedAt,
                    OrderOrderField::Amount => order::Column::AmountMinor,
                    OrderOrderField::CreatedAt => order::Column::CreatedAt,
                };
                SortKey::new(column, o.direction)
            })
            .collect();
        Ok(paginate(db, query, order, order::Column::Id, PageArgs { first, after, last, before }, Order).await?)
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(Order(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }
}

#[derive(InputObject)]
pub struct RecordOrderInput {
    pub customer_id: ID,
    /// Your reference for the order: the idempotency key.
    pub external_ref: String,
    /// In the workspace currency, with at most its number of decimals.
    pub amount: Decimal,
    /// Optional; must be the workspace currency when given.
    pub currency: Option<String>,
    pub placed_at: DateTime<Utc>,
    #[graphql(default_with = "OrderChannel::Online")]
    pub channel: OrderChannel,
}

#[derive(SimpleObject)]
pub struct RecordOrderPayload {
    pub order: Order,
    /// False when this was a retry of an order already recorded.
    pub created: bool,
}

#[derive(InputObject)]
pub struct OrderIdInput {
    pub order_id: ID,
}

#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Order,
}

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Records a completed order; safe to retry with the same `externalRef`.
    async fn record_order(
        &self,
        ctx: &Context<'_>,
        input: RecordOrderInput,
    ) -> async_graphql::Result<RecordOrderPayload> {
        let principal = authorize(ctx, Permission::WriteOrders)?;
        let order = service::OrderInput {
            customer_id: parse_id(&input.customer_id, "input.customerId")?,
            external_ref: input.external_ref,
            amount: input.amount,
            currency: input.currency,
            placed_at: input.placed_at,
            channel: input.channel,
        };
        let recorded =
            transact(state(ctx).db(), async |txn| service::record(txn, principal.workspace_id(), order).await).await?;
        Ok(RecordOrderPayload { order: Order(recorded.order), created: recorded.created })
    }

    /// Marks a completed order refunded; it leaves the customer's statistics and every metric.
    async fn refund_order(&self, ctx: &Context<'_>, input: OrderIdInput) -> async_graphql::Result<OrderPayload> {
        let principal = authorize(ctx, Permission::WriteOrders)?;
        let id = parse_id(&input.order_id, "input.orderId")?;
        let order = transact(state(ctx).db(), async |txn| {
            service::refund(txn, principal.workspace_id(), principal.actor(), id).await
        })
        .await?;
        Ok(OrderPayload { order: Order(order) })
    }

    /// Marks a completed order cancelled.
    async fn cancel_order(&self, ctx: &Context<'_>, input: OrderIdInput) -> async_graphql::Result<OrderPayload> {
        let principal = authorize(ctx, Permission::WriteOrders)?;
        let id = parse_id(&input.order_id, "input.orderId")?;
        let order = transact(state(ctx).db(), async |txn| {
            service::cancel(txn, principal.workspace_id(), principal.actor(), id).await
        })
        .await?;
        Ok(OrderPayload { order: Order(order) })
    }
}
