//! The complaint desk's rules: filing, the status machine, replies, notes, assignment,
//! escalation, resolution, reopening, merging and CSAT. Every function works inside the caller's
//! transaction and writes the ticket's event log (and SLA log) as it goes.

use chrono::{DateTime, Duration, Utc};
use entity::{
    audit_log::ActorKind,
    customer::{self, LifecycleStage},
    enums::{Channel, Priority},
    feedback::FeedbackKind,
    sla_event::{self, SlaEventKind},
    ticket::{self, SlaStatus, TicketCategory, TicketKind, TicketStatus},
    ticket_event::{self, TicketEventKind, Visibility},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Statement, TryInsertResult,
};
use uuid::Uuid;

use super::{
    routing,
    sla::{self, Clocks, SlaLog},
};
use crate::{
    auth::Actor,
    contact, customers,
    events::{Event, Outbox},
    feedback,
    graphql::{AppError, AppResult, ids::new_id},
    workspaces,
};

/// Who is changing a ticket, when, and where its live events go.
pub struct Change<'a> {
    pub workspace_id: Uuid,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub outbox: &'a Outbox,
}

pub struct NewTicket {
    pub kind: TicketKind,
    pub customer_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub subject: String,
    pub body: String,
    pub channel: Channel,
    pub category: TicketCategory,
    pub priority: Option<Priority>,
    pub is_public: bool,
    pub assignee_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
}

/// What a priority was derived from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrioritySignals {
    pub loyal: bool,
    /// Among the workspace's top tenth of customers by spend.
    pub high_value: bool,
    pub public: bool,
}

/// The priority a complaint gets when none is given: from its category, raised one step for a
/// loyal or high-value customer and one step for a public post (never above URGENT).
pub fn derive_priority(category: TicketCategory, signals: PrioritySignals) -> Priority {
    use TicketCategory::*;
    let base = match category {
        StaffBehavior | Billing => Priority::High,
        ProductQuality | LateDelivery | CompetitorOffer => Priority::Normal,
        Price | Variety | Other => Priority::Low,
    };
    let steps = usize::from(signals.loyal || signals.high_value) + usize::from(signals.public);
    let ladder = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];
    let at = ladder.iter().position(|p| *p == base).unwrap_or(1);
    ladder[(at + steps).min(ladder.len() - 1)]
}

/// LOW 1 … URGENT 4.
pub fn priority_rank(priority: Priority) -> i32 {
    match priority {
        Priority::Low => 1,
        Priority::Normal => 2,
        Priority::High => 3,
        Priority::Urgent => 4,
    }
}

/// Whether the status machine allows `from` → `to`.
pub fn can_move(from: TicketStatus, to: TicketStatus) -> bool {
    use TicketStatus::*;
    matches!(
        (from, to),
        (New, Open | Escalated)
            | (Open, PendingCustomer | Escalated | Resolved)
            | (PendingCustomer, Open | Escalated | Resolved)
            | (Escalated, Open | PendingCustomer | Resolved)
            | (Resolved, Closed | Open)
            | (Closed, Open)
    )
}

fn name_of(status: TicketStatus) -> String {
    use sea_orm::ActiveEnum;
    status.to_value()
}

/// `PENDING_CUSTOMER` → "pending customer", for error messages.
fn spoken(status: TicketStatus) -> String {
    name_of(status).to_lowercase().replace('_', " ")
}

fn text(value: String, field: &str, max: usize) -> AppResult<String> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(AppError::bad_input(field, "cannot be empty"));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(field, format!("at most {max} characters")));
    }
    Ok(value)
}

fn optional_text(value: Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    value.filter(|v| !v.trim().is_empty()).map(|v| text(v, field, max)).transpose()
}

