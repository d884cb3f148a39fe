//! The audit log: who changed what, when.

mod service;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{audit_log, audit_log::ActorKind};
pub use service::record;

use crate::{
    auth::Permission,
    graphql::{
        authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        ids::{parse_id, to_id},
        state,
    },
};

#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub actor_kind: ActorKind,
    pub actor_id: Option<ID>,
    /// What happened, e.g. `user.create`.
    pub action: String,
    pub entity: String,
    pub entity_id: Option<ID>,
    /// The changed values (never secrets).
    pub diff: async_graphql::Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(m: audit_log::Model) -> Self {
        AuditEntry {
            id: to_id(m.id),
            actor_kind: m.actor_kind,
            actor_id: m.actor_id.map(to_id),
            action: m.action,
            entity: m.entity,
            entity_id: m.entity_id.map(to_id),
            diff: async_graphql::Json(m.diff),
            created_at: m.created_at,
        }
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The workspace's audit log, newest first (admins and managers).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(desc = "Only entries about this entity.")] entity_id: Option<ID>,
    ) -> async_graphql::Result<Page<AuditEntry>> {
        let principal = authorize(ctx, Permission::ReadAuditLog)?;
        let entity_id = entity_id.as_ref().map(|id| parse_id(id, "entityId")).transpose()?;
        let order = vec![SortKey::new(audit_log::Column::CreatedAt, SortDirection::Desc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(
            state(ctx).db(),
            service::query(principal.workspace_id(), entity_id),
            order,
            audit_log::Column::Id,
            args,
            AuditEntry::from,
        )
        .await?)
    }
}
