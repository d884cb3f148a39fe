use sea_orm::entity::prelude::*;

/// A rung of the VIP ladder.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tier")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    /// Higher is better; unique per workspace.
    pub rank: i32,
    /// Lifetime points that qualify for this tier.
    pub min_points: i64,
    /// Points earned on purchases are multiplied by this / 100 (100 = ×1).
    pub multiplier_percent: i32,
    /// Perks, as short texts.
    pub perks: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
