//! Retention metrics (docs/metrics.md): retention and churn, purchase metrics, lead conversion per
//! period, cohorts, RFM, and the predictive models (`predictive`: BG/NBD, Gamma-Gamma, CLV). Definitions
//! live in the pure modules; `service` loads data.

pub mod activity;
pub mod at_risk;
pub mod cohorts;
pub mod complaint_impact;
pub mod loyalty;
pub mod periods;
pub mod predictions;
pub mod predictive;
pub mod retention;
pub mod rfm;
pub mod satisfaction;
pub mod service;
pub mod value;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{
    auth::Permission,
    customers::CustomerFilter,
    graphql::{AppError, authorize, state},
    money,
};
use periods::Granularity;
use retention::Counts;

#[derive(InputObject)]
pub struct RetentionMetricsInput {
    /// First day (workspace time zone); the first bucket starts at the period containing it.
    pub from: NaiveDate,
    /// The day after the last one (exclusive).
    pub to: NaiveDate,
    pub granularity: Granularity,
    /// Only customers in this segment (leads are not filtered).
    pub filter: Option<CustomerFilter>,
}

impl RetentionMetricsInput {
    /// A heavy field, plus 1 per bucket computed.
    fn cost(&self, child_complexity: usize) -> usize {
        let buckets = periods::bucket_count(self.from, self.to, self.granularity);
        crate::graphql::limits::HEAVY_FIELD_COST.saturating_add(buckets).saturating_add(child_complexity)
    }
}

/// One period `[from, to)`. Rates are fractions; null where the denominator is 0.
pub struct RetentionBucket {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    counts: Counts,
    currency: String,
    window_days: i64,
    leads: service::LeadConversion,
}

#[Object]
impl RetentionBucket {
    async fn from(&self) -> DateTime<Utc> {
        self.from
    }
    async fn to(&self) -> DateTime<Utc> {
        self.to
    }
    /// W: active at the start of a day means a completed order on one of the W calendar days
    /// (workspace time zone) before it.
    async fn activity_window_days(&self) -> i64 {
        self.window_days
    }
    /// |S|: customers active at `from`.
    async fn start_customers(&self) -> u64 {
        self.counts.start
    }
    /// |E|: customers active at `to` (the active customers at the end).
    async fn end_customers(&self) -> u64 {
        self.counts.end
    }
    /// |N|: customers whose first completed order is in the period.
    async fn new_customers(&self) -> u64 {
        self.counts.new
    }
    /// |S ∩ E|.
    async fn retained(&self) -> u64 {
        self.counts.retained
    }
    /// |S \ E|.
    async fn churned(&self) -> u64 {
        self.counts.churned
    }
    /// Active at `to`, not at `from`, and not new: came back.
    async fn reactivated(&self) -> u64 {
        self.counts.reactivated
    }
    /// |S ∩ E| / |S| — the headline retention.
    async fn retention(&self) -> Option<f64> {
        self.counts.retention()
    }
    /// |S \ E| / |S|.
    async fn churn(&self) -> Option<f64> {
        self.counts.churn()
    }
    /// The textbook (|E| − |N|) / |S|: counts reactivated customers as retained, may leave [0, 1].
    async fn crr_textbook(&self) -> Option<f64> {
        self.counts.crr_textbook()
    }
    /// Completed orders placed in the period (the unit is the order: two on one day are two).
    async fn orders(&self) -> u64 {
        self.counts.orders
    }
    async fn revenue(&self) -> Decimal {
        money::from_minor(self.counts.revenue_minor, &self.currency)
    }
    /// Revenue / orders, rounded to the currency's minor unit.
    async fn average_order_value(&self) -> Option<Decimal> {
        money::mean(self.counts.revenue_minor, self.counts.orders, &self.currency)
    }
    /// Customers with an order in the period.
    async fn ordering_customers(&self) -> u64 {
        self.counts.ordering
    }
    /// Orders per ordering customer.
    async fn purchase_frequency(&self) -> Option<f64> {
        self.counts.purchase_frequency()
    }
    /// Share of ordering customers with two or more orders in the period.
    async fn repeat_purchase_rate(&self) -> Option<f64> {
        self.counts.repeat_purchase_rate()
    }
    /// Share of ordering customers who had ordered before the period.
    async fn returning_customer_rate(&self) -> Option<f64> {
        self.counts.returning_customer_rate()
    }
    async fn lead_conversion(&self) -> LeadConversion {
        LeadConversion::from(&self.leads)
    }
}

/// Lead-to-customer conversion (docs/metrics.md §5), overall and by lead source and category.
#[derive(SimpleObject)]
pub struct LeadConversion {
    /// Leads created in the period.
    pub created: u64,
    /// Leads converted in the period, whenever created.
    pub converted: u64,
    /// Leads created in the period and converted by now.
    pub created_and_converted: u64,
    /// converted / created (the flow definition; may exceed 1).
    pub flow_rate: Option<f64>,
    /// createdAndConverted / created (the cohort definition; rises as the cohort matures).
    pub cohort_rate: Option<f64>,
    pub median_days_to_convert: Option<f64>,
    pub by_source: Vec<LeadConversionGroup>,
    pub by_category: Vec<LeadConversionGroup>,
}

