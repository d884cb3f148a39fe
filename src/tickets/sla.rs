//! SLA: targets per priority, the workspace's business calendar, and the clocks on a ticket
//! (first response, next reply, resolution). Clock changes are pure functions on the ticket row
//! that also return the SLA log entries they imply; the caller saves both.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{
    business_hours,
    enums::Priority,
    holiday,
    sla_event::{SlaEventKind, SlaMetric},
    sla_policy::{self, BreachAction},
    ticket::{self, SlaStatus},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::business_time::{Calendar, Slot};
use crate::{
    graphql::{AppError, AppResult},
    workspaces,
};

/// The targets of one priority, in business time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub priority: Priority,
    pub first_response: Duration,
    pub next_reply: Duration,
    pub resolution: Duration,
    /// Alert this long before a target is due.
    pub warning: Duration,
    pub breach_action: BreachAction,
}

impl Targets {
    /// Used for a priority the workspace has not configured.
    pub fn default_for(priority: Priority) -> Targets {
        let (first, next, resolution, action) = match priority {
            Priority::Urgent => (30, 60, 4 * 60, BreachAction::Escalate),
            Priority::High => (60, 2 * 60, 8 * 60, BreachAction::Escalate),
            Priority::Normal => (4 * 60, 8 * 60, 24 * 60, BreachAction::Notify),
            Priority::Low => (8 * 60, 16 * 60, 48 * 60, BreachAction::Notify),
        };
        Targets {
            priority,
            first_response: Duration::minutes(first),
            next_reply: Duration::minutes(next),
            resolution: Duration::minutes(resolution),
            warning: Duration::minutes(if priority == Priority::Urgent { 10 } else { 30 }),
            breach_action: action,
        }
    }

    fn from_policy(p: &sla_policy::Model) -> Targets {
        Targets {
            priority: p.priority,
            first_response: Duration::minutes(p.first_response_minutes.into()),
            next_reply: Duration::minutes(p.next_reply_minutes.into()),
            resolution: Duration::minutes(p.resolution_minutes.into()),
            warning: Duration::minutes(p.warning_minutes.into()),
            breach_action: p.breach_action,
        }
    }
}

/// The workspace's targets for `priority`.
pub async fn targets<C: ConnectionTrait>(db: &C, workspace_id: Uuid, priority: Priority) -> AppResult<Targets> {
    let stored = sla_policy::Entity::find()
        .filter(sla_policy::Column::WorkspaceId.eq(workspace_id))
        .filter(sla_policy::Column::Priority.eq(priority))
        .one(db)
        .await?;
    Ok(stored.as_ref().map(Targets::from_policy).unwrap_or_else(|| Targets::default_for(priority)))
}

/// The targets of every priority, most urgent first.
pub async fn all_targets<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<Vec<Targets>> {
    let stored = sla_policy::Entity::find().filter(sla_policy::Column::WorkspaceId.eq(workspace_id)).all(db).await?;
    Ok([Priority::Urgent, Priority::High, Priority::Normal, Priority::Low]
        .into_iter()
        .map(|priority| {
            stored
                .iter()
                .find(|p| p.priority == priority)
                .map(Targets::from_policy)
                .unwrap_or_else(|| Targets::default_for(priority))
        })
        .collect())
}

/// Business hours (none configured: always open) and holidays, in the workspace time zone.
pub async fn calendar<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<Calendar> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let tz = crate::workspaces::service::zone(&workspace);
    let slots = business_hours::Entity::find()
        .filter(business_hours::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(business_hours::Column::Weekday)
        .order_by_asc(business_hours::Column::StartMinute)
        .all(db)
        .await?;
    let holidays: Vec<NaiveDate> = holiday::Entity::find()
        .filter(holiday::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?
        .into_iter()
        .map(|h| h.date)
        .collect();
    Ok(Calendar::new(
        tz,
        slots.iter().map(|s| (s.weekday as usize, Slot { start: s.start_minute, end: s.end_minute })),
        holidays,
    ))
}

/// One line of a ticket's SLA log, before it is saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaLog {
    pub metric: SlaMetric,
    pub kind: SlaEventKind,
    pub due_at: Option<DateTime<Utc>>,
}

/// The clocks of one ticket under one workspace's calendar and targets.
pub struct Clocks<'a> {
    pub calendar: &'a Calendar,
    pub targets: &'a Targets,
}

fn seconds(d: Duration) -> i64 {
    d.num_seconds()
}

