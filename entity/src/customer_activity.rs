use sea_orm::entity::prelude::*;

/// One customer's completed orders folded into purchase days (calendar days in the workspace time
/// zone): `days` packs `(day, orders, revenue_minor)` per day with orders, oldest first, as
/// varints (`vafa::metrics::activity::encode`). Rows exist for live customers with completed orders only,
/// and change in the same transaction as the orders.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: Uuid,
    /// Day numbers count from 1 January of year 1 (chrono's `num_days_from_ce`).
    pub first_day: i32,
    pub last_day: i32,
    /// Completed orders in all.
    pub orders: i32,
    #[sea_orm(column_type = "Blob")]
    pub days: Vec<u8>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
