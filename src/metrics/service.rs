//! Loads what the metrics need and hands it to the pure calculations.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{customer, lead};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{
    activity::{self, Selection},
    cohorts::{self, Cohort},
    periods::{self, Granularity, day_number},
    retention::{self, Counts},
    rfm::{self, Distribution},
};
use crate::{graphql::AppResult, workspaces};

pub struct RetentionQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    /// Only customers matching this condition (on the `customer` table).
    pub segment: Option<Condition>,
}

pub struct RetentionReport {
    pub window_days: i64,
    pub currency: String,
    /// Period boundaries (local midnights): bucket i is `[bounds[i], bounds[i + 1])`.
    pub bounds: Vec<DateTime<Utc>>,
    pub buckets: Vec<Counts>,
    pub total: Counts,
    pub leads: Vec<LeadConversion>,
    pub total_leads: LeadConversion,
    /// Customers with ≥ 2 completed orders ever / customers with ≥ 1 (in the segment).
    pub lifetime_repeat_purchase_rate: Option<f64>,
}

/// Lead-to-customer conversion of one period (docs/metrics.md §5).
#[derive(Clone, Default)]
pub struct LeadConversion {
    pub created: u64,
    /// Converted in the period, whenever created (the flow definition; may exceed `created`).
    pub converted: u64,
    /// Created in the period and converted by now (the cohort definition).
    pub created_and_converted: u64,
    pub median_days_to_convert: Option<f64>,
    pub by_source: Vec<(String, u64, u64, u64)>,
    pub by_category: Vec<(String, u64, u64, u64)>,
}

fn segment_ids(workspace_id: Uuid, segment: &Option<Condition>) -> Option<sea_orm::sea_query::SelectStatement> {
    segment.as_ref().map(|condition| {
        customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::WorkspaceId.eq(workspace_id))
            .filter(condition.clone())
            .into_query()
    })
}

/// The workspace's activity window in days, as the purchase-day arithmetic needs it.
fn window_of(settings: &workspaces::settings::WorkspaceSettings) -> i32 {
    i32::try_from(settings.activity_window_days).unwrap_or(i32::MAX)
}

pub async fn retention<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    query: RetentionQuery,
) -> AppResult<RetentionReport> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let settings = workspaces::settings::WorkspaceSettings::from_json(&workspace.settings);
    let zone = workspaces::service::zone(&workspace);
    let dates = periods::boundary_dates(query.from, query.to, query.granularity)?;
    let days: Vec<i32> = dates.iter().map(|d| day_number(*d)).collect();
    let window = window_of(&settings);
    // Every customer of the segment, not only those active in the span: the lifetime repeat rate
    // counts them all.
    let selection = Selection { segment: query.segment, ..Selection::default() };
    let customers = activity::load_days(db, workspace_id, selection).await?;
    let (buckets, total) = retention::series(customers.all_days(), &days, window);
    let repeaters = customers.all_days().filter(|d| d.iter().map(|d| d.orders).sum::<u32>() >= 2).count();
    let bounds: Vec<DateTime<Utc>> = dates.iter().map(|d| periods::start_of(*d, zone)).collect();

    let (since, until) = (bounds[0], bounds[bounds.len() - 1]);
    let leads = lead_rows(db, workspace_id, since, until).await?;
    let lead_buckets = bounds.windows(2).map(|w| lead_conversion(&leads, w[0], w[1])).collect();
    let total_leads = lead_conversion(&leads, since, until);
    Ok(RetentionReport {
        window_days: settings.activity_window_days,
        currency: workspace.currency,
        bounds,
        buckets,
        total,
        leads: lead_buckets,
        total_leads,
        lifetime_repeat_purchase_rate: retention::ratio(repeaters as u64, customers.len() as u64),
    })
}

struct LeadRow {
    created_at: DateTime<Utc>,
    converted_at: Option<DateTime<Utc>>,
    source: String,
    category: String,
}

