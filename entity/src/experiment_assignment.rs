use sea_orm::entity::prelude::*;

/// The variant a customer was put in, once per experiment. Orders placed in
/// `[assigned_at, window_ends_at)` are the customer's outcome.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "experiment_assignment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub experiment_id: Uuid,
    pub customer_id: Uuid,
    pub variant: String,
    pub assigned_at: DateTimeUtc,
    pub window_ends_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
