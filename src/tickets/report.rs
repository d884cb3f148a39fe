//! The complaint report: where the business is weak. Counts, response and resolution times
//! (median and p90, wall and business time), SLA attainment from the SLA log, CSAT, reopen rate,
//! the customer-error share, per-agent and per-group attainment, and repeat complainers.

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    enums::{Channel, Priority},
    sla_event::{self, SlaEventKind, SlaMetric},
    ticket::{self, TicketCategory, TicketKind, TicketStatus},
};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::setup::{AgentGroup, AgentGroupLoader};
use crate::{
    auth::Permission,
    customers::{Customer, CustomerLoader},
    graphql::{AppError, AppResult, authorize, ids::to_id, loader, state},
    users::{User, UserLoader},
};

/// What the report needs of a ticket.
#[derive(Clone, Debug, FromQueryResult)]
pub struct ReportRow {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub category: TicketCategory,
    pub channel: Channel,
    pub priority: Priority,
    pub status: TicketStatus,
    pub root_cause: Option<String>,
    pub customer_error: Option<bool>,
    pub satisfaction: Option<i32>,
    pub reopen_count: i32,
    pub created_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub first_response_business_secs: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_business_secs: Option<i64>,
}

/// Median and 90th percentile (linear interpolation between closest ranks); null without data.
#[derive(SimpleObject, Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeStats {
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub samples: i64,
}

