//! Live updates over `graphql-transport-ws`: ticket events and SLA alerts of the subscriber's
//! workspace (across server instances on PostgreSQL; see `events`).

use async_graphql::{Context, ID, InputObject, Subscription};
use entity::{enums::Priority, sla_event, ticket, ticket_event, ticket_event::TicketEventKind};
use futures_util::{Stream, stream};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::{SlaEvent, TicketEvent};
use crate::{
    auth::Permission,
    events::Event,
    graphql::{AppResult, authorize, ids::parse_id, state},
};

#[derive(InputObject, Default, Clone)]
pub struct TicketEventsFilter {
    pub ticket_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub assignee_id: Option<ID>,
    /// Only these kinds of events.
    pub kinds: Option<Vec<TicketEventKind>>,
}

#[derive(InputObject, Default, Clone)]
pub struct SlaAlertsFilter {
    pub assignee_id: Option<ID>,
    pub priorities: Option<Vec<Priority>>,
}

/// Ids parsed once, when the subscription starts.
#[derive(Clone, Default)]
struct Wanted {
    ticket_id: Option<Uuid>,
    customer_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    kinds: Option<Vec<TicketEventKind>>,
    priorities: Option<Vec<Priority>>,
}

impl Wanted {
    fn ticket(&self, t: &ticket::Model) -> bool {
        self.ticket_id.is_none_or(|id| id == t.id)
            && self.customer_id.is_none_or(|id| Some(id) == t.customer_id)
            && self.assignee_id.is_none_or(|id| Some(id) == t.assignee_id)
            && self.priorities.as_ref().is_none_or(|p| p.contains(&t.priority))
    }
}

fn optional(id: &Option<ID>, field: &str) -> AppResult<Option<Uuid>> {
    id.as_ref().map(|id| parse_id(id, field)).transpose()
}

/// What a subscriber receives for an event, or `None` when the event is not for it.
fn wanted_or_log<T>(loaded: AppResult<Option<T>>) -> Option<T> {
    loaded.unwrap_or_else(|err| {
        tracing::warn!(error = ?err, "cannot load an event for a subscriber");
        None
    })
}

async fn ticket_event_of(db: &DatabaseConnection, wanted: &Wanted, event: &Event) -> AppResult<Option<TicketEvent>> {
    let Event::TicketEvent { ticket_id, event_id, .. } = event else { return Ok(None) };
    let Some(row) = ticket_event::Entity::find_by_id(*event_id).one(db).await? else { return Ok(None) };
    if wanted.kinds.as_ref().is_some_and(|kinds| !kinds.contains(&row.kind)) {
        return Ok(None);
    }
    let Some(t) = ticket::Entity::find_by_id(*ticket_id).one(db).await? else { return Ok(None) };
    Ok(wanted.ticket(&t).then_some(TicketEvent(row)))
}

async fn sla_alert_of(db: &DatabaseConnection, wanted: &Wanted, event: &Event) -> AppResult<Option<SlaEvent>> {
    let Event::SlaAlert { ticket_id, sla_event_id, .. } = event else { return Ok(None) };
    let Some(row) = sla_event::Entity::find_by_id(*sla_event_id).one(db).await? else { return Ok(None) };
    let Some(t) = ticket::Entity::find_by_id(*ticket_id).one(db).await? else { return Ok(None) };
    Ok(wanted.ticket(&t).then_some(SlaEvent(row)))
}

#[derive(Default)]
pub struct TicketSubscription;

#[Subscription]
impl TicketSubscription {
    /// Every new entry of matching tickets' event logs (filing, replies, notes, status changes, …).
    async fn ticket_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<TicketEventsFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<TicketEvent>> + use<>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let filter = filter.unwrap_or_default();
        let wanted = Wanted {
            ticket_id: optional(&filter.ticket_id, "filter.ticketId")?,
            customer_id: optional(&filter.customer_id, "filter.customerId")?,
            assignee_id: optional(&filter.assignee_id, "filter.assigneeId")?,
            kinds: filter.kinds,
            priorities: None,
        };
        let app = state(ctx).clone();
        let receiver = app.events().subscribe();
        let workspace_id = principal.workspace_id();
        Ok(stream::unfold((receiver, app, wanted), move |(mut receiver, app, wanted)| async move {
            loop {
                let event = match crate::events::next_of_workspace(&mut receiver, workspace_id).await? {
                    Ok(event) => event,
                    Err(missed) => return Some((Err(missed.into()), (receiver, app, wanted))),
                };
                if let Some(item) = wanted_or_log(ticket_event_of(app.db(), &wanted, &event).await) {
                    return Some((Ok(item), (receiver, app, wanted)));
                }
            }
        }))
    }

    /// SLA warnings and breaches as the SLA job finds them.
    async fn sla_alerts(
        &self,
        ctx: &Context<'_>,
        filter: Option<SlaAlertsFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SlaEvent>> + use<>> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        let filter = filter.unwrap_or_default();
        let wanted = Wanted {
            assignee_id: optional(&filter.assignee_id, "filter.assigneeId")?,
            priorities: filter.priorities,
            ..Default::default()
        };
        let app = state(ctx).clone();
        let receiver = app.events().subscribe();
        let workspace_id = principal.workspace_id();
        Ok(stream::unfold((receiver, app, wanted), move |(mut receiver, app, wanted)| async move {
            loop {
                let event = match crate::events::next_of_workspace(&mut receiver, workspace_id).await? {
                    Ok(event) => event,
                    Err(missed) => return Some((Err(missed.into()), (receiver, app, wanted))),
                };
                if let Some(item) = wanted_or_log(sla_alert_of(app.db(), &wanted, &event).await) {
                    return Some((Ok(item), (receiver, app, wanted)));
                }
            }
        }))
    }
}