/// Leads created or converted in `[since, until)`.
async fn lead_rows<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<Vec<LeadRow>> {
    let in_span = |column: lead::Column| Condition::all().add(column.gte(since)).add(column.lt(until));
    let rows = lead::Entity::find()
        .filter(lead::Column::WorkspaceId.eq(workspace_id))
        .filter(Condition::any().add(in_span(lead::Column::CreatedAt)).add(in_span(lead::Column::ConvertedAt)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|l| LeadRow {
            created_at: l.created_at,
            converted_at: l.converted_at,
            source: l.source.to_value(),
            category: l.category.to_value(),
        })
        .collect())
}

fn lead_conversion(leads: &[LeadRow], from: DateTime<Utc>, to: DateTime<Utc>) -> LeadConversion {
    let within = |t: DateTime<Utc>| from <= t && t < to;
    let mut out = LeadConversion::default();
    let mut days = Vec::new();
    let mut by_source: HashMap<String, (u64, u64, u64)> = HashMap::new();
    let mut by_category: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for l in leads {
        let created = within(l.created_at);
        let converted = l.converted_at.is_some_and(within);
        let cohort = created && l.converted_at.is_some();
        if !(created || converted) {
            continue;
        }
        out.created += u64::from(created);
        out.converted += u64::from(converted);
        out.created_and_converted += u64::from(cohort);
        if let (true, Some(at)) = (converted, l.converted_at) {
            days.push((at - l.created_at).num_seconds() as f64 / 86_400.0);
        }
        for (map, key) in [(&mut by_source, &l.source), (&mut by_category, &l.category)] {
            let entry = map.entry(key.clone()).or_default();
            entry.0 += u64::from(created);
            entry.1 += u64::from(converted);
            entry.2 += u64::from(cohort);
        }
    }
    days.sort_by(f64::total_cmp);
    out.median_days_to_convert = match days.len() {
        0 => None,
        n if n % 2 == 1 => Some(days[n / 2]),
        n => Some((days[n / 2 - 1] + days[n / 2]) / 2.0),
    };
    let sorted = |map: HashMap<String, (u64, u64, u64)>| {
        let mut rows: Vec<_> = map.into_iter().map(|(k, (a, b, c))| (k, a, b, c)).collect();
        rows.sort();
        rows
    };
    out.by_source = sorted(by_source);
    out.by_category = sorted(by_category);
    out
}

/// A cohort matrix with what it takes to show it: period starts are day numbers of `zone`.
pub struct CohortReport {
    pub cohorts: Vec<Cohort>,
    pub currency: String,
    pub zone: Tz,
}

/// The cohort matrix for cohorts whose first period lies in `[from, to)`, up to the current period.
pub async fn cohort_matrix<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
    now: DateTime<Utc>,
) -> AppResult<CohortReport> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let zone = workspaces::service::zone(&workspace);
    let cohort_periods = periods::boundary_dates(from, to, granularity)?.len() - 1;
    let today = now.with_timezone(&zone).date_naive();
    let horizon = today.max(to).succ_opt().unwrap_or(today);
    let bounds: Vec<i32> = periods::boundary_dates(from, horizon, granularity)?.into_iter().map(day_number).collect();
    let selection =
        Selection { active_since: Some(bounds[0]), first_before: Some(bounds[cohort_periods]), ..Selection::default() };
    let customers = activity::load_days(db, workspace_id, selection).await?;
    let cohorts = cohorts::matrix(&bounds, cohort_periods, customers.all_days(), day_number(today));
    Ok(CohortReport { cohorts, currency: workspace.currency, zone })
}

/// RFM inputs of every customer with a completed order, as of `now` (from their order statistics).
pub async fn rfm_inputs<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Vec<(Uuid, rfm::Inputs)>> {
    let rows: Vec<(Uuid, Option<DateTime<Utc>>, i32, i64)> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::LastOrderAt)
        .column(customer::Column::OrderCount)
        .column(customer::Column::TotalSpentMinor)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::OrderCount.gte(1))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, last, count, spent)| last.map(|at| (id, rfm_of(at, count, spent, now))))
        .collect())
}

