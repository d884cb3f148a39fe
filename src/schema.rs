//! Assembles the domains' Query and Mutation parts into one schema, with its limits.

use std::hash::Hash;

use async_graphql::{
    MergedObject, MergedSubscription, Schema,
    dataloader::{DataLoader, HashMapCache, Loader},
};

use crate::{
    AppState,
    audit::AuditQuery,
    auth::graphql::{ApiKeyMutation, ApiKeyQuery, AuthMutation},
    customer_app::{CustomerAppMutation, CustomerAppQuery},
    customers::{
        CustomerLoader, CustomerMutation, CustomerNotes, CustomerQuery, LifecycleHistory, ReachabilityLoader, TagLoader,
    },
    experiments::{CustomerExperiments, ExperimentLoader, ExperimentMutation, ExperimentQuery},
    feedback::{CustomerFeedback, FeedbackMutation},
    follow_ups::{CustomerFollowUps, FollowUpMutation, FollowUpQuery},
    graphql::{children::ChildrenLoader, limits::RequestLimits, selection_order::SelectionOrder},
    interactions::{CustomerInteractions, InteractionMutation, LeadInteractions},
    leads::{LeadMutation, LeadQuery},
    loyalty::{
        AccountByCustomerLoader, AccountLedger, AccountRedemptions, AccountReferrals, AccountTierHistory,
        LoyaltyMutation, LoyaltyQuery, LoyaltySubscription, RewardLoader, TierLoader,
    },
    metrics::{
        MetricsMutation, MetricsQuery, PredictionLoader, RfmDistributionLoader,
        at_risk::{AtRiskQuery, RiskLoader},
        complaint_impact::ComplaintImpactQuery,
    },
    orders::{CustomerOrders, OrderMutation, OrderQuery},
    tickets::{
        CustomerTickets, TicketHistory, TicketLoader, TicketMutation, TicketQuery, TicketSlaLog,
        report::ComplaintReportQuery,
        setup::{AgentGroupLoader, GroupMembersLoader, SupportSetupMutation, SupportSetupQuery},
        subscriptions::TicketSubscription,
    },
    users::{UserLoader, UserMutation, UserQuery},
    workspaces::{WorkspaceLoader, WorkspaceMutation, WorkspaceQuery},
};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    UserQuery,
    WorkspaceQuery,
    ApiKeyQuery,
    AuditQuery,
    CustomerQuery,
    OrderQuery,
    LeadQuery,
    FollowUpQuery,
    TicketQuery,
    SupportSetupQuery,
    ComplaintReportQuery,
    LoyaltyQuery,
    CustomerAppQuery,
    MetricsQuery,
    AtRiskQuery,
    ComplaintImpactQuery,
    ExperimentQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    AuthMutation,
    UserMutation,
    ApiKeyMutation,
    CustomerMutation,
    OrderMutation,
    LeadMutation,
    InteractionMutation,
    FollowUpMutation,
    FeedbackMutation,
    TicketMutation,
    SupportSetupMutation,
    LoyaltyMutation,
    WorkspaceMutation,
    CustomerAppMutation,
    MetricsMutation,
    ExperimentMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct Subscription(TicketSubscription, LoyaltySubscription);

pub type VafaSchema = Schema<Query, Mutation, Subscription>;

const DATE_TIME_DESCRIPTION: &str = "A moment in time as an RFC 3339 string, e.g. `2026-12-02T14:25:29.123456+00:00`. \
Vafa answers in UTC; it accepts any offset.";
const DECIMAL_DESCRIPTION: &str = "An exact decimal number as a string, e.g. `\"129.02\"` (never a float). Money is \
in the workspace currency at its scale (two places for EUR); rates and ratios say their scale where they are defined.";

/// The schema; without state (for `export-schema`) it can only describe itself.
pub fn build(state: Option<AppState>, introspection: bool) -> VafaSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .extension(SelectionOrder)
        // Depth and complexity are checked by `RequestLimits`, which says by how much.
        .extension(RequestLimits)
        .limit_recursive_depth(32)
        // async-graphql's own scalars come with no (or a Rust-flavoured) description.
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(DATE_TIME_DESCRIPTION)
        .override_output_type_description::<rust_decimal::Decimal>(DECIMAL_DESCRIPTION);
    if !introspection {
        builder = builder.disable_introspection();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// Loaders live for one request, so their caches do too: a cache shared across requests
/// would leak rows between users and serve stale data.
pub fn request_loaders(state: &AppState, mut request: async_graphql::Request) -> async_graphql::Request {
    insert_loaders(state, &mut request.data);
    request
}

/// Puts a fresh set of loaders into `data` (a request's, or a WebSocket connection's).
pub fn insert_loaders(state: &AppState, data: &mut async_graphql::Data) {
    let db = state.db();
    data.insert(cached(WorkspaceLoader(db.clone())));
    data.insert(cached(UserLoader(db.clone())));
    data.insert(cached(CustomerLoader(db.clone())));
    data.insert(cached(TagLoader(db.clone())));
    data.insert(cached(ReachabilityLoader(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerOrders>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerNotes>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<LifecycleHistory>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerInteractions>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<LeadInteractions>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerFollowUps>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerFeedback>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerTickets>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<TicketHistory>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<TicketSlaLog>::new(db.clone())));
    data.insert(cached(AgentGroupLoader(db.clone())));
    data.insert(cached(GroupMembersLoader(db.clone())));
    data.insert(cached(TierLoader(db.clone())));
    data.insert(cached(RewardLoader(db.clone())));
    data.insert(cached(TicketLoader(db.clone())));
    data.insert(cached(AccountByCustomerLoader(db.clone())));
    data.insert(cached(ChildrenLoader::<AccountLedger>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<AccountTierHistory>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<AccountRedemptions>::new(db.clone())));
    data.insert(cached(ChildrenLoader::<AccountReferrals>::new(db.clone())));
    data.insert(cached(RfmDistributionLoader(db.clone())));
    data.insert(cached(PredictionLoader(db.clone())));
    data.insert(cached(RiskLoader(db.clone())));
    data.insert(cached(ExperimentLoader(db.clone())));
    data.insert(cached(ChildrenLoader::<CustomerExperiments>::new(db.clone())));
}

fn cached<L: Loader<K>, K: Send + Sync + Hash + Eq + Clone + 'static>(loader: L) -> DataLoader<L, HashMapCache> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

/// The SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    build(None, true).sdl()
}
