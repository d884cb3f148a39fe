//! Loads what the metrics need and hands it to the pure calculations.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{
    customer, lead,
    order::{self, OrderStatus},
};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{
    cohorts::{self, Cohort},
    periods::{self, Granularity},
    retention::{self, Counts, History},
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
    pub buckets: Vec<Counts>,
    pub total: Counts,
    pub leads: Vec<LeadConversion>,
    pub total_leads: LeadConversion,
    /// Customers with ≥ 2 completed orders ever / customers with ≥ 1 (in the segment).
    pub lifetime_repeat_purchase_rate: Option<f64>,
}

/// Lead-to-customer conversion of one period (METRICS.md §5).
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

/// `(customer, placed_at, amount_minor)` of the workspace's completed orders.
fn completed_orders(workspace_id: Uuid) -> sea_orm::Select<order::Entity> {
    order::Entity::find()
        .select_only()
        .column(order::Column::CustomerId)
        .column(order::Column::PlacedAt)
        .column(order::Column::AmountMinor)
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
}

/// Each customer's completed orders in `[since, until)` and first order time.
async fn histories<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    segment: &Option<Condition>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, History>> {
    let mut customers = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::FirstOrderAt)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::FirstOrderAt.lt(until));
    if let Some(condition) = segment {
        customers = customers.filter(condition.clone());
    }
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = customers.into_tuple().all(db).await?;
    let mut out: HashMap<Uuid, History> =
        rows.into_iter().map(|(id, first)| (id, History { first_order_at: first, orders: Vec::new() })).collect();
    let mut orders = completed_orders(workspace_id)
        .filter(order::Column::PlacedAt.gte(since))
        .filter(order::Column::PlacedAt.lt(until))
        .order_by_asc(order::Column::PlacedAt);
    if let Some(ids) = segment_ids(workspace_id, segment) {
        orders = orders.filter(order::Column::CustomerId.in_subquery(ids));
    }
    let rows: Vec<(Uuid, DateTime<Utc>, i64)> = orders.into_tuple().all(db).await?;
    for (customer_id, placed_at, amount) in rows {
        if let Some(h) = out.get_mut(&customer_id) {
            h.orders.push((placed_at, amount));
        }
    }
    Ok(out)
}

pub async fn retention<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    query: RetentionQuery,
) -> AppResult<RetentionReport> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let settings = workspaces::settings::WorkspaceSettings::from_json(&workspace.settings);
    let zone: chrono_tz::Tz = workspace.timezone.parse().unwrap_or(chrono_tz::UTC);
    let bounds = periods::boundaries(query.from, query.to, query.granularity, zone)?;
    let window = Duration::days(settings.activity_window_days);
    let (first, last) = (bounds[0], bounds[bounds.len() - 1]);
    let histories = histories(db, workspace_id, &query.segment, first - window, last).await?;
    let buckets: Vec<Counts> =
        bounds.windows(2).map(|w| retention::period(histories.values(), w[0], w[1], window)).collect();
    let total = retention::period(histories.values(), first, last, window);

    let leads = lead_rows(db, workspace_id, first, last).await?;
    let lead_buckets = bounds.windows(2).map(|w| lead_conversion(&leads, w[0], w[1])).collect();
    let total_leads = lead_conversion(&leads, first, last);

    let mut stats = customer::Entity::find()
        .select_only()
        .column(customer::Column::OrderCount)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::OrderCount.gte(1));
    if let Some(condition) = &query.segment {
        stats = stats.filter(condition.clone());
    }
    let counts: Vec<i32> = stats.into_tuple().all(db).await?;
    let repeaters = counts.iter().filter(|n| **n >= 2).count() as u64;
    Ok(RetentionReport {
        window_days: settings.activity_window_days,
        currency: workspace.currency,
        buckets,
        total,
        leads: lead_buckets,
        total_leads,
        lifetime_repeat_purchase_rate: retention::ratio(repeaters, counts.len() as u64),
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

/// The cohort matrix for cohorts whose first period lies in `[from, to)`, up to the current period.
pub async fn cohort_matrix<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
    now: DateTime<Utc>,
) -> AppResult<(Vec<Cohort>, String)> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let zone: chrono_tz::Tz = workspace.timezone.parse().unwrap_or(chrono_tz::UTC);
    let cohort_bounds = periods::boundaries(from, to, granularity, zone)?;
    let today = now.with_timezone(&zone).date_naive();
    let horizon = today.max(to).succ_opt().unwrap_or(today);
    let bounds = periods::boundaries(from, horizon, granularity, zone)?;
    let (first, last) = (cohort_bounds[0], cohort_bounds[cohort_bounds.len() - 1]);
    let members = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::FirstOrderAt.gte(first))
        .filter(customer::Column::FirstOrderAt.lt(last));
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> =
        members.clone().column(customer::Column::FirstOrderAt).into_tuple().all(db).await?;
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(rows.len());
    let mut customers = Vec::with_capacity(rows.len());
    for (id, first_order) in rows {
        if let Some(at) = first_order {
            index.insert(id, customers.len());
            customers.push(History { first_order_at: Some(at), orders: Vec::new() });
        }
    }
    let orders: Vec<(Uuid, DateTime<Utc>, i64)> = completed_orders(workspace_id)
        .filter(order::Column::PlacedAt.gte(first))
        .filter(order::Column::CustomerId.in_subquery(members.into_query()))
        .into_tuple()
        .all(db)
        .await?;
    for (customer_id, placed_at, amount) in orders {
        if let Some(i) = index.get(&customer_id) {
            customers[*i].orders.push((placed_at, amount));
        }
    }
    let matrix = cohorts::matrix(&bounds, cohort_bounds.len() - 1, &customers, now);
    Ok((matrix, workspace.currency))
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
    let spend: Vec<i64> = customer::Entity::find()
        .select_only()
        .column(customer::Column::TotalSpentMinor)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::OrderCount.gte(1))
        .into_tuple()
        .all(db)
        .await?;
    let window = Duration::days(settings.activity_window_days);
    let year_ago = now - Duration::days(365);
    let histories = histories(db, workspace_id, &None, year_ago - window, now).await?;
    let year = retention::period(histories.values(), year_ago, now, window);
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