pub fn percentile(sorted: &[i64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let fraction = rank - low as f64;
    Some(sorted[low] as f64 + (sorted[high] - sorted[low]) as f64 * fraction)
}

fn time_stats(mut values: Vec<i64>) -> TimeStats {
    values.sort_unstable();
    TimeStats {
        median_seconds: percentile(&values, 0.5),
        p90_seconds: percentile(&values, 0.9),
        samples: values.len() as i64,
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The outcome of one clock cycle (a metric and its due time) of a ticket, and who held the
/// ticket when it was decided: its first BREACHED or FULFILLED line. It is missed when BREACHED or
/// FULFILLED after its due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOutcome {
    pub ticket_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub missed: bool,
}

pub fn clock_outcomes(log: &[sla_event::Model]) -> Vec<ClockOutcome> {
    let mut log: Vec<&sla_event::Model> = log.iter().collect();
    log.sort_by_key(|e| e.occurred_at);
    let mut cycles: HashMap<(Uuid, SlaMetric, Option<DateTime<Utc>>), ClockOutcome> = HashMap::new();
    for e in log {
        let missed = match e.kind {
            SlaEventKind::Breached => true,
            SlaEventKind::Fulfilled => e.due_at.is_some_and(|due| e.occurred_at > due),
            _ => continue,
        };
        let decided = ClockOutcome { ticket_id: e.ticket_id, assignee_id: e.assignee_id, group_id: e.group_id, missed };
        cycles.entry((e.ticket_id, e.metric, e.due_at)).or_insert(decided).missed |= missed;
    }
    cycles.into_values().collect()
}

/// Whether each ticket met every target among `outcomes`; tickets without an outcome are absent.
pub fn tickets_met<'a>(outcomes: impl IntoIterator<Item = &'a ClockOutcome>) -> HashMap<Uuid, bool> {
    let mut met: HashMap<Uuid, bool> = HashMap::new();
    for outcome in outcomes {
        *met.entry(outcome.ticket_id).or_insert(true) &= !outcome.missed;
    }
    met
}

/// Each holder's figures over the tickets with a clock decided while they held it, judged on
/// those clocks alone: a breach stays with the agent who missed it after the ticket moves on.
fn stats_by_holder(
    rows: &[ReportRow],
    outcomes: &[ClockOutcome],
    holder: impl Fn(&ClockOutcome) -> Option<Uuid>,
) -> Vec<(Uuid, ComplaintStats)> {
    let mut held: BTreeMap<Uuid, Vec<&ClockOutcome>> = BTreeMap::new();
    for outcome in outcomes {
        if let Some(id) = holder(outcome) {
            held.entry(id).or_default().push(outcome);
        }
    }
    let rows: HashMap<Uuid, &ReportRow> = rows.iter().map(|r| (r.id, r)).collect();
    held.into_iter()
        .map(|(id, theirs)| {
            let met = tickets_met(theirs);
            let members: Vec<&ReportRow> = met.keys().filter_map(|ticket| rows.get(ticket).copied()).collect();
            (id, stats(&members, &met))
        })
        .collect()
}

#[derive(SimpleObject, Clone, Debug, Default, PartialEq)]
pub struct ComplaintStats {
    pub count: i64,
    pub open: i64,
    pub resolved: i64,
    pub first_response: TimeStats,
    pub first_response_business: TimeStats,
    pub resolution: TimeStats,
    pub resolution_business: TimeStats,
    /// Share of tickets with an SLA outcome that met every target.
    pub sla_attainment: Option<f64>,
    pub csat_responses: i64,
    /// Share of ratings that are 4 or 5 (docs/metrics.md §4).
    pub csat: Option<f64>,
    /// Mean rating, 1–5.
    pub average_rating: Option<f64>,
    /// Reopened tickets among those resolved at least once.
    pub reopen_rate: Option<f64>,
    /// Resolved as the customer's own error, among resolved tickets.
    pub customer_error_share: Option<f64>,
}

pub fn stats(rows: &[&ReportRow], met: &HashMap<Uuid, bool>) -> ComplaintStats {
    let resolved: Vec<_> = rows.iter().filter(|r| r.resolved_at.is_some()).collect();
    let ever_resolved = rows.iter().filter(|r| r.resolved_at.is_some() || r.reopen_count > 0).count();
    let ratings: Vec<i32> = rows.iter().filter_map(|r| r.satisfaction).collect();
    let decided: Vec<bool> = rows.iter().filter_map(|r| met.get(&r.id).copied()).collect();
    let open = rows.iter().filter(|r| !matches!(r.status, TicketStatus::Resolved | TicketStatus::Closed)).count();
    ComplaintStats {
        count: rows.len() as i64,
        open: open as i64,
        resolved: resolved.len() as i64,
        first_response: time_stats(
            rows.iter().filter_map(|r| r.first_responded_at.map(|t| (t - r.created_at).num_seconds())).collect(),
        ),
        first_response_business: time_stats(rows.iter().filter_map(|r| r.first_response_business_secs).collect()),
        resolution: time_stats(
            resolved.iter().filter_map(|r| r.resolved_at.map(|t| (t - r.created_at).num_seconds())).collect(),
        ),
        resolution_business: time_stats(resolved.iter().filter_map(|r| r.resolution_business_secs).collect()),
        sla_attainment: ratio(decided.iter().filter(|m| **m).count(), decided.len()),
        csat_responses: ratings.len() as i64,
        csat: ratio(ratings.iter().filter(|s| **s >= 4).count(), ratings.len()),
        average_rating: (!ratings.is_empty())
            .then(|| ratings.iter().map(|s| f64::from(*s)).sum::<f64>() / ratings.len() as f64),
        reopen_rate: ratio(rows.iter().filter(|r| r.reopen_count > 0).count(), ever_resolved),
        customer_error_share: ratio(resolved.iter().filter(|r| r.customer_error == Some(true)).count(), resolved.len()),
    }
}

#[derive(Enum, Copy, Clone, PartialEq, Eq, Debug)]
pub enum ComplaintGrouping {
    Category,
    RootCause,
    Channel,
    Assignee,
    Priority,
}

fn group_key(row: &ReportRow, by: ComplaintGrouping) -> Option<String> {
    match by {
        ComplaintGrouping::Category => Some(row.category.to_value()),
        ComplaintGrouping::Channel => Some(row.channel.to_value()),
        ComplaintGrouping::Priority => Some(row.priority.to_value()),
        ComplaintGrouping::RootCause => row.root_cause.clone(),
        ComplaintGrouping::Assignee => row.assignee_id.map(|id| id.to_string()),
    }
}

#[derive(InputObject)]
pub struct ComplaintReportInput {
    /// Tickets filed in `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: ComplaintGrouping,
    /// Customers with at least this many complaints in the period are repeat complainers.
    #[graphql(default = 2)]
    pub repeat_threshold: i32,
}

#[derive(SimpleObject)]
pub struct ComplaintGroup {
    /// The group's value (enum name, root cause, or assignee id); null for "none" (no root cause yet, unassigned).
    pub key: Option<String>,
    pub stats: ComplaintStats,
}

pub struct AgentAttainment {
    user_id: Uuid,
    stats: ComplaintStats,
}

#[Object]
impl AgentAttainment {
    async fn agent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loader::<UserLoader>(ctx)?.load_one(self.user_id).await?.map(User))
    }
    /// Tickets with a clock met or missed while theirs.
    async fn tickets(&self) -> i64 {
        self.stats.count
    }
    async fn sla_attainment(&self) -> Option<f64> {
        self.stats.sla_attainment
    }
}

