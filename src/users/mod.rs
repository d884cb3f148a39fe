//! Staff users of a workspace: the `User` type, listing, creation and deactivation.

pub mod service;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{user, user::UserRole};
use sea_orm::Condition;

use crate::{
    auth::{Permission, Principal},
    graphql::{
        AppError, AppResult, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        filter::{DateTimeFilter, EnumFilter, StringFilter, boolean_ops},
        ids::{parse_id, to_id},
        loader, principal, state, transact,
    },
    workspaces::{Workspace, WorkspaceLoader},
};

pub struct User(pub user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> UserRole {
        self.0.role
    }
    /// Deactivated users cannot log in and their tokens stop working.
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// What this user's role lets them do (nothing once deactivated), so an app can hide the rest.
    async fn permissions(&self) -> Vec<Permission> {
        let user = &self.0;
        if !user.active {
            return Vec::new();
        }
        Principal::Staff { user_id: user.id, workspace_id: user.workspace_id, role: user.role }.permissions()
    }
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<Workspace> {
        loader::<WorkspaceLoader>(ctx)?
            .load_one(self.0.workspace_id)
            .await?
            .ok_or_else(|| AppError::not_found("workspace").into())
    }
}

#[derive(InputObject, Default)]
pub struct UserFilter {
    pub email: Option<StringFilter>,
    pub name: Option<StringFilter>,
    pub role: Option<EnumFilter<UserRole>>,
    pub active: Option<bool>,
    pub created_at: Option<DateTimeFilter>,
    /// All of these hold.
    pub and: Option<Vec<UserFilter>>,
    /// At least one of these holds.
    pub or: Option<Vec<UserFilter>>,
    /// This does not hold.
    pub not: Option<Box<UserFilter>>,
}

impl UserFilter {
    fn condition(&self) -> AppResult<Condition> {
        let mut all = Condition::all();
        if let Some(f) = &self.email {
            all = all.add(f.condition(user::Column::Email));
        }
        if let Some(f) = &self.name {
            all = all.add(f.condition(user::Column::Name));
        }
        if let Some(f) = &self.role {
            all = all.add(f.condition(user::Column::Role));
        }
        if let Some(active) = self.active {
            all = all.add(sea_orm::ColumnTrait::eq(&user::Column::Active, active));
        }
        if let Some(f) = &self.created_at {
            all = all.add(f.condition(user::Column::CreatedAt));
        }
        boolean_ops(all, &self.and, &self.or, &self.not, |f| f.condition())
    }
}

#[derive(Enum, Copy, Clone, PartialEq, Eq)]
pub enum UserOrderField {
    Email,
    Name,
    CreatedAt,
}

#[derive(InputObject, Clone, Copy)]
pub struct UserOrder {
    pub field: UserOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in staff user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        match principal(ctx)? {
            Principal::Staff { user_id, workspace_id, .. } => {
                Ok(User(service::get(state(ctx).db(), *workspace_id, *user_id).await?))
            }
            Principal::Integration { .. } => {
                Err(AppError::Forbidden("`me` is for staff users; API keys have no user".to_owned()).into())
            }
            Principal::Customer { .. } => {
                Err(AppError::Forbidden("`me` is for staff users; customers use `myAccount`".to_owned()).into())
            }
        }
    }

    /// Staff users of the workspace. Ordered by `orderBy`, then id; default: creation time.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
        order_by: Option<Vec<UserOrder>>,
    ) -> async_graphql::Result<Page<User>> {
        let principal = authorize(ctx, Permission::ReadUsers)?;
        let condition = filter.map(|f| f.condition()).transpose()?.unwrap_or_else(Condition::all);
        let order = order_by
            .unwrap_or_else(|| vec![UserOrder { field: UserOrderField::CreatedAt, direction: SortDirection::Asc }])
            .into_iter()
            .map(|o| {
                let column = match o.field {
                    UserOrderField::Email => user::Column::Email,
                    UserOrderField::Name => user::Column::Name,
                    UserOrderField::CreatedAt => user::Column::CreatedAt,
                };
                SortKey::new(column, o.direction)
            })
            .collect();
        let args = PageArgs { first, after, last, before };
        let query = service::query(principal.workspace_id(), condition);
        Ok(paginate(state(ctx).db(), query, order, user::Column::Id, args, User).await?)
    }

    /// One user of the workspace.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        let principal = authorize(ctx, Permission::ReadUsers)?;
        let id = parse_id(&id, "id")?;
        Ok(User(service::get(state(ctx).db(), principal.workspace_id(), id).await?))
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub role: UserRole,
    /// At least 12 characters. Stored only as an argon2id hash.
    pub password: String,
}

#[derive(SimpleObject)]
pub struct CreateUserPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct DeactivateUserInput {
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct DeactivateUserPayload {
    pub user: User,
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Adds a staff user (admins only).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> async_graphql::Result<CreateUserPayload> {
        let principal = authorize(ctx, Permission::ManageUsers)?;
        let new_user =
            service::NewUser { email: input.email, name: input.name, role: input.role, password: input.password };
        let user = transact(state(ctx).db(), async |txn| {
            service::create(txn, principal.workspace_id(), principal.actor(), new_user).await
        })
        .await?;
        Ok(CreateUserPayload { user: User(user) })
    }

    /// Stops a user from signing in and revokes their sessions (admins only).
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        input: DeactivateUserInput,
    ) -> async_graphql::Result<DeactivateUserPayload> {
        let principal = authorize(ctx, Permission::ManageUsers)?;
        let user_id = parse_id(&input.user_id, "input.userId")?;
        let user = transact(state(ctx).db(), async |txn| {
            service::deactivate(txn, principal.workspace_id(), principal.actor(), user_id).await
        })
        .await?;
        Ok(DeactivateUserPayload { user: User(user) })
    }
}

/// Batches user lookups of one request (owners, assignees, authors).
pub struct UserLoader(pub sea_orm::DatabaseConnection);

impl async_graphql::dataloader::Loader<uuid::Uuid> for UserLoader {
    type Value = user::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[uuid::Uuid],
    ) -> Result<std::collections::HashMap<uuid::Uuid, user::Model>, Self::Error> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}
