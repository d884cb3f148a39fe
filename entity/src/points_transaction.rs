use sea_orm::entity::prelude::*;

use crate::audit_log::ActorKind;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum PointsKind {
    #[sea_orm(string_value = "EARN_PURCHASE")]
    EarnPurchase,
    #[sea_orm(string_value = "EARN_BONUS")]
    EarnBonus,
    #[sea_orm(string_value = "EARN_REFERRAL")]
    EarnReferral,
    #[sea_orm(string_value = "REDEEM")]
    Redeem,
    #[sea_orm(string_value = "EXPIRE")]
    Expire,
    /// A manager's correction, either way.
    #[sea_orm(string_value = "ADJUST")]
    Adjust,
    /// Taking back what a refunded or cancelled order earned.
    #[sea_orm(string_value = "REVERSAL")]
    Reversal,
}

/// One line of the points ledger.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_transaction")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub account_id: Uuid,
    pub kind: PointsKind,
    /// Signed: positive earns, negative spends.
    pub points: i64,
    pub order_id: Option<Uuid>,
    pub reason: Option<String>,
    /// Unique per workspace: a retry with the same key never changes points twice.
    pub idempotency_key: Option<String>,
    /// For earned points: when what is left of them expires.
    pub expires_at: Option<DateTimeUtc>,
    /// For EXPIRE rows: the earning row whose points expired.
    pub lot_id: Option<Uuid>,
    /// Earned but not yet spendable: counted in the account's pending points, not its balance.
    pub pending: bool,
    /// When pending points become spendable.
    pub available_at: Option<DateTimeUtc>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
