//! Workspaces: the tenant every principal and row belongs to.

pub mod service;
pub mod settings;

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::workspace;

use crate::{
    auth::Permission,
    graphql::{authorize, ids::to_id, state, transact},
};
use settings::WorkspaceSettings;

#[derive(SimpleObject, Clone)]
pub struct Workspace {
    pub id: ID,
    /// Short name used to log in, e.g. `demo`.
    pub slug: String,
    pub name: String,
    /// ISO 4217 code of every money amount in this workspace.
    pub currency: String,
    /// IANA time zone in which days, months and other periods are taken.
    pub timezone: String,
    /// The rules Vafa applies in this workspace (lifecycle, follow-ups, tickets, loyalty).
    pub settings: WorkspaceSettings,
    pub created_at: DateTime<Utc>,
}

impl From<workspace::Model> for Workspace {
    fn from(m: workspace::Model) -> Self {
        Workspace {
            id: to_id(m.id),
            slug: m.slug,
            name: m.name,
            currency: m.currency,
            timezone: m.timezone,
            settings: WorkspaceSettings::from_json(&m.settings),
            created_at: m.created_at,
        }
    }
}

#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// The caller's own workspace.
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<Workspace> {
        let principal = authorize(ctx, Permission::ReadWorkspace)?;
        Ok(service::get(state(ctx).db(), principal.workspace_id()).await?.into())
    }
}

#[derive(InputObject)]
pub struct UpdateWorkspaceSettingsInput {
    /// Setting names (as in `WorkspaceSettings`) with their new values, e.g.
    /// `{"pointsPerCurrencyUnit": 2, "ticketReopenWindowDays": 14}`; the others stay.
    pub patch: Json<serde_json::Value>,
}

#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    /// Changes some of the workspace's settings (admins and managers; audited).
    async fn update_workspace_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceSettingsInput,
    ) -> async_graphql::Result<WorkspaceSettings> {
        let principal = authorize(ctx, Permission::ManageSettings)?;
        Ok(transact(state(ctx).db(), async |txn| {
            service::update_settings(txn, principal.workspace_id(), principal.actor(), &input.patch).await
        })
        .await?)
    }
}

/// Batches workspace lookups of one request (every user row points at one).
pub struct WorkspaceLoader(pub sea_orm::DatabaseConnection);

impl async_graphql::dataloader::Loader<uuid::Uuid> for WorkspaceLoader {
    type Value = Workspace;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[uuid::Uuid]) -> Result<std::collections::HashMap<uuid::Uuid, Workspace>, Self::Error> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let rows = workspace::Entity::find()
            .filter(workspace::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(crate::graphql::AppError::from)?;
        Ok(rows.into_iter().map(|m| (m.id, Workspace::from(m))).collect())
    }
}
