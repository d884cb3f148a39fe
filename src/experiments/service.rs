//! Experiments: A/B tests of retention campaigns. A draft names its variants (one is the control)
//! with weights, the outcome it is judged on and the measurement window; starting it splits the
//! audience once, deterministically, and can put a follow-up in front of staff for each customer
//! of a treatment variant; results compare each treatment with the control over every customer's
//! own window.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    experiment::{self, ExperimentKind, ExperimentMetric, ExperimentStatus},
    experiment_assignment as assignment, follow_up,
    follow_up::{FollowUpKind, FollowUpStatus},
    order::{self, OrderStatus},
};
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Alias, Expr, Func, JoinType, OnConflict, Query},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::stats::{self, Comparison, Sample};
use crate::{
    audit,
    auth::Actor,
    customers,
    graphql::{AppError, AppResult, ids::new_id},
    workspaces,
};

pub const MAX_VARIANTS: usize = 10;
pub const MAX_WINDOW_DAYS: i32 = 365;
/// Rows per INSERT: well under SQLite's bound-parameter limit for the widest row written here.
const INSERT_CHUNK: usize = 1_000;

/// One arm of a test, as stored in `experiment.variants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub name: String,
    pub weight: u32,
    pub follow_up: Option<CampaignFollowUp>,
}

/// What staff do for each customer of a variant: a follow-up of this kind, due this many days
/// after the start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignFollowUp {
    /// A `FollowUpKind`, by its stored name.
    pub kind: String,
    pub due_in_days: u32,
    pub note: Option<String>,
}

impl CampaignFollowUp {
    pub fn new(kind: FollowUpKind, due_in_days: u32, note: Option<String>) -> Self {
        CampaignFollowUp { kind: kind.to_value(), due_in_days, note }
    }

    pub fn kind(&self) -> AppResult<FollowUpKind> {
        FollowUpKind::try_from_value(&self.kind).map_err(|e| AppError::Internal(anyhow::anyhow!("{e:?}")))
    }
}

pub struct NewExperiment {
    pub name: String,
    pub hypothesis: Option<String>,
    pub kind: ExperimentKind,
    pub variants: Vec<Variant>,
    /// Defaults to the first variant.
    pub control_variant: Option<String>,
    pub success_metric: ExperimentMetric,
    pub window_days: i32,
}

pub fn variants(model: &experiment::Model) -> AppResult<Vec<Variant>> {
    serde_json::from_value(model.variants.clone()).map_err(|e| AppError::Internal(e.into()))
}

fn trimmed(text: &str, field: &str, max: usize) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(AppError::bad_input(field, format!("between 1 and {max} characters")));
    }
    Ok(text.to_owned())
}