/// The next ticket number of the workspace. It is the transaction's first write, so concurrent
/// filings queue on the counter row and every number is used once.
async fn next_number<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<i64> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO ticket_counter (workspace_id, last_number) VALUES ($1, 1) \
             ON CONFLICT (workspace_id) DO UPDATE SET last_number = ticket_counter.last_number + 1 \
             RETURNING last_number"
        }
        _ => {
            "INSERT INTO ticket_counter (workspace_id, last_number) VALUES (?, 1) \
             ON CONFLICT (workspace_id) DO UPDATE SET last_number = ticket_counter.last_number + 1 \
             RETURNING last_number"
        }
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [workspace_id.into()]))
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("ticket counter returned no row")))?;
    Ok(row.try_get::<i64>("", "last_number")?)
}

async fn priority_signals<C: ConnectionTrait>(
    db: &C,
    customer: &customer::Model,
    public: bool,
) -> AppResult<PrioritySignals> {
    let richer = customers::service::query(customer.workspace_id)
        .filter(customer::Column::TotalSpentMinor.gt(customer.total_spent_minor))
        .count(db)
        .await?;
    let all = customers::service::query(customer.workspace_id).count(db).await?;
    Ok(PrioritySignals {
        loyal: customer.lifecycle_stage == LifecycleStage::Loyal,
        high_value: customer.total_spent_minor > 0 && richer * 10 < all,
        public,
    })
}

/// Files a ticket: numbers it, links (or finds) the customer, derives the priority, starts the
/// SLA clocks and routes it.
pub async fn file<C: ConnectionTrait>(db: &C, change: &Change<'_>, input: NewTicket) -> AppResult<ticket::Model> {
    let number = next_number(db, change.workspace_id).await?;
    let subject = text(input.subject, "input.subject", 200)?;
    let body = text(input.body, "input.body", 20_000)?;
    let contact_name = optional_text(input.contact_name, "input.contactName", 200)?;
    let contact_email =
        input.contact_email.as_deref().map(|e| contact::normalize_email(e, "input.contactEmail")).transpose()?;
    let contact_phone =
        input.contact_phone.as_deref().map(|p| contact::normalize_phone(p, "input.contactPhone")).transpose()?;
    let customer = match input.customer_id {
        Some(id) => Some(customers::service::get(db, change.workspace_id, id).await?),
        None => customers::service::find_by_contact(
            db,
            change.workspace_id,
            contact_email.as_deref(),
            contact_phone.as_deref(),
        )
        .await?
        .into_iter()
        .next(),
    };
    if customer.is_none() && contact_name.is_none() && contact_email.is_none() && contact_phone.is_none() {
        return Err(AppError::bad_input(
            "input.customerId",
            "give the customer, or contact details (name, email or phone) of the person complaining",
        ));
    }
    let priority = match (input.priority, &customer) {
        (Some(p), _) => p,
        (None, Some(c)) => derive_priority(input.category, priority_signals(db, c, input.is_public).await?),
        (None, None) => {
            derive_priority(input.category, PrioritySignals { public: input.is_public, ..Default::default() })
        }
    };
    let now = change.now;
    let mut t = ticket::Model {
        kind: input.kind,
        customer_id: customer.as_ref().map(|c| c.id),
        contact_name,
        contact_email,
        contact_phone,
        subject,
        body,
        channel: input.channel,
        category: input.category,
        priority,
        priority_rank: priority_rank(priority),
        is_public: input.is_public,
        ..draft(change.workspace_id, number, now)
    };
    let (calendar, targets) = clock_setup(db, &t).await?;
    let mut log = Vec::new();
    Clocks { calendar: &calendar, targets: &targets }.activate(&mut t, now, &mut log)?;
    let t = ticket::ActiveModel::from(t).reset_all().insert(db).await?;
    record_event(db, change, &t, TicketEventKind::Created, Visibility::Internal, None, None, None).await?;
    record_sla(db, change, &t, &log).await?;
    let t = match (input.assignee_id, input.group_id) {
        (None, None) => t,
        (assignee, group) => assign(db, change, t.id, assignee, group).await?,
    };
    signal_customer(db, change, t.customer_id).await?;
    Ok(t)
}

