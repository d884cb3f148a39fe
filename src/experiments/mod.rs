//! A/B tests of retention campaigns: drafts, the audience split, and results with significance.

pub mod service;
pub mod stats;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    experiment::{self, ExperimentKind, ExperimentMetric, ExperimentStatus},
    experiment_assignment,
    follow_up::FollowUpKind,
};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, Condition, QueryFilter};
use uuid::Uuid;

use crate::{
    auth::Permission,
    child_relation,
    customers::{Customer, CustomerFilter, CustomerLoader},
    graphql::{
        AppError, AppResult, authorize,
        children::ChildRelation,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::EnumFilter,
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    money,
    users::{User, UserLoader},
    workspaces,
};
use service::{CampaignFollowUp, VariantOutcome};
use stats::Comparison;

#[derive(Clone)]
pub struct Experiment(pub experiment::Model);

#[Object]
impl Experiment {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn hypothesis(&self) -> Option<&str> {
        self.0.hypothesis.as_deref()
    }
    async fn kind(&self) -> ExperimentKind {
        self.0.kind
    }
    async fn status(&self) -> ExperimentStatus {
        self.0.status
    }
    /// In the order they were given; weights are relative shares of the audience.
    async fn variants(&self) -> async_graphql::Result<Vec<ExperimentVariant>> {
        Ok(service::variants(&self.0)?
            .into_iter()
            .map(|v| ExperimentVariant { is_control: v.name == self.0.control_variant, variant: v })
            .collect())
    }
    async fn control_variant(&self) -> &str {
        &self.0.control_variant
    }
    async fn success_metric(&self) -> ExperimentMetric {
        self.0.success_metric
    }
    /// Each customer's outcome counts the orders placed in this many days from their assignment.
    async fn window_days(&self) -> i32 {
        self.0.window_days
    }
    /// Customers assigned when it started.
    async fn audience_size(&self) -> i32 {
        self.0.audience_size
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The staff member who drafted it (null for an API key).
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.created_by {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }

    /// Each treatment against the control so far; null for a draft. Significance is judged on the
    /// success metric with Holm's correction across treatments, at `confidenceLevel`. It reads every
    /// assignment and their orders, so it is a heavy field in query complexity.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn results(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0.95)] confidence_level: f64,
    ) -> async_graphql::Result<Option<ExperimentResults>> {
        if !(0.5..=0.999).contains(&confidence_level) {
            return Err(AppError::bad_input("confidenceLevel", "between 0.5 and 0.999").into());
        }
        if self.0.status == ExperimentStatus::Draft {
            return Ok(None);
        }
        let db = state(ctx).db();
        let workspace = workspaces::service::get(db, self.0.workspace_id).await?;
        let results = service::results(db, &self.0, confidence_level, Utc::now()).await?;
        Ok(Some(ExperimentResults::new(results, self.0.success_metric, confidence_level, workspace.currency)))
    }

    /// Who is in which variant, in assignment order.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn assignments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        variant: Option<String>,
    ) -> async_graphql::Result<Page<ExperimentAssignment>> {
        let mut query = ExperimentMembers::of(self.0.id);
        if let Some(variant) = variant {
            query = query.filter(experiment_assignment::Column::Variant.eq(variant));
        }
        let order = vec![SortKey::new(experiment_assignment::Column::AssignedAt, SortDirection::Asc)];
        let args = PageArgs { first, after, last, before };
        let db = state(ctx).db();
        Ok(paginate(db, query, order, experiment_assignment::Column::Id, args, ExperimentAssignment).await?)
    }
}

pub struct ExperimentVariant {
    variant: service::Variant,
    is_control: bool,
}

#[Object]
impl ExperimentVariant {
    async fn name(&self) -> &str {
        &self.variant.name
    }
    async fn weight(&self) -> u32 {
        self.variant.weight
    }
    async fn is_control(&self) -> bool {
        self.is_control
    }
    /// The follow-up each customer of this variant got when the test started.
    async fn follow_up(&self) -> async_graphql::Result<Option<CampaignFollowUpSpec>> {
        Ok(match &self.variant.follow_up {
            Some(f) => Some(CampaignFollowUpSpec { kind: f.kind()?, due_in_days: f.due_in_days, note: f.note.clone() }),
            None => None,
        })
    }
}