#[derive(SimpleObject)]
pub struct LeadConversionGroup {
    pub key: String,
    pub created: u64,
    pub converted: u64,
    pub flow_rate: Option<f64>,
    pub cohort_rate: Option<f64>,
}

impl From<&service::LeadConversion> for LeadConversion {
    fn from(l: &service::LeadConversion) -> Self {
        let groups = |rows: &[(String, u64, u64, u64)]| {
            rows.iter()
                .map(|(key, created, converted, cohort)| LeadConversionGroup {
                    key: key.clone(),
                    created: *created,
                    converted: *converted,
                    flow_rate: retention::ratio(*converted, *created),
                    cohort_rate: retention::ratio(*cohort, *created),
                })
                .collect()
        };
        LeadConversion {
            created: l.created,
            converted: l.converted,
            created_and_converted: l.created_and_converted,
            flow_rate: retention::ratio(l.converted, l.created),
            cohort_rate: retention::ratio(l.created_and_converted, l.created),
            median_days_to_convert: l.median_days_to_convert,
            by_source: groups(&l.by_source),
            by_category: groups(&l.by_category),
        }
    }
}

pub struct RetentionMetrics(service::RetentionReport);

#[Object]
impl RetentionMetrics {
    async fn activity_window_days(&self) -> i64 {
        self.0.window_days
    }
    async fn buckets(&self) -> Vec<RetentionBucket> {
        let periods = self.0.bounds.windows(2);
        periods.zip(&self.0.buckets).zip(&self.0.leads).map(|((w, c), l)| self.bucket(w[0], w[1], c, l)).collect()
    }
    /// The whole span as one period.
    async fn total(&self) -> RetentionBucket {
        let bounds = &self.0.bounds;
        self.bucket(bounds[0], bounds[bounds.len() - 1], &self.0.total, &self.0.total_leads)
    }
    /// Customers with two or more completed orders ever / customers with one or more.
    async fn lifetime_repeat_purchase_rate(&self) -> Option<f64> {
        self.0.lifetime_repeat_purchase_rate
    }
}

impl RetentionMetrics {
    fn bucket(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        counts: &Counts,
        leads: &service::LeadConversion,
    ) -> RetentionBucket {
        RetentionBucket {
            from,
            to,
            counts: *counts,
            currency: self.0.currency.clone(),
            window_days: self.0.window_days,
            leads: leads.clone(),
        }
    }
}

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CohortMetric {
    /// Share of the cohort's customers who ordered in the period.
    Customers,
    /// Revenue in the period per cohort customer.
    Revenue,
}

#[derive(InputObject)]
pub struct CohortRetentionInput {
    /// Cohorts are customers whose first completed order falls in `[from, to)` (workspace time zone).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    #[graphql(default_with = "CohortMetric::Customers")]
    pub metric: CohortMetric,
}

impl CohortRetentionInput {
    /// A heavy field, plus its cells: each cohort has one per period up to today, so the matrix
    /// grows with the square of the span (ten cells cost 1).
    fn cost(&self, child_complexity: usize) -> usize {
        let cohorts = periods::bucket_count(self.from, self.to, self.granularity);
        let periods = periods::bucket_count(self.from, Utc::now().date_naive().max(self.to), self.granularity);
        let cells = cohorts.saturating_mul(periods) / 10;
        crate::graphql::limits::HEAVY_FIELD_COST.saturating_add(cells).saturating_add(child_complexity)
    }
}

/// Customers whose first completed order fell in one period.
pub struct Cohort {
    cohort: cohorts::Cohort,
    metric: CohortMetric,
    currency: String,
    zone: chrono_tz::Tz,
}

impl Cohort {
    fn instant(&self, day: i32) -> DateTime<Utc> {
        periods::start_of(periods::date_of(day), self.zone)
    }
}