/// A NEW ticket with no clocks running, for `file` to fill in.
pub fn draft(workspace_id: Uuid, number: i64, now: DateTime<Utc>) -> ticket::Model {
    ticket::Model {
        id: new_id(),
        workspace_id,
        number,
        kind: TicketKind::Complaint,
        customer_id: None,
        contact_name: None,
        contact_email: None,
        contact_phone: None,
        subject: String::new(),
        body: String::new(),
        channel: Channel::Email,
        category: TicketCategory::Other,
        priority: Priority::Normal,
        priority_rank: priority_rank(Priority::Normal),
        status: TicketStatus::New,
        is_public: false,
        assignee_id: None,
        group_id: None,
        escalation_level: 0,
        root_cause: None,
        customer_error: None,
        resolution: None,
        satisfaction: None,
        reopen_count: 0,
        merged_into_id: None,
        sla_status: SlaStatus::OnTrack,
        sla_breached: false,
        sla_next_check_at: None,
        first_response_due_at: None,
        first_responded_at: None,
        first_response_business_secs: None,
        next_reply_due_at: None,
        resolution_due_at: None,
        resolution_clock_started_at: None,
        resolution_elapsed_business_secs: 0,
        resolution_business_secs: None,
        resolved_at: None,
        closed_at: None,
        created_at: now,
        updated_at: now,
    }
}

async fn clock_setup<C: ConnectionTrait>(
    db: &C,
    t: &ticket::Model,
) -> AppResult<(super::business_time::Calendar, sla::Targets)> {
    Ok((sla::calendar(db, t.workspace_id).await?, sla::targets(db, t.workspace_id, t.priority).await?))
}

/// Complaints feed the customer's lifecycle (an open or breached complaint, or a poor rating, is
/// an at-risk signal).
async fn signal_customer<C: ConnectionTrait>(db: &C, change: &Change<'_>, customer_id: Option<Uuid>) -> AppResult<()> {
    let Some(id) = customer_id else { return Ok(()) };
    let customer = customers::service::get(db, change.workspace_id, id).await?;
    let settings = workspaces::service::settings(db, change.workspace_id).await?;
    customers::lifecycle::reevaluate(db, customer, &settings, change.now).await?;
    Ok(())
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<ticket::Model> {
    ticket::Entity::find_by_id(id)
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("ticket"))
}

/// The ticket, locked for this transaction on PostgreSQL so concurrent changes queue.
async fn get_for_update<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<ticket::Model> {
    ticket::Entity::find_by_id(id)
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("ticket"))
}

pub async fn save<C: ConnectionTrait>(db: &C, mut t: ticket::Model, now: DateTime<Utc>) -> AppResult<ticket::Model> {
    t.updated_at = now;
    Ok(ticket::ActiveModel::from(t).reset_all().update(db).await?)
}

/// A history line by the change's actor.
#[allow(clippy::too_many_arguments)]
pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &ticket::Model,
    kind: TicketEventKind,
    visibility: Visibility,
    body: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> AppResult<ticket_event::Model> {
    insert_event(db, change, event_row(change, t, kind, visibility, body, from, to)).await
}

fn event_row(
    change: &Change<'_>,
    t: &ticket::Model,
    kind: TicketEventKind,
    visibility: Visibility,
    body: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> ticket_event::Model {
    ticket_event::Model {
        id: new_id(),
        workspace_id: t.workspace_id,
        ticket_id: t.id,
        kind,
        visibility,
        actor_kind: change.actor.kind,
        actor_id: change.actor.id,
        recorded_by_kind: None,
        recorded_by_id: None,
        body,
        from_value: from,
        to_value: to,
        created_at: change.now,
        updated_at: change.now,
    }
}

async fn insert_event<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    row: ticket_event::Model,
) -> AppResult<ticket_event::Model> {
    let row = ticket_event::ActiveModel::from(row).reset_all().insert(db).await?;
    change.outbox.push(Event::TicketEvent {
        workspace_id: row.workspace_id,
        ticket_id: row.ticket_id,
        event_id: row.id,
    });
    Ok(row)
}

