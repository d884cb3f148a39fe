//! Assembles the domains' Query and Mutation parts into one schema, with its limits.

use async_graphql::{EmptySubscription, MergedObject, Schema, dataloader::DataLoader};

use crate::{
    AppState,
    audit::AuditQuery,
    auth::graphql::{ApiKeyMutation, ApiKeyQuery, AuthMutation},
    customers::{CustomerLoader, CustomerMutation, CustomerNotes, CustomerQuery, LifecycleHistory, TagLoader},
    graphql::children::ChildrenLoader,
    orders::{CustomerOrders, OrderMutation, OrderQuery},
    users::{UserLoader, UserMutation, UserQuery},
    workspaces::{WorkspaceLoader, WorkspaceQuery},
};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(UserQuery, WorkspaceQuery, ApiKeyQuery, AuditQuery, CustomerQuery, OrderQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(AuthMutation, UserMutation, ApiKeyMutation, CustomerMutation, OrderMutation);

pub type VafaSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest query accepted. GraphiQL's own introspection query needs about 13.
pub const MAX_DEPTH: usize = 16;
/// Highest complexity accepted; list fields multiply their selection by the page size.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema; without state (for `export-schema`) it can only describe itself.
pub fn build(state: Option<AppState>, introspection: bool) -> VafaSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32);
    if !introspection {
        builder = builder.disable_introspection();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// Loaders live for one request: a cached loader shared across requests would leak rows
/// between users and serve stale data.
pub fn request_loaders(state: &AppState, request: async_graphql::Request) -> async_graphql::Request {
    let db = state.db();
    request
        .data(DataLoader::new(WorkspaceLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(UserLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(CustomerLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(TagLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(ChildrenLoader::<CustomerOrders>::new(db.clone()), tokio::spawn))
        .data(DataLoader::new(ChildrenLoader::<CustomerNotes>::new(db.clone()), tokio::spawn))
        .data(DataLoader::new(ChildrenLoader::<LifecycleHistory>::new(db.clone()), tokio::spawn))
}

/// The SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    build(None, true).sdl()
}
