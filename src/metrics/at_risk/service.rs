//! Assessing a workspace's customers (from the lifecycle sweep of the background job) and the
//! stored assessments behind `atRiskCustomers`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    customer::{self, LifecycleStage},
    customer_risk,
    feedback::{self, FeedbackKind},
    interaction::{self, Direction, Outcome},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, Func},
};
use uuid::Uuid;

use super::score::{self, Assessment, Rules, Signals};
use crate::{
    customers::lifecycle,
    graphql::{AppError, AppResult},
    metrics::{
        activity::{self, Selection},
        periods::day_number,
        predictions::{self, Fitted},
        predictive::{CustomerSummary, customer_lifetime_value},
    },
    money,
    workspaces::{self, settings::WorkspaceSettings},
};

/// The value at risk is over the next year, discounted 1 % a month as lifetimes does.
const VALUE_MONTHS: u32 = 12;
const MONTHLY_DISCOUNT: f64 = 0.01;
/// Rows written per statement.
const ROWS_PER_INSERT: usize = 1_000;

/// What a customer is worth over the next year, as far as we can tell.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ValueBasis {
    /// Predicted 12-month CLV from the fitted BG/NBD and Gamma-Gamma models, scored today.
    PredictedClv,
    /// No fitted spend model: what they spent in the last 365 days.
    TrailingYearSpend,
}

impl ValueBasis {
    fn name(self) -> &'static str {
        match self {
            ValueBasis::PredictedClv => "PREDICTED_CLV",
            ValueBasis::TrailingYearSpend => "TRAILING_YEAR_SPEND",
        }
    }

    pub fn of(name: &str) -> ValueBasis {
        if name == "PREDICTED_CLV" { ValueBasis::PredictedClv } else { ValueBasis::TrailingYearSpend }
    }
}

/// One customer's assessment with its value.
#[derive(Clone, Debug)]
pub struct Assessed {
    pub customer_id: Uuid,
    pub assessment: Assessment,
    pub probability_alive: Option<f64>,
    pub value_minor: i64,
    pub basis: ValueBasis,
}

impl Assessed {
    pub fn value_at_risk_minor(&self) -> i64 {
        (i128::from(self.value_minor) * i128::from(self.assessment.score) / 100) as i64
    }

    /// The findings only an assessment can make (the lifecycle rules see the others on every
    /// change), as one sentence; `None` without any.
    pub fn early_warning(&self) -> Option<String> {
        let details: Vec<&str> = self
            .assessment
            .findings
            .iter()
            .filter(|f| f.reason.needs_assessment())
            .map(|f| f.detail.as_str())
            .collect();
        (!details.is_empty()).then(|| details.join("; "))
    }
}

/// Everything about the workspace that the assessment of one customer needs.
pub struct RiskContext {
    settings: WorkspaceSettings,
    now: DateTime<Utc>,
    median_gap_days: Option<f64>,
    /// Lowest (NPS, CSAT) answers within the activity window.
    feedback: HashMap<Uuid, (Option<i32>, Option<i32>)>,
    last_contact: HashMap<Uuid, DateTime<Utc>>,
    model: Option<(Fitted, HashMap<Uuid, CustomerSummary<Uuid>>)>,
    year_spend: HashMap<Uuid, i64>,
    scale: f64,
}

