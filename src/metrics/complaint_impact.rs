//! Complaint impact: do customers who complain leave more often, are they worth more or less, and
//! does resolving fast keep them? Over the customers active at the start of a period (S, as in
//! retention), split by whether they filed a complaint during it and by how fast their slowest
//! complaint was resolved; churn is S \ E within each group (docs/metrics.md §1).

use std::collections::HashMap;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::ticket::{self, TicketKind};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::{
    auth::Permission,
    graphql::{AppError, AppResult, authorize, state},
    metrics::{
        activity::{self, Selection},
        periods::{day_number, start_of},
        predictions::{self, Fitted},
        predictive::customer_lifetime_value,
        retention::{active_at, ratio},
    },
    money,
    workspaces::{self, settings::WorkspaceSettings},
};

/// How fast a customer's slowest complaint of the period was resolved (wall-clock time from filing).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResolutionSpeed {
    WithinADay,
    WithinThreeDays,
    WithinAWeek,
    OverAWeek,
    /// Still open.
    Unresolved,
}

impl ResolutionSpeed {
    pub const ALL: [ResolutionSpeed; 5] = [
        ResolutionSpeed::WithinADay,
        ResolutionSpeed::WithinThreeDays,
        ResolutionSpeed::WithinAWeek,
        ResolutionSpeed::OverAWeek,
        ResolutionSpeed::Unresolved,
    ];

    /// `None`: not resolved.
    pub fn of(time_to_resolve: Option<Duration>) -> ResolutionSpeed {
        match time_to_resolve {
            None => ResolutionSpeed::Unresolved,
            Some(t) if t <= Duration::days(1) => ResolutionSpeed::WithinADay,
            Some(t) if t <= Duration::days(3) => ResolutionSpeed::WithinThreeDays,
            Some(t) if t <= Duration::days(7) => ResolutionSpeed::WithinAWeek,
            Some(_) => ResolutionSpeed::OverAWeek,
        }
    }
}

/// One customer of S.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    /// Active at the end of the period (in E).
    pub retained: bool,
    pub lifetime_spend_minor: i64,
    /// Predicted 12-month CLV in currency units, when the models are fitted.
    pub predicted_clv: Option<f64>,
    /// Complaints filed in the period, and their slowest resolution (`None` inside: one is open).
    pub complaints: Option<(u32, Option<Duration>)>,
}

/// Counts and sums of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub customers: u64,
    pub retained: u64,
    pub complaints: u64,
    pub spend_minor: i128,
    pub clv_sum: f64,
    pub clv_customers: u64,
}

impl Tally {
    fn add(&mut self, m: &Member) {
        self.customers += 1;
        self.retained += u64::from(m.retained);
        self.complaints += u64::from(m.complaints.map_or(0, |(n, _)| n));
        self.spend_minor += i128::from(m.lifetime_spend_minor);
        if let Some(clv) = m.predicted_clv {
            self.clv_sum += clv;
            self.clv_customers += 1;
        }
    }

    pub fn churn(&self) -> Option<f64> {
        ratio(self.customers - self.retained, self.customers)
    }
}

/// (without complaints, with complaints, with complaints by resolution speed).
pub fn impact(members: &[Member]) -> (Tally, Tally, Vec<(ResolutionSpeed, Tally)>) {
    let (mut without, mut with) = (Tally::default(), Tally::default());
    let mut by_speed: Vec<(ResolutionSpeed, Tally)> =
        ResolutionSpeed::ALL.iter().map(|s| (*s, Tally::default())).collect();
    for m in members {
        match m.complaints {
            None => without.add(m),
            Some((_, slowest)) => {
                with.add(m);
                let speed = ResolutionSpeed::of(slowest);
                if let Some((_, tally)) = by_speed.iter_mut().find(|(s, _)| *s == speed) {
                    tally.add(m);
                }
            }
        }
    }
    (without, with, by_speed)
}

