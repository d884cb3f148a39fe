use sea_orm::entity::prelude::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum FollowUpKind {
    #[sea_orm(string_value = "THANK_YOU")]
    ThankYou,
    #[sea_orm(string_value = "POST_PURCHASE_SURVEY")]
    PostPurchaseSurvey,
    #[sea_orm(string_value = "BIRTHDAY")]
    Birthday,
    #[sea_orm(string_value = "ANNIVERSARY")]
    Anniversary,
    #[sea_orm(string_value = "CHECK_IN")]
    CheckIn,
    #[sea_orm(string_value = "REACTIVATION")]
    Reactivation,
    #[sea_orm(string_value = "NOT_NOW_REVISIT")]
    NotNowRevisit,
    #[sea_orm(string_value = "CUSTOM")]
    Custom,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum FollowUpStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "DONE")]
    Done,
    #[sea_orm(string_value = "SKIPPED")]
    Skipped,
}

/// A scheduled touch point with a customer or lead.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follow_up")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub kind: FollowUpKind,
    pub due_at: DateTimeUtc,
    pub status: FollowUpStatus,
    pub assignee_id: Option<Uuid>,
    /// Set by the rules job; unique per workspace, so a rule fires once per occasion.
    pub rule_key: Option<String>,
    pub note: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
