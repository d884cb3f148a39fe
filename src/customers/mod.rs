//! Customers: profile, tags, notes, order statistics, lifecycle, and the lists hanging off them.

pub mod lifecycle;
pub mod privacy;
pub mod service;

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    customer::{self, LifecycleStage},
    customer_note, customer_tag,
    enums::{AcquisitionSource, AgeBand, Channel, IncomeBand},
    lifecycle_event, order, ticket,
};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use crate::{
    auth::Permission,
    child_relation,
    experiments::{CustomerExperiments, ExperimentAssignment},
    feedback::{CustomerFeedback, Feedback},
    follow_ups::{CustomerFollowUps, FollowUp},
    graphql::{
        AppError, AppResult, authorize,
        children::{children_page, node_selections, prefetch},
        connection::{NullsPlacement, Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, IdFilter, IntFilter, MoneyFilter, StringFilter, boolean_ops},
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    interactions::{CustomerInteractions, Interaction},
    loyalty::{AccountByCustomerLoader, LoyaltyAccount},
    money,
    orders::{CustomerOrders, Order, OrderFilter},
    profile::{Profile, ProfileInput},
    profile_of,
    tickets::{CustomerTickets, Ticket, TicketFilter},
    users::{User, UserLoader},
    workspaces::WorkspaceLoader,
};

#[derive(Clone)]
pub struct Customer(pub customer::Model);

impl Customer {
    async fn currency(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let workspace = loader::<WorkspaceLoader>(ctx)?.load_one(self.0.workspace_id).await?;
        Ok(workspace.map(|w| w.currency).unwrap_or_default())
    }
}

#[Object]
impl Customer {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn external_ref(&self) -> Option<&str> {
        self.0.external_ref.as_deref()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn birthday(&self) -> Option<NaiveDate> {
        self.0.birthday
    }
    async fn anniversary(&self) -> Option<NaiveDate> {
        self.0.anniversary
    }
    async fn lifecycle_stage(&self) -> LifecycleStage {
        self.0.lifecycle_stage
    }
    async fn lifecycle_changed_at(&self) -> DateTime<Utc> {
        self.0.lifecycle_changed_at
    }
    /// When a NOT_NOW customer should be contacted again.
    async fn not_now_until(&self) -> Option<DateTime<Utc>> {
        self.0.not_now_until
    }
    async fn source(&self) -> Option<AcquisitionSource> {
        self.0.source
    }
    async fn marketing_consent(&self) -> bool {
        self.0.marketing_consent
    }
    async fn profile(&self) -> Profile {
        profile_of!(&self.0)
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.owner_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(loader::<TagLoader>(ctx)?.load_one(self.0.id).await?.unwrap_or_default())
    }
    /// Completed orders.
    async fn order_count(&self) -> i32 {
        self.0.order_count
    }
    /// Sum of completed orders (historic value), in the workspace currency.
    async fn total_spent(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(money::from_minor(self.0.total_spent_minor, &self.currency(ctx).await?))
    }
    /// Mean completed order value, rounded to the currency's minor unit; null without orders.
    async fn average_order_value(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Decimal>> {
        if self.0.order_count == 0 {
            return Ok(None);
        }
        let currency = self.currency(ctx).await?;
        let orders = u64::try_from(self.0.order_count).unwrap_or_default();
        Ok(money::mean(i128::from(self.0.total_spent_minor), orders, &currency))
    }
    async fn first_order_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_order_at
    }
    async fn last_order_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_order_at
    }
    /// RFM quintile scores and segment within the workspace (null without completed orders).
    async fn rfm(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::metrics::RfmScores>> {
        crate::metrics::customer_rfm(ctx, &self.0).await
    }
    /// Predictions from the workspace's current BG/NBD and Gamma-Gamma fit; null before a fit or
    /// for customers who had not bought by its observation end.
    async fn predictions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<std::sync::Arc<crate::metrics::CustomerPredictions>>> {
        crate::metrics::customer_predictions(ctx, &self.0).await
    }
    /// The latest at-risk assessment with its reasons; null when the customer was not found at risk.
    async fn risk(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<std::sync::Arc<crate::metrics::at_risk::AtRiskCustomer>>> {
        crate::metrics::at_risk::customer_risk(ctx, &self.0).await
    }
    /// Whole days since the last completed order; null without orders.
    async fn days_since_last_order(&self) -> Option<i64> {
        self.0.last_order_at.map(|t| (Utc::now() - t).num_days())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Recent outbound contact attempts and whether the customer is hard to reach.
    async fn reachability(&self, ctx: &Context<'_>) -> async_graphql::Result<ReachabilityView> {
        let key = (self.0.workspace_id, self.0.id);
        Ok(loader::<ReachabilityLoader>(ctx)?.load_one(key).await?.unwrap_or_default())
    }

    /// Contacts with the customer (and with the lead they were), newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Interaction>> {
        children_page::<CustomerInteractions, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Interaction)
            .await
    }

    /// Scheduled touch points, soonest due first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn follow_ups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<FollowUp>> {
        children_page::<CustomerFollowUps, _>(ctx, self.0.id, PageArgs { first, after, last, before }, FollowUp).await
    }

    /// NPS, CSAT and reviews, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn feedback(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Feedback>> {
        children_page::<CustomerFeedback, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Feedback).await
    }

    /// The A/B tests the customer is in, and in which variant, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<ExperimentAssignment>> {
        let args = PageArgs { first, after, last, before };
        children_page::<CustomerExperiments, _>(ctx, self.0.id, args, ExperimentAssignment).await
    }

    /// The loyalty account, if the customer is enrolled.
    async fn loyalty_account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LoyaltyAccount>> {
        loader::<AccountByCustomerLoader>(ctx)?.load_one(self.0.id).await
    }

    /// Tickets and complaints, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Ticket>> {
        authorize(ctx, Permission::ReadTickets)?;
        children_page::<CustomerTickets, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Ticket).await
    }

    /// Orders, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<Order>> {
        children_page::<CustomerOrders, _>(ctx, self.0.id, PageArgs { first, after, last, before }, Order).await
    }

    /// Personal facts staff should remember, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<CustomerNote>> {
        children_page::<CustomerNotes, _>(ctx, self.0.id, PageArgs { first, after, last, before }, CustomerNote).await
    }

    /// Every lifecycle change with its reason, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn lifecycle_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<LifecycleChange>> {
        children_page::<LifecycleHistory, _>(ctx, self.0.id, PageArgs { first, after, last, before }, LifecycleChange)
            .await
    }
}