/// The members of S for `[from, to)`, with their complaints of the period.
pub async fn members<C: ConnectionTrait>(
    db: &C,
    workspace: &entity::workspace::Model,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<Vec<Member>> {
    if to <= from {
        return Err(AppError::bad_input("input.to", "must be after `from`"));
    }
    let settings = WorkspaceSettings::from_json(&workspace.settings);
    let window = i32::try_from(settings.activity_window_days).unwrap_or(i32::MAX);
    let zone = workspaces::service::zone(workspace);
    let (from_day, to_day) = (day_number(from), day_number(to));
    let customers = activity::load(
        db,
        workspace.id,
        Selection { first_before: Some(from_day), active_since: Some(from_day - window), ..Default::default() },
    )
    .await?;
    let complaints = complaints_of(db, workspace.id, start_of(from, zone), start_of(to, zone), now).await?;
    let model = match predictions::latest(db, workspace.id).await? {
        Some(row) => {
            let fitted = Fitted::try_from(row)?;
            let today = now.with_timezone(&zone).date_naive();
            let summaries = predictions::summaries_on(db, &fitted, today, None).await?;
            Some((fitted, summaries))
        }
        None => None,
    };
    let mut out = Vec::new();
    for (customer_id, days) in customers.iter() {
        if !active_at(days, from_day, window) {
            continue;
        }
        let predicted_clv = match &model {
            Some((fitted, summaries)) => match (&fitted.gamma_gamma, summaries.get(&customer_id)) {
                (Some(gg), Some(s)) => Some(
                    customer_lifetime_value(&fitted.bgnbd.params, &gg.params, s, 12, 0.01, fitted.unit)
                        .map_err(AppError::from)?,
                ),
                _ => None,
            },
            None => None,
        };
        out.push(Member {
            retained: active_at(days, to_day, window),
            lifetime_spend_minor: money::sum_minor(days.iter().map(|d| d.revenue_minor)).unwrap_or(i64::MAX),
            predicted_clv,
            complaints: complaints.get(&customer_id).copied(),
        });
    }
    Ok(out)
}

/// Per customer: complaints filed in `[since, until)` and the slowest one's time to resolution
/// (`None` when one is still open).
async fn complaints_of<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, (u32, Option<Duration>)>> {
    type Filed = (Option<Uuid>, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Filed> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::CustomerId)
        .column(ticket::Column::CreatedAt)
        .column(ticket::Column::ResolvedAt)
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .filter(ticket::Column::Kind.eq(TicketKind::Complaint))
        .filter(ticket::Column::MergedIntoId.is_null())
        .filter(ticket::Column::CustomerId.is_not_null())
        .filter(ticket::Column::CreatedAt.gte(since))
        .filter(ticket::Column::CreatedAt.lt(until))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, (u32, Option<Duration>)> = HashMap::new();
    for (customer_id, created_at, resolved_at) in rows {
        let Some(customer_id) = customer_id else { continue };
        let took = resolved_at.filter(|at| *at <= now).map(|at| at - created_at);
        let entry = out.entry(customer_id).or_insert((0, Some(Duration::zero())));
        entry.0 += 1;
        entry.1 = match (entry.1, took) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    Ok(out)
}

#[derive(InputObject)]
pub struct ComplaintImpactInput {
    /// First day of the period (workspace time zone).
    pub from: NaiveDate,
    /// The day after the last one (exclusive).
    pub to: NaiveDate,
}

/// One group of the customers active at the period's start.
#[derive(SimpleObject)]
pub struct ImpactGroup {
    /// Customers of S in the group.
    pub customers: u64,
    /// Complaints they filed in the period.
    pub complaints: u64,
    /// Still active at the end.
    pub retained: u64,
    /// Share not active at the end; null for an empty group.
    pub churn: Option<f64>,
    /// Mean of their completed-order totals to date (historic CLV per customer).
    pub average_lifetime_spend: Option<Decimal>,
    /// Mean predicted 12-month CLV (fitted models, scored today); null without a spend model.
    pub average_predicted_clv: Option<Decimal>,
}

#[derive(SimpleObject)]
pub struct SpeedGroup {
    pub speed: ResolutionSpeed,
    pub group: ImpactGroup,
}

#[derive(SimpleObject)]
pub struct ComplaintImpact {
    pub activity_window_days: i64,
    pub without_complaints: ImpactGroup,
    pub with_complaints: ImpactGroup,
    /// Complainers by how fast their slowest complaint of the period was resolved.
    pub by_resolution_speed: Vec<SpeedGroup>,
}

fn group(t: &Tally, currency: &str) -> ImpactGroup {
    let mean_spend = money::mean(t.spend_minor, t.customers, currency);
    let mean_clv = (t.clv_customers > 0)
        .then(|| t.clv_sum / t.clv_customers as f64)
        .and_then(|v| money::from_estimate(v, currency));
    ImpactGroup {
        customers: t.customers,
        complaints: t.complaints,
        retained: t.retained,
        churn: t.churn(),
        average_lifetime_spend: mean_spend,
        average_predicted_clv: mean_clv,
    }
}

#[derive(Default)]
pub struct ComplaintImpactQuery;

#[Object]
impl ComplaintImpactQuery {
    /// Churn and value of the customers active at `from` who complained during `[from, to)`
    /// against those who did not, and by how fast the complaints were resolved.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn complaint_impact(
        &self,
        ctx: &Context<'_>,
        input: ComplaintImpactInput,
    ) -> async_graphql::Result<ComplaintImpact> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = workspaces::service::get(db, principal.workspace_id()).await?;
        let members = members(db, &workspace, input.from, input.to, Utc::now()).await?;
        let (without, with, by_speed) = impact(&members);
        let currency = &workspace.currency;
        Ok(ComplaintImpact {
            activity_window_days: WorkspaceSettings::from_json(&workspace.settings).activity_window_days,
            without_complaints: group(&without, currency),
            with_complaints: group(&with, currency),
            by_resolution_speed: by_speed
                .iter()
                .map(|(speed, t)| SpeedGroup { speed: *speed, group: group(t, currency) })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(retained: bool, spend: i64, complaints: Option<(u32, Option<i64>)>) -> Member {
        Member {
            retained,
            lifetime_spend_minor: spend,
            predicted_clv: None,
            complaints: complaints.map(|(n, hours)| (n, hours.map(Duration::hours))),
        }
    }

    #[test]
    fn groups_by_complaint_and_resolution_speed() {
        let members = [
            member(true, 100, None),
            member(false, 300, None),
            member(true, 500, Some((1, Some(5)))),
            member(false, 700, Some((2, Some(100)))),
            member(false, 900, Some((1, None))),
        ];
        let (without, with, by_speed) = impact(&members);
        assert_eq!((without.customers, without.retained, without.churn()), (2, 1, Some(0.5)));
        assert_eq!((with.customers, with.complaints, with.spend_minor), (3, 4, 2100));
        assert_eq!(with.churn(), Some(2.0 / 3.0));
        let speeds: Vec<(ResolutionSpeed, u64, Option<f64>)> =
            by_speed.iter().map(|(s, t)| (*s, t.customers, t.churn())).collect();
        assert_eq!(
            speeds,
            [
                (ResolutionSpeed::WithinADay, 1, Some(0.0)),
                (ResolutionSpeed::WithinThreeDays, 0, None),
                (ResolutionSpeed::WithinAWeek, 1, Some(1.0)),
                (ResolutionSpeed::OverAWeek, 0, None),
                (ResolutionSpeed::Unresolved, 1, Some(1.0)),
            ]
        );
        assert_eq!(ResolutionSpeed::of(Some(Duration::days(1))), ResolutionSpeed::WithinADay, "a day is within a day");
    }
}
