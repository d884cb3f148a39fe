use sea_orm::entity::prelude::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum FeedbackKind {
    /// Net Promoter: 0–10.
    #[sea_orm(string_value = "NPS")]
    Nps,
    /// Satisfaction: 1–5.
    #[sea_orm(string_value = "CSAT")]
    Csat,
    /// Free-form review, optionally rated 1–5.
    #[sea_orm(string_value = "REVIEW")]
    Review,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub kind: FeedbackKind,
    pub score: Option<i32>,
    pub comment: Option<String>,
    /// The customer's answer to "why did you choose us?".
    pub why_us: Option<String>,
    pub ticket_id: Option<Uuid>,
    pub submitted_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
