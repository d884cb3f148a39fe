use sea_orm::entity::prelude::*;

/// The latest at-risk assessment of a customer with at least one reason (customers without any
/// have no row). Written by the background job; `reasons` is a JSON list of
/// `{reason, weight, detail}` and `reason_mask` the same reasons as bits, for filtering.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_risk")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: Uuid,
    /// 0–100.
    pub score: i32,
    pub reason_mask: i32,
    pub reasons: Json,
    /// The reasons only an assessment finds (model, median gap, feedback, contact history), as one
    /// sentence: they keep the customer AT_RISK between assessments. Null without any.
    pub early_warning: Option<String>,
    /// BG/NBD P(alive) today, for repeat buyers when a fit exists.
    pub probability_alive: Option<f64>,
    /// What the customer is worth over the next year, in minor units (see `value_basis`).
    pub value_minor: i64,
    /// PREDICTED_CLV (12 months, from the fitted models) or TRAILING_YEAR_SPEND.
    pub value_basis: String,
    /// `value_minor × score / 100`.
    pub value_at_risk_minor: i64,
    pub assessed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
