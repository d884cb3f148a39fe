//! The SLA job: finds tickets whose next SLA checkpoint has come, records warnings and breaches
//! (each exactly once, whatever the number of server instances) and applies the policy's breach
//! action. On PostgreSQL instances claim disjoint tickets with `FOR UPDATE SKIP LOCKED`; the
//! unique dedupe key on the SLA log is the final guard.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{DateTime, Utc};
use entity::{
    enums::Priority,
    sla_event::{SlaEventKind, SlaMetric},
    ticket::{self, SlaStatus},
    ticket_event::{TicketEventKind, Visibility},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{LockBehavior, LockType},
};
use uuid::Uuid;

use super::{
    business_time::Calendar,
    service::{self, Change},
    sla::{self, Clocks, SlaLog, Targets},
};
use crate::{
    auth::Actor,
    events::{EventBus, Outbox},
    graphql::{AppResult, transact},
};

/// Tickets handled per transaction.
const BATCH: u64 = 100;

/// What one run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BreachReport {
    pub warnings: u64,
    pub breaches: u64,
}

/// Handles every ticket whose checkpoint is due at `now`.
pub async fn run(db: &DatabaseConnection, bus: Option<&EventBus>, now: DateTime<Utc>) -> AppResult<BreachReport> {
    let mut report = BreachReport::default();
    loop {
        let outbox = Outbox::default();
        let (handled, batch) = transact(db, async |txn| run_batch(txn, &outbox, now).await).await?;
        if let Some(bus) = bus {
            bus.publish(&outbox).await;
        }
        report.warnings += batch.warnings;
        report.breaches += batch.breaches;
        if handled < BATCH {
            return Ok(report);
        }
    }
}

async fn run_batch<C: ConnectionTrait>(db: &C, outbox: &Outbox, now: DateTime<Utc>) -> AppResult<(u64, BreachReport)> {
    let due = ticket::Entity::find()
        .filter(ticket::Column::SlaNextCheckAt.lte(now))
        .order_by_asc(ticket::Column::SlaNextCheckAt)
        .order_by_asc(ticket::Column::Id)
        .limit(BATCH)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(db)
        .await?;
    let handled = due.len() as u64;
    let mut calendars: HashMap<Uuid, Calendar> = HashMap::new();
    let mut targets: HashMap<(Uuid, Priority), Targets> = HashMap::new();
    let mut report = BreachReport::default();
    for t in due {
        if let Entry::Vacant(slot) = calendars.entry(t.workspace_id) {
            slot.insert(sla::calendar(db, t.workspace_id).await?);
        }
        let key = (t.workspace_id, t.priority);
        if let Entry::Vacant(slot) = targets.entry(key) {
            slot.insert(sla::targets(db, t.workspace_id, t.priority).await?);
        }
        let clocks = Clocks { calendar: &calendars[&t.workspace_id], targets: &targets[&key] };
        let change = Change { workspace_id: t.workspace_id, actor: Actor::SYSTEM, now, outbox };
        let found = check(db, &change, t, &clocks).await?;
        report.warnings += found.warnings;
        report.breaches += found.breaches;
    }
    Ok((handled, report))
}

fn metric_name(metric: SlaMetric) -> &'static str {
    match metric {
        SlaMetric::FirstResponse => "first response",
        SlaMetric::NextReply => "next reply",
        SlaMetric::Resolution => "resolution",
    }
}

async fn check<C: ConnectionTrait>(
    db: &C,
    change: &Change<'_>,
    mut t: ticket::Model,
    clocks: &Clocks<'_>,
) -> AppResult<BreachReport> {
    let now = change.now;
    let findings: Vec<SlaLog> = sla::running_dues(&t)
        .filter_map(|(metric, due)| {
            let kind = if now >= due {
                SlaEventKind::Breached
            } else if now >= due - clocks.targets.warning {
                SlaEventKind::Warned
            } else {
                return None;
            };
            Some(SlaLog { metric, kind, due_at: Some(due) })
        })
        .collect();
    let recorded = service::record_sla(db, change, &t, &findings).await?;
    let mut report = BreachReport::default();
    let mut log = Vec::new();
    for event in &recorded {
        let what = metric_name(event.metric);
        let due = event.due_at.map(|d| d.to_rfc3339());
        if event.kind == SlaEventKind::Breached {
            report.breaches += 1;
            t.sla_breached = true;
            t.sla_status = SlaStatus::Breached;
            let body = format!("{what} target missed");
            service::record_event(
                db,
                change,
                &t,
                TicketEventKind::SlaBreach,
                Visibility::Internal,
                Some(body),
                due,
                None,
            )
            .await?;
            service::on_breach(db, change, &mut t, clocks, &mut log, what).await?;
            crate::loyalty::service::goodwill_for_breach(db, &t, now).await?;
        } else {
            report.warnings += 1;
            if !t.sla_breached {
                t.sla_status = SlaStatus::AtRisk;
            }
            let body = format!("{what} due soon");
            service::record_event(
                db,
                change,
                &t,
                TicketEventKind::SlaWarning,
                Visibility::Internal,
                Some(body),
                due,
                None,
            )
            .await?;
        }
    }
    clocks.schedule(&mut t, now, false);
    let t = service::save(db, t, now).await?;
    service::record_sla(db, change, &t, &log).await?;
    Ok(report)
}