pub fn rfm_of(last_order_at: DateTime<Utc>, order_count: i32, spent_minor: i64, now: DateTime<Utc>) -> rfm::Inputs {
    rfm::Inputs {
        recency_days: (now - last_order_at).num_days().max(0),
        frequency: i64::from(order_count),
        monetary_minor: spent_minor,
    }
}

/// The workspace's RFM distribution.
pub async fn rfm_distribution<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Distribution> {
    let inputs: Vec<rfm::Inputs> = rfm_inputs(db, workspace_id, now).await?.into_iter().map(|(_, i)| i).collect();
    Ok(Distribution::new(&inputs))
}

/// Customer value as of `now`: lifetime spend per customer (for the Pareto view) and the counts of
/// the trailing 365 days (orders, revenue, churn) that the historical CLV is built from.
pub async fn value_inputs<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<(Vec<i64>, Counts, workspaces::settings::WorkspaceSettings, String)> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let settings = workspaces::settings::WorkspaceSettings::from_json(&workspace.settings);
    let customers = activity::load_days(db, workspace_id, Selection::default()).await?;
    // Saturating: one customer's spend is bounded where orders are recorded.
    let spend: Vec<i64> = customers
        .all_days()
        .map(|days| crate::money::sum_minor(days.iter().map(|d| d.revenue_minor)).unwrap_or(i64::MAX))
        .collect();
    // The trailing year: the 365 days up to and including today.
    let today = day_number(now.with_timezone(&workspaces::service::zone(&workspace)).date_naive());
    let (_, year) = retention::series(customers.all_days(), &[today - 364, today + 1], window_of(&settings));
    Ok((spend, year, settings, workspace.currency))
}

/// One response: (customer, kind, score, when).
pub type Response = (Uuid, entity::feedback::FeedbackKind, i32, DateTime<Utc>);

/// NPS and CSAT responses submitted in `[since, until)` (segment customers only), and the CSAT
/// ratings of tickets resolved then.
pub async fn responses<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    segment: &Option<Condition>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<(Vec<Response>, Vec<(i32, DateTime<Utc>)>)> {
    use entity::{feedback, ticket};
    let mut query = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::CustomerId)
        .column(feedback::Column::Kind)
        .column(feedback::Column::Score)
        .column(feedback::Column::SubmittedAt)
        .filter(feedback::Column::WorkspaceId.eq(workspace_id))
        .filter(feedback::Column::Score.is_not_null())
        .filter(feedback::Column::SubmittedAt.gte(since))
        .filter(feedback::Column::SubmittedAt.lt(until))
        .order_by_asc(feedback::Column::SubmittedAt);
    if let Some(ids) = segment_ids(workspace_id, segment) {
        query = query.filter(feedback::Column::CustomerId.in_subquery(ids));
    }
    let rows: Vec<(Uuid, feedback::FeedbackKind, Option<i32>, DateTime<Utc>)> = query.into_tuple().all(db).await?;
    let answers = rows.into_iter().filter_map(|(c, k, s, at)| s.map(|s| (c, k, s, at))).collect();
    let mut tickets = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::Satisfaction)
        .column(ticket::Column::ResolvedAt)
        .filter(ticket::Column::WorkspaceId.eq(workspace_id))
        .filter(ticket::Column::Satisfaction.is_not_null())
        .filter(ticket::Column::ResolvedAt.gte(since))
        .filter(ticket::Column::ResolvedAt.lt(until));
    if let Some(ids) = segment_ids(workspace_id, segment) {
        tickets = tickets.filter(ticket::Column::CustomerId.in_subquery(ids));
    }
    let rated: Vec<(Option<i32>, Option<DateTime<Utc>>)> = tickets.into_tuple().all(db).await?;
    Ok((answers, rated.into_iter().filter_map(|(s, at)| s.zip(at)).collect()))
}
