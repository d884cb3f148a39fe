use sea_orm::entity::prelude::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OrderStatus {
    /// Counts in every metric.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OrderChannel {
    #[sea_orm(string_value = "ONLINE")]
    Online,
    #[sea_orm(string_value = "IN_STORE")]
    InStore,
    #[sea_orm(string_value = "PHONE")]
    Phone,
    #[sea_orm(string_value = "MARKETPLACE")]
    Marketplace,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// A purchase. Money is integer minor units of `currency` (never floats).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    /// The sender's id for the order; unique per workspace, so retries cannot duplicate it.
    pub external_ref: String,
    pub amount_minor: i64,
    pub currency: String,
    pub placed_at: DateTimeUtc,
    pub status: OrderStatus,
    pub channel: OrderChannel,
    pub refunded_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