/// Saves SLA log lines; warnings and breaches are unique per clock cycle. Returns the rows that
/// were new (a warning or breach another instance already recorded is not).
pub async fn record_sla<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &ticket::Model,
    log: &[SlaLog],
) -> AppResult<Vec<sla_event::Model>> {
    let mut saved = Vec::new();
    for line in log {
        let dedupe_key = match (line.kind, line.due_at) {
            (SlaEventKind::Warned | SlaEventKind::Breached, Some(due)) => {
                Some(sla::dedupe_key(line.metric, line.kind, due))
            }
            _ => None,
        };
        let row = sla_event::Model {
            id: new_id(),
            workspace_id: t.workspace_id,
            ticket_id: t.id,
            metric: line.metric,
            kind: line.kind,
            due_at: line.due_at,
            dedupe_key,
            // The holder now, before any consequence (a breach's escalation) moves the ticket on.
            assignee_id: t.assignee_id,
            group_id: t.group_id,
            occurred_at: change.now,
            created_at: change.now,
            updated_at: change.now,
        };
        let inserted = sla_event::Entity::insert(sla_event::ActiveModel::from(row.clone()).reset_all())
            .on_conflict_do_nothing_on([sla_event::Column::TicketId, sla_event::Column::DedupeKey])
            .exec_without_returning(db)
            .await?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            if matches!(line.kind, SlaEventKind::Warned | SlaEventKind::Breached) {
                change.outbox.push(Event::SlaAlert {
                    workspace_id: t.workspace_id,
                    ticket_id: t.id,
                    sla_event_id: row.id,
                });
            }
            saved.push(row);
        }
    }
    Ok(saved)
}

/// Moves a ticket to `to`, recording the change and pausing or resuming the resolution clock. A
/// move to the status the ticket already has is refused (it would rewrite history silently).
async fn move_to<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &mut ticket::Model,
    to: TicketStatus,
    clocks: &Clocks<'_>,
    log: &mut Vec<SlaLog>,
) -> AppResult<()> {
    let from = t.status;
    if from == to {
        return Err(AppError::InvalidTransition(format!("the ticket is already {}", spoken(to))));
    }
    if !can_move(from, to) {
        return Err(AppError::InvalidTransition(format!("a {} ticket cannot become {}", spoken(from), spoken(to))));
    }
    match (from, to) {
        (_, TicketStatus::PendingCustomer) => clocks.pause(t, change.now, log),
        (TicketStatus::PendingCustomer, TicketStatus::Open | TicketStatus::Escalated) => {
            clocks.resume(t, change.now, log)?
        }
        _ => {}
    }
    t.status = to;
    record_event(
        db,
        change,
        t,
        TicketEventKind::Status,
        Visibility::Internal,
        None,
        Some(name_of(from)),
        Some(name_of(to)),
    )
    .await?;
    Ok(())
}

/// Loads a ticket with its clocks for one change; `work` changes the row and the SLA log, then
/// both are saved.
async fn with_ticket<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    work: impl AsyncFnOnce(&mut ticket::Model, &Clocks<'_>, &mut Vec<SlaLog>) -> AppResult<()>,
) -> AppResult<ticket::Model> {
    let mut t = get_for_update(db, change.workspace_id, id).await?;
    if t.merged_into_id.is_some() {
        return Err(AppError::InvalidTransition("this ticket was merged into another; work on that one".to_owned()));
    }
    let (calendar, targets) = clock_setup(db, &t).await?;
    let clocks = Clocks { calendar: &calendar, targets: &targets };
    let mut log = Vec::new();
    work(&mut t, &clocks, &mut log).await?;
    let t = save(db, t, change.now).await?;
    record_sla(db, change, &t, &log).await?;
    Ok(t)
}