impl Clocks<'_> {
    fn due(&self, from: DateTime<Utc>, business: Duration) -> AppResult<DateTime<Utc>> {
        self.calendar.add(from, business).ok_or_else(|| {
            AppError::bad_input("businessHours", "the business hours and holidays leave no open time for SLA clocks")
        })
    }

    /// Starts the first-response and resolution clocks of a new ticket.
    pub fn activate(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) -> AppResult<()> {
        let first = self.due(now, self.targets.first_response)?;
        let resolution = self.due(now, self.targets.resolution)?;
        t.first_response_due_at = Some(first);
        t.resolution_due_at = Some(resolution);
        t.resolution_clock_started_at = Some(now);
        t.resolution_elapsed_business_secs = 0;
        t.sla_status = SlaStatus::OnTrack;
        log.push(SlaLog { metric: SlaMetric::FirstResponse, kind: SlaEventKind::Activated, due_at: Some(first) });
        log.push(SlaLog { metric: SlaMetric::Resolution, kind: SlaEventKind::Activated, due_at: Some(resolution) });
        self.schedule(t, now, true);
        Ok(())
    }

    /// A reply to the customer: fulfils the first response (once) and any reply owed.
    pub fn replied(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) {
        if t.first_responded_at.is_none() {
            t.first_responded_at = Some(now);
            t.first_response_business_secs = Some(seconds(self.calendar.between(t.created_at, now)));
            log.push(SlaLog {
                metric: SlaMetric::FirstResponse,
                kind: SlaEventKind::Fulfilled,
                due_at: t.first_response_due_at,
            });
        }
        if let Some(due) = t.next_reply_due_at.take() {
            log.push(SlaLog { metric: SlaMetric::NextReply, kind: SlaEventKind::Fulfilled, due_at: Some(due) });
        }
        self.schedule(t, now, true);
    }

    /// The customer wrote: a reply is owed (the clock restarts from this message).
    pub fn customer_wrote(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) -> AppResult<()> {
        if t.first_responded_at.is_none() {
            // The first response clock already covers it.
            return Ok(());
        }
        let due = self.due(now, self.targets.next_reply)?;
        t.next_reply_due_at = Some(due);
        log.push(SlaLog { metric: SlaMetric::NextReply, kind: SlaEventKind::Activated, due_at: Some(due) });
        self.schedule(t, now, true);
        Ok(())
    }

    /// Waiting on the customer: the resolution clock stops counting.
    pub fn pause(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) {
        if let Some(started) = t.resolution_clock_started_at.take() {
            t.resolution_elapsed_business_secs += seconds(self.calendar.between(started, now));
            let due = t.resolution_due_at.take();
            log.push(SlaLog { metric: SlaMetric::Resolution, kind: SlaEventKind::Paused, due_at: due });
        }
        self.schedule(t, now, true);
    }

    /// The resolution clock runs again with what was left of its target.
    pub fn resume(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) -> AppResult<()> {
        if t.resolution_clock_started_at.is_some() {
            return Ok(());
        }
        let left =
            (self.targets.resolution - Duration::seconds(t.resolution_elapsed_business_secs)).max(Duration::zero());
        let due = self.due(now, left)?;
        t.resolution_clock_started_at = Some(now);
        t.resolution_due_at = Some(due);
        log.push(SlaLog { metric: SlaMetric::Resolution, kind: SlaEventKind::Resumed, due_at: Some(due) });
        t.sla_status = if t.sla_breached { SlaStatus::Breached } else { SlaStatus::OnTrack };
        self.schedule(t, now, true);
        Ok(())
    }

    /// Resolved: the resolution clock is fulfilled and no reply is owed any more.
    pub fn resolved(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) {
        if let Some(started) = t.resolution_clock_started_at.take() {
            t.resolution_elapsed_business_secs += seconds(self.calendar.between(started, now));
        }
        log.push(SlaLog { metric: SlaMetric::Resolution, kind: SlaEventKind::Fulfilled, due_at: t.resolution_due_at });
        t.resolution_due_at = None;
        t.resolution_business_secs = Some(t.resolution_elapsed_business_secs);
        t.next_reply_due_at = None;
        t.sla_status = if t.sla_breached { SlaStatus::Breached } else { SlaStatus::Met };
        t.sla_next_check_at = None;
    }

    /// Reopened: the resolution clock continues from where it stopped.
    pub fn reopened(&self, t: &mut ticket::Model, now: DateTime<Utc>, log: &mut Vec<SlaLog>) -> AppResult<()> {
        t.resolution_business_secs = None;
        self.resume(t, now, log)
    }

    /// When the SLA job must next look at the ticket: the earliest warning or due time still
    /// ahead. With `include_overdue`, a clock already past due counts too (so a breach that
    /// happened between job runs is not missed); the job itself passes false after handling them.
    pub fn schedule(&self, t: &mut ticket::Model, now: DateTime<Utc>, include_overdue: bool) {
        t.sla_next_check_at = running_dues(t)
            .filter_map(|(_, due)| {
                let warn_at = due - self.targets.warning;
                if now < warn_at {
                    Some(warn_at)
                } else if now < due || include_overdue {
                    Some(due)
                } else {
                    None
                }
            })
            .min();
    }
}

