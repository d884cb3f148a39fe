use sea_orm::entity::prelude::*;

use crate::enums::Priority;

/// What happens when a target is breached (an SLA_BREACH event and an alert happen always).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum BreachAction {
    /// Raise the escalation level (support → supervisor → management).
    #[sea_orm(string_value = "ESCALATE")]
    Escalate,
    /// Hand the ticket to the next available agent of its group.
    #[sea_orm(string_value = "REASSIGN")]
    Reassign,
    /// Only alert.
    #[sea_orm(string_value = "NOTIFY")]
    Notify,
}

/// SLA targets for one priority, in business minutes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_policy")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub priority: Priority,
    pub first_response_minutes: i32,
    pub next_reply_minutes: i32,
    pub resolution_minutes: i32,
    pub warning_minutes: i32,
    pub breach_action: BreachAction,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