pub struct GroupAttainment {
    group_id: Uuid,
    stats: ComplaintStats,
}

#[Object]
impl GroupAttainment {
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AgentGroup>> {
        loader::<AgentGroupLoader>(ctx)?.load_one(self.group_id).await
    }
    /// Tickets with a clock met or missed while with the group.
    async fn tickets(&self) -> i64 {
        self.stats.count
    }
    async fn sla_attainment(&self) -> Option<f64> {
        self.stats.sla_attainment
    }
}

pub struct RepeatComplainer {
    customer_id: Uuid,
    complaints: i64,
}

#[Object]
impl RepeatComplainer {
    async fn customer_id(&self) -> ID {
        to_id(self.customer_id)
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        loader::<CustomerLoader>(ctx)?.load_one(self.customer_id).await
    }
    async fn complaints(&self) -> i64 {
        self.complaints
    }
}

pub struct ComplaintReport {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    total: ComplaintStats,
    groups: Vec<ComplaintGroup>,
    by_agent: Vec<AgentAttainment>,
    by_group: Vec<GroupAttainment>,
    repeat: Vec<RepeatComplainer>,
}

#[Object]
impl ComplaintReport {
    async fn from(&self) -> DateTime<Utc> {
        self.from
    }
    async fn to(&self) -> DateTime<Utc> {
        self.to
    }
    async fn total(&self) -> &ComplaintStats {
        &self.total
    }
    /// One entry per value of `groupBy`, largest first.
    async fn groups(&self) -> &[ComplaintGroup] {
        &self.groups
    }
    /// SLA attainment of each agent, over the clocks met or missed while the ticket was theirs
    /// (a breach stays with whoever held the ticket then, after an escalation too).
    async fn sla_by_agent(&self) -> &[AgentAttainment] {
        &self.by_agent
    }
    /// SLA attainment of each agent group, over the clocks met or missed while the ticket was with it.
    async fn sla_by_group(&self) -> &[GroupAttainment] {
        &self.by_group
    }
    /// Customers with at least `repeatThreshold` complaints in the period, most first.
    async fn repeat_complainers(&self) -> &[RepeatComplainer] {
        &self.repeat
    }
}

fn bucket<K: Ord>(rows: &[ReportRow], key: impl Fn(&ReportRow) -> K) -> BTreeMap<K, Vec<&ReportRow>> {
    let mut out: BTreeMap<K, Vec<&ReportRow>> = BTreeMap::new();
    for row in rows {
        out.entry(key(row)).or_default().push(row);
    }
    out
}

pub async fn build<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    input: &ComplaintReportInput,
) -> AppResult<ComplaintReport> {
    if input.to <= input.from {
        return Err(AppError::bad_input("input.to", "`to` must be after `from`"));
    }
    if input.repeat_threshold < 2 {
        return Err(AppError::bad_input("input.repeatThreshold", "at least 2"));
    }
    let in_period = ticket::Entity::find()
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .filter(ticket::Column::Kind.eq(TicketKind::Complaint))
        .filter(ticket::Column::MergedIntoId.is_null())
        .filter(ticket::Column::CreatedAt.gte(input.from))
        .filter(ticket::Column::CreatedAt.lt(input.to));
    let rows: Vec<ReportRow> = in_period.clone().into_model::<ReportRow>().all(db).await?;
    let ids = in_period.select_only().column(ticket::Column::Id).into_query();
    let log = sla_event::Entity::find()
        .filter(sla_event::Column::WorkspaceId.eq(workspace_id))
        .filter(sla_event::Column::TicketId.in_subquery(ids))
        .filter(sla_event::Column::Kind.is_in([SlaEventKind::Breached, SlaEventKind::Fulfilled]))
        .all(db)
        .await?;
    let outcomes = clock_outcomes(&log);
    let met = tickets_met(&outcomes);

    let all: Vec<&ReportRow> = rows.iter().collect();
    let mut groups: Vec<ComplaintGroup> = bucket(&rows, |r| group_key(r, input.group_by))
        .into_iter()
        .map(|(key, members)| ComplaintGroup { key, stats: stats(&members, &met) })
        .collect();
    groups.sort_by(|a, b| b.stats.count.cmp(&a.stats.count).then_with(|| a.key.cmp(&b.key)));
    let by_agent = stats_by_holder(&rows, &outcomes, |o| o.assignee_id)
        .into_iter()
        .map(|(user_id, stats)| AgentAttainment { user_id, stats })
        .collect();
    let by_group = stats_by_holder(&rows, &outcomes, |o| o.group_id)
        .into_iter()
        .map(|(group_id, stats)| GroupAttainment { group_id, stats })
        .collect();
    let mut repeat: Vec<RepeatComplainer> = bucket(&rows, |r| r.customer_id)
        .into_iter()
        .filter_map(|(id, members)| Some(RepeatComplainer { customer_id: id?, complaints: members.len() as i64 }))
        .filter(|r| r.complaints >= i64::from(input.repeat_threshold))
        .collect();
    repeat.sort_by(|a, b| b.complaints.cmp(&a.complaints).then(a.customer_id.cmp(&b.customer_id)));
    Ok(ComplaintReport { from: input.from, to: input.to, total: stats(&all, &met), groups, by_agent, by_group, repeat })
}

