//! Complaints and tickets: every channel, the status machine, SLA clocks in business time,
//! escalation, CSAT, reports and live updates.

pub mod breaches;
pub mod business_time;
pub mod report;
pub mod routing;
pub mod service;
pub mod setup;
pub mod sla;
pub mod subscriptions;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    audit_log::ActorKind,
    enums::{Channel, Priority},
    sla_event::{self, SlaEventKind, SlaMetric},
    ticket::{self, SlaStatus, TicketCategory, TicketKind, TicketStatus},
    ticket_event::{self, TicketEventKind, Visibility},
};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::{
    auth::{Permission, Principal},
    child_relation,
    customers::{Customer, CustomerLoader},
    events::Outbox,
    graphql::{
        AppError, authorize, authorize_or_customer,
        children::children_page,
        connection::{NullsPlacement, Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, IdFilter, StringFilter, boolean_ops},
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    users::{User, UserLoader},
};
use service::Change;

#[derive(Clone)]
pub struct Ticket(pub ticket::Model);

/// How long something took, on the wall clock and in business hours.
#[derive(SimpleObject)]
pub struct Elapsed {
    pub wall_seconds: i64,
    pub business_seconds: i64,
}

#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
pub enum EscalationLevel {
    Support,
    Supervisor,
    Management,
}

impl EscalationLevel {
    fn of(level: i32) -> Self {
        match level {
            0 => EscalationLevel::Support,
            1 => EscalationLevel::Supervisor,
            _ => EscalationLevel::Management,
        }
    }
}

#[Object]
impl Ticket {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Sequential per workspace: shown as `#1042`.
    async fn number(&self) -> i64 {
        self.0.number
    }
    async fn kind(&self) -> TicketKind {
        self.0.kind
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        match self.0.customer_id {
            Some(id) => Ok(loader::<CustomerLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    /// Contact details given when filing (the only ones for a complainer who is not a customer).
    async fn contact_name(&self) -> Option<&str> {
        self.0.contact_name.as_deref()
    }
    async fn contact_email(&self) -> Option<&str> {
        self.0.contact_email.as_deref()
    }
    async fn contact_phone(&self) -> Option<&str> {
        self.0.contact_phone.as_deref()
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn channel(&self) -> Channel {
        self.0.channel
    }
    async fn category(&self) -> TicketCategory {
        self.0.category
    }
    async fn priority(&self) -> Priority {
        self.0.priority
    }
    async fn status(&self) -> TicketStatus {
        self.0.status
    }
    /// A public post (social comment): replies can be public and private.
    async fn is_public(&self) -> bool {
        self.0.is_public
    }
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.assignee_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<setup::AgentGroup>> {
        match self.0.group_id {
            Some(id) => Ok(loader::<setup::AgentGroupLoader>(ctx)?.load_one(id).await?),
            None => Ok(None),
        }
    }
    async fn escalation_level(&self) -> EscalationLevel {
        EscalationLevel::of(self.0.escalation_level)
    }
    async fn root_cause(&self) -> Option<&str> {
        self.0.root_cause.as_deref()
    }
    /// Resolved as the customer's own error (handled politely, reported separately).
    async fn customer_error(&self) -> Option<bool> {
        self.0.customer_error
    }
    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }
    /// CSAT given after resolution, 1–5.
    async fn satisfaction(&self) -> Option<i32> {
        self.0.satisfaction
    }
    async fn reopen_count(&self) -> i32 {
        self.0.reopen_count
    }
    /// The ticket this one was merged into.
    async fn merged_into(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Ticket>> {
        match self.0.merged_into_id {
            Some(id) => loader::<TicketLoader>(ctx)?.load_one(id).await,
            None => Ok(None),
        }
    }
    /// As of now: a running clock past its due time counts as breached even before the SLA job ran.
    async fn sla_status(&self) -> SlaStatus {
        sla::status_at(&self.0, Utc::now())
    }
    /// Whether any SLA target of this ticket was ever missed.
    async fn sla_breached(&self) -> bool {
        self.0.sla_breached || sla::status_at(&self.0, Utc::now()) == SlaStatus::Breached
    }
    async fn first_response_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_response_due_at
    }
    async fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_responded_at
    }
    /// The reply owed after the customer's latest message, if one is owed.
    async fn next_reply_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_reply_due_at
    }
    /// Null while the clock is paused (waiting on the customer) or stopped (resolved).
    async fn resolution_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolution_due_at
    }
    async fn time_to_first_response(&self) -> Option<Elapsed> {
        Some(Elapsed {
            wall_seconds: (self.0.first_responded_at? - self.0.created_at).num_seconds(),
            business_seconds: self.0.first_response_business_secs?,
        })
    }
    /// Business time excludes time spent waiting on the customer.
    async fn time_to_resolution(&self) -> Option<Elapsed> {
        Some(Elapsed {
            wall_seconds: (self.0.resolved_at? - self.0.created_at).num_seconds(),
            business_seconds: self.0.resolution_business_secs?,
        })
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The ticket's history, oldest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<TicketEvent>> {
        children_page::<TicketHistory, _>(ctx, self.0.id, PageArgs { first, after, last, before }, TicketEvent).await
    }
    /// The SLA log (activated, paused, resumed, fulfilled, warned, breached), oldest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn sla_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<SlaEvent>> {
        children_page::<TicketSlaLog, _>(ctx, self.0.id, PageArgs { first, after, last, before }, SlaEvent).await
    }
}