#[derive(SimpleObject)]
pub struct CampaignFollowUpSpec {
    pub kind: FollowUpKind,
    pub due_in_days: u32,
    pub note: Option<String>,
}

pub struct ExperimentAssignment(pub experiment_assignment::Model);

#[Object]
impl ExperimentAssignment {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn experiment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Experiment>> {
        loader::<ExperimentLoader>(ctx)?.load_one(self.0.experiment_id).await
    }
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        loader::<CustomerLoader>(ctx)?.load_one(self.0.customer_id).await
    }
    async fn variant(&self) -> &str {
        &self.0.variant
    }
    async fn assigned_at(&self) -> DateTime<Utc> {
        self.0.assigned_at
    }
    /// Orders placed before this count towards the experiment.
    async fn window_ends_at(&self) -> DateTime<Utc> {
        self.0.window_ends_at
    }
}

child_relation!(
    /// A customer's experiment assignments, newest first.
    CustomerExperiments,
    experiment_assignment,
    CustomerId,
    AssignedAt,
    Desc
);

child_relation!(
    /// An experiment's assignments.
    ExperimentMembers,
    experiment_assignment,
    ExperimentId,
    AssignedAt,
    Asc
);

crate::id_loader!(
    /// Batches experiment lookups of one request (ids come from rows already in the workspace).
    ExperimentLoader,
    experiment,
    Experiment
);

/// Treatment minus control on the purchase rate. The test and the interval are one method, the
/// score test of the difference: `pValue` is the pooled two-proportion z-test (the score test of
/// "no difference") and the interval holds every difference that test would not reject
/// (Miettinen–Nurminen score interval, without their n/(n−1) factor). So the interval excludes 0
/// exactly when `pValue` is below 1 − confidence level, and it stays within [−1, 1].
#[derive(SimpleObject)]
pub struct RateComparison {
    pub difference: f64,
    /// Difference / control rate; null when the control's rate is 0.
    pub relative_lift: Option<f64>,
    /// Lower end of the score interval of the difference at the results' confidence level.
    pub confidence_low: f64,
    /// Upper end of the score interval of the difference at the results' confidence level.
    pub confidence_high: f64,
    /// Two-sided p-value of the pooled two-proportion z-test (not corrected for several treatments).
    pub p_value: f64,
}

/// Treatment minus control on revenue per customer (Welch's t-test).
#[derive(SimpleObject)]
pub struct MoneyComparison {
    pub difference: Option<Decimal>,
    pub relative_lift: Option<f64>,
    pub confidence_low: Option<Decimal>,
    pub confidence_high: Option<Decimal>,
    pub p_value: f64,
}

#[derive(SimpleObject)]
pub struct VariantResult {
    pub name: String,
    pub is_control: bool,
    pub customers: u64,
    /// Customers with at least one completed order in their window.
    pub purchasers: u64,
    /// Purchasers / customers; null with no customers.
    pub purchase_rate: Option<f64>,
    pub orders: u64,
    pub revenue: Decimal,
    /// Revenue / customers (non-buyers count as 0); null with no customers.
    pub revenue_per_customer: Option<Decimal>,
    /// Against the control; null for the control and when a variant has no customers.
    pub purchase_rate_vs_control: Option<RateComparison>,
    /// Against the control; null for the control and below two customers in a variant.
    pub revenue_per_customer_vs_control: Option<MoneyComparison>,
    /// The success metric's p-value after Holm's correction across the treatments.
    pub adjusted_p_value: Option<f64>,
    /// Adjusted p-value below 1 − confidence level.
    pub significant: bool,
}

#[derive(SimpleObject)]
pub struct ExperimentResults {
    pub confidence_level: f64,
    /// Orders placed up to here are counted.
    pub observed_until: DateTime<Utc>,
    /// Every customer's window has closed: the numbers are final.
    pub complete: bool,
    /// Chi-square test of the split against the weights; below 0.001 the assignment itself is
    /// suspect and so are the results.
    pub sample_ratio_p_value: Option<f64>,
    pub variants: Vec<VariantResult>,
    /// The treatment that beats the control significantly on the success metric by the most; only
    /// named once the results are complete, since looking early inflates false positives.
    pub winner: Option<String>,
}