#[derive(Default)]
pub struct ComplaintReportQuery;

#[Object]
impl ComplaintReportQuery {
    /// Complaints filed in a period, grouped one way, with SLA, CSAT and repeat-complainer figures.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn complaint_report(
        &self,
        ctx: &Context<'_>,
        input: ComplaintReportInput,
    ) -> async_graphql::Result<ComplaintReport> {
        let principal = authorize(ctx, Permission::ReadTickets)?;
        Ok(build(state(ctx).db(), principal.workspace_id(), &input).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[10], 0.9), Some(10.0));
        assert_eq!(percentile(&[10, 20, 30, 40], 0.5), Some(25.0));
        assert_eq!(percentile(&[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9), Some(90.0));
    }

    fn event(ticket: u128, metric: SlaMetric, kind: SlaEventKind, due: i64, at: i64) -> sla_event::Model {
        held_event(ticket, None, metric, kind, due, at)
    }

    fn held_event(
        ticket: u128,
        assignee: Option<u128>,
        metric: SlaMetric,
        kind: SlaEventKind,
        due: i64,
        at: i64,
    ) -> sla_event::Model {
        let base = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z").unwrap().with_timezone(&Utc);
        sla_event::Model {
            id: Uuid::from_u128(ticket * 100 + at as u128),
            workspace_id: Uuid::nil(),
            ticket_id: Uuid::from_u128(ticket),
            metric,
            kind,
            due_at: Some(base + chrono::Duration::minutes(due)),
            dedupe_key: None,
            assignee_id: assignee.map(Uuid::from_u128),
            group_id: None,
            occurred_at: base + chrono::Duration::minutes(at),
            created_at: base,
            updated_at: base,
        }
    }

    #[test]
    fn attainment_counts_late_fulfilment_and_breaches_as_misses() {
        use SlaEventKind::*;
        use SlaMetric::*;
        let log = [
            // 1: both targets met.
            event(1, FirstResponse, Fulfilled, 60, 30),
            event(1, Resolution, Fulfilled, 600, 300),
            // 2: breached, then answered late.
            event(2, FirstResponse, Breached, 60, 61),
            event(2, FirstResponse, Fulfilled, 60, 90),
            // 3: answered late before the job saw it.
            event(3, FirstResponse, Fulfilled, 60, 75),
        ];
        let outcomes = clock_outcomes(&log);
        let met = tickets_met(&outcomes);
        assert_eq!(met.get(&Uuid::from_u128(1)), Some(&true));
        assert_eq!(met.get(&Uuid::from_u128(2)), Some(&false));
        assert_eq!(met.get(&Uuid::from_u128(3)), Some(&false));
        assert_eq!(met.get(&Uuid::from_u128(4)), None);
    }

    #[test]
    fn a_clock_belongs_to_whoever_held_the_ticket_when_it_was_decided() {
        use SlaEventKind::*;
        use SlaMetric::*;
        let (first, second) = (Some(10), Some(20));
        let log = [
            // Breached while the first agent held it, answered late by the second.
            held_event(1, first, FirstResponse, Breached, 60, 61),
            held_event(1, second, FirstResponse, Fulfilled, 60, 90),
            // The second resolved it in time.
            held_event(1, second, Resolution, Fulfilled, 600, 300),
        ];
        let outcomes = clock_outcomes(&log);
        let of = |agent: Option<u128>| {
            tickets_met(outcomes.iter().filter(|o| o.assignee_id == agent.map(Uuid::from_u128)))
                .get(&Uuid::from_u128(1))
                .copied()
        };
        assert_eq!(of(first), Some(false));
        assert_eq!(of(second), Some(true));
        assert_eq!(tickets_met(&outcomes).get(&Uuid::from_u128(1)), Some(&false));
    }
}