pub struct CustomerNote(pub customer_note::Model);

#[Object]
impl CustomerNote {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.author_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct LifecycleChange(pub lifecycle_event::Model);

#[Object]
impl LifecycleChange {
    async fn from_stage(&self) -> Option<LifecycleStage> {
        self.0.from_stage
    }
    async fn to_stage(&self) -> LifecycleStage {
        self.0.to_stage
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// The staff user or key who made the change; null when the rules did.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(to_id)
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

child_relation!(CustomerNotes, customer_note, CustomerId, CreatedAt, Desc);

child_relation!(LifecycleHistory, lifecycle_event, CustomerId, CreatedAt, Desc);

crate::id_loader!(
    /// Batches customer lookups of one request.
    CustomerLoader,
    customer,
    Customer
);

/// Outbound contact attempts in the activity window.
#[derive(SimpleObject, Clone, Copy, Default)]
pub struct ReachabilityView {
    pub attempts: i64,
    /// Attempts that got no answer or bounced.
    pub unanswered: i64,
    /// Enough attempts, and a large enough share unanswered (workspace settings).
    pub hard_to_reach: bool,
}

/// Batches reachability of one request; keys are (workspace, customer).
pub struct ReachabilityLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<(Uuid, Uuid)> for ReachabilityLoader {
    type Value = ReachabilityView;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(Uuid, Uuid)]) -> Result<HashMap<(Uuid, Uuid), ReachabilityView>, Self::Error> {
        let mut by_workspace: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (workspace, customer) in keys {
            by_workspace.entry(*workspace).or_default().push(*customer);
        }
        let mut out = HashMap::new();
        for (workspace, customers) in by_workspace {
            let settings = crate::workspaces::service::settings(&self.0, workspace).await?;
            let mut found = lifecycle::reachability_of(&self.0, &customers, &settings, Utc::now()).await?;
            for customer in customers {
                let r = found.remove(&customer).unwrap_or_default();
                let view = ReachabilityView {
                    attempts: r.attempts,
                    unanswered: r.unanswered,
                    hard_to_reach: r.hard_to_reach(&settings),
                };
                out.insert((workspace, customer), view);
            }
        }
        Ok(out)
    }
}

/// Batches tag lookups of one request.
pub struct TagLoader(pub DatabaseConnection);

impl async_graphql::dataloader::Loader<Uuid> for TagLoader {
    type Value = Vec<String>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<String>>, Self::Error> {
        // Every key gets an entry, so untagged customers are cached too.
        let mut out: HashMap<Uuid, Vec<String>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for tag in service::tags_of(&self.0, keys).await? {
            out.entry(tag.customer_id).or_default().push(tag.tag);
        }
        Ok(out)
    }
}

#[derive(InputObject, Default)]
pub struct CustomerFilter {
    pub name: Option<StringFilter>,
    pub email: Option<StringFilter>,
    pub phone: Option<StringFilter>,
    pub external_ref: Option<StringFilter>,
    pub lifecycle_stage: Option<EnumFilter<LifecycleStage>>,
    pub owner_id: Option<IdFilter>,
    pub source: Option<EnumFilter<AcquisitionSource>>,
    /// Customers with at least one of these tags.
    pub tags_any: Option<Vec<String>>,
    /// Customers with all of these tags.
    pub tags_all: Option<Vec<String>>,
    pub city: Option<StringFilter>,
    pub region: Option<StringFilter>,
    pub country: Option<StringFilter>,
    pub age_band: Option<EnumFilter<AgeBand>>,
    pub income_band: Option<EnumFilter<IncomeBand>>,
    pub preferred_channel: Option<EnumFilter<Channel>>,
    pub marketing_consent: Option<bool>,
    /// Month of the birthday, 1–12.
    pub birthday_month: Option<u32>,
    pub order_count: Option<IntFilter>,
    pub total_spent: Option<MoneyFilter>,
    pub last_order_at: Option<DateTimeFilter>,
    pub created_at: Option<DateTimeFilter>,
    /// Customers with at least one order matching this filter.
    pub has_order: Option<OrderFilter>,
    /// Customers with at least one ticket matching this filter (e.g. `{ open: true, kind: { eq: COMPLAINT } }`).
    pub has_ticket: Option<TicketFilter>,
    /// Loyalty members whose account is in this tier (`isNull: true`: members below the first tier).
    pub loyalty_tier_id: Option<IdFilter>,
    pub and: Option<Vec<CustomerFilter>>,
    pub or: Option<Vec<CustomerFilter>>,
    pub not: Option<Box<CustomerFilter>>,
}

impl CustomerFilter {
    pub(crate) fn condition(&self, currency: &str, backend: sea_orm::DbBackend) -> AppResult<Condition> {
        use customer::Column as C;
        let mut all = Condition::all();
        let text = [
            (&self.name, C::Name),
            (&self.email, C::Email),
            (&self.phone, C::Phone),
            (&self.external_ref, C::ExternalRef),
            (&self.city, C::City),
            (&self.region, C::Region),
            (&self.country, C::Country),
        ];
        for (filter, column) in text {
            if let Some(f) = filter {
                all = all.add(f.condition(column));
            }
        }
        if let Some(f) = &self.lifecycle_stage {
            all = all.add(f.condition(C::LifecycleStage));
        }
        if let Some(f) = &self.owner_id {
            all = all.add(f.condition(C::OwnerId, "filter.ownerId")?);
        }
        if let Some(f) = &self.source {
            all = all.add(f.condition(C::Source));
        }
        if let Some(f) = &self.age_band {
            all = all.add(f.condition(C::AgeBand));
        }
        if let Some(f) = &self.income_band {
            all = all.add(f.condition(C::IncomeBand));
        }
        if let Some(f) = &self.preferred_channel {
            all = all.add(f.condition(C::PreferredChannel));
        }
        if let Some(consent) = self.marketing_consent {
            all = all.add(C::MarketingConsent.eq(consent));
        }
        if let Some(tags) = &self.tags_any {
            all = all.add(C::Id.in_subquery(tagged(tags).to_owned()));
        }
        for tag in self.tags_all.iter().flatten() {
            all = all.add(C::Id.in_subquery(tagged(std::slice::from_ref(tag)).to_owned()));
        }
        if let Some(month) = self.birthday_month {
            if !(1..=12).contains(&month) {
                return Err(AppError::bad_input("filter.birthdayMonth", "a month is 1 to 12"));
            }
            let month_expr = match backend {
                sea_orm::DbBackend::Postgres => {
                    Expr::cust_with_values("EXTRACT(MONTH FROM \"customer\".\"birthday\") = $1", [month as i32])
                }
                _ => Expr::cust_with_values(
                    "CAST(strftime('%m', \"customer\".\"birthday\") AS INTEGER) = ?",
                    [month as i32],
                ),
            };
            all = all.add(month_expr);
        }
        if let Some(f) = &self.order_count {
            all = all.add(f.condition(C::OrderCount));
        }
        if let Some(f) = &self.total_spent {
            all = all.add(f.condition(C::TotalSpentMinor, currency, "filter.totalSpent")?);
        }
        if let Some(f) = &self.last_order_at {
            all = all.add(f.condition(C::LastOrderAt));
        }
        if let Some(f) = &self.created_at {
            all = all.add(f.condition(C::CreatedAt));
        }
        if let Some(f) = &self.has_order {
            let orders = order::Entity::find()
                .select_only()
                .column(order::Column::CustomerId)
                .filter(f.condition(currency)?)
                .into_query();
            all = all.add(C::Id.in_subquery(orders));
        }
        if let Some(f) = &self.has_ticket {
            let tickets = ticket::Entity::find()
                .select_only()
                .column(ticket::Column::CustomerId)
                .filter(ticket::Column::CustomerId.is_not_null())
                .filter(f.condition()?)
                .into_query();
            all = all.add(C::Id.in_subquery(tickets));
        }
        if let Some(f) = &self.loyalty_tier_id {
            let members = entity::loyalty_account::Entity::find()
                .select_only()
                .column(entity::loyalty_account::Column::CustomerId)
                .filter(f.condition(entity::loyalty_account::Column::TierId, "filter.loyaltyTierId")?)
                .into_query();
            all = all.add(C::Id.in_subquery(members));
        }
        boolean_ops(all, &self.and, &self.or, &self.not, |f| f.condition(currency, backend))
    }
}

/// Loads what the page's nodes will ask for in a few statements, whatever the page size.
async fn prefetch_for_page(ctx: &Context<'_>, page: &Page<Customer>) -> async_graphql::Result<()> {
    let nodes = node_selections(ctx);
    let ids: Vec<Uuid> = page.edges.iter().map(|e| e.node.0.id).collect();
    prefetch::<CustomerOrders>(ctx, &nodes, "orders", &ids).await?;
    prefetch::<CustomerNotes>(ctx, &nodes, "notes", &ids).await?;
    prefetch::<LifecycleHistory>(ctx, &nodes, "lifecycleHistory", &ids).await?;
    prefetch::<CustomerInteractions>(ctx, &nodes, "interactions", &ids).await?;
    prefetch::<CustomerFollowUps>(ctx, &nodes, "followUps", &ids).await?;
    prefetch::<CustomerFeedback>(ctx, &nodes, "feedback", &ids).await?;
    prefetch::<CustomerTickets>(ctx, &nodes, "tickets", &ids).await?;
    prefetch::<CustomerExperiments>(ctx, &nodes, "experiments", &ids).await?;
    let asks = |field: &str| nodes.iter().any(|n| n.field(field).exists());
    if asks("reachability") {
        let keys = page.edges.iter().map(|e| (e.node.0.workspace_id, e.node.0.id));
        loader::<ReachabilityLoader>(ctx)?.load_many(keys).await?;
    }
    if asks("tags") {
        loader::<TagLoader>(ctx)?.load_many(ids.iter().copied()).await?;
    }
    if asks("owner") {
        loader::<UserLoader>(ctx)?.load_many(page.edges.iter().filter_map(|e| e.node.0.owner_id)).await?;
    }
    if asks("totalSpent") || asks("averageOrderValue") {
        loader::<WorkspaceLoader>(ctx)?.load_many(page.edges.iter().map(|e| e.node.0.workspace_id)).await?;
    }
    Ok(())
}

/// `SELECT customer_id FROM customer_tag WHERE tag IN (…)`.
fn tagged(tags: &[String]) -> sea_orm::sea_query::SelectStatement {
    let tags: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
    Query::select()
        .column(customer_tag::Column::CustomerId)
        .from(customer_tag::Entity)
        .and_where(customer_tag::Column::Tag.is_in(tags))
        .to_owned()
}

#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum CustomerOrderField {
    Name,
    CreatedAt,
    LastOrderAt,
    TotalSpent,
    OrderCount,
}

