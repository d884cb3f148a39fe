//! Fitting the predictive models on a workspace's orders and scoring customers with the stored fit.
//! Orders become purchase days in the workspace time zone (docs/metrics.md §12); the maths is in
//! `predictive`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::prediction_model;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{
    activity::{self, Selection},
    periods,
    predictive::{
        self, BgNbdFit, CustomerSummary, FitOptions, GammaGammaFit, HoldoutGroup, PredictiveError, TimeUnit, bgnbd,
        data, gamma_gamma,
    },
};
use crate::{
    graphql::{AppError, AppResult, ids::new_id},
    money, workspaces,
};

/// The holdout report keeps the last quarter of the observed span (at most a year) for checking.
const HOLDOUT_SHARE: i64 = 4;
const MAX_HOLDOUT_DAYS: i64 = 365;

fn day_index(date: NaiveDate) -> i64 {
    i64::from(periods::day_number(date))
}

impl From<PredictiveError> for AppError {
    fn from(err: PredictiveError) -> Self {
        match err {
            PredictiveError::InsufficientData { .. } => AppError::InsufficientData(err.to_string()),
            PredictiveError::InvalidInput(m) => AppError::bad_input("input", m),
            other => AppError::Internal(anyhow::anyhow!(other)),
        }
    }
}

pub fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Day => "DAY",
        TimeUnit::Week => "WEEK",
    }
}

pub fn unit_of(name: &str) -> TimeUnit {
    if name == "WEEK" { TimeUnit::Week } else { TimeUnit::Day }
}

/// Purchase days up to and including `observation_end` (workspace time zone) as
/// `(customer, [(day, value in currency units)])`, optionally for some customers only.
async fn purchase_days<C: ConnectionTrait>(
    db: &C,
    workspace: &entity::workspace::Model,
    observation_end: NaiveDate,
    customers: Option<&[Uuid]>,
) -> AppResult<Vec<(Uuid, Vec<(i64, f64)>)>> {
    let end = periods::day_number(observation_end);
    let scale = 10f64.powi(money::exponent(&workspace.currency).unwrap_or(2) as i32);
    let selection = Selection {
        customers: customers.map(<[Uuid]>::to_vec),
        first_before: Some(end.saturating_add(1)),
        ..Selection::default()
    };
    let activity = activity::load(db, workspace.id, selection).await?;
    Ok(activity
        .iter()
        .map(|(customer_id, days)| {
            let upto = days.partition_point(|d| d.day <= end);
            let days = days[..upto].iter().map(|d| (i64::from(d.day), d.revenue_minor as f64 / scale)).collect();
            (customer_id, days)
        })
        .collect())
}

/// What a fit stores besides the parameters.
#[derive(serde::Serialize, serde::Deserialize)]
struct Holdout {
    calibration_end: NaiveDate,
    groups: Vec<HoldoutGroup>,
}

/// Fits BG/NBD (and Gamma-Gamma when there are enough repeat buyers with spend) on the orders up to
/// `observation_end`, with a holdout report from a second fit on the earlier part, and stores them.
pub async fn refit<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    observation_end: NaiveDate,
    unit: TimeUnit,
    now: DateTime<Utc>,
) -> AppResult<prediction_model::Model> {
    Ok(fit_models(db, workspace_id, observation_end, unit, now).await?.insert(db).await?)
}

