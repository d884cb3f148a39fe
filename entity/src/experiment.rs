use sea_orm::entity::prelude::*;

/// What a retention campaign under test sets out to do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum ExperimentKind {
    /// Keep active customers buying.
    #[sea_orm(string_value = "RETENTION")]
    Retention,
    /// Bring at-risk or dormant customers back.
    #[sea_orm(string_value = "REACTIVATION")]
    Reactivation,
    /// Turn one-time buyers into repeat buyers.
    #[sea_orm(string_value = "SECOND_PURCHASE")]
    SecondPurchase,
    /// Loyalty offers: bonus points, rewards, tier perks.
    #[sea_orm(string_value = "LOYALTY_OFFER")]
    LoyaltyOffer,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// DRAFT → RUNNING → COMPLETED; a draft or a running experiment can be CANCELLED.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ExperimentStatus {
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    #[sea_orm(string_value = "RUNNING")]
    Running,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// The outcome a test is judged on, per assigned customer over their measurement window.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum ExperimentMetric {
    /// Share of customers with at least one completed order in the window.
    #[sea_orm(string_value = "PURCHASE_RATE")]
    PurchaseRate,
    /// Completed-order revenue in the window per assigned customer (non-buyers count as 0).
    #[sea_orm(string_value = "REVENUE_PER_CUSTOMER")]
    RevenuePerCustomer,
}

/// An A/B test of a retention campaign. `variants` is a JSON list of
/// `{name, weight, followUp: {kind, dueInDays, note} | null}`; `control_variant` names one of them.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experiment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub hypothesis: Option<String>,
    pub kind: ExperimentKind,
    pub status: ExperimentStatus,
    pub variants: Json,
    pub control_variant: String,
    pub success_metric: ExperimentMetric,
    pub window_days: i32,
    /// Customers assigned when it started.
    pub audience_size: i32,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
