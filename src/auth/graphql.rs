//! GraphQL surface of authentication: login, refresh, logout, and API keys.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::api_key;

use super::{ApiScope, Permission, api_keys, service};
use crate::{
    graphql::{
        authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        context::request,
        ids::{parse_id, to_id},
        state, transact,
    },
    users::User,
};

#[derive(InputObject)]
pub struct LoginInput {
    /// The workspace's slug.
    pub workspace: String,
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    pub refresh_token: String,
}

/// Tokens for a signed-in staff user. Send the access token as `Authorization: Bearer …`;
/// exchange the refresh token (once) for a new pair before the access token expires.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub user: User,
}

impl From<service::Session> for AuthPayload {
    fn from(s: service::Session) -> Self {
        AuthPayload {
            access_token: s.access_token,
            access_token_expires_at: s.access_token_expires_at,
            refresh_token: s.refresh_token,
            refresh_token_expires_at: s.refresh_token_expires_at,
            user: User(s.user),
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// Whether a live session was ended.
    pub revoked: bool,
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Signs a staff user in. Attempts are rate limited per account and per client address.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> async_graphql::Result<AuthPayload> {
        let app = state(ctx);
        let client_ip = request(ctx).and_then(|r| r.client_ip);
        let credentials =
            service::Credentials { workspace: input.workspace, email: input.email, password: input.password };
        Ok(service::login(app.db(), app.jwt(), app.login_limiter(), credentials, client_ip).await?.into())
    }

    /// Exchanges a refresh token for a new access and refresh token; the old one stops working.
    async fn refresh_token(&self, ctx: &Context<'_>, input: RefreshTokenInput) -> async_graphql::Result<AuthPayload> {
        let app = state(ctx);
        Ok(service::refresh(app.db(), app.jwt(), &input.refresh_token).await?.into())
    }

    /// Ends the session the refresh token belongs to.
    async fn logout(&self, ctx: &Context<'_>, input: LogoutInput) -> async_graphql::Result<LogoutPayload> {
        Ok(LogoutPayload { revoked: service::logout(state(ctx).db(), &input.refresh_token).await? })
    }
}

/// An integration's credential. The secret is shown only once, when created.
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The public part of the key (`vafa_<prefix>_…`), to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn scopes(&self) -> Vec<ApiScope> {
        api_keys::scopes_of(&self.0)
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The workspace's API keys, newest first (admins only).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<ApiKey>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let principal = authorize(ctx, Permission::ManageApiKeys)?;
        let query = api_key::Entity::find().filter(api_key::Column::WorkspaceId.eq(principal.workspace_id()));
        let order = vec![SortKey::new(api_key::Column::CreatedAt, SortDirection::Desc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, api_key::Column::Id, args, ApiKey).await?)
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    pub scopes: Vec<ApiScope>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// The full key, `vafa_<prefix>_<secret>`. Shown only now; store it safely.
    pub secret: String,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    pub api_key_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    pub api_key: ApiKey,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates a scoped API key for an integration (admins only).
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let principal = authorize(ctx, Permission::ManageApiKeys)?;
        let created = transact(state(ctx).db(), async |txn| {
            api_keys::create(txn, principal.workspace_id(), principal.actor(), &input.name, &input.scopes).await
        })
        .await?;
        Ok(CreateApiKeyPayload { api_key: ApiKey(created.key), secret: created.secret })
    }

    /// Revokes an API key at once (admins only).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> async_graphql::Result<RevokeApiKeyPayload> {
        let principal = authorize(ctx, Permission::ManageApiKeys)?;
        let id = parse_id(&input.api_key_id, "input.apiKeyId")?;
        let key = transact(state(ctx).db(), async |txn| {
            api_keys::revoke(txn, principal.workspace_id(), principal.actor(), id).await
        })
        .await?;
        Ok(RevokeApiKeyPayload { api_key: ApiKey(key) })
    }
}
