use sea_orm::entity::prelude::*;

/// The clocks an SLA policy runs on a ticket.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SlaMetric {
    #[sea_orm(string_value = "FIRST_RESPONSE")]
    FirstResponse,
    /// The reply owed after each customer message.
    #[sea_orm(string_value = "NEXT_REPLY")]
    NextReply,
    #[sea_orm(string_value = "RESOLUTION")]
    Resolution,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SlaEventKind {
    #[sea_orm(string_value = "ACTIVATED")]
    Activated,
    #[sea_orm(string_value = "PAUSED")]
    Paused,
    #[sea_orm(string_value = "RESUMED")]
    Resumed,
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    #[sea_orm(string_value = "WARNED")]
    Warned,
    #[sea_orm(string_value = "BREACHED")]
    Breached,
}

/// The SLA event log of a ticket, from which attainment is computed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub ticket_id: Uuid,
    pub metric: SlaMetric,
    pub kind: SlaEventKind,
    /// The clock's due time when the event happened.
    pub due_at: Option<DateTimeUtc>,
    /// Set on warnings and breaches (metric, kind, due time): unique per ticket, so each is recorded once.
    pub dedupe_key: Option<String>,
    /// Who held the ticket when this happened: an outcome is theirs, whoever holds it later.
    pub assignee_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
