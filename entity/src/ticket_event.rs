use sea_orm::entity::prelude::*;

use crate::audit_log::ActorKind;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum TicketEventKind {
    #[sea_orm(string_value = "CREATED")]
    Created,
    /// A status change (`from` → `to`).
    #[sea_orm(string_value = "STATUS")]
    Status,
    /// A reply to the customer (public, or private for public posts).
    #[sea_orm(string_value = "REPLY")]
    Reply,
    /// A message from the customer.
    #[sea_orm(string_value = "CUSTOMER_MESSAGE")]
    CustomerMessage,
    /// A note for staff only.
    #[sea_orm(string_value = "NOTE")]
    Note,
    #[sea_orm(string_value = "ASSIGN")]
    Assign,
    #[sea_orm(string_value = "ESCALATE")]
    Escalate,
    #[sea_orm(string_value = "PRIORITY")]
    Priority,
    #[sea_orm(string_value = "SLA_WARNING")]
    SlaWarning,
    #[sea_orm(string_value = "SLA_BREACH")]
    SlaBreach,
    #[sea_orm(string_value = "MERGE")]
    Merge,
    #[sea_orm(string_value = "RATED")]
    Rated,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Visibility {
    /// Seen by the customer (or, for public posts, by everyone).
    #[sea_orm(string_value = "PUBLIC")]
    Public,
    /// A direct message to the customer, for public posts.
    #[sea_orm(string_value = "PRIVATE")]
    Private,
    /// Staff only.
    #[sea_orm(string_value = "INTERNAL")]
    Internal,
}

/// One entry of a ticket's history: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub ticket_id: Uuid,
    pub kind: TicketEventKind,
    pub visibility: Visibility,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    /// Who entered it when that is not its author: the staff member who typed a customer's message.
    pub recorded_by_kind: Option<ActorKind>,
    pub recorded_by_id: Option<Uuid>,
    pub body: Option<String>,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