child_relation!(
    /// A ticket's event log, oldest first.
    TicketHistory,
    ticket_event,
    TicketId,
    CreatedAt,
    Asc
);

child_relation!(
    /// A ticket's SLA log, oldest first.
    TicketSlaLog,
    sla_event,
    TicketId,
    OccurredAt,
    Asc
);

child_relation!(
    /// A customer's tickets, newest first.
    CustomerTickets,
    ticket,
    CustomerId,
    CreatedAt,
    Desc
);

pub struct TicketEvent(pub ticket_event::Model);

#[Object]
impl TicketEvent {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn kind(&self) -> TicketEventKind {
        self.0.kind
    }
    async fn visibility(&self) -> Visibility {
        self.0.visibility
    }
    async fn actor_kind(&self) -> ActorKind {
        self.0.actor_kind
    }
    /// The staff member who acted, if it was one (a CUSTOMER_MESSAGE is the customer's: actorKind CUSTOMER).
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        staff(ctx, self.0.actor_kind, self.0.actor_id).await
    }
    /// Who entered this for its author, if someone did: the staff side of a customer's message.
    async fn recorded_by_kind(&self) -> Option<ActorKind> {
        self.0.recorded_by_kind
    }
    /// The staff member who entered this for its author, if it was one.
    async fn recorded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.recorded_by_kind {
            Some(kind) => staff(ctx, kind, self.0.recorded_by_id).await,
            None => Ok(None),
        }
    }
    async fn body(&self) -> Option<&str> {
        self.0.body.as_deref()
    }
    /// For changes: the value before …
    async fn from(&self) -> Option<&str> {
        self.0.from_value.as_deref()
    }
    /// … and after.
    async fn to(&self) -> Option<&str> {
        self.0.to_value.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn ticket(&self, ctx: &Context<'_>) -> async_graphql::Result<Ticket> {
        ticket_of(ctx, self.0.ticket_id).await
    }
}

async fn staff(ctx: &Context<'_>, kind: ActorKind, id: Option<uuid::Uuid>) -> async_graphql::Result<Option<User>> {
    match (kind, id) {
        (ActorKind::User, Some(id)) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
        _ => Ok(None),
    }
}

pub struct SlaEvent(pub sla_event::Model);

#[Object]
impl SlaEvent {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn metric(&self) -> SlaMetric {
        self.0.metric
    }
    async fn kind(&self) -> SlaEventKind {
        self.0.kind
    }
    /// The clock's due time when this happened.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn ticket(&self, ctx: &Context<'_>) -> async_graphql::Result<Ticket> {
        ticket_of(ctx, self.0.ticket_id).await
    }
}