#[derive(InputObject, Clone, Copy)]
pub struct CustomerOrder {
    pub field: CustomerOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
    /// For fields that can be empty (`LAST_ORDER_AT`): where customers without a value go.
    #[graphql(default)]
    pub nulls: NullsPlacement,
}

#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// Customers of the workspace. Default order: newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<CustomerFilter>,
        order_by: Option<Vec<CustomerOrder>>,
    ) -> async_graphql::Result<Page<Customer>> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let db = state(ctx).db();
        let mut query = service::query(principal.workspace_id());
        if let Some(filter) = &filter {
            let workspace = crate::workspaces::service::get(db, principal.workspace_id()).await?;
            query = query.filter(filter.condition(&workspace.currency, db.get_database_backend())?);
        }
        let order = order_by
            .unwrap_or_else(|| {
                vec![CustomerOrder {
                    field: CustomerOrderField::CreatedAt,
                    direction: SortDirection::Desc,
                    nulls: NullsPlacement::Last,
                }]
            })
            .into_iter()
            .map(|o| match o.field {
                CustomerOrderField::Name => SortKey::new(customer::Column::Name, o.direction),
                CustomerOrderField::CreatedAt => SortKey::new(customer::Column::CreatedAt, o.direction),
                CustomerOrderField::TotalSpent => SortKey::new(customer::Column::TotalSpentMinor, o.direction),
                CustomerOrderField::OrderCount => SortKey::new(customer::Column::OrderCount, o.direction),
                CustomerOrderField::LastOrderAt => {
                    SortKey::nullable_time(customer::Column::LastOrderAt, o.direction, o.nulls)
                }
            })
            .collect();
        let page =
            paginate(db, query, order, customer::Column::Id, PageArgs { first, after, last, before }, Customer).await?;
        prefetch_for_page(ctx, &page).await?;
        Ok(page)
    }

    /// Everything held about a person, for a data-subject access request (admins, managers).
    #[graphql(complexity = "crate::graphql::limits::HEAVY_FIELD_COST + child_complexity")]
    async fn export_customer_data(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<async_graphql::Json<serde_json::Value>> {
        let principal = authorize(ctx, Permission::ManagePersonalData)?;
        let id = parse_id(&id, "id")?;
        let export = transact(state(ctx).db(), async |txn| {
            privacy::export(txn, principal.workspace_id(), principal.actor(), id).await
        })
        .await?;
        Ok(async_graphql::Json(export))
    }

    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Customer> {
        let principal = authorize(ctx, Permission::ReadCustomers)?;
        let id = parse_id(&id, "id")?;
        Ok(Customer(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }
}

#[derive(InputObject)]
pub struct CreateCustomerInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Your system's id for the customer; unique per workspace.
    pub external_ref: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub anniversary: Option<NaiveDate>,
    pub owner_id: Option<ID>,
    pub source: Option<AcquisitionSource>,
    /// A customer's referral code: both sides earn the workspace's referral points when this
    /// customer's first order completes (and survives the approval period).
    pub referral_code: Option<String>,
    #[graphql(default)]
    pub marketing_consent: bool,
    #[graphql(default)]
    pub tags: Vec<String>,
    pub profile: Option<ProfileInput>,
}

#[derive(InputObject)]
pub struct UpdateCustomerInput {
    pub customer_id: ID,
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub external_ref: MaybeUndefined<String>,
    pub birthday: MaybeUndefined<NaiveDate>,
    pub anniversary: MaybeUndefined<NaiveDate>,
    pub owner_id: MaybeUndefined<ID>,
    pub marketing_consent: Option<bool>,
    /// Replaces all tags when given.
    pub tags: Option<Vec<String>>,
    pub profile: Option<ProfileInput>,
}

#[derive(SimpleObject)]
pub struct CustomerPayload {
    pub customer: Customer,
}

#[derive(InputObject)]
pub struct AddCustomerNoteInput {
    pub customer_id: ID,
    pub body: String,
}

#[derive(SimpleObject)]
pub struct AddCustomerNotePayload {
    pub note: CustomerNote,
}

#[derive(InputObject)]
pub struct MarkCustomerNotNowInput {
    pub customer_id: ID,
    /// When to get back to them (a NOT_NOW_REVISIT follow-up is due then).
    pub until: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(InputObject)]
pub struct SetLifecycleStageInput {
    pub customer_id: ID,
    pub stage: LifecycleStage,
    pub reason: String,
}

#[derive(InputObject)]
pub struct MergeCustomersInput {
    /// The customer that stays.
    pub survivor_id: ID,
    /// The duplicate folded into the survivor.
    pub merged_id: ID,
    #[graphql(default)]
    pub dry_run: bool,
}

#[derive(SimpleObject)]
pub struct MergeCustomersPayload {
    pub survivor: Customer,
    /// Survivor fields that were empty and are taken from the merged customer.
    pub filled_fields: Vec<String>,
    /// What moves to the survivor.
    pub moved: privacy::MergeCounts,
    pub dry_run: bool,
}

#[derive(InputObject)]
pub struct CustomerIdInput {
    pub customer_id: ID,
}

#[derive(Default)]
pub struct CustomerMutation;

#[Object]
impl CustomerMutation {
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let new = service::NewCustomer {
            name: input.name,
            email: input.email,
            phone: input.phone,
            external_ref: input.external_ref,
            birthday: input.birthday,
            anniversary: input.anniversary,
            owner_id: input.owner_id.as_ref().map(|id| parse_id(id, "input.ownerId")).transpose()?,
            source: input.source,
            referral_code: input.referral_code,
            marketing_consent: input.marketing_consent,
            tags: input.tags,
            profile: input.profile.unwrap_or_default(),
            ..Default::default()
        };
        let customer = transact(state(ctx).db(), async |txn| {
            service::create(txn, principal.workspace_id(), principal.actor(), new).await
        })
        .await?;
        Ok(CustomerPayload { customer: Customer(customer) })
    }

    /// Changes a customer: absent fields are kept, `null` clears.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.customer_id, "input.customerId")?;
        let owner_id = match input.owner_id {
            MaybeUndefined::Value(id) => MaybeUndefined::Value(parse_id(&id, "input.ownerId")?),
            MaybeUndefined::Null => MaybeUndefined::Null,
            MaybeUndefined::Undefined => MaybeUndefined::Undefined,
        };
        let changes = service::CustomerChanges {
            name: input.name,
            email: input.email,
            phone: input.phone,
            external_ref: input.external_ref,
            birthday: input.birthday,
            anniversary: input.anniversary,
            owner_id,
            marketing_consent: input.marketing_consent,
            tags: input.tags,
            profile: input.profile,
        };
        let customer = transact(state(ctx).db(), async |txn| {
            service::update(txn, principal.workspace_id(), principal.actor(), id, changes).await
        })
        .await?;
        Ok(CustomerPayload { customer: Customer(customer) })
    }

    /// Remembers a personal fact about the customer.
    async fn add_customer_note(
        &self,
        ctx: &Context<'_>,
        input: AddCustomerNoteInput,
    ) -> async_graphql::Result<AddCustomerNotePayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.customer_id, "input.customerId")?;
        let note = transact(state(ctx).db(), async |txn| {
            service::add_note(txn, principal.workspace_id(), principal.actor(), id, &input.body).await
        })
        .await?;
        Ok(AddCustomerNotePayload { note: CustomerNote(note) })
    }

    /// The customer said "not now": kept, and revisited on `until`.
    async fn mark_customer_not_now(
        &self,
        ctx: &Context<'_>,
        input: MarkCustomerNotNowInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.customer_id, "input.customerId")?;
        if input.until <= Utc::now() {
            return Err(AppError::bad_input("input.until", "the revisit date must be in the future").into());
        }
        let reason = input.reason.unwrap_or_else(|| "said not now".to_owned());
        let customer = transact(state(ctx).db(), async |txn| {
            let current = service::get(txn, principal.workspace_id(), id).await?;
            service::mark_not_now(txn, current, input.until, &reason, principal.actor()).await
        })
        .await?;
        Ok(CustomerPayload { customer: Customer(customer) })
    }

    /// Folds a duplicate into another customer (or, with `dryRun`, says what would move).
    async fn merge_customers(
        &self,
        ctx: &Context<'_>,
        input: MergeCustomersInput,
    ) -> async_graphql::Result<MergeCustomersPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let survivor = parse_id(&input.survivor_id, "input.survivorId")?;
        let merged = parse_id(&input.merged_id, "input.mergedId")?;
        let plan = transact(state(ctx).db(), async |txn| {
            privacy::merge(txn, principal.workspace_id(), principal.actor(), survivor, merged, input.dry_run).await
        })
        .await?;
        Ok(MergeCustomersPayload {
            survivor: Customer(plan.survivor),
            filled_fields: plan.filled_fields,
            moved: plan.moved,
            dry_run: plan.dry_run,
        })
    }

    /// Hides a customer (soft delete); `restoreCustomer` undoes it.
    async fn delete_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerIdInput,
    ) -> async_graphql::Result<CustomerPayload> {
        set_deleted(ctx, input, true).await
    }

    async fn restore_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerIdInput,
    ) -> async_graphql::Result<CustomerPayload> {
        set_deleted(ctx, input, false).await
    }

    /// Anonymises a person's data for good; orders stay for aggregate metrics (admins, managers).
    async fn erase_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerIdInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let principal = authorize(ctx, Permission::ManagePersonalData)?;
        let id = parse_id(&input.customer_id, "input.customerId")?;
        let c = transact(state(ctx).db(), async |txn| {
            privacy::erase(txn, principal.workspace_id(), principal.actor(), id).await
        })
        .await?;
        Ok(CustomerPayload { customer: Customer(c) })
    }

    /// Moves a customer to any stage explicitly (CHURNED only this way), with a reason.
    async fn set_customer_lifecycle_stage(
        &self,
        ctx: &Context<'_>,
        input: SetLifecycleStageInput,
    ) -> async_graphql::Result<CustomerPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let id = parse_id(&input.customer_id, "input.customerId")?;
        let reason = input.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(AppError::bad_input("input.reason", "say why the stage changes").into());
        }
        if input.stage == LifecycleStage::NotNow {
            return Err(AppError::bad_input("input.stage", "use markCustomerNotNow, which needs a revisit date").into());
        }
        let customer = transact(state(ctx).db(), async |txn| {
            let current = service::get(txn, principal.workspace_id(), id).await?;
            lifecycle::transition(txn, current, input.stage, &reason, principal.actor()).await
        })
        .await?;
        Ok(CustomerPayload { customer: Customer(customer) })
    }
}

async fn set_deleted(
    ctx: &Context<'_>,
    input: CustomerIdInput,
    deleted: bool,
) -> async_graphql::Result<CustomerPayload> {
    let principal = authorize(ctx, Permission::WriteCustomers)?;
    let id = parse_id(&input.customer_id, "input.customerId")?;
    let c = transact(state(ctx).db(), async |txn| {
        privacy::soft_delete(txn, principal.workspace_id(), principal.actor(), id, deleted).await
    })
    .await?;
    Ok(CustomerPayload { customer: Customer(c) })
}
