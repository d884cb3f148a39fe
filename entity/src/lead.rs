use sea_orm::entity::prelude::*;

use crate::enums::{AcquisitionSource, AgeBand, Channel, IncomeBand, Priority};

/// How far along a lead is in knowing what it wants.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LeadCategory {
    /// Knows neither the need nor the offer.
    #[sea_orm(string_value = "UNAWARE")]
    Unaware,
    /// Knows what it wants; shopping between us and competitors.
    #[sea_orm(string_value = "COMPARING")]
    Comparing,
    /// Bought before but is not loyal.
    #[sea_orm(string_value = "PAST_BUYER")]
    PastBuyer,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LeadStatus {
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "CONTACTED")]
    Contacted,
    #[sea_orm(string_value = "QUALIFIED")]
    Qualified,
    #[sea_orm(string_value = "NURTURING")]
    Nurturing,
    #[sea_orm(string_value = "CONVERTED")]
    Converted,
    #[sea_orm(string_value = "DISQUALIFIED")]
    Disqualified,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub source: AcquisitionSource,
    pub category: LeadCategory,
    pub status: LeadStatus,
    /// 0–100, from the rules in `score_reasons`.
    pub score: i32,
    pub score_reasons: Json,
    pub priority: Priority,
    pub owner_id: Option<Uuid>,
    pub referred_by_customer_id: Option<Uuid>,
    pub converted_customer_id: Option<Uuid>,
    pub converted_at: Option<DateTimeUtc>,
    pub disqualify_reason: Option<String>,
    pub not_now_until: Option<DateTimeUtc>,
    pub last_interaction_at: Option<DateTimeUtc>,
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