/// The fits [`refit`] stores, not yet stored.
pub async fn fit_models<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    observation_end: NaiveDate,
    unit: TimeUnit,
    now: DateTime<Utc>,
) -> AppResult<prediction_model::ActiveModel> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let customers = purchase_days(db, &workspace, observation_end, None).await?;
    let end = day_index(observation_end);
    // The fits are seconds of CPU on a large workspace: off the async workers, so other requests
    // (and health checks) keep being served meanwhile.
    let (bg, gg, holdout) = tokio::task::spawn_blocking(move || fit_all(&customers, end, unit, observation_end))
        .await
        .map_err(|err| AppError::Internal(err.into()))??;
    Ok(prediction_model::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        observation_end: Set(observation_end),
        time_unit: Set(unit_name(unit).to_owned()),
        customers: Set(bg.customers as i64),
        bgnbd: Set(to_json(&bg)?),
        gamma_gamma: Set(gg.as_ref().map(to_json).transpose()?),
        holdout: Set(holdout.as_ref().map(to_json).transpose()?),
        fitted_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// BG/NBD, Gamma-Gamma and the holdout check on the customers' purchase days (pure CPU work).
fn fit_all(
    customers: &[(Uuid, Vec<(i64, f64)>)],
    end: i64,
    unit: TimeUnit,
    observation_end: NaiveDate,
) -> AppResult<(BgNbdFit, Option<GammaGammaFit>, Option<Holdout>)> {
    let summaries = data::summarise(customers, end, unit)?;
    let bg: BgNbdFit = bgnbd::fit(&data::group(&summaries), FitOptions::default())?;
    let gg: Option<GammaGammaFit> = match gamma_gamma::fit(&summaries, FitOptions::default()) {
        Ok(fit) => Some(fit),
        Err(PredictiveError::InsufficientData { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let first_day = customers.iter().filter_map(|(_, days)| days.first().map(|(d, _)| *d)).min().unwrap_or(end);
    let holdout_days = ((end - first_day) / HOLDOUT_SHARE).min(MAX_HOLDOUT_DAYS);
    let holdout = if holdout_days > 0 {
        let calibration_end = end - holdout_days;
        let rows = data::calibration_holdout(customers, calibration_end, end, unit)?;
        let calibration: Vec<CustomerSummary<Uuid>> = rows.iter().map(|r| r.calibration).collect();
        // The check is extra: too little history before the split, or a degenerate calibration fit,
        // leaves it out rather than failing the fit itself.
        let report = bgnbd::fit(&data::group(&calibration), FitOptions::default())
            .and_then(|calibrated| data::holdout_report(&calibrated.params, &rows));
        match report {
            Ok(groups) => {
                Some(Holdout { calibration_end: observation_end - chrono::Duration::days(holdout_days), groups })
            }
            Err(err) => {
                tracing::warn!(error = %err, "no holdout report for this fit");
                None
            }
        }
    } else {
        None
    };
    Ok((bg, gg, holdout))
}

fn to_json<T: serde::Serialize>(value: &T) -> AppResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(e.into()))
}

/// The newest fit of the workspace.
pub async fn latest<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<Option<prediction_model::Model>> {
    Ok(prediction_model::Entity::find()
        .filter(prediction_model::Column::WorkspaceId.eq(workspace_id))
        .order_by_desc(prediction_model::Column::FittedAt)
        .one(db)
        .await?)
}

/// A stored fit, decoded.
pub struct Fitted {
    pub model: prediction_model::Model,
    pub bgnbd: BgNbdFit,
    pub gamma_gamma: Option<GammaGammaFit>,
    pub holdout: Option<Vec<HoldoutGroup>>,
    pub unit: TimeUnit,
}

impl TryFrom<prediction_model::Model> for Fitted {
    type Error = AppError;

    fn try_from(model: prediction_model::Model) -> AppResult<Self> {
        let decode = |e: serde_json::Error| AppError::Internal(e.into());
        let bgnbd = serde_json::from_value(model.bgnbd.clone()).map_err(decode)?;
        let gamma_gamma = model.gamma_gamma.clone().map(serde_json::from_value).transpose().map_err(decode)?;
        let holdout =
            model.holdout.clone().map(serde_json::from_value::<Holdout>).transpose().map_err(decode)?.map(|h| h.groups);
        Ok(Fitted { unit: unit_of(&model.time_unit), model, bgnbd, gamma_gamma, holdout })
    }
}

/// Each customer's `(x, t_x, T, m̄)` at the fit's observation end (customers who had not bought by
/// then are absent).
pub async fn summaries_at<C: ConnectionTrait>(
    db: &C,
    fitted: &Fitted,
    customers: &[Uuid],
) -> AppResult<HashMap<Uuid, CustomerSummary<Uuid>>> {
    summaries_on(db, fitted, fitted.model.observation_end, Some(customers)).await
}

/// Each customer's `(x, t_x, T, m̄)` in the fit's unit as of the end of `day` (all customers with
/// purchases by then, or only `customers`): scoring with the stored parameters on data newer than
/// the fit.
pub async fn summaries_on<C: ConnectionTrait>(
    db: &C,
    fitted: &Fitted,
    day: NaiveDate,
    customers: Option<&[Uuid]>,
) -> AppResult<HashMap<Uuid, CustomerSummary<Uuid>>> {
    let workspace = workspaces::service::get(db, fitted.model.workspace_id).await?;
    let days = purchase_days(db, &workspace, day, customers).await?;
    let summaries = data::summarise(&days, day_index(day), fitted.unit)?;
    Ok(summaries.into_iter().map(|s| (s.key, s)).collect())
}

pub use predictive::customer_lifetime_value;