#[Object]
impl Cohort {
    async fn period_start(&self) -> DateTime<Utc> {
        self.instant(self.cohort.period_start)
    }
    /// n_c: customers in the cohort.
    async fn size(&self) -> u64 {
        self.cohort.size
    }
    /// One cell per period from the cohort's own (offset 0) to the current one (partial).
    async fn cells(&self) -> Vec<CohortCell> {
        self.cohort
            .cells
            .iter()
            .map(|cell| {
                let revenue = money::from_minor(cell.revenue_minor, &self.currency);
                let revenue_per_customer = money::mean(cell.revenue_minor, self.cohort.size, &self.currency);
                let share = retention::ratio(cell.customers, self.cohort.size);
                CohortCell {
                    offset: cell.offset as i32,
                    period_start: self.instant(cell.period_start),
                    customers: cell.customers,
                    share,
                    customers_or_later: cell.customers_or_later,
                    share_or_later: retention::ratio(cell.customers_or_later, self.cohort.size),
                    revenue,
                    revenue_per_customer,
                    value: match self.metric {
                        CohortMetric::Customers => (self.cohort.size > 0)
                            .then(|| Decimal::from(cell.customers) / Decimal::from(self.cohort.size)),
                        CohortMetric::Revenue => revenue_per_customer,
                    },
                    partial: cell.partial,
                }
            })
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct CohortCell {
    /// k: periods after the cohort's period.
    pub offset: i32,
    pub period_start: DateTime<Utc>,
    /// Cohort customers with a completed order in this period.
    pub customers: u64,
    /// customers / cohort size (1 at offset 0).
    pub share: Option<f64>,
    /// Cohort customers who ordered in this period or any later one ("unbounded" retention).
    pub customers_or_later: u64,
    pub share_or_later: Option<f64>,
    pub revenue: Decimal,
    /// Revenue / cohort size, rounded to the currency's minor unit.
    pub revenue_per_customer: Option<Decimal>,
    /// The requested metric: `share` (CUSTOMERS) or `revenuePerCustomer` (REVENUE).
    pub value: Option<Decimal>,
    /// The period is still running.
    pub partial: bool,
}

/// A customer's RFM scores (1–5, 5 best) and segment, within their workspace.
#[derive(SimpleObject)]
pub struct RfmScores {
    /// Whole days since the last completed order.
    pub recency_days: i64,
    /// Completed orders.
    pub frequency: i64,
    /// Total completed amount.
    pub monetary: Decimal,
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub segment: rfm::RfmSegment,
}

/// The workspace's RFM distribution, computed once per request.
pub struct RfmDistributionLoader(pub sea_orm::DatabaseConnection);

impl async_graphql::dataloader::Loader<uuid::Uuid> for RfmDistributionLoader {
    type Value = std::sync::Arc<rfm::Distribution>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[uuid::Uuid],
    ) -> Result<std::collections::HashMap<uuid::Uuid, Self::Value>, Self::Error> {
        let mut out = std::collections::HashMap::new();
        for workspace_id in keys {
            let distribution = service::rfm_distribution(&self.0, *workspace_id, Utc::now()).await?;
            out.insert(*workspace_id, std::sync::Arc::new(distribution));
        }
        Ok(out)
    }
}

/// `customer.rfm`: null for customers without completed orders and in workspaces with fewer than five.
pub async fn customer_rfm(
    ctx: &Context<'_>,
    customer: &entity::customer::Model,
) -> async_graphql::Result<Option<RfmScores>> {
    let Some(last) = customer.last_order_at.filter(|_| customer.order_count > 0) else { return Ok(None) };
    let inputs = service::rfm_of(last, customer.order_count, customer.total_spent_minor, Utc::now());
    let Some(distribution) =
        crate::graphql::loader::<RfmDistributionLoader>(ctx)?.load_one(customer.workspace_id).await?
    else {
        return Ok(None);
    };
    let currency = crate::workspaces::service::get(state(ctx).db(), customer.workspace_id).await?.currency;
    Ok(distribution.scores(inputs).map(|s| RfmScores {
        recency_days: inputs.recency_days,
        frequency: inputs.frequency,
        monetary: money::from_minor(inputs.monetary_minor, &currency),
        r: s.r.into(),
        f: s.f.into(),
        m: s.m.into(),
        segment: s.segment,
    }))
}

/// Segment sizes and revenue shares.
#[derive(SimpleObject)]
pub struct RfmSegmentSize {
    pub segment: rfm::RfmSegment,
    pub customers: u64,
    /// customers / all scored customers.
    pub share: Option<f64>,
    pub revenue: Decimal,
    /// This segment's part of all scored customers' revenue.
    pub revenue_share: Option<f64>,
}

/// The values that got each score (lowest and highest seen), so the quintiles can be read.
#[derive(SimpleObject)]
pub struct RfmThreshold {
    pub score: i32,
    pub recency_days: Option<Vec<i64>>,
    pub frequency: Option<Vec<i64>>,
    pub monetary_minor: Option<Vec<i64>>,
}

#[derive(SimpleObject)]
pub struct RfmReport {
    pub analyzed_at: DateTime<Utc>,
    /// Customers with a completed order (the population the quintiles are taken in).
    pub customers: u64,
    /// All eleven segments, in a fixed order, empty ones included; empty when fewer than five customers.
    pub segments: Vec<RfmSegmentSize>,
    /// Per score 1–5: `[lowest, highest]` value with that score, or null when nobody got it.
    pub thresholds: Vec<RfmThreshold>,
}

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "PredictionTimeUnit")]
pub enum PredictionTimeUnit {
    Day,
    Week,
}

impl From<PredictionTimeUnit> for predictive::TimeUnit {
    fn from(unit: PredictionTimeUnit) -> Self {
        match unit {
            PredictionTimeUnit::Day => predictive::TimeUnit::Day,
            PredictionTimeUnit::Week => predictive::TimeUnit::Week,
        }
    }
}

