use sea_orm::entity::prelude::*;

/// A customer's loyalty account. `points_balance` always equals the sum of its released ledger
/// rows and `pending_points` the sum of its pending ones.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "loyalty_account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub points_balance: i64,
    /// Everything ever earned; never decreases.
    pub lifetime_points: i64,
    /// Points owed from reversals of already-spent points, netted from future earnings.
    pub debt_points: i64,
    pub tier_id: Option<Uuid>,
    pub referral_code: String,
    /// Bumped on every balance change.
    pub version: i64,
    /// Earned points not yet spendable (the workspace's pending period), not in the balance.
    pub pending_points: i64,
    /// When the account reached its current tier: the start of its qualification period.
    pub tier_since: Option<DateTimeUtc>,
    /// Since when the account no longer qualifies for its tier (for "N days below" downgrades).
    pub below_tier_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