impl ExperimentResults {
    fn new(results: service::Results, metric: ExperimentMetric, confidence_level: f64, currency: String) -> Self {
        let winner = if results.complete {
            service::winner(&results.analysis, metric).map(|o| o.variant.name.clone())
        } else {
            None
        };
        let variants = results.analysis.variants.into_iter().map(|o| variant_result(o, &currency)).collect();
        ExperimentResults {
            confidence_level,
            observed_until: results.observed_until,
            complete: results.complete,
            sample_ratio_p_value: results.analysis.sample_ratio_p_value,
            variants,
            winner,
        }
    }
}

fn variant_result(o: VariantOutcome, currency: &str) -> VariantResult {
    let t = &o.tally;
    let minor_to_money =
        |minor: f64| money::from_estimate(minor / 10f64.powi(money::exponent(currency).unwrap_or(2) as i32), currency);
    let rate = |c: Comparison| RateComparison {
        difference: c.difference,
        relative_lift: c.relative_lift,
        confidence_low: c.low,
        confidence_high: c.high,
        p_value: c.p_value,
    };
    let spend = |c: Comparison| MoneyComparison {
        difference: minor_to_money(c.difference),
        relative_lift: c.relative_lift,
        confidence_low: minor_to_money(c.low),
        confidence_high: minor_to_money(c.high),
        p_value: c.p_value,
    };
    let revenue = money::from_minor(i64::try_from(t.revenue_minor).unwrap_or(i64::MAX), currency);
    VariantResult {
        name: o.variant.name,
        is_control: o.is_control,
        customers: t.customers,
        purchasers: t.purchasers,
        purchase_rate: crate::metrics::retention::ratio(t.purchasers, t.customers),
        orders: t.orders,
        revenue_per_customer: money::mean(t.revenue_minor, t.customers, currency),
        revenue,
        purchase_rate_vs_control: o.purchase_rate.map(rate),
        revenue_per_customer_vs_control: o.revenue_per_customer.map(spend),
        adjusted_p_value: o.adjusted_p_value,
        significant: o.significant,
    }
}

#[derive(InputObject, Default)]
pub struct ExperimentFilter {
    pub status: Option<EnumFilter<ExperimentStatus>>,
    pub kind: Option<EnumFilter<ExperimentKind>>,
}

impl ExperimentFilter {
    fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(f) = &self.status {
            all = all.add(f.condition(experiment::Column::Status));
        }
        if let Some(f) = &self.kind {
            all = all.add(f.condition(experiment::Column::Kind));
        }
        all
    }
}

#[derive(Default)]
pub struct ExperimentQuery;

#[Object]
impl ExperimentQuery {
    /// The workspace's experiments, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ExperimentFilter>,
    ) -> async_graphql::Result<Page<Experiment>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let mut query = service::query(principal.workspace_id());
        if let Some(filter) = &filter {
            query = query.filter(filter.condition());
        }
        let order = vec![SortKey::new(experiment::Column::CreatedAt, SortDirection::Desc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, experiment::Column::Id, args, Experiment).await?)
    }

    async fn experiment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Experiment> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(Experiment(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }
}