#[derive(InputObject)]
pub struct RefitPredictiveModelsInput {
    /// Orders placed on or before this day (workspace time zone) are used.
    pub observation_end: NaiveDate,
    #[graphql(default_with = "PredictionTimeUnit::Day")]
    pub time_unit: PredictionTimeUnit,
}

#[derive(SimpleObject)]
pub struct BgNbdModel {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    /// In the model's own time unit (comparable with the literature only in the same unit).
    pub log_likelihood: f64,
    pub repeat_buyers: u64,
    /// Parameters the fit drove to the edge of its search box (10⁻⁴ … 10⁴ in rescaled time): the
    /// data show no spread there. `r`/`alpha`: customers buy at much the same rate; `a`/`b`: they
    /// drop out alike. Predictions then follow the limiting model; empty for an ordinary fit.
    pub parameters_at_bounds: Vec<String>,
}

#[derive(SimpleObject)]
pub struct GammaGammaModel {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
    pub repeat_buyers: u64,
    /// Pearson correlation of purchase frequency and average spend among repeat buyers; the model
    /// assumes they are independent, so this should be near 0.
    pub frequency_spend_correlation: Option<f64>,
    /// `q`/`gamma` at the edge of the search box: every customer's orders scatter around the same mean.
    pub parameters_at_bounds: Vec<String>,
}

/// Predicted against actual repeat purchases in the holdout period, per calibration frequency.
#[derive(SimpleObject)]
pub struct HoldoutGroup {
    pub min_repeat_purchases: u32,
    /// Null for the open-ended last group.
    pub max_repeat_purchases: Option<u32>,
    pub customers: u64,
    pub actual_mean: Option<f64>,
    pub predicted_mean: Option<f64>,
}

/// The workspace's fitted predictive models (BG/NBD for purchases, Gamma-Gamma for spend).
pub struct PredictionModel(predictions::Fitted);

#[Object]
impl PredictionModel {
    async fn observation_end(&self) -> NaiveDate {
        self.0.model.observation_end
    }
    async fn time_unit(&self) -> PredictionTimeUnit {
        match self.0.unit {
            predictive::TimeUnit::Day => PredictionTimeUnit::Day,
            predictive::TimeUnit::Week => PredictionTimeUnit::Week,
        }
    }
    /// Customers in the fit (first purchase before the observation end).
    async fn customers(&self) -> i64 {
        self.0.model.customers
    }
    async fn fitted_at(&self) -> DateTime<Utc> {
        self.0.model.fitted_at
    }
    async fn bgnbd(&self) -> BgNbdModel {
        let fit = &self.0.bgnbd;
        BgNbdModel {
            r: fit.params.r,
            alpha: fit.params.alpha,
            a: fit.params.a,
            b: fit.params.b,
            log_likelihood: fit.log_likelihood,
            repeat_buyers: fit.repeat_buyers,
            parameters_at_bounds: fit.at_bounds.clone(),
        }
    }
    /// Null when too few repeat buyers had spend to fit it.
    async fn gamma_gamma(&self) -> Option<GammaGammaModel> {
        self.0.gamma_gamma.as_ref().map(|fit| GammaGammaModel {
            p: fit.params.p,
            q: fit.params.q,
            gamma: fit.params.gamma,
            log_likelihood: fit.log_likelihood,
            repeat_buyers: fit.repeat_buyers,
            frequency_spend_correlation: fit.frequency_spend_correlation,
            parameters_at_bounds: fit.at_bounds.clone(),
        })
    }
    /// A check on the workspace's own data: the model refitted on the earlier part of the history
    /// predicts the last quarter (at most a year); null when the earlier part is too small.
    async fn holdout(&self) -> Option<Vec<HoldoutGroup>> {
        self.0.holdout.as_ref().map(|groups| {
            groups
                .iter()
                .map(|g| HoldoutGroup {
                    min_repeat_purchases: g.min_x,
                    max_repeat_purchases: g.max_x,
                    customers: g.customers,
                    actual_mean: g.actual_mean,
                    predicted_mean: g.predicted_mean,
                })
                .collect()
        })
    }
}

/// One customer's predictions from the workspace's current fit, in its time unit.
pub struct CustomerPredictions {
    fitted: std::sync::Arc<predictions::Fitted>,
    summary: predictive::CustomerSummary<uuid::Uuid>,
    currency: String,
}