/// The checked variants and the control's name.
fn validate(new: &NewExperiment) -> AppResult<(Vec<Variant>, String)> {
    if !(2..=MAX_VARIANTS).contains(&new.variants.len()) {
        return Err(AppError::bad_input("input.variants", format!("a test has 2 to {MAX_VARIANTS} variants")));
    }
    let mut variants = Vec::with_capacity(new.variants.len());
    for (i, v) in new.variants.iter().enumerate() {
        let name = trimmed(&v.name, &format!("input.variants.{i}.name"), 64)?;
        if variants.iter().any(|seen: &Variant| seen.name == name) {
            return Err(AppError::bad_input(
                format!("input.variants.{i}.name"),
                format!("two variants are named {name:?}"),
            ));
        }
        if !(1..=100).contains(&v.weight) {
            return Err(AppError::bad_input(format!("input.variants.{i}.weight"), "a weight is 1 to 100"));
        }
        if let Some(f) = &v.follow_up
            && f.due_in_days > MAX_WINDOW_DAYS as u32
        {
            return Err(AppError::bad_input(
                format!("input.variants.{i}.followUp.dueInDays"),
                format!("at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        variants.push(Variant { name, ..v.clone() });
    }
    let control =
        match &new.control_variant {
            None => variants[0].name.clone(),
            Some(name) => variants.iter().find(|v| v.name == name.trim()).map(|v| v.name.clone()).ok_or_else(|| {
                AppError::bad_input("input.controlVariant", "the control must be one of the variants")
            })?,
        };
    if !(1..=MAX_WINDOW_DAYS).contains(&new.window_days) {
        return Err(AppError::bad_input("input.windowDays", format!("1 to {MAX_WINDOW_DAYS} days")));
    }
    Ok((variants, control))
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    new: NewExperiment,
    now: DateTime<Utc>,
) -> AppResult<experiment::Model> {
    let (variants, control) = validate(&new)?;
    let name = trimmed(&new.name, "input.name", 200)?;
    let hypothesis = new.hypothesis.map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    if hypothesis.as_ref().is_some_and(|h| h.chars().count() > 5_000) {
        return Err(AppError::bad_input("input.hypothesis", "at most 5000 characters"));
    }
    let row = experiment::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        name: Set(name),
        hypothesis: Set(hypothesis),
        kind: Set(new.kind),
        status: Set(ExperimentStatus::Draft),
        variants: Set(serde_json::to_value(&variants).map_err(|e| AppError::Internal(e.into()))?),
        control_variant: Set(control),
        success_metric: Set(new.success_metric),
        window_days: Set(new.window_days),
        audience_size: Set(0),
        started_at: Set(None),
        ended_at: Set(None),
        created_by: Set(actor.id),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let model = experiment::Entity::insert(row).exec_with_returning(db).await?;
    audit::record(db, workspace_id, actor, "experiment.create", "experiment", Some(model.id), serde_json::json!({}))
        .await?;
    Ok(model)
}

pub fn query(workspace_id: Uuid) -> sea_orm::Select<experiment::Entity> {
    experiment::Entity::find().filter(experiment::Column::WorkspaceId.eq(workspace_id))
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<experiment::Model> {
    query(workspace_id)
        .filter(experiment::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("experiment"))
}

/// Moves the experiment from one of `from` to `to` with one conditional update, so two callers
/// racing cannot both start (or both end) it.
async fn transition<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
    from: &[ExperimentStatus],
    to: ExperimentStatus,
    now: DateTime<Utc>,
) -> AppResult<experiment::Model> {
    let mut update = experiment::Entity::update_many()
        .col_expr(experiment::Column::Status, Expr::value(to))
        .col_expr(experiment::Column::UpdatedAt, now.into())
        .filter(experiment::Column::WorkspaceId.eq(workspace_id))
        .filter(experiment::Column::Id.eq(id))
        .filter(experiment::Column::Status.is_in(from.iter().copied()));
    update = match to {
        ExperimentStatus::Running => update.col_expr(experiment::Column::StartedAt, now.into()),
        _ => update.col_expr(experiment::Column::EndedAt, now.into()),
    };
    if update.exec(db).await?.rows_affected == 0 {
        let current = get(db, workspace_id, id).await?;
        let allowed: Vec<String> = from.iter().map(|s| s.to_value()).collect();
        return Err(AppError::InvalidTransition(format!(
            "the experiment is {}; only {} can become {}",
            current.status.to_value(),
            allowed.join(" or "),
            to.to_value()
        )));
    }
    get(db, workspace_id, id).await
}

/// Two independent uniform draws per (experiment, customer): one orders the audience for
/// sampling, the other picks the variant. Deterministic, so the split can be reproduced.
fn draws(experiment_id: Uuid, customer_id: Uuid) -> (u64, u64) {
    let digest = Sha256::new().chain_update(experiment_id.as_bytes()).chain_update(customer_id.as_bytes()).finalize();
    let word = |at: usize| u64::from_be_bytes(digest[at..at + 8].try_into().unwrap_or_default());
    (word(0), word(8))
}

/// The variant a draw falls in, by cumulative weight.
pub fn pick(variants: &[Variant], draw: u64) -> usize {
    let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    let mut point = draw % total.max(1);
    for (i, v) in variants.iter().enumerate() {
        if point < u64::from(v.weight) {
            return i;
        }
        point -= u64::from(v.weight);
    }
    variants.len() - 1
}

pub struct Start {
    /// Customers matching this (all customers when `None`).
    pub audience: Option<Condition>,
    /// A deterministic random sample of at most this many.
    pub max_customers: Option<u32>,
    /// Leave out customers already in another running experiment.
    pub exclusive: bool,
}

/// Starts a draft: assigns the audience and schedules the variants' follow-ups.
pub async fn start<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    start: Start,
    now: DateTime<Utc>,
) -> AppResult<experiment::Model> {
    // Starts queue: an exclusive start must see the assignments of one started just before it.
    workspaces::service::lock(db, workspace_id).await?;
    let experiment =
        transition(db, workspace_id, id, &[ExperimentStatus::Draft], ExperimentStatus::Running, now).await?;
    let variants = variants(&experiment)?;
    let mut audience = customers::service::query(workspace_id).select_only().column(entity::customer::Column::Id);
    if let Some(condition) = start.audience {
        audience = audience.filter(condition);
    }
    if start.exclusive {
        let others = query(workspace_id)
            .select_only()
            .column(experiment::Column::Id)
            .filter(experiment::Column::Status.eq(ExperimentStatus::Running))
            .filter(experiment::Column::Id.ne(id));
        let busy = assignment::Entity::find()
            .select_only()
            .column(assignment::Column::CustomerId)
            .filter(assignment::Column::ExperimentId.in_subquery(others.into_query()));
        audience = audience.filter(entity::customer::Column::Id.not_in_subquery(busy.into_query()));
    }
    let ids: Vec<Uuid> = audience.into_tuple().all(db).await?;
    let mut drawn: Vec<(u64, u64, Uuid)> = ids
        .into_iter()
        .map(|customer| {
            let (order, variant) = draws(id, customer);
            (order, variant, customer)
        })
        .collect();
    if let Some(max) = start.max_customers {
        drawn.sort_unstable();
        drawn.truncate(max as usize);
    }
    if drawn.len() < variants.len() {
        return Err(AppError::bad_input(
            "input.audience",
            format!(
                "the audience has {} customers; a test of {} variants needs at least that many",
                drawn.len(),
                variants.len()
            ),
        ));
    }
    let window_ends_at = now + Duration::days(i64::from(experiment.window_days));
    let picked: Vec<(Uuid, usize)> =
        drawn.iter().map(|(_, draw, customer)| (*customer, pick(&variants, *draw))).collect();
    for chunk in picked.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|(customer, v)| assignment::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            experiment_id: Set(id),
            customer_id: Set(*customer),
            variant: Set(variants[*v].name.clone()),
            assigned_at: Set(now),
            window_ends_at: Set(window_ends_at),
        });
        assignment::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    schedule_follow_ups(db, workspace_id, &experiment, &variants, &picked, now).await?;
    let size = i32::try_from(picked.len()).unwrap_or(i32::MAX);
    experiment::Entity::update_many()
        .col_expr(experiment::Column::AudienceSize, size.into())
        .filter(experiment::Column::Id.eq(id))
        .exec(db)
        .await?;
    let diff = serde_json::json!({ "status": "RUNNING", "audienceSize": size });
    audit::record(db, workspace_id, actor, "experiment.start", "experiment", Some(id), diff).await?;
    get(db, workspace_id, id).await
}

fn follow_up_key(experiment_id: Uuid, customer_id: Uuid) -> String {
    format!("experiment:{experiment_id}:{customer_id}")
}

async fn schedule_follow_ups<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    experiment: &experiment::Model,
    variants: &[Variant],
    picked: &[(Uuid, usize)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut plans = Vec::with_capacity(variants.len());
    for v in variants {
        plans.push(match &v.follow_up {
            Some(f) => {
                let note = f.note.clone().unwrap_or_else(|| format!("Campaign \"{}\": {}", experiment.name, v.name));
                Some((f.kind()?, now + Duration::days(i64::from(f.due_in_days)), note))
            }
            None => None,
        });
    }
    let rows: Vec<follow_up::ActiveModel> = picked
        .iter()
        .filter_map(|(customer, v)| {
            let (kind, due_at, note) = plans[*v].as_ref()?;
            Some(follow_up::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                customer_id: Set(Some(*customer)),
                lead_id: Set(None),
                kind: Set(*kind),
                due_at: Set(*due_at),
                status: Set(FollowUpStatus::Pending),
                assignee_id: Set(None),
                rule_key: Set(Some(follow_up_key(experiment.id, *customer))),
                note: Set(Some(note.clone())),
                closed_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
        })
        .collect();
    let conflict =
        OnConflict::columns([follow_up::Column::WorkspaceId, follow_up::Column::RuleKey]).do_nothing().to_owned();
    for chunk in rows.chunks(INSERT_CHUNK) {
        follow_up::Entity::insert_many(chunk.to_vec()).on_conflict(conflict.clone()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Ends a running experiment; its results stay readable.
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<experiment::Model> {
    let done = transition(db, workspace_id, id, &[ExperimentStatus::Running], ExperimentStatus::Completed, now).await?;
    audit::record(db, workspace_id, actor, "experiment.complete", "experiment", Some(id), serde_json::json!({}))
        .await?;
    Ok(done)
}

/// Calls off a draft or a running experiment; the campaign's follow-ups not yet done are skipped.
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<experiment::Model> {
    let from = [ExperimentStatus::Draft, ExperimentStatus::Running];
    let cancelled = transition(db, workspace_id, id, &from, ExperimentStatus::Cancelled, now).await?;
    follow_up::Entity::update_many()
        .col_expr(follow_up::Column::Status, Expr::value(FollowUpStatus::Skipped))
        .col_expr(follow_up::Column::ClosedAt, now.into())
        .col_expr(follow_up::Column::UpdatedAt, now.into())
        .filter(follow_up::Column::WorkspaceId.eq(workspace_id))
        .filter(follow_up::Column::Status.eq(FollowUpStatus::Pending))
        .filter(follow_up::Column::RuleKey.starts_with(format!("experiment:{id}:")))
        .exec(db)
        .await?;
    audit::record(db, workspace_id, actor, "experiment.cancel", "experiment", Some(id), serde_json::json!({})).await?;
    Ok(cancelled)
}

/// What the customers of one variant did in their windows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub customers: u64,
    pub purchasers: u64,
    pub orders: u64,
    pub revenue_minor: i128,
    /// Revenue per customer in minor units, non-buyers as 0.
    pub revenue: Sample,
}

pub struct VariantOutcome {
    pub variant: Variant,
    pub is_control: bool,
    pub tally: Tally,
    /// Against the control; `None` for the control itself and where a test is undefined.
    pub purchase_rate: Option<Comparison>,
    /// Against the control, in minor units.
    pub revenue_per_customer: Option<Comparison>,
    /// The success metric's p-value after Holm's correction over the treatments.
    pub adjusted_p_value: Option<f64>,
    pub significant: bool,
}

pub struct Analysis {
    pub variants: Vec<VariantOutcome>,
    pub sample_ratio_p_value: Option<f64>,
}

/// Compares every treatment with the control on both outcomes; significance is judged on the
/// success metric, Holm-corrected, at `1 − confidence`.
pub fn analyse(
    variants: &[Variant],
    control: &str,
    metric: ExperimentMetric,
    tallies: &HashMap<String, Tally>,
    confidence: f64,
) -> Analysis {
    let empty = Tally::default();
    let tally_of = |name: &str| tallies.get(name).unwrap_or(&empty);
    let base = tally_of(control);
    let mut outcomes: Vec<VariantOutcome> = variants
        .iter()
        .map(|v| {
            let tally = tally_of(&v.name).clone();
            let is_control = v.name == control;
            let (purchase_rate, revenue_per_customer) = if is_control {
                (None, None)
            } else {
                (
                    stats::compare_proportions(
                        (base.purchasers, base.customers),
                        (tally.purchasers, tally.customers),
                        confidence,
                    ),
                    stats::compare_means(&base.revenue, &tally.revenue, confidence),
                )
            };
            VariantOutcome {
                variant: v.clone(),
                is_control,
                tally,
                purchase_rate,
                revenue_per_customer,
                adjusted_p_value: None,
                significant: false,
            }
        })
        .collect();
    let judged = |o: &VariantOutcome| match metric {
        ExperimentMetric::PurchaseRate => o.purchase_rate,
        ExperimentMetric::RevenuePerCustomer => o.revenue_per_customer,
    };
    let tested: Vec<(usize, f64)> =
        outcomes.iter().enumerate().filter_map(|(i, o)| judged(o).map(|c| (i, c.p_value))).collect();
    let adjusted = stats::holm(&tested.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    for ((i, _), p) in tested.into_iter().zip(adjusted) {
        outcomes[i].adjusted_p_value = Some(p);
        outcomes[i].significant = p < 1.0 - confidence;
    }
    let observed: Vec<u64> = outcomes.iter().map(|o| o.tally.customers).collect();
    let weights: Vec<u32> = variants.iter().map(|v| v.weight).collect();
    Analysis { sample_ratio_p_value: stats::sample_ratio_p_value(&observed, &weights), variants: outcomes }
}

/// The best treatment that beats the control significantly on the success metric.
pub fn winner(analysis: &Analysis, metric: ExperimentMetric) -> Option<&VariantOutcome> {
    analysis
        .variants
        .iter()
        .filter_map(|o| {
            let c = match metric {
                ExperimentMetric::PurchaseRate => o.purchase_rate,
                ExperimentMetric::RevenuePerCustomer => o.revenue_per_customer,
            }?;
            (o.significant && c.difference > 0.0).then_some((o, c.difference))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(o, _)| o)
}

pub struct Results {
    pub analysis: Analysis,
    /// Orders up to here count (now, or the end of the last window if that has passed).
    pub observed_until: DateTime<Utc>,
    /// Every customer's window has closed.
    pub complete: bool,
}

/// One variant's buyers, each customer's orders counted in their own window.
#[derive(FromQueryResult)]
struct BuyerSums {
    variant: String,
    purchasers: i64,
    orders: i64,
    revenue: i64,
    /// Σ (revenue per buyer)², as a double: it overflows 64-bit integers long before the money does.
    revenue_squares: f64,
}

/// Counts each assigned customer's completed orders placed in `[assigned_at, window_ends_at)`.
/// Everyone is assigned when the test starts, so all windows are the same span: the orders of that
/// span are read by time (a month of orders, not a probe per assigned customer), matched to their
/// assignment and summed per variant; non-buyers add nothing to the sums, only to the counts.
pub async fn results<C: ConnectionTrait>(
    db: &C,
    experiment: &experiment::Model,
    confidence: f64,
    now: DateTime<Utc>,
) -> AppResult<Results> {
    use sea_orm::sea_query::ExprTrait as _;
    let started = experiment.started_at.unwrap_or(now);
    let last_end = started + Duration::days(i64::from(experiment.window_days));
    let customers: Vec<(String, i64)> = assignment::Entity::find()
        .select_only()
        .column(assignment::Column::Variant)
        .expr(Func::cast_as(Func::count(Expr::col(assignment::Column::Id)), Alias::new("BIGINT")))
        .filter(assignment::Column::ExperimentId.eq(experiment.id))
        .group_by(assignment::Column::Variant)
        .into_tuple()
        .all(db)
        .await?;

    let (a, o) = (Alias::new("a"), Alias::new("o"));
    let on = Condition::all()
        .add(Expr::col((a.clone(), assignment::Column::ExperimentId)).eq(experiment.id))
        .add(Expr::col((a.clone(), assignment::Column::CustomerId)).equals((o.clone(), order::Column::CustomerId)))
        .add(
            Expr::col((o.clone(), order::Column::PlacedAt)).gte(Expr::col((a.clone(), assignment::Column::AssignedAt))),
        )
        .add(
            Expr::col((o.clone(), order::Column::PlacedAt))
                .lt(Expr::col((a.clone(), assignment::Column::WindowEndsAt))),
        );
    let (orders, revenue) = (Alias::new("orders"), Alias::new("revenue"));
    let per_buyer = Query::select()
        .expr_as(Expr::col((a.clone(), assignment::Column::Variant)), Alias::new("variant"))
        .expr_as(Func::count(Expr::col((o.clone(), order::Column::Id))), orders.clone())
        .expr_as(Func::sum(Expr::col((o.clone(), order::Column::AmountMinor))), revenue.clone())
        .from_as(order::Entity, o.clone())
        .join_as(JoinType::InnerJoin, assignment::Entity, a.clone(), on)
        .and_where(Expr::col((o.clone(), order::Column::WorkspaceId)).eq(experiment.workspace_id))
        .and_where(Expr::col((o.clone(), order::Column::Status)).eq(OrderStatus::Completed))
        .and_where(Expr::col((o.clone(), order::Column::PlacedAt)).gte(started))
        .and_where(Expr::col((o.clone(), order::Column::PlacedAt)).lt(last_end))
        .and_where(Expr::col((o, order::Column::PlacedAt)).lte(now))
        .group_by_col((a.clone(), assignment::Column::Id))
        .group_by_col((a, assignment::Column::Variant))
        .to_owned();
    let bigint = || Alias::new("BIGINT");
    let sums = Query::select()
        .column(Alias::new("variant"))
        .expr_as(Func::cast_as(Func::count(Expr::col(Alias::new("variant"))), bigint()), Alias::new("purchasers"))
        .expr_as(Func::cast_as(Func::sum(Expr::col(orders)), bigint()), Alias::new("orders"))
        .expr_as(Func::cast_as(Func::sum(Expr::col(revenue.clone())), bigint()), Alias::new("revenue"))
        .expr_as(
            Func::sum(
                Func::cast_as(Expr::col(revenue.clone()), Alias::new("DOUBLE PRECISION")).mul(Expr::col(revenue)),
            ),
            Alias::new("revenue_squares"),
        )
        .from_subquery(per_buyer, Alias::new("per_buyer"))
        .group_by_col(Alias::new("variant"))
        .to_owned();
    let buyers: HashMap<String, BuyerSums> = BuyerSums::find_by_statement(db.get_database_backend().build(&sums))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.variant.clone(), b))
        .collect();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let tallies: HashMap<String, Tally> = customers
        .into_iter()
        .map(|(variant, assigned)| {
            let n = count(assigned);
            let tally = match buyers.get(&variant) {
                Some(b) => Tally {
                    customers: n,
                    purchasers: count(b.purchasers),
                    orders: count(b.orders),
                    revenue_minor: i128::from(b.revenue),
                    revenue: Sample::from_moments(n, b.revenue as f64, b.revenue_squares),
                },
                None => Tally { customers: n, revenue: Sample::from_moments(n, 0.0, 0.0), ..Tally::default() },
            };
            (variant, tally)
        })
        .collect();
    let variants = variants(experiment)?;
    let analysis = analyse(&variants, &experiment.control_variant, experiment.success_metric, &tallies, confidence);
    Ok(Results { analysis, observed_until: std::cmp::min(now, last_end), complete: last_end <= now })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(name: &str, weight: u32) -> Variant {
        Variant { name: name.to_owned(), weight, follow_up: None }
    }

    fn draft(variants: Vec<Variant>) -> NewExperiment {
        NewExperiment {
            name: "Win-back call".to_owned(),
            hypothesis: None,
            kind: ExperimentKind::Reactivation,
            variants,
            control_variant: None,
            success_metric: ExperimentMetric::PurchaseRate,
            window_days: 30,
        }
    }

    fn field_of(err: AppError) -> String {
        match err {
            AppError::BadUserInput { field, .. } => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn drafts_are_checked() {
        let (variants, control) = validate(&draft(vec![arm(" control ", 1), arm("call", 1)])).unwrap();
        assert_eq!((variants[0].name.as_str(), control.as_str()), ("control", "control"));
        let cases = [
            (draft(vec![arm("only", 1)]), "input.variants"),
            (draft(vec![arm("a", 1), arm("a", 1)]), "input.variants.1.name"),
            (draft(vec![arm("a", 0), arm("b", 1)]), "input.variants.0.weight"),
            (draft(vec![arm("a", 1), arm("", 1)]), "input.variants.1.name"),
            (
                NewExperiment { control_variant: Some("c".into()), ..draft(vec![arm("a", 1), arm("b", 1)]) },
                "input.controlVariant",
            ),
            (NewExperiment { window_days: 0, ..draft(vec![arm("a", 1), arm("b", 1)]) }, "input.windowDays"),
        ];
        for (new, field) in cases {
            assert_eq!(field_of(validate(&new).unwrap_err()), field);
        }
    }

    #[test]
    fn the_split_follows_the_weights_and_is_reproducible() {
        let variants = [arm("control", 1), arm("email", 1), arm("call", 2)];
        let experiment = Uuid::now_v7();
        let mut counts = [0u32; 3];
        for _ in 0..20_000 {
            counts[pick(&variants, draws(experiment, Uuid::now_v7()).1)] += 1;
        }
        // 5,000 / 5,000 / 10,000 expected; five standard deviations is about ±310.
        assert!(counts[0].abs_diff(5_000) < 310 && counts[1].abs_diff(5_000) < 310, "{counts:?}");
        assert!(counts[2].abs_diff(10_000) < 360, "{counts:?}");
        let customer = Uuid::now_v7();
        assert_eq!(draws(experiment, customer), draws(experiment, customer));
        assert_ne!(draws(experiment, customer), draws(Uuid::now_v7(), customer), "each test splits anew");
        assert_eq!(pick(&variants, 0), 0);
        assert_eq!(pick(&variants, 1), 1);
        assert_eq!((pick(&variants, 2), pick(&variants, 3), pick(&variants, 4)), (2, 2, 0));
    }

    fn tally(values: &[i64]) -> Tally {
        let n = values.len() as u64;
        let sum: i64 = values.iter().sum();
        let squares: f64 = values.iter().map(|v| (*v as f64).powi(2)).sum();
        Tally {
            customers: n,
            purchasers: values.iter().filter(|v| **v > 0).count() as u64,
            orders: values.iter().filter(|v| **v > 0).count() as u64,
            revenue_minor: i128::from(sum),
            revenue: Sample::from_moments(n, sum as f64, squares),
        }
    }

    #[test]
    fn analysis_compares_treatments_with_the_control() {
        let variants = [arm("control", 1), arm("email", 1), arm("call", 1)];
        // control: 2 of 10 bought; email: 2 of 10; call: 9 of 10.
        let mut tallies = HashMap::new();
        tallies.insert("control".to_owned(), tally(&[100, 300, 0, 0, 0, 0, 0, 0, 0, 0]));
        tallies.insert("email".to_owned(), tally(&[200, 200, 0, 0, 0, 0, 0, 0, 0, 0]));
        tallies.insert("call".to_owned(), tally(&[100, 100, 100, 100, 100, 100, 100, 100, 100, 0]));
        let analysis = analyse(&variants, "control", ExperimentMetric::PurchaseRate, &tallies, 0.95);
        let [control, email, call] = &analysis.variants[..] else { panic!("three variants") };
        assert!(control.is_control && control.purchase_rate.is_none() && control.adjusted_p_value.is_none());
        assert_eq!(control.tally.revenue_minor, 400);
        let email_rate = email.purchase_rate.unwrap();
        assert_eq!((email_rate.difference, email_rate.p_value), (0.0, 1.0));
        assert!(!email.significant);
        let call_rate = call.purchase_rate.unwrap();
        assert!((call_rate.difference - 0.7).abs() < 1e-12);
        let raw = stats::compare_proportions((2, 10), (9, 10), 0.95).unwrap().p_value;
        assert_eq!(call.adjusted_p_value, Some((2.0 * raw).min(1.0)), "Holm: the smaller p-value is doubled");
        assert!(call.significant, "{raw}");
        assert_eq!(winner(&analysis, ExperimentMetric::PurchaseRate).map(|o| o.variant.name.as_str()), Some("call"));
        // Judged on revenue instead: 90 vs 40 per customer is not significant with ten customers each.
        let on_revenue = analyse(&variants, "control", ExperimentMetric::RevenuePerCustomer, &tallies, 0.95);
        assert!(on_revenue.variants.iter().all(|o| !o.significant));
        assert!(winner(&on_revenue, ExperimentMetric::RevenuePerCustomer).is_none());
        assert_eq!(analysis.sample_ratio_p_value, Some(1.0), "10/10/10 is the planned split");
    }

    #[test]
    fn a_variant_nobody_fell_in_has_no_comparison() {
        let variants = [arm("control", 1), arm("rare", 1)];
        let mut tallies = HashMap::new();
        tallies.insert("control".to_owned(), tally(&[0, 100]));
        let analysis = analyse(&variants, "control", ExperimentMetric::PurchaseRate, &tallies, 0.95);
        let rare = &analysis.variants[1];
        assert_eq!((rare.tally.customers, rare.purchase_rate, rare.adjusted_p_value), (0, None, None));
    }
}
