use sea_orm::entity::prelude::*;

/// A fit of the predictive models on one workspace's orders up to `observation_end`. The fits are
/// stored as JSON (`metrics::predictive` types); the newest row is the one in use.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "prediction_model")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The last day (workspace time zone) whose orders were used.
    pub observation_end: Date,
    /// DAY or WEEK.
    pub time_unit: String,
    /// Customers in the fit.
    pub customers: i64,
    pub bgnbd: Json,
    /// Null when there were too few repeat buyers for the spend model.
    pub gamma_gamma: Option<Json>,
    pub holdout: Option<Json>,
    pub fitted_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