#[Object]
impl CustomerPredictions {
    /// P(alive) at the observation end. 1 for customers without a repeat purchase (a BG/NBD
    /// property; see the at-risk rules for one-time buyers).
    async fn probability_alive(&self) -> async_graphql::Result<f64> {
        let s = &self.summary;
        Ok(self.fitted.bgnbd.params.probability_alive(s.x, s.t_x, s.age).map_err(AppError::from)?)
    }
    /// Expected purchases (purchase days) in the next `periods` time units after the observation end.
    async fn expected_purchases(&self, periods: f64) -> async_graphql::Result<f64> {
        let s = &self.summary;
        Ok(self
            .fitted
            .bgnbd
            .params
            .conditional_expected_purchases(periods, s.x, s.t_x, s.age)
            .map_err(AppError::from)?)
    }
    /// Expected average order value (Gamma-Gamma); null without a spend model.
    async fn expected_order_value(&self) -> async_graphql::Result<Option<Decimal>> {
        let Some(gg) = &self.fitted.gamma_gamma else { return Ok(None) };
        let value = gg
            .params
            .conditional_expected_value(self.summary.x, self.summary.monetary_value)
            .map_err(AppError::from)?;
        Ok(money::from_estimate(value, &self.currency))
    }
    /// Discounted expected value over the next `months` (monthly steps; default discount 1 % a
    /// month); null without a spend model.
    async fn clv(
        &self,
        months: u32,
        #[graphql(default = 0.01)] monthly_discount_rate: f64,
    ) -> async_graphql::Result<Option<Decimal>> {
        let max = crate::metrics::predictive::clv::MAX_MONTHS;
        if months > max {
            return Err(AppError::bad_input("months", format!("at most {max} months")).into());
        }
        let Some(gg) = &self.fitted.gamma_gamma else { return Ok(None) };
        let value = predictions::customer_lifetime_value(
            &self.fitted.bgnbd.params,
            &gg.params,
            &self.summary,
            months,
            monthly_discount_rate,
            self.fitted.unit,
        )
        .map_err(AppError::from)?;
        Ok(money::from_estimate(value, &self.currency))
    }
}

/// Batches `customer.predictions`: the workspace's fit once, then the customers' orders in one query.
pub struct PredictionLoader(pub sea_orm::DatabaseConnection);

impl async_graphql::dataloader::Loader<(uuid::Uuid, uuid::Uuid)> for PredictionLoader {
    type Value = std::sync::Arc<CustomerPredictions>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(uuid::Uuid, uuid::Uuid)],
    ) -> Result<std::collections::HashMap<(uuid::Uuid, uuid::Uuid), Self::Value>, Self::Error> {
        let mut by_workspace: std::collections::HashMap<uuid::Uuid, Vec<uuid::Uuid>> = Default::default();
        for (workspace_id, customer_id) in keys {
            by_workspace.entry(*workspace_id).or_default().push(*customer_id);
        }
        let mut out = std::collections::HashMap::new();
        for (workspace_id, customers) in by_workspace {
            let Some(model) = predictions::latest(&self.0, workspace_id).await? else { continue };
            let fitted = std::sync::Arc::new(predictions::Fitted::try_from(model)?);
            let currency = crate::workspaces::service::get(&self.0, workspace_id).await?.currency;
            for (customer_id, summary) in predictions::summaries_at(&self.0, &fitted, &customers).await? {
                let value = CustomerPredictions { fitted: fitted.clone(), summary, currency: currency.clone() };
                out.insert((workspace_id, customer_id), std::sync::Arc::new(value));
            }
        }
        Ok(out)
    }
}

/// `customer.predictions`: null before a fit, and for customers who had not bought by its observation end.
pub async fn customer_predictions(
    ctx: &Context<'_>,
    customer: &entity::customer::Model,
) -> async_graphql::Result<Option<std::sync::Arc<CustomerPredictions>>> {
    crate::graphql::loader::<PredictionLoader>(ctx)?.load_one((customer.workspace_id, customer.id)).await
}

#[derive(Default)]
pub struct MetricsMutation;

#[Object]
impl MetricsMutation {
    /// Fits BG/NBD and Gamma-Gamma on the completed orders placed on or before `observationEnd`
    /// (docs/metrics.md §9–12) and makes the fit current. `INSUFFICIENT_DATA` below 100 customers or 20
    /// repeat buyers.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn refit_predictive_models(
        &self,
        ctx: &Context<'_>,
        input: RefitPredictiveModelsInput,
    ) -> async_graphql::Result<PredictionModel> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let model = crate::graphql::transact(state(ctx).db(), async |txn| {
            predictions::refit(txn, principal.workspace_id(), input.observation_end, input.time_unit.into(), Utc::now())
                .await
        })
        .await?;
        Ok(PredictionModel(predictions::Fitted::try_from(model)?))
    }
}

#[derive(SimpleObject)]
pub struct ParetoPoint {
    /// The top this share of customers by lifetime spend …
    pub customer_share: f64,
    /// … bring this share of the revenue.
    pub revenue_share: Option<f64>,
}

/// Who carries the revenue, and what a customer is worth on average (docs/metrics.md §3).
#[derive(SimpleObject)]
pub struct CustomerValue {
    pub as_of: DateTime<Utc>,
    /// Customers with a completed order.
    pub customers: u64,
    /// Their lifetime completed revenue (per customer: `customer.totalSpent`, the "historic value").
    pub revenue: Decimal,
    /// Share of the revenue from the top 20 % of customers.
    pub top20_revenue_share: Option<f64>,
    pub pareto_curve: Vec<ParetoPoint>,
    /// AOV over the trailing 365 days, rounded to the currency's minor unit.
    pub average_order_value: Option<Decimal>,
    /// Orders per ordering customer over the trailing 365 days.
    pub yearly_purchase_frequency: Option<f64>,
    /// Churn over the trailing 365 days (docs/metrics.md §1).
    pub annual_churn: Option<f64>,
    /// `customerLifespanYears` when set, else 1 / annual churn; null when churn is 0.
    pub lifespan_years: Option<f64>,
    /// AOV × yearly frequency × lifespan.
    pub historical_clv: Option<Decimal>,
    pub gross_margin_percent: Option<i64>,
    /// The same × gross margin; null without a margin setting.
    pub historical_clv_with_margin: Option<Decimal>,
    pub activity_window_days: i64,
}