#[derive(InputObject)]
pub struct CampaignFollowUpInput {
    pub kind: FollowUpKind,
    /// Days after the start the follow-up is due.
    #[graphql(default = 0)]
    pub due_in_days: u32,
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct ExperimentVariantInput {
    pub name: String,
    /// Relative share of the audience, 1–100.
    #[graphql(default = 1)]
    pub weight: u32,
    /// A follow-up for staff for each customer of this variant (the campaign's action); the
    /// control normally has none.
    pub follow_up: Option<CampaignFollowUpInput>,
}

#[derive(InputObject)]
pub struct CreateExperimentInput {
    pub name: String,
    pub hypothesis: Option<String>,
    #[graphql(default_with = "ExperimentKind::Retention")]
    pub kind: ExperimentKind,
    /// 2–10 variants with distinct names.
    pub variants: Vec<ExperimentVariantInput>,
    /// Defaults to the first variant.
    pub control_variant: Option<String>,
    #[graphql(default_with = "ExperimentMetric::PurchaseRate")]
    pub success_metric: ExperimentMetric,
    /// 1–365.
    #[graphql(default = 30)]
    pub window_days: i32,
}

#[derive(InputObject)]
pub struct StartExperimentInput {
    pub experiment_id: ID,
    /// Customers matching this filter (all customers when omitted).
    pub audience: Option<CustomerFilter>,
    /// A reproducible random sample of at most this many of them.
    pub max_customers: Option<u32>,
    /// Leave out customers already in another running experiment, so tests do not blur each other.
    #[graphql(default = true)]
    pub exclusive: bool,
}

#[derive(InputObject)]
pub struct ExperimentIdInput {
    pub experiment_id: ID,
}

#[derive(SimpleObject)]
pub struct ExperimentPayload {
    pub experiment: Experiment,
}

#[derive(Default)]
pub struct ExperimentMutation;

#[Object]
impl ExperimentMutation {
    /// Drafts an A/B test of a retention campaign.
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        input: CreateExperimentInput,
    ) -> async_graphql::Result<ExperimentPayload> {
        let principal = authorize(ctx, Permission::ManageExperiments)?;
        let new = service::NewExperiment {
            name: input.name,
            hypothesis: input.hypothesis,
            kind: input.kind,
            variants: input
                .variants
                .into_iter()
                .map(|v| service::Variant {
                    name: v.name,
                    weight: v.weight,
                    follow_up: v.follow_up.map(|f| CampaignFollowUp::new(f.kind, f.due_in_days, f.note)),
                })
                .collect(),
            control_variant: input.control_variant,
            success_metric: input.success_metric,
            window_days: input.window_days,
        };
        let (workspace_id, actor) = (principal.workspace_id(), principal.actor());
        let created =
            transact(state(ctx).db(), async |txn| service::create(txn, workspace_id, actor, new, Utc::now()).await)
                .await?;
        Ok(ExperimentPayload { experiment: Experiment(created) })
    }

    /// Splits the audience between the variants (once; each customer's window starts now) and
    /// schedules the variants' follow-ups.
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn start_experiment(
        &self,
        ctx: &Context<'_>,
        input: StartExperimentInput,
    ) -> async_graphql::Result<ExperimentPayload> {
        let principal = authorize(ctx, Permission::ManageExperiments)?;
        let id = parse_id(&input.experiment_id, "input.experimentId")?;
        let db = state(ctx).db();
        let (workspace_id, actor) = (principal.workspace_id(), principal.actor());
        let audience = match &input.audience {
            Some(filter) => {
                let workspace = workspaces::service::get(db, workspace_id).await?;
                Some(filter.condition(&workspace.currency, db.get_database_backend())?)
            }
            None => None,
        };
        let start = service::Start { audience, max_customers: input.max_customers, exclusive: input.exclusive };
        let started =
            transact(db, async |txn| service::start(txn, workspace_id, actor, id, start, Utc::now()).await).await?;
        Ok(ExperimentPayload { experiment: Experiment(started) })
    }

    /// Ends a running experiment.
    async fn complete_experiment(
        &self,
        ctx: &Context<'_>,
        input: ExperimentIdInput,
    ) -> async_graphql::Result<ExperimentPayload> {
        end(ctx, input, service::complete).await
    }

    /// Calls off a draft or running experiment and skips its pending follow-ups.
    async fn cancel_experiment(
        &self,
        ctx: &Context<'_>,
        input: ExperimentIdInput,
    ) -> async_graphql::Result<ExperimentPayload> {
        end(ctx, input, service::cancel).await
    }
}

async fn end(
    ctx: &Context<'_>,
    input: ExperimentIdInput,
    how: impl AsyncFnOnce(
        &sea_orm::DatabaseTransaction,
        Uuid,
        crate::auth::Actor,
        Uuid,
        DateTime<Utc>,
    ) -> AppResult<experiment::Model>,
) -> async_graphql::Result<ExperimentPayload> {
    let principal = authorize(ctx, Permission::ManageExperiments)?;
    let id = parse_id(&input.experiment_id, "input.experimentId")?;
    let (workspace_id, actor) = (principal.workspace_id(), principal.actor());
    let ended = transact(state(ctx).db(), async |txn| how(txn, workspace_id, actor, id, Utc::now()).await).await?;
    Ok(ExperimentPayload { experiment: Experiment(ended) })
}
