use sea_orm::entity::prelude::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReferralStatus {
    /// Waiting for the referee's first qualifying order.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// The first order completed; rewards follow when the approval period has passed.
    #[sea_orm(string_value = "QUALIFIED")]
    Qualified,
    /// Both sides were paid.
    #[sea_orm(string_value = "REWARDED")]
    Rewarded,
    /// Self-referral, a loop, or the referee matches the referrer: flagged, never paid.
    #[sea_orm(string_value = "REFUSED")]
    Refused,
}

/// A referee brought in with a customer's referral code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referral")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub referrer_account_id: Uuid,
    pub referee_customer_id: Option<Uuid>,
    /// Set while the referee is still a lead; kept after conversion.
    pub referee_lead_id: Option<Uuid>,
    pub status: ReferralStatus,
    pub refusal_reason: Option<String>,
    pub qualifying_order_id: Option<Uuid>,
    pub qualified_at: Option<DateTimeUtc>,
    pub reward_due_at: Option<DateTimeUtc>,
    pub rewarded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