#[derive(InputObject)]
pub struct PeriodInput {
    /// First day (workspace time zone); the first bucket starts at the period containing it.
    pub from: NaiveDate,
    /// The day after the last one (exclusive).
    pub to: NaiveDate,
    pub granularity: Granularity,
}

/// Ledger activity of one period.
#[derive(SimpleObject)]
pub struct LoyaltyFlow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Points credited: purchases, bonuses, referrals, positive adjustments.
    pub points_earned: i64,
    /// Points spent on rewards, net of cancelled redemptions.
    pub points_burned: i64,
    pub points_expired: i64,
    /// Burned / earned; null when nothing was earned.
    pub redemption_rate: Option<f64>,
    /// Accounts with a ledger entry in the period.
    pub active_members: u64,
    pub new_members: u64,
    pub tier_upgrades: u64,
    pub tier_downgrades: u64,
}

impl From<loyalty::PointsFlow> for LoyaltyFlow {
    fn from(f: loyalty::PointsFlow) -> Self {
        LoyaltyFlow {
            from: f.from,
            to: f.to,
            points_earned: f.earned,
            points_burned: f.burned,
            points_expired: f.expired,
            redemption_rate: f.redemption_rate(),
            active_members: f.active_members,
            new_members: f.new_members,
            tier_upgrades: f.upgrades,
            tier_downgrades: f.downgrades,
        }
    }
}

#[derive(SimpleObject)]
pub struct TierShare {
    /// Null: members below the first tier.
    pub tier: Option<crate::loyalty::Tier>,
    pub accounts: u64,
    pub share: Option<f64>,
}

/// Loyalty programme KPIs: the liability now and the flows per period.
#[derive(SimpleObject)]
pub struct LoyaltyMetrics {
    pub members: u64,
    /// Spendable points on all accounts: what the programme owes.
    pub outstanding_points: i64,
    /// Their value at `valuePer100PointsMinor` (a workspace setting).
    pub points_liability: Decimal,
    pub pending_points: i64,
    pub debt_points: i64,
    pub tier_distribution: Vec<TierShare>,
    pub buckets: Vec<LoyaltyFlow>,
    pub total: LoyaltyFlow,
}

#[derive(InputObject)]
pub struct SatisfactionMetricsInput {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    /// Only these customers' answers.
    pub filter: Option<CustomerFilter>,
    /// Count only each customer's last answer (per kind) in a period; by default every answer counts.
    #[graphql(default)]
    pub latest_per_customer: bool,
}

#[derive(SimpleObject)]
pub struct NpsResult {
    /// −100 … +100; null without responses.
    pub score: Option<f64>,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    pub responses: u64,
}

#[derive(SimpleObject)]
pub struct CsatResult {
    /// Share of 4 and 5 answers; null without responses.
    pub score: Option<f64>,
    /// The mean rating: a different number from CSAT.
    pub average_rating: Option<f64>,
    pub satisfied: u64,
    pub responses: u64,
}

impl From<satisfaction::Nps> for NpsResult {
    fn from(n: satisfaction::Nps) -> Self {
        NpsResult {
            score: n.score(),
            promoters: n.promoters,
            passives: n.passives,
            detractors: n.detractors,
            responses: n.responses(),
        }
    }
}

impl From<satisfaction::Csat> for CsatResult {
    fn from(c: satisfaction::Csat) -> Self {
        CsatResult {
            score: c.score(),
            average_rating: c.average_rating(),
            satisfied: c.satisfied,
            responses: c.responses,
        }
    }
}

#[derive(SimpleObject)]
pub struct SatisfactionBucket {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub nps: NpsResult,
    /// CSAT feedback (ticket ratings are also recorded as CSAT feedback).
    pub csat: CsatResult,
    /// Ratings of tickets resolved in the period (`ticket.satisfaction`).
    pub ticket_csat: CsatResult,
}