/// The ticket an event belongs to (same workspace by construction), batched.
async fn ticket_of(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<Ticket> {
    loader::<TicketLoader>(ctx)?.load_one(id).await?.ok_or_else(|| AppError::not_found("ticket").into())
}

crate::id_loader!(
    /// Batches ticket lookups of one request (events' tickets, merge targets).
    TicketLoader,
    ticket,
    Ticket
);

#[derive(InputObject, Default)]
pub struct TicketFilter {
    pub kind: Option<EnumFilter<TicketKind>>,
    pub status: Option<EnumFilter<TicketStatus>>,
    pub priority: Option<EnumFilter<Priority>>,
    pub category: Option<EnumFilter<TicketCategory>>,
    pub channel: Option<EnumFilter<Channel>>,
    pub assignee_id: Option<IdFilter>,
    pub customer_id: Option<IdFilter>,
    pub group_id: Option<IdFilter>,
    /// The stored SLA status (kept current by the SLA job).
    pub sla_status: Option<EnumFilter<SlaStatus>>,
    /// Tickets that missed (true) or never missed (false) a target.
    pub breached: Option<bool>,
    /// Only open (true: not resolved or closed) or only finished (false) tickets.
    pub open: Option<bool>,
    pub created_at: Option<DateTimeFilter>,
    pub resolved_at: Option<DateTimeFilter>,
    /// Case-insensitive text in the subject, body or contact details.
    pub search: Option<String>,
    pub root_cause: Option<StringFilter>,
    pub customer_error: Option<bool>,
    pub and: Option<Vec<TicketFilter>>,
    pub or: Option<Vec<TicketFilter>>,
    pub not: Option<Box<TicketFilter>>,
}

impl TicketFilter {
    pub fn condition(&self) -> Result<Condition, AppError> {
        use ticket::Column as C;
        let mut all = Condition::all();
        if let Some(f) = &self.kind {
            all = all.add(f.condition(C::Kind));
        }
        if let Some(f) = &self.status {
            all = all.add(f.condition(C::Status));
        }
        if let Some(f) = &self.priority {
            all = all.add(f.condition(C::Priority));
        }
        if let Some(f) = &self.category {
            all = all.add(f.condition(C::Category));
        }
        if let Some(f) = &self.channel {
            all = all.add(f.condition(C::Channel));
        }
        if let Some(f) = &self.assignee_id {
            all = all.add(f.condition(C::AssigneeId, "filter.assigneeId")?);
        }
        if let Some(f) = &self.customer_id {
            all = all.add(f.condition(C::CustomerId, "filter.customerId")?);
        }
        if let Some(f) = &self.group_id {
            all = all.add(f.condition(C::GroupId, "filter.groupId")?);
        }
        if let Some(f) = &self.sla_status {
            all = all.add(f.condition(C::SlaStatus));
        }
        if let Some(breached) = self.breached {
            all = all.add(C::SlaBreached.eq(breached));
        }
        if let Some(open) = self.open {
            let open_statuses = C::Status.is_in(routing::OPEN_STATUSES);
            all = all.add(if open {
                Condition::all().add(open_statuses)
            } else {
                Condition::all().add(open_statuses).not()
            });
        }
        if let Some(f) = &self.created_at {
            all = all.add(f.condition(C::CreatedAt));
        }
        if let Some(f) = &self.resolved_at {
            all = all.add(f.condition(C::ResolvedAt));
        }
        if let Some(text) = self.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let needle = StringFilter { contains: Some(text.to_owned()), ..Default::default() };
            let mut any = Condition::any();
            for column in [C::Subject, C::Body, C::ContactName, C::ContactEmail, C::ContactPhone] {
                any = any.add(needle.condition(column));
            }
            all = all.add(any);
        }
        if let Some(f) = &self.root_cause {
            all = all.add(f.condition(C::RootCause));
        }
        if let Some(customer_error) = self.customer_error {
            all = all.add(C::CustomerError.eq(customer_error));
        }
        boolean_ops(all, &self.and, &self.or, &self.not, TicketFilter::condition)
    }
}

#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum TicketOrderField {
    CreatedAt,
    /// The resolution due time (tickets without one come last).
    ResolutionDueAt,
    FirstResponseDueAt,
    Priority,
    Number,
    UpdatedAt,
}

