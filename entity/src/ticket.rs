use sea_orm::entity::prelude::*;

use crate::enums::{Channel, Priority};

/// A complaint, or any other request for help.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TicketKind {
    #[sea_orm(string_value = "COMPLAINT")]
    Complaint,
    #[sea_orm(string_value = "REQUEST")]
    Request,
}

/// What a complaint is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum TicketCategory {
    #[sea_orm(string_value = "PRODUCT_QUALITY")]
    ProductQuality,
    #[sea_orm(string_value = "LATE_DELIVERY")]
    LateDelivery,
    #[sea_orm(string_value = "PRICE")]
    Price,
    #[sea_orm(string_value = "STAFF_BEHAVIOR")]
    StaffBehavior,
    #[sea_orm(string_value = "BILLING")]
    Billing,
    #[sea_orm(string_value = "VARIETY")]
    Variety,
    #[sea_orm(string_value = "COMPETITOR_OFFER")]
    CompetitorOffer,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum TicketStatus {
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// Waiting on the customer: the resolution clock is paused.
    #[sea_orm(string_value = "PENDING_CUSTOMER")]
    PendingCustomer,
    #[sea_orm(string_value = "ESCALATED")]
    Escalated,
    #[sea_orm(string_value = "RESOLVED")]
    Resolved,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

/// Where a ticket stands against its SLA targets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SlaStatus {
    #[sea_orm(string_value = "ON_TRACK")]
    OnTrack,
    /// A target is due within the policy's warning offset.
    #[sea_orm(string_value = "AT_RISK")]
    AtRisk,
    #[sea_orm(string_value = "BREACHED")]
    Breached,
    /// Resolved with every target met.
    #[sea_orm(string_value = "MET")]
    Met,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// Sequential per workspace (`#1042`).
    pub number: i64,
    pub kind: TicketKind,
    pub customer_id: Option<Uuid>,
    /// Contact details when the person is not (yet) a known customer.
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub subject: String,
    pub body: String,
    pub channel: Channel,
    pub category: TicketCategory,
    pub priority: Priority,
    /// LOW 1 … URGENT 4, for sorting by urgency.
    pub priority_rank: i32,
    pub status: TicketStatus,
    /// A public post (e.g. a social comment): answered in public and in private.
    pub is_public: bool,
    pub assignee_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    /// 0 support, 1 supervisor, 2 management.
    pub escalation_level: i32,
    pub root_cause: Option<String>,
    pub customer_error: Option<bool>,
    pub resolution: Option<String>,
    pub satisfaction: Option<i32>,
    pub reopen_count: i32,
    pub merged_into_id: Option<Uuid>,
    pub sla_status: SlaStatus,
    pub sla_breached: bool,
    /// When the SLA job must next look at this ticket (a warning or a due time); null when no clock runs.
    pub sla_next_check_at: Option<DateTimeUtc>,
    pub first_response_due_at: Option<DateTimeUtc>,
    pub first_responded_at: Option<DateTimeUtc>,
    pub first_response_business_secs: Option<i64>,
    /// Due time of the reply owed after the customer's latest message.
    pub next_reply_due_at: Option<DateTimeUtc>,
    /// Null while the resolution clock is paused or stopped.
    pub resolution_due_at: Option<DateTimeUtc>,
    /// Start of the resolution clock's current running stretch; null while paused or stopped.
    pub resolution_clock_started_at: Option<DateTimeUtc>,
    /// Business seconds the resolution clock ran before its current stretch.
    pub resolution_elapsed_business_secs: i64,
    pub resolution_business_secs: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