fn satisfaction_of(
    answers: &[service::Response],
    rated: &[(i32, DateTime<Utc>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    latest_per_customer: bool,
) -> SatisfactionBucket {
    use entity::feedback::FeedbackKind;
    let within = |at: &DateTime<Utc>| from <= *at && *at < to;
    let scores = |kind: FeedbackKind| -> Vec<i32> {
        let inside = answers.iter().filter(|(_, k, _, at)| *k == kind && within(at));
        if latest_per_customer {
            // Answers come oldest first, so the last write per customer wins.
            let latest: std::collections::HashMap<uuid::Uuid, i32> = inside.map(|(c, _, s, _)| (*c, *s)).collect();
            latest.into_values().collect()
        } else {
            inside.map(|(_, _, s, _)| *s).collect()
        }
    };
    SatisfactionBucket {
        from,
        to,
        nps: satisfaction::Nps::of(scores(FeedbackKind::Nps)).into(),
        csat: satisfaction::Csat::of(scores(FeedbackKind::Csat)).into(),
        ticket_csat: satisfaction::Csat::of(rated.iter().filter(|(_, at)| within(at)).map(|(s, _)| *s)).into(),
    }
}

#[derive(SimpleObject)]
pub struct SatisfactionMetrics {
    pub buckets: Vec<SatisfactionBucket>,
    pub total: SatisfactionBucket,
}

#[derive(Default)]
pub struct MetricsQuery;

#[Object]
impl MetricsQuery {
    /// Retention, churn, purchase and lead-conversion metrics per period (docs/metrics.md §1, §2, §5).
    #[graphql(complexity = "input.cost(child_complexity)")]
    async fn retention_metrics(
        &self,
        ctx: &Context<'_>,
        input: RetentionMetricsInput,
    ) -> async_graphql::Result<RetentionMetrics> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = crate::workspaces::service::get(db, principal.workspace_id()).await?;
        let segment = input.filter.map(|f| f.condition(&workspace.currency, db.get_database_backend())).transpose()?;
        let query = service::RetentionQuery { from: input.from, to: input.to, granularity: input.granularity, segment };
        Ok(RetentionMetrics(service::retention(db, principal.workspace_id(), query).await?))
    }

    /// The Pareto view (revenue share of the top customers) and the population historical CLV.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn customer_value(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerValue> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let now = Utc::now();
        let (mut spend, year, settings, currency) =
            service::value_inputs(state(ctx).db(), principal.workspace_id(), now).await?;
        let revenue: i128 = spend.iter().map(|s| i128::from(*s)).sum();
        let curve = value::pareto(&mut spend);
        // Unrounded into the CLV product; rounded where shown.
        let aov = money::from_minor(year.revenue_minor, &currency).checked_div(Decimal::from(year.orders));
        let lifespan = value::lifespan_years(settings.customer_lifespan_years, year.churn());
        let clv = value::historical_clv(aov.and_then(|a| a.to_f64()), year.purchase_frequency(), lifespan);
        let margin = (settings.gross_margin_percent > 0).then_some(settings.gross_margin_percent);
        Ok(CustomerValue {
            as_of: now,
            customers: spend.len() as u64,
            revenue: money::from_minor(revenue, &currency),
            top20_revenue_share: curve.iter().find(|(share, _)| *share == 0.2).and_then(|(_, r)| *r),
            pareto_curve: curve
                .into_iter()
                .map(|(customer_share, revenue_share)| ParetoPoint { customer_share, revenue_share })
                .collect(),
            average_order_value: aov.map(|a| money::at_scale(a, &currency)),
            yearly_purchase_frequency: year.purchase_frequency(),
            annual_churn: year.churn(),
            lifespan_years: lifespan,
            historical_clv: clv.and_then(|v| money::from_estimate(v, &currency)),
            gross_margin_percent: margin,
            historical_clv_with_margin: clv
                .zip(margin)
                .and_then(|(v, m)| money::from_estimate(v * m as f64 / 100.0, &currency)),
            activity_window_days: settings.activity_window_days,
        })
    }

    /// Loyalty KPIs (points liability, earn and burn, redemption rate, members, tiers) per period.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn loyalty_metrics(&self, ctx: &Context<'_>, input: PeriodInput) -> async_graphql::Result<LoyaltyMetrics> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = crate::workspaces::service::get(db, principal.workspace_id()).await?;
        let settings = crate::workspaces::settings::WorkspaceSettings::from_json(&workspace.settings);
        let zone = crate::workspaces::service::zone(&workspace);
        let bounds = periods::boundaries(input.from, input.to, input.granularity, zone)?;
        let buckets = loyalty::flows(db, workspace.id, &bounds).await?;
        let span = [bounds[0], bounds[bounds.len() - 1]];
        let total = loyalty::flows(db, workspace.id, &span).await?.remove(0);
        let standing = loyalty::standing(db, workspace.id).await?;
        let liability_minor = i128::from(standing.outstanding_points) * i128::from(settings.value_per_100_points_minor);
        let liability = money::from_minor(liability_minor, &workspace.currency) / Decimal::from(100);
        Ok(LoyaltyMetrics {
            members: standing.members,
            outstanding_points: standing.outstanding_points,
            points_liability: money::at_scale(liability, &workspace.currency),
            pending_points: standing.pending_points,
            debt_points: standing.debt_points,
            tier_distribution: standing
                .per_tier
                .into_iter()
                .map(|(tier, accounts)| TierShare {
                    tier: tier.map(crate::loyalty::Tier),
                    accounts,
                    share: retention::ratio(accounts, standing.members),
                })
                .collect(),
            buckets: buckets.into_iter().map(Into::into).collect(),
            total: total.into(),
        })
    }

    /// NPS and CSAT per period and for a segment (docs/metrics.md §4).
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn satisfaction_metrics(
        &self,
        ctx: &Context<'_>,
        input: SatisfactionMetricsInput,
    ) -> async_graphql::Result<SatisfactionMetrics> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let workspace = crate::workspaces::service::get(db, principal.workspace_id()).await?;
        let zone = crate::workspaces::service::zone(&workspace);
        let bounds = periods::boundaries(input.from, input.to, input.granularity, zone)?;
        let segment = input.filter.map(|f| f.condition(&workspace.currency, db.get_database_backend())).transpose()?;
        let (first, last) = (bounds[0], bounds[bounds.len() - 1]);
        let (answers, rated) = service::responses(db, workspace.id, &segment, first, last).await?;
        let latest = input.latest_per_customer;
        Ok(SatisfactionMetrics {
            buckets: bounds.windows(2).map(|w| satisfaction_of(&answers, &rated, w[0], w[1], latest)).collect(),
            total: satisfaction_of(&answers, &rated, first, last, latest),
        })
    }

    /// The current fit of the predictive models; null before the first `refitPredictiveModels`.
    async fn prediction_model(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PredictionModel>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let Some(model) = predictions::latest(state(ctx).db(), principal.workspace_id()).await? else {
            return Ok(None);
        };
        Ok(Some(PredictionModel(predictions::Fitted::try_from(model)?)))
    }

    /// RFM quintile scores (docs/metrics.md §7, ties share the lowest score of their block) summarised
    /// by segment, as of now. Per customer: `customer.rfm`.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn rfm(&self, ctx: &Context<'_>) -> async_graphql::Result<RfmReport> {
        use rfm::RfmSegment::*;
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let now = Utc::now();
        let currency = crate::workspaces::service::get(db, principal.workspace_id()).await?.currency;
        let inputs = service::rfm_inputs(db, principal.workspace_id(), now).await?;
        let all: Vec<rfm::Inputs> = inputs.iter().map(|(_, i)| *i).collect();
        let distribution = rfm::Distribution::new(&all);
        let order = [
            Champions,
            Loyal,
            PotentialLoyalist,
            New,
            Promising,
            NeedAttention,
            AboutToSleep,
            AtRisk,
            CannotLoseThem,
            Hibernating,
            Lost,
        ];
        let mut sizes = std::collections::HashMap::new();
        let mut ranges: [[Option<(i64, i64)>; 3]; 5] = [[None; 3]; 5];
        let widen = |slot: &mut Option<(i64, i64)>, v: i64| {
            *slot = Some(slot.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        };
        let mut total_revenue: i128 = 0;
        for i in &all {
            let Some(s) = distribution.scores(*i) else { continue };
            let entry = sizes.entry(s.segment).or_insert((0u64, 0i128));
            entry.0 += 1;
            entry.1 += i128::from(i.monetary_minor);
            total_revenue += i128::from(i.monetary_minor);
            widen(&mut ranges[usize::from(s.r) - 1][0], i.recency_days);
            widen(&mut ranges[usize::from(s.f) - 1][1], i.frequency);
            widen(&mut ranges[usize::from(s.m) - 1][2], i.monetary_minor);
        }
        let scored = all.len() as u64;
        let segments = if distribution.len() < 5 {
            Vec::new()
        } else {
            order
                .into_iter()
                .map(|segment| {
                    let (customers, revenue) = sizes.get(&segment).copied().unwrap_or_default();
                    RfmSegmentSize {
                        segment,
                        customers,
                        share: retention::ratio(customers, scored),
                        revenue: money::from_minor(revenue, &currency),
                        revenue_share: (total_revenue > 0).then(|| revenue as f64 / total_revenue as f64),
                    }
                })
                .collect()
        };
        let pair = |r: Option<(i64, i64)>| r.map(|(lo, hi)| vec![lo, hi]);
        let thresholds = (0..5)
            .map(|k| RfmThreshold {
                score: k as i32 + 1,
                recency_days: pair(ranges[k][0]),
                frequency: pair(ranges[k][1]),
                monetary_minor: pair(ranges[k][2]),
            })
            .collect();
        Ok(RfmReport { analyzed_at: now, customers: scored, segments, thresholds })
    }

    /// The cohort matrix (docs/metrics.md §6): cohorts by the period of their first completed order,
    /// one cell per later period up to the current one; future periods are left out.
    #[graphql(complexity = "input.cost(child_complexity)")]
    async fn cohort_retention(
        &self,
        ctx: &Context<'_>,
        input: CohortRetentionInput,
    ) -> async_graphql::Result<Vec<Cohort>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let report = service::cohort_matrix(
            state(ctx).db(),
            principal.workspace_id(),
            input.from,
            input.to,
            input.granularity,
            Utc::now(),
        )
        .await?;
        Ok(report
            .cohorts
            .into_iter()
            .map(|cohort| Cohort { cohort, metric: input.metric, currency: report.currency.clone(), zone: report.zone })
            .collect())
    }
}