impl RiskContext {
    /// Loads the workspace-wide inputs; `customers` are the ones about to be assessed.
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        workspace_id: Uuid,
        customers: &[customer::Model],
        now: DateTime<Utc>,
    ) -> AppResult<RiskContext> {
        let workspace = workspaces::service::get(db, workspace_id).await?;
        let settings = WorkspaceSettings::from_json(&workspace.settings);
        let zone = workspaces::service::zone(&workspace);
        let today = now.with_timezone(&zone).date_naive();
        let mut gaps: Vec<f64> = customers
            .iter()
            .filter_map(|c| {
                let (first, last) = (c.first_order_at?, c.last_order_at?);
                (c.order_count >= 2).then(|| (last - first).num_days() as f64 / f64::from(c.order_count - 1))
            })
            .collect();
        let since = now - Duration::days(settings.activity_window_days);
        let feedback = worst_feedback(db, workspace_id, since).await?;
        let last_contact =
            if settings.at_risk_no_contact_days > 0 { last_contacts(db, workspace_id).await? } else { HashMap::new() };
        let model = match predictions::latest(db, workspace_id).await? {
            Some(model) => {
                let fitted = Fitted::try_from(model)?;
                let summaries = predictions::summaries_on(db, &fitted, today, None).await?;
                Some((fitted, summaries))
            }
            None => None,
        };
        let year_start = day_number(today) - 364;
        let activity = activity::load(db, workspace_id, Selection::default()).await?;
        let year_spend = activity
            .iter()
            .map(|(id, days)| (id, days.iter().filter(|d| d.day >= year_start).map(|d| d.revenue_minor).sum()))
            .collect();
        Ok(RiskContext {
            median_gap_days: score::median(&mut gaps),
            scale: 10f64.powi(money::exponent(&workspace.currency).unwrap_or(2) as i32),
            settings,
            now,
            feedback,
            last_contact,
            model,
            year_spend,
        })
    }

    /// The customer's assessment, or `None` when they are not at risk or not assessed at all
    /// (no order yet, dormant, or parked by staff as NOT_NOW or CHURNED).
    pub fn assess(&self, c: &customer::Model, signals: &lifecycle::Signals) -> AppResult<Option<Assessed>> {
        let (Some(first), Some(last)) = (c.first_order_at, c.last_order_at) else { return Ok(None) };
        let days_since_last_order = (self.now - last).num_days();
        if matches!(c.lifecycle_stage, LifecycleStage::NotNow | LifecycleStage::Churned)
            || days_since_last_order > self.settings.dormant_after_days
        {
            return Ok(None);
        }
        let summary = self.model.as_ref().and_then(|(_, summaries)| summaries.get(&c.id));
        let probability_alive = match (&self.model, summary) {
            (Some((fitted, _)), Some(s)) => {
                Some(fitted.bgnbd.params.probability_alive(s.x, s.t_x, s.age).map_err(AppError::from)?)
            }
            _ => None,
        };
        let (nps, csat) = self.feedback.get(&c.id).copied().unwrap_or_default();
        let risk_signals = Signals {
            order_count: c.order_count,
            days_since_first_order: (self.now - first).num_days(),
            days_since_last_order,
            repeat_purchase_days: summary.map(|s| s.x),
            probability_alive,
            complaints: signals.complaints,
            reachability: signals.reachability,
            worst_recent_nps: nps,
            worst_recent_csat: csat,
            days_since_contact: self.last_contact.get(&c.id).map(|at| (self.now - *at).num_days()),
        };
        let rules = Rules { settings: &self.settings, median_gap_days: self.median_gap_days };
        let assessment = score::assess(&risk_signals, &rules);
        if assessment.findings.is_empty() {
            return Ok(None);
        }
        let predicted = match (&self.model, summary) {
            (Some((fitted, _)), Some(s)) => match &fitted.gamma_gamma {
                Some(gg) => Some(
                    customer_lifetime_value(
                        &fitted.bgnbd.params,
                        &gg.params,
                        s,
                        VALUE_MONTHS,
                        MONTHLY_DISCOUNT,
                        fitted.unit,
                    )
                    .map_err(AppError::from)?,
                ),
                None => None,
            },
            _ => None,
        };
        let (value_minor, basis) = match predicted.filter(|v| v.is_finite()) {
            Some(clv) => ((clv * self.scale).round().max(0.0) as i64, ValueBasis::PredictedClv),
            None => (self.year_spend.get(&c.id).copied().unwrap_or(0), ValueBasis::TrailingYearSpend),
        };
        Ok(Some(Assessed { customer_id: c.id, assessment, probability_alive, value_minor, basis }))
    }
}

/// Each customer's lowest NPS and CSAT answer since `since`.
async fn worst_feedback<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    since: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, (Option<i32>, Option<i32>)>> {
    let rows: Vec<(Uuid, FeedbackKind, Option<i32>)> = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::CustomerId)
        .column(feedback::Column::Kind)
        .expr(Func::min(Expr::col(feedback::Column::Score)))
        .filter(feedback::Column::WorkspaceId.eq(workspace_id))
        .filter(feedback::Column::Kind.is_in([FeedbackKind::Nps, FeedbackKind::Csat]))
        .filter(feedback::Column::Score.is_not_null())
        .filter(feedback::Column::SubmittedAt.gte(since))
        .group_by(feedback::Column::CustomerId)
        .group_by(feedback::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, (Option<i32>, Option<i32>)> = HashMap::new();
    for (customer_id, kind, worst) in rows {
        let entry = out.entry(customer_id).or_default();
        match kind {
            FeedbackKind::Nps => entry.0 = worst,
            _ => entry.1 = worst,
        }
    }
    Ok(out)
}

/// When each customer last had a conversation: an inbound contact, or an outbound one that
/// reached them.
async fn last_contacts<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<HashMap<Uuid, DateTime<Utc>>> {
    let rows: Vec<(Option<Uuid>, Option<DateTime<Utc>>)> = interaction::Entity::find()
        .select_only()
        .column(interaction::Column::CustomerId)
        .expr(Func::max(Expr::col(interaction::Column::OccurredAt)))
        .filter(interaction::Column::WorkspaceId.eq(workspace_id))
        .filter(interaction::Column::CustomerId.is_not_null())
        .filter(
            Condition::any()
                .add(interaction::Column::Direction.eq(Direction::Inbound))
                .add(interaction::Column::Outcome.is_in([Outcome::Reached, Outcome::Replied])),
        )
        .group_by(interaction::Column::CustomerId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, at)| Some((id?, at?))).collect())
}

/// Replaces the workspace's stored assessments with `assessed`.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    assessed: &[Assessed],
    now: DateTime<Utc>,
) -> AppResult<()> {
    customer_risk::Entity::delete_many().filter(customer_risk::Column::WorkspaceId.eq(workspace_id)).exec(db).await?;
    for chunk in assessed.chunks(ROWS_PER_INSERT) {
        let rows = chunk
            .iter()
            .map(|a| {
                Ok(customer_risk::ActiveModel {
                    workspace_id: Set(workspace_id),
                    customer_id: Set(a.customer_id),
                    score: Set(a.assessment.score),
                    reason_mask: Set(a.assessment.reason_mask()),
                    reasons: Set(
                        serde_json::to_value(&a.assessment.findings).map_err(|e| AppError::Internal(e.into()))?
                    ),
                    early_warning: Set(a.early_warning()),
                    probability_alive: Set(a.probability_alive),
                    value_minor: Set(a.value_minor),
                    value_basis: Set(a.basis.name().to_owned()),
                    value_at_risk_minor: Set(a.value_at_risk_minor()),
                    assessed_at: Set(now),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        if !rows.is_empty() {
            customer_risk::Entity::insert_many(rows).exec_without_returning(db).await?;
        }
    }
    Ok(())
}