/// Staff move a ticket between OPEN and PENDING_CUSTOMER (other statuses have their own verbs).
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    to: TicketStatus,
) -> AppResult<ticket::Model> {
    if !matches!(to, TicketStatus::Open | TicketStatus::PendingCustomer) {
        return Err(AppError::bad_input(
            "input.status",
            "use escalateTicket, resolveTicket, closeTicket or reopenTicket for that status",
        ));
    }
    with_ticket(db, change, id, async |t, clocks, log| move_to(db, change, t, to, clocks, log).await).await
}

/// A reply to the customer. The first one stops the first-response clock; a reply to a NEW
/// ticket opens it; `await_customer` sets it to PENDING_CUSTOMER. PRIVATE replies (a direct
/// message) exist only for public posts.
pub async fn reply<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    body: String,
    visibility: Visibility,
    await_customer: bool,
) -> AppResult<ticket::Model> {
    let body = text(body, "input.body", 20_000)?;
    with_ticket(db, change, id, async |t, clocks, log| {
        match visibility {
            Visibility::Internal => {
                return Err(AppError::bad_input("input.visibility", "internal notes go through addInternalNote"));
            }
            Visibility::Private if !t.is_public => {
                return Err(AppError::bad_input(
                    "input.visibility",
                    "a private reply is for public posts; reply publicly to this ticket",
                ));
            }
            _ => {}
        }
        if t.status == TicketStatus::Closed {
            return Err(AppError::InvalidTransition("the ticket is closed; reopen it to reply".to_owned()));
        }
        record_event(db, change, t, TicketEventKind::Reply, visibility, Some(body), None, None).await?;
        clocks.replied(t, change.now, log);
        if t.status == TicketStatus::New {
            move_to(db, change, t, TicketStatus::Open, clocks, log).await?;
        }
        // Already waiting on the customer: it stays so.
        if await_customer && t.status != TicketStatus::PendingCustomer {
            move_to(db, change, t, TicketStatus::PendingCustomer, clocks, log).await?;
        }
        Ok(())
    })
    .await
}

/// A message from the customer: a reply is owed again, and a ticket waiting on them opens.
pub async fn customer_message<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    body: String,
) -> AppResult<ticket::Model> {
    let body = text(body, "input.body", 20_000)?;
    with_ticket(db, change, id, async |t, clocks, log| {
        if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return Err(AppError::InvalidTransition("the ticket is resolved; reopen it first".to_owned()));
        }
        // The customer said it; the staff member who typed it in is kept apart.
        let message = ticket_event::Model {
            actor_kind: ActorKind::Customer,
            actor_id: t.customer_id,
            recorded_by_kind: Some(change.actor.kind),
            recorded_by_id: change.actor.id,
            ..event_row(change, t, TicketEventKind::CustomerMessage, Visibility::Public, Some(body), None, None)
        };
        insert_event(db, change, message).await?;
        if t.status == TicketStatus::PendingCustomer {
            move_to(db, change, t, TicketStatus::Open, clocks, log).await?;
        }
        clocks.customer_wrote(t, change.now, log)
    })
    .await
}

pub async fn add_note<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    body: String,
) -> AppResult<ticket::Model> {
    let body = text(body, "input.body", 20_000)?;
    with_ticket(db, change, id, async |t, _, _| {
        record_event(db, change, t, TicketEventKind::Note, Visibility::Internal, Some(body), None, None).await?;
        Ok(())
    })
    .await
}