/// The clocks still running on a ticket, with their due times.
pub fn running_dues(t: &ticket::Model) -> impl Iterator<Item = (SlaMetric, DateTime<Utc>)> {
    let first = t.first_response_due_at.filter(|_| t.first_responded_at.is_none() && t.resolved_at.is_none());
    [
        (SlaMetric::FirstResponse, first),
        (SlaMetric::NextReply, t.next_reply_due_at),
        (SlaMetric::Resolution, t.resolution_due_at),
    ]
    .into_iter()
    .filter_map(|(metric, due)| due.map(|d| (metric, d)))
}

/// The SLA status as of `now`: a running clock past due is a breach even before the job saw it.
pub fn status_at(t: &ticket::Model, now: DateTime<Utc>) -> SlaStatus {
    match t.sla_status {
        SlaStatus::OnTrack | SlaStatus::AtRisk if running_dues(t).any(|(_, due)| due <= now) => SlaStatus::Breached,
        status => status,
    }
}

/// The dedupe key that makes a warning or breach of one clock cycle unique.
pub fn dedupe_key(metric: SlaMetric, kind: SlaEventKind, due_at: DateTime<Utc>) -> String {
    format!("{metric:?}:{kind:?}:{}", due_at.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(now: DateTime<Utc>) -> ticket::Model {
        super::super::service::draft(Uuid::nil(), 1, now)
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z").unwrap().with_timezone(&Utc) + Duration::minutes(minutes)
    }

    #[test]
    fn pause_keeps_what_was_left_of_the_resolution_target() {
        let calendar = Calendar::always_open(chrono_tz::Tz::UTC);
        let targets = Targets::default_for(Priority::Normal); // 24 h resolution, 30 min warning
        let clocks = Clocks { calendar: &calendar, targets: &targets };
        let mut t = ticket(at(0));
        let mut log = Vec::new();
        clocks.activate(&mut t, at(0), &mut log).unwrap();
        assert_eq!(t.resolution_due_at, Some(at(24 * 60)));
        assert_eq!(t.sla_next_check_at, Some(at(4 * 60 - 30)), "first-response warning comes first");
        clocks.replied(&mut t, at(60), &mut log);
        clocks.pause(&mut t, at(120), &mut log);
        assert_eq!(t.resolution_due_at, None);
        assert_eq!(t.resolution_elapsed_business_secs, 7200);
        assert_eq!(t.sla_next_check_at, None, "no clock runs while waiting on the customer");
        clocks.resume(&mut t, at(10 * 60), &mut log).unwrap();
        assert_eq!(t.resolution_due_at, Some(at(10 * 60 + 22 * 60)), "22 h were left");
        clocks.resolved(&mut t, at(11 * 60), &mut log);
        assert_eq!(t.resolution_business_secs, Some(3 * 3600));
        assert_eq!(t.sla_status, SlaStatus::Met);
        let kinds: Vec<_> = log.iter().map(|l| (l.metric, l.kind)).collect();
        assert_eq!(
            kinds,
            [
                (SlaMetric::FirstResponse, SlaEventKind::Activated),
                (SlaMetric::Resolution, SlaEventKind::Activated),
                (SlaMetric::FirstResponse, SlaEventKind::Fulfilled),
                (SlaMetric::Resolution, SlaEventKind::Paused),
                (SlaMetric::Resolution, SlaEventKind::Resumed),
                (SlaMetric::Resolution, SlaEventKind::Fulfilled),
            ]
        );
    }

    #[test]
    fn overdue_clocks_show_as_breached_before_the_job_runs() {
        let calendar = Calendar::always_open(chrono_tz::Tz::UTC);
        let targets = Targets::default_for(Priority::Urgent);
        let clocks = Clocks { calendar: &calendar, targets: &targets };
        let mut t = ticket(at(0));
        clocks.activate(&mut t, at(0), &mut Vec::new()).unwrap();
        assert_eq!(status_at(&t, at(29)), SlaStatus::OnTrack);
        assert_eq!(status_at(&t, at(31)), SlaStatus::Breached);
        clocks.schedule(&mut t, at(31), false);
        assert_eq!(t.sla_next_check_at, Some(at(4 * 60 - 10)), "next: the resolution warning");
    }
}
