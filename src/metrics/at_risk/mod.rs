//! At-risk early warning: scores with reasons (`score`), assessed by the background job's
//! lifecycle sweep and stored (`service`), listed here by value at risk.

pub mod score;
pub mod service;

use std::collections::HashMap;

use async_graphql::{Context, Enum, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::customer_risk;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, QuerySelect, QueryTrait, sea_query::Expr,
};
use uuid::Uuid;

pub use score::{Finding, RiskReason};
pub use service::{Assessed, RiskContext, ValueBasis, replace};

use crate::{
    auth::Permission,
    customers::{Customer, CustomerFilter, CustomerLoader},
    graphql::{
        AppError, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        context::loader,
        state,
    },
    money, workspaces,
};

#[derive(InputObject, Default)]
pub struct AtRiskFilter {
    /// Customers with any of these reasons.
    pub reasons: Option<Vec<RiskReason>>,
    /// Customers scoring at least this (0–100).
    pub min_score: Option<i32>,
    /// Customers matching this filter (owner, stage, tags, profile, …).
    pub customer: Option<CustomerFilter>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AtRiskOrderField {
    ValueAtRisk,
    Score,
    AssessedAt,
}

#[derive(InputObject)]
pub struct AtRiskOrder {
    pub field: AtRiskOrderField,
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

/// A customer the latest assessment found at risk, with why and what is at stake.
pub struct AtRiskCustomer {
    row: customer_risk::Model,
    currency: String,
}

#[Object]
impl AtRiskCustomer {
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        loader::<CustomerLoader>(ctx)?
            .load_one(self.row.customer_id)
            .await?
            .ok_or_else(|| AppError::not_found("customer").into())
    }
    /// 0–100: 1 − Π(1 − weight) over the reasons, in percent.
    async fn score(&self) -> i32 {
        self.row.score
    }
    /// Every reason found, strongest first.
    async fn reasons(&self) -> async_graphql::Result<Vec<Finding>> {
        let mut findings: Vec<Finding> =
            serde_json::from_value(self.row.reasons.clone()).map_err(|e| AppError::Internal(e.into()))?;
        findings.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        Ok(findings)
    }
    /// BG/NBD probability that the customer is still active, today (repeat buyers, with a fit).
    async fn probability_alive(&self) -> Option<f64> {
        self.row.probability_alive
    }
    /// What the customer is worth over the next 12 months (see `valueBasis`).
    async fn value(&self) -> Decimal {
        money::from_minor(self.row.value_minor, &self.currency)
    }
    async fn value_basis(&self) -> ValueBasis {
        ValueBasis::of(&self.row.value_basis)
    }
    /// `value × score / 100`: the list's default order.
    async fn value_at_risk(&self) -> Decimal {
        money::from_minor(self.row.value_at_risk_minor, &self.currency)
    }
    async fn assessed_at(&self) -> DateTime<Utc> {
        self.row.assessed_at
    }
}

#[derive(Default)]
pub struct AtRiskQuery;

#[Object]
impl AtRiskQuery {
    /// Customers at risk of leaving, as of the latest assessment (the background job), most value
    /// at risk first. Dormant customers, and those parked as NOT_NOW or CHURNED, are not listed.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn at_risk_customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AtRiskFilter>,
        order_by: Option<AtRiskOrder>,
    ) -> async_graphql::Result<Page<AtRiskCustomer>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = workspaces::service::get(db, principal.workspace_id()).await?;
        let mut query =
            customer_risk::Entity::find().filter(customer_risk::Column::WorkspaceId.eq(principal.workspace_id()));
        let filter = filter.unwrap_or_default();
        if let Some(reasons) = filter.reasons.filter(|r| !r.is_empty()) {
            let bits = reasons.iter().fold(0, |mask, r| mask | r.bit());
            query = query.filter(Expr::col(customer_risk::Column::ReasonMask).bit_and(bits).ne(0));
        }
        if let Some(min) = filter.min_score {
            query = query.filter(customer_risk::Column::Score.gte(min));
        }
        if let Some(customers) = filter.customer {
            let condition = customers.condition(&workspace.currency, db.get_database_backend())?;
            let members = crate::customers::service::query(workspace.id)
                .select_only()
                .column(entity::customer::Column::Id)
                .filter(condition);
            query = query.filter(customer_risk::Column::CustomerId.in_subquery(members.into_query()));
        }
        let order =
            order_by.unwrap_or(AtRiskOrder { field: AtRiskOrderField::ValueAtRisk, direction: SortDirection::Desc });
        let column = match order.field {
            AtRiskOrderField::ValueAtRisk => customer_risk::Column::ValueAtRiskMinor,
            AtRiskOrderField::Score => customer_risk::Column::Score,
            AtRiskOrderField::AssessedAt => customer_risk::Column::AssessedAt,
        };
        let currency = workspace.currency;
        let to_node = move |row| AtRiskCustomer { row, currency: currency.clone() };
        let args = PageArgs { first, after, last, before };
        Ok(paginate(
            db,
            query,
            vec![SortKey::new(column, order.direction)],
            customer_risk::Column::CustomerId,
            args,
            to_node,
        )
        .await?)
    }
}

/// Batches `customer.risk`; keys are (workspace, customer).
pub struct RiskLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<(Uuid, Uuid)> for RiskLoader {
    type Value = std::sync::Arc<AtRiskCustomer>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(Uuid, Uuid)]) -> Result<HashMap<(Uuid, Uuid), Self::Value>, Self::Error> {
        let rows = customer_risk::Entity::find()
            .filter(customer_risk::Column::CustomerId.is_in(keys.iter().map(|(_, c)| *c)))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        let wanted: std::collections::HashSet<&(Uuid, Uuid)> = keys.iter().collect();
        let mut currencies: HashMap<Uuid, String> = HashMap::new();
        let mut out = HashMap::new();
        for row in rows {
            let key = (row.workspace_id, row.customer_id);
            if !wanted.contains(&key) {
                continue;
            }
            let currency = match currencies.get(&row.workspace_id) {
                Some(c) => c.clone(),
                None => {
                    let c = workspaces::service::get(&self.0, row.workspace_id).await?.currency;
                    currencies.insert(row.workspace_id, c.clone());
                    c
                }
            };
            out.insert(key, std::sync::Arc::new(AtRiskCustomer { row, currency }));
        }
        Ok(out)
    }
}

/// `customer.risk`: the latest assessment, null when the customer was not found at risk.
pub async fn customer_risk(
    ctx: &Context<'_>,
    customer: &entity::customer::Model,
) -> async_graphql::Result<Option<std::sync::Arc<AtRiskCustomer>>> {
    loader::<RiskLoader>(ctx)?.load_one((customer.workspace_id, customer.id)).await
}
