use sea_orm::entity::prelude::*;

/// A tenant. Every other row belongs to exactly one workspace.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// ISO 4217 code; all money in the workspace is in this currency's minor units.
    pub currency: String,
    /// IANA time zone name; period boundaries in metrics are taken here.
    pub timezone: String,
    pub settings: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
