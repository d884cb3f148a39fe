use sea_orm::entity::prelude::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum RewardKind {
    /// `value` is the percentage (1–100).
    #[sea_orm(string_value = "PERCENT_DISCOUNT")]
    PercentDiscount,
    /// `value` is an amount of the workspace currency (stored here in its minor units).
    #[sea_orm(string_value = "AMOUNT_DISCOUNT")]
    AmountDiscount,
    #[sea_orm(string_value = "FREE_PRODUCT")]
    FreeProduct,
    #[sea_orm(string_value = "FREE_SHIPPING")]
    FreeShipping,
    #[sea_orm(string_value = "EXCLUSIVE_ACCESS")]
    ExclusiveAccess,
}

/// Something points can buy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub kind: RewardKind,
    pub value: Option<i64>,
    pub cost_points: i64,
    /// Only accounts at this tier rank or above may redeem (and see) it.
    pub min_tier_rank: Option<i32>,
    /// Left in stock; null is unlimited. Never below zero.
    pub stock: Option<i64>,
    pub active_from: Option<DateTimeUtc>,
    pub active_to: Option<DateTimeUtc>,
    /// Coupons issued for it expire after this many days.
    pub coupon_valid_days: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