#[derive(InputObject, Clone, Copy)]
pub struct TicketOrder {
    pub field: TicketOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

fn sort_key(o: TicketOrder) -> SortKey<ticket::Column> {
    use ticket::Column as C;
    let nulls = NullsPlacement::Last;
    match o.field {
        TicketOrderField::CreatedAt => SortKey::new(C::CreatedAt, o.direction),
        TicketOrderField::UpdatedAt => SortKey::new(C::UpdatedAt, o.direction),
        TicketOrderField::Number => SortKey::new(C::Number, o.direction),
        TicketOrderField::ResolutionDueAt => SortKey::nullable_time(C::ResolutionDueAt, o.direction, nulls),
        TicketOrderField::FirstResponseDueAt => SortKey::nullable_time(C::FirstResponseDueAt, o.direction, nulls),
        TicketOrderField::Priority => SortKey::new(C::PriorityRank, o.direction),
    }
}

#[derive(Default)]
pub struct TicketQuery;

#[Object]
impl TicketQuery {
    /// Tickets of the workspace; default newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TicketFilter>,
        order_by: Option<Vec<TicketOrder>>,
    ) -> async_graphql::Result<Page<Ticket>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let mut query = ticket::Entity::find().filter(ticket::Column::WorkspaceId.eq(principal.workspace_id()));
        if let Some(filter) = &filter {
            query = query.filter(filter.condition()?);
        }
        let order = order_by
            .unwrap_or_else(|| vec![TicketOrder { field: TicketOrderField::CreatedAt, direction: SortDirection::Desc }])
            .into_iter()
            .map(sort_key)
            .collect();
        let db = state(ctx).db();
        Ok(paginate(db, query, order, ticket::Column::Id, PageArgs { first, after, last, before }, Ticket).await?)
    }

    async fn ticket(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Ticket> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let id = parse_id(&id, "id")?;
        Ok(Ticket(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }

    /// A ticket by its number (`#1042` → 1042).
    async fn ticket_by_number(&self, ctx: &Context<'_>, number: i64) -> async_graphql::Result<Ticket> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let found = ticket::Entity::find()
            .filter(ticket::Column::WorkspaceId.eq(principal.workspace_id()))
            .filter(ticket::Column::Number.eq(number))
            .one(state(ctx).db())
            .await
            .map_err(AppError::from)?;
        Ok(Ticket(found.ok_or_else(|| AppError::not_found("ticket"))?))
    }
}

#[derive(InputObject)]
pub struct FileComplaintInput {
    /// The customer, if known; otherwise they are looked up by `contactEmail`/`contactPhone`.
    pub customer_id: Option<ID>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub category: TicketCategory,
    /// Derived from the category, the customer's value and the post's publicity when omitted.
    pub priority: Option<Priority>,
    /// A public post (e.g. a social comment).
    #[graphql(default)]
    pub is_public: bool,
    pub assignee_id: Option<ID>,
    /// Round-robin among the group's available agents (when no assignee is given).
    pub group_id: Option<ID>,
}

#[derive(InputObject)]
pub struct OpenTicketInput {
    pub customer_id: Option<ID>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    #[graphql(default_with = "TicketCategory::Other")]
    pub category: TicketCategory,
    #[graphql(default_with = "Priority::Normal")]
    pub priority: Priority,
    pub assignee_id: Option<ID>,
    pub group_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct TicketPayload {
    pub ticket: Ticket,
}

#[derive(InputObject)]
pub struct SetTicketStatusInput {
    pub ticket_id: ID,
    /// OPEN or PENDING_CUSTOMER.
    pub status: TicketStatus,
}

#[derive(InputObject)]
pub struct ReplyToTicketInput {
    pub ticket_id: ID,
    pub body: String,
    /// PUBLIC (the default), or PRIVATE (a direct message) for public posts.
    #[graphql(default_with = "Visibility::Public")]
    pub visibility: Visibility,
    /// Set the ticket to PENDING_CUSTOMER (pausing the resolution clock); one already waiting on the
    /// customer stays so.
    #[graphql(default)]
    pub await_customer: bool,
}

#[derive(InputObject)]
pub struct TicketTextInput {
    pub ticket_id: ID,
    pub body: String,
}

#[derive(InputObject)]
pub struct AssignTicketInput {
    pub ticket_id: ID,
    pub assignee_id: Option<ID>,
    /// Without an assignee: the group's next available agent (round-robin, skipping full ones).
    pub group_id: Option<ID>,
}

#[derive(InputObject)]
pub struct EscalateTicketInput {
    pub ticket_id: ID,
    pub reason: String,
    pub assignee_id: Option<ID>,
}

#[derive(InputObject)]
pub struct ResolveTicketInput {
    pub ticket_id: ID,
    pub root_cause: String,
    /// The customer misused the product: a legitimate outcome, reported separately.
    #[graphql(default)]
    pub customer_error: bool,
    pub resolution: String,
}

#[derive(InputObject)]
pub struct TicketIdInput {
    pub ticket_id: ID,
}

#[derive(InputObject)]
pub struct ReopenTicketInput {
    pub ticket_id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct MergeTicketsInput {
    pub survivor_id: ID,
    pub merged_id: ID,
}

#[derive(InputObject)]
pub struct RateTicketInput {
    pub ticket_id: ID,
    /// 1–5.
    pub score: i32,
    pub comment: Option<String>,
}

fn optional_id(id: &Option<ID>, field: &str) -> Result<Option<uuid::Uuid>, AppError> {
    id.as_ref().map(|id| parse_id(id, field)).transpose()
}

/// Runs one ticket change in a transaction and publishes its live events after the commit.
async fn change_ticket<T>(
    ctx: &Context<'_>,
    principal: &Principal,
    work: impl AsyncFnOnce(&sea_orm::DatabaseTransaction, &Change<'_>) -> crate::graphql::AppResult<T>,
) -> async_graphql::Result<T> {
    let app = state(ctx);
    let outbox = Outbox::default();
    let change =
        Change { workspace_id: principal.workspace_id(), actor: principal.actor(), now: Utc::now(), outbox: &outbox };
    let value = transact(app.db(), async |txn| work(txn, &change).await).await?;
    app.events().publish(&outbox).await;
    Ok(value)
}

#[derive(Default)]
pub struct TicketMutation;

#[Object]
impl TicketMutation {
    /// Files a complaint from any channel.
    async fn file_complaint(
        &self,
        ctx: &Context<'_>,
        input: FileComplaintInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let new = service::NewTicket {
            kind: TicketKind::Complaint,
            customer_id: optional_id(&input.customer_id, "input.customerId")?,
            contact_name: input.contact_name,
            contact_email: input.contact_email,
            contact_phone: input.contact_phone,
            subject: input.subject,
            body: input.body,
            channel: input.channel,
            category: input.category,
            priority: input.priority,
            is_public: input.is_public,
            assignee_id: optional_id(&input.assignee_id, "input.assigneeId")?,
            group_id: optional_id(&input.group_id, "input.groupId")?,
        };
        let ticket = change_ticket(ctx, principal, async |txn, change| service::file(txn, change, new).await).await?;
        Ok(TicketPayload { ticket: Ticket(ticket) })
    }

    /// Opens a ticket that is not a complaint (a question, a request).
    async fn open_ticket(&self, ctx: &Context<'_>, input: OpenTicketInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let new = service::NewTicket {
            kind: TicketKind::Request,
            customer_id: optional_id(&input.customer_id, "input.customerId")?,
            contact_name: input.contact_name,
            contact_email: input.contact_email,
            contact_phone: input.contact_phone,
            subject: input.subject,
            body: input.body,
            channel: input.channel,
            category: input.category,
            priority: Some(input.priority),
            is_public: false,
            assignee_id: optional_id(&input.assignee_id, "input.assigneeId")?,
            group_id: optional_id(&input.group_id, "input.groupId")?,
        };
        let ticket = change_ticket(ctx, principal, async |txn, change| service::file(txn, change, new).await).await?;
        Ok(TicketPayload { ticket: Ticket(ticket) })
    }

    /// Moves a ticket between OPEN and PENDING_CUSTOMER; to the status it already has is
    /// INVALID_TRANSITION.
    async fn set_ticket_status(
        &self,
        ctx: &Context<'_>,
        input: SetTicketStatusInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t =
            change_ticket(ctx, principal, async |txn, c| service::set_status(txn, c, id, input.status).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Replies to the customer; the first reply stops the first-response clock.
    async fn reply_to_ticket(
        &self,
        ctx: &Context<'_>,
        input: ReplyToTicketInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t = change_ticket(ctx, principal, async |txn, c| {
            service::reply(txn, c, id, input.body, input.visibility, input.await_customer).await
        })
        .await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Records a message from the customer (a reply becomes owed): its author is the customer, and
    /// the caller who typed it in is its `recordedBy`.
    async fn add_customer_message(
        &self,
        ctx: &Context<'_>,
        input: TicketTextInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t = change_ticket(ctx, principal, async |txn, c| service::customer_message(txn, c, id, input.body).await)
            .await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// A note for staff only.
    async fn add_internal_note(
        &self,
        ctx: &Context<'_>,
        input: TicketTextInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t = change_ticket(ctx, principal, async |txn, c| service::add_note(txn, c, id, input.body).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Assigns a ticket; an assignment that leaves assignee and group as they are is INVALID_TRANSITION.
    async fn assign_ticket(&self, ctx: &Context<'_>, input: AssignTicketInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let assignee = optional_id(&input.assignee_id, "input.assigneeId")?;
        let group = optional_id(&input.group_id, "input.groupId")?;
        let t =
            change_ticket(ctx, principal, async |txn, c| service::assign(txn, c, id, assignee, group).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Support → supervisor → management.
    async fn escalate_ticket(
        &self,
        ctx: &Context<'_>,
        input: EscalateTicketInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let assignee = optional_id(&input.assignee_id, "input.assigneeId")?;
        let t =
            change_ticket(ctx, principal, async |txn, c| service::escalate(txn, c, id, input.reason, assignee).await)
                .await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Resolves an open, pending or escalated ticket; a resolved or closed one is INVALID_TRANSITION
    /// (reopen it to change the resolution).
    async fn resolve_ticket(
        &self,
        ctx: &Context<'_>,
        input: ResolveTicketInput,
    ) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let resolution = service::Resolution {
            root_cause: input.root_cause,
            customer_error: input.customer_error,
            resolution: input.resolution,
        };
        let t = change_ticket(ctx, principal, async |txn, c| service::resolve(txn, c, id, resolution).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Closes a resolved ticket; a closed one is INVALID_TRANSITION.
    async fn close_ticket(&self, ctx: &Context<'_>, input: TicketIdInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t = change_ticket(ctx, principal, async |txn, c| service::close(txn, c, id).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Reopens a resolved ticket, or a closed one within the workspace's reopen window.
    async fn reopen_ticket(&self, ctx: &Context<'_>, input: ReopenTicketInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        let t = change_ticket(ctx, principal, async |txn, c| service::reopen(txn, c, id, input.reason).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// Merges a duplicate into the surviving ticket.
    async fn merge_tickets(&self, ctx: &Context<'_>, input: MergeTicketsInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize(ctx, Permission::WriteTickets)?;
        let survivor = parse_id(&input.survivor_id, "input.survivorId")?;
        let merged = parse_id(&input.merged_id, "input.mergedId")?;
        let t = change_ticket(ctx, principal, async |txn, c| service::merge(txn, c, survivor, merged).await).await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }

    /// CSAT after resolution, recorded on the customer's behalf.
    async fn rate_ticket(&self, ctx: &Context<'_>, input: RateTicketInput) -> async_graphql::Result<TicketPayload> {
        let principal = authorize_or_customer(ctx, Permission::WriteTickets)?;
        let id = parse_id(&input.ticket_id, "input.ticketId")?;
        if let Some(customer_id) = principal.customer_id() {
            // Customers rate their own tickets only; others do not exist for them.
            let t = service::get(state(ctx).db(), principal.workspace_id(), id).await?;
            if t.customer_id != Some(customer_id) {
                return Err(AppError::not_found("ticket").into());
            }
        }
        let t =
            change_ticket(ctx, principal, async |txn, c| service::rate(txn, c, id, input.score, input.comment).await)
                .await?;
        Ok(TicketPayload { ticket: Ticket(t) })
    }
}