/// Assigns to a user, or (with only a group) to the group's next available agent. An assignment
/// that would leave the assignee and group as they are is refused.
pub async fn assign<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    assignee_id: Option<Uuid>,
    group_id: Option<Uuid>,
) -> AppResult<ticket::Model> {
    with_ticket(db, change, id, async |t, _, _| {
        let before = (t.assignee_id, t.group_id);
        route(db, change, t, assignee_id, group_id, None).await?;
        if (t.assignee_id, t.group_id) == before {
            return Err(AppError::InvalidTransition("the ticket already has this assignee and group".to_owned()));
        }
        Ok(())
    })
    .await
}

async fn route<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &mut ticket::Model,
    assignee_id: Option<Uuid>,
    group_id: Option<Uuid>,
    exclude: Option<Uuid>,
) -> AppResult<()> {
    if let Some(group_id) = group_id {
        routing::get_group(db, change.workspace_id, group_id).await?;
        t.group_id = Some(group_id);
    }
    let assignee = match (assignee_id, t.group_id) {
        (Some(user_id), _) => {
            let user = crate::users::service::get(db, change.workspace_id, user_id).await?;
            if !user.active {
                return Err(AppError::bad_input("input.assigneeId", "this user is deactivated"));
            }
            Some(user.id)
        }
        (None, Some(group_id)) => routing::next_agent(db, change.workspace_id, group_id, exclude, change.now).await?,
        (None, None) => return Err(AppError::bad_input("input.assigneeId", "give an assignee or a group")),
    };
    if assignee != t.assignee_id {
        let from = t.assignee_id.map(|id| id.to_string());
        t.assignee_id = assignee;
        let to = assignee.map(|id| id.to_string());
        record_event(db, change, t, TicketEventKind::Assign, Visibility::Internal, None, from, to).await?;
    }
    Ok(())
}

/// Support → supervisor → management, with a reason; routed to the level's group when there is
/// one (or to `assignee_id`).
pub async fn escalate<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    reason: String,
    assignee_id: Option<Uuid>,
) -> AppResult<ticket::Model> {
    let reason = text(reason, "input.reason", 2_000)?;
    with_ticket(db, change, id, async |t, clocks, log| {
        escalate_row(db, change, t, reason, assignee_id, clocks, log).await
    })
    .await
}

async fn escalate_row<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &mut ticket::Model,
    reason: String,
    assignee_id: Option<Uuid>,
    clocks: &Clocks<'_>,
    log: &mut Vec<SlaLog>,
) -> AppResult<()> {
    if t.escalation_level >= 2 {
        return Err(AppError::InvalidTransition("the ticket is already with management".to_owned()));
    }
    if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
        return Err(AppError::InvalidTransition("a resolved ticket cannot be escalated; reopen it first".to_owned()));
    }
    let from = t.escalation_level;
    t.escalation_level += 1;
    record_event(
        db,
        change,
        t,
        TicketEventKind::Escalate,
        Visibility::Internal,
        Some(reason),
        Some(level_name(from).to_owned()),
        Some(level_name(t.escalation_level).to_owned()),
    )
    .await?;
    // A second escalation raises the level of a ticket that is already ESCALATED.
    if t.status != TicketStatus::Escalated {
        move_to(db, change, t, TicketStatus::Escalated, clocks, log).await?;
    }
    let group = routing::group_for_level(db, change.workspace_id, t.escalation_level).await?;
    if assignee_id.is_some() || group.is_some() {
        let previous = t.assignee_id;
        route(db, change, t, assignee_id, group.map(|g| g.id), previous).await?;
    }
    Ok(())
}

pub fn level_name(level: i32) -> &'static str {
    match level {
        0 => "SUPPORT",
        1 => "SUPERVISOR",
        _ => "MANAGEMENT",
    }
}

pub struct Resolution {
    pub root_cause: String,
    /// The customer misused the product: still resolved politely, reported separately.
    pub customer_error: bool,
    pub resolution: String,
}

pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    input: Resolution,
) -> AppResult<ticket::Model> {
    let root_cause = text(input.root_cause, "input.rootCause", 200)?;
    let resolution = text(input.resolution, "input.resolution", 20_000)?;
    let t = with_ticket(db, change, id, async |t, clocks, log| {
        move_to(db, change, t, TicketStatus::Resolved, clocks, log).await?;
        clocks.resolved(t, change.now, log);
        t.root_cause = Some(root_cause);
        t.customer_error = Some(input.customer_error);
        t.resolution = Some(resolution);
        t.resolved_at = Some(change.now);
        Ok(())
    })
    .await?;
    signal_customer(db, change, t.customer_id).await?;
    Ok(t)
}

pub async fn close<C: ConnectionTrait>(db: &C, change: &Change<'_>, id: Uuid) -> AppResult<ticket::Model> {
    with_ticket(db, change, id, async |t, clocks, log| {
        if t.status != TicketStatus::Resolved {
            return Err(AppError::InvalidTransition("only a resolved ticket can be closed".to_owned()));
        }
        move_to(db, change, t, TicketStatus::Closed, clocks, log).await?;
        t.closed_at = Some(change.now);
        Ok(())
    })
    .await
}

/// RESOLVED → OPEN, or CLOSED → OPEN within the workspace's reopen window.
pub async fn reopen<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    reason: String,
) -> AppResult<ticket::Model> {
    let reason = text(reason, "input.reason", 2_000)?;
    let settings = workspaces::service::settings(db, change.workspace_id).await?;
    let t = with_ticket(db, change, id, async |t, clocks, log| {
        if let (TicketStatus::Closed, Some(closed)) = (t.status, t.closed_at)
            && change.now > closed + Duration::days(settings.ticket_reopen_window_days)
        {
            return Err(AppError::InvalidTransition(format!(
                "closed more than {} days ago; file a new ticket",
                settings.ticket_reopen_window_days
            )));
        }
        if !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return Err(AppError::InvalidTransition("only a resolved or closed ticket can be reopened".to_owned()));
        }
        move_to(db, change, t, TicketStatus::Open, clocks, log).await?;
        record_event(
            db,
            change,
            t,
            TicketEventKind::Note,
            Visibility::Internal,
            Some(format!("Reopened: {reason}")),
            None,
            None,
        )
        .await?;
        t.reopen_count += 1;
        t.resolved_at = None;
        t.closed_at = None;
        t.root_cause = None;
        t.customer_error = None;
        t.resolution = None;
        clocks.reopened(t, change.now, log)
    })
    .await?;
    signal_customer(db, change, t.customer_id).await?;
    Ok(t)
}

/// Folds `merged_id` into `survivor_id`: its history moves over, it is closed and points to the
/// survivor, and the survivor gains its customer if it had none.
pub async fn merge<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    survivor_id: Uuid,
    merged_id: Uuid,
) -> AppResult<ticket::Model> {
    if survivor_id == merged_id {
        return Err(AppError::bad_input("input.mergedId", "a ticket cannot be merged into itself"));
    }
    let merged = get_for_update(db, change.workspace_id, merged_id).await?;
    if merged.merged_into_id.is_some() {
        return Err(AppError::InvalidTransition("that ticket was already merged".to_owned()));
    }
    let survivor = with_ticket(db, change, survivor_id, async |t, _, _| {
        if t.customer_id.is_none() {
            t.customer_id = merged.customer_id;
        }
        ticket_event::Entity::update_many()
            .col_expr(ticket_event::Column::TicketId, sea_orm::sea_query::Expr::value(t.id))
            .filter(ticket_event::Column::TicketId.eq(merged.id))
            .exec(db)
            .await?;
        record_event(
            db,
            change,
            t,
            TicketEventKind::Merge,
            Visibility::Internal,
            None,
            Some(format!("#{}", merged.number)),
            None,
        )
        .await?;
        Ok(())
    })
    .await?;
    let mut gone = merged;
    gone.merged_into_id = Some(survivor.id);
    gone.status = TicketStatus::Closed;
    gone.closed_at = Some(change.now);
    gone.first_response_due_at = gone.first_response_due_at.filter(|_| gone.first_responded_at.is_some());
    gone.next_reply_due_at = None;
    gone.resolution_due_at = None;
    gone.resolution_clock_started_at = None;
    gone.sla_next_check_at = None;
    let gone = save(db, gone, change.now).await?;
    record_event(
        db,
        change,
        &gone,
        TicketEventKind::Merge,
        Visibility::Internal,
        None,
        None,
        Some(format!("#{}", survivor.number)),
    )
    .await?;
    Ok(survivor)
}

