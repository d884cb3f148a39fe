use sea_orm::entity::prelude::*;

use crate::enums::{AcquisitionSource, AgeBand, Channel, IncomeBand};

/// Where a customer stands with us. Customers are never silently dropped: leaving is a stage.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LifecycleStage {
    /// Known to us, no completed order yet.
    #[sea_orm(string_value = "NEW")]
    New,
    /// Has bought, within the activity window.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Keeps choosing us (workspace rule: repeat orders over time).
    #[sea_orm(string_value = "LOYAL")]
    Loyal,
    /// Signals say they may leave.
    #[sea_orm(string_value = "AT_RISK")]
    AtRisk,
    /// No order within the activity window.
    #[sea_orm(string_value = "DORMANT")]
    Dormant,
    /// Said no for now; kept and revisited later.
    #[sea_orm(string_value = "NOT_NOW")]
    NotNow,
    /// Gone, by explicit staff decision only.
    #[sea_orm(string_value = "CHURNED")]
    Churned,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The id in the system the customer came from (imports, integrations); unique per workspace.
    pub external_ref: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<Date>,
    pub anniversary: Option<Date>,
    pub lifecycle_stage: LifecycleStage,
    pub lifecycle_changed_at: DateTimeUtc,
    pub not_now_until: Option<DateTimeUtc>,
    pub source: Option<AcquisitionSource>,
    pub source_lead_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub referred_by_customer_id: Option<Uuid>,
    pub marketing_consent: bool,
    /// Completed orders only; kept in step with `order` in the same transaction.
    pub order_count: i32,
    pub total_spent_minor: i64,
    pub first_order_at: Option<DateTimeUtc>,
    pub last_order_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    pub erased_at: Option<DateTimeUtc>,
    pub merged_into_id: Option<Uuid>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub age_band: Option<AgeBand>,
    pub gender: Option<String>,
    pub income_band: Option<IncomeBand>,
    pub occupation: Option<String>,
    pub interests: Json,
    pub personality_type: Option<String>,
    pub preferred_channel: Option<Channel>,
    pub interaction_style: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
