//! Background work: follow-up rules and the lifecycle sweep (stages that change with time, such
//! as ACTIVE → DORMANT). Each workspace's run is one transaction; on PostgreSQL a transaction-level
//! advisory lock makes sure only one instance works on a workspace at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{customer, workspace};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};
use uuid::Uuid;

use crate::{
    customers::{self, lifecycle},
    follow_ups::rules,
    graphql::AppError,
    graphql::{AppResult, transact},
    metrics::at_risk::{self, RiskContext},
    metrics::predictive::TimeUnit,
    workspaces::settings::WorkspaceSettings,
};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    pub workspaces: u64,
    pub models_fitted: u64,
    pub follow_ups_created: u64,
    pub stages_changed: u64,
}

/// Customers re-evaluated per statement batch.
const SWEEP_BATCH: usize = 500;

/// Runs every job once for every workspace.
pub async fn run_once(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<JobReport> {
    let mut report = JobReport::default();
    let ids: Vec<Uuid> =
        workspace::Entity::find().select_only().column(workspace::Column::Id).into_tuple().all(db).await?;
    for workspace_id in ids {
        // Models first: the lifecycle sweep scores customers with the newest fit.
        if refit_if_stale(db, workspace_id, now).await?.is_some() {
            report.models_fitted += 1;
        }
        if let Some((created, changed)) = run_workspace(db, workspace_id, now).await? {
            report.workspaces += 1;
            report.follow_ups_created += created;
            report.stages_changed += changed;
        }
    }
    Ok(report)
}

/// Refits the predictive models when the newest fit is `predictionRefitDays` old (or there is
/// none): on the orders up to yesterday in the workspace time zone, in the newest fit's time unit
/// (weeks for the first). Returns the new fit; `None` when the current one is fresh, automatic
/// refits are off, or there is too little data yet. The fit runs outside any transaction (it can
/// take seconds on a large workspace); storing it re-checks under the workspace lock that no other
/// instance stored one meanwhile.
pub async fn refit_if_stale(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Option<entity::prediction_model::Model>> {
    use crate::metrics::predictions;
    let workspace = crate::workspaces::service::get(db, workspace_id).await?;
    let refit_days = WorkspaceSettings::from_json(&workspace.settings).prediction_refit_days;
    let is_fresh = |fit: &Option<entity::prediction_model::Model>| {
        fit.as_ref().is_some_and(|m| now - m.fitted_at < chrono::Duration::days(refit_days))
    };
    let current = predictions::latest(db, workspace_id).await?;
    if refit_days <= 0 || is_fresh(&current) {
        return Ok(None);
    }
    let unit = current.map_or(TimeUnit::Week, |m| predictions::unit_of(&m.time_unit));
    let today = now.with_timezone(&crate::workspaces::service::zone(&workspace)).date_naive();
    let Some(yesterday) = today.pred_opt() else { return Ok(None) };
    let model = match predictions::fit_models(db, workspace_id, yesterday, unit, now).await {
        Ok(model) => model,
        Err(AppError::InsufficientData(reason)) => {
            tracing::debug!(%workspace_id, %reason, "no automatic refit yet");
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    transact(db, async |txn| {
        if !lock_workspace(txn, workspace_id).await? || is_fresh(&predictions::latest(txn, workspace_id).await?) {
            return Ok(None);
        }
        Ok(Some(model.insert(txn).await?))
    })
    .await
}

/// Runs every job for one workspace: (follow-ups created, stages changed), or `None` when
/// another instance is already at it.
pub async fn run_workspace(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Option<(u64, u64)>> {
    transact(db, async |txn| {
        if !lock_workspace(txn, workspace_id).await? {
            return Ok(None);
        }
        // Stages first: the rules look at them (dormant customers get reactivation, not check-ins).
        let changed = sweep_lifecycle(txn, workspace_id, now).await?;
        let created = rules::run(txn, workspace_id, now).await?;
        crate::loyalty::service::release_pending(txn, workspace_id, now).await?;
        crate::loyalty::service::birthday_bonuses(txn, workspace_id, now).await?;
        crate::loyalty::expiry::run(txn, workspace_id, now).await?;
        crate::loyalty::service::review_tiers(txn, workspace_id, now).await?;
        crate::loyalty::referrals::run(txn, workspace_id, now).await?;
        Ok(Some((created, changed)))
    })
    .await
}

/// Runs the jobs every `interval` until the process ends.
pub fn spawn(state: crate::AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match state.events().collecting(run_once(state.db(), Utc::now())).await {
                Ok(report) => tracing::info!(?report, "background jobs ran"),
                Err(err) => tracing::error!(error = ?err, "background jobs failed"),
            }
        }
    })
}

/// Checks SLA clocks every `interval` until the process ends; alerts go to subscribers.
pub fn spawn_sla(state: crate::AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match crate::tickets::breaches::run(state.db(), Some(state.events()), Utc::now()).await {
                Ok(report) if report != Default::default() => tracing::info!(?report, "SLA check"),
                Ok(_) => {}
                Err(err) => tracing::error!(error = ?err, "SLA check failed"),
            }
        }
    })
}

/// On PostgreSQL, takes this workspace's job lock for the transaction (false: another instance
/// has it). SQLite serialises writers anyway.
async fn lock_workspace<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<bool> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let key = i64::from_be_bytes(workspace_id.as_bytes()[8..16].try_into().unwrap_or_default());
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [key.into()],
        ))
        .await?;
    Ok(row.and_then(|r| r.try_get::<bool>("", "locked").ok()).unwrap_or(false))
}

/// Assesses every live customer with orders for the at-risk early warning (stored for
/// `atRiskCustomers`) and re-applies the lifecycle rules with those findings; returns how many
/// changed stage.
async fn sweep_lifecycle<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let settings = crate::workspaces::service::settings(db, workspace_id).await?;
    let candidates = customers::service::query(workspace_id)
        .filter(customer::Column::LastOrderAt.is_not_null())
        .filter(customer::Column::ErasedAt.is_null())
        .all(db)
        .await?;
    let risk = RiskContext::load(db, workspace_id, &candidates, now).await?;
    let mut assessed = Vec::new();
    let mut changed = 0;
    for chunk in candidates.chunks(SWEEP_BATCH) {
        changed += sweep_chunk(db, chunk, &settings, &risk, &mut assessed, now).await?;
    }
    at_risk::replace(db, workspace_id, &assessed, now).await?;
    Ok(changed)
}

async fn sweep_chunk<C: ConnectionTrait>(
    db: &C,
    chunk: &[customer::Model],
    settings: &WorkspaceSettings,
    risk: &RiskContext,
    assessed: &mut Vec<at_risk::Assessed>,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let ids: Vec<Uuid> = chunk.iter().map(|c| c.id).collect();
    let mut signals = lifecycle::signals_of(db, &ids, settings, now).await?;
    let mut moves: Vec<lifecycle::Move> = Vec::new();
    for c in chunk {
        let mut s = signals.remove(&c.id).unwrap_or_default();
        let assessment = risk.assess(c, &s)?;
        // This assessment replaces the stored one.
        s.early_warning = assessment
            .as_ref()
            .and_then(|a| a.early_warning())
            .map(|reasons| lifecycle::EarlyWarning { reasons, assessed_at: now });
        assessed.extend(assessment);
        if let Some((stage, reason)) = lifecycle::evaluate(c, s, settings, now) {
            moves.push(lifecycle::Move { customer: c, to: stage, reason });
        }
    }
    lifecycle::transition_many(db, &moves, crate::auth::Actor::SYSTEM).await?;
    Ok(moves.len() as u64)
}