/// CSAT after resolution, once: stored on the ticket and as the customer's feedback.
pub async fn rate<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    id: Uuid,
    score: i32,
    comment: Option<String>,
) -> AppResult<ticket::Model> {
    feedback::service::validate_score(FeedbackKind::Csat, Some(score))?;
    let comment = optional_text(comment, "input.comment", 5_000)?;
    let t = with_ticket(db, change, id, async |t, _, _| {
        if !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return Err(AppError::InvalidTransition("a ticket is rated after it is resolved".to_owned()));
        }
        if t.satisfaction.is_some() {
            return Err(AppError::Conflict("this ticket was already rated".to_owned()));
        }
        t.satisfaction = Some(score);
        record_event(
            db,
            change,
            t,
            TicketEventKind::Rated,
            Visibility::Internal,
            comment.clone(),
            None,
            Some(score.to_string()),
        )
        .await?;
        Ok(())
    })
    .await?;
    if let Some(customer_id) = t.customer_id {
        feedback::service::record(
            db,
            change.workspace_id,
            feedback::service::NewFeedback {
                customer_id,
                kind: FeedbackKind::Csat,
                score: Some(score),
                comment,
                why_us: None,
                ticket_id: Some(t.id),
                submitted_at: Some(change.now),
            },
        )
        .await?;
    }
    Ok(t)
}

/// Applies a breach's consequence: escalation or reassignment per the policy.
pub async fn on_breach<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    t: &mut ticket::Model,
    clocks: &Clocks<'_>,
    log: &mut Vec<SlaLog>,
    what: &str,
) -> AppResult<()> {
    use entity::sla_policy::BreachAction;
    match clocks.targets.breach_action {
        BreachAction::Escalate
            if t.escalation_level < 2 && !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) =>
        {
            escalate_row(db, change, t, format!("SLA breached: {what}"), None, clocks, log).await
        }
        BreachAction::Reassign if t.group_id.is_some() => {
            let previous = t.assignee_id;
            route(db, change, t, None, None, previous).await
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_from_category_value_and_publicity() {
        let none = PrioritySignals::default();
        assert_eq!(derive_priority(TicketCategory::Price, none), Priority::Low);
        assert_eq!(derive_priority(TicketCategory::LateDelivery, none), Priority::Normal);
        assert_eq!(derive_priority(TicketCategory::Billing, none), Priority::High);
        let vip = PrioritySignals { high_value: true, ..none };
        assert_eq!(derive_priority(TicketCategory::LateDelivery, vip), Priority::High);
        let loud_vip = PrioritySignals { loyal: true, public: true, ..none };
        assert_eq!(derive_priority(TicketCategory::Billing, loud_vip), Priority::Urgent);
    }

    #[test]
    fn status_machine() {
        use TicketStatus::*;
        assert!(can_move(New, Open));
        assert!(can_move(PendingCustomer, Open) && can_move(Open, PendingCustomer));
        assert!(can_move(Resolved, Open) && can_move(Closed, Open));
        assert!(!can_move(New, Resolved));
        assert!(!can_move(Closed, Resolved));
        assert!(!can_move(Resolved, PendingCustomer));
        assert!(!can_move(Open, New));
    }
}
