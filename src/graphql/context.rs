//! What a resolver knows about the request: who is asking, from where, and the shared state.

use std::net::IpAddr;

use async_graphql::Context;

use super::error::{AppError, AppResult};
use crate::{
    AppState,
    auth::{Permission, Principal},
};

/// Per-request data, put into every GraphQL request by the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub principal: Option<Principal>,
    pub client_ip: Option<IpAddr>,
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn request<'a>(ctx: &Context<'a>) -> Option<&'a RequestContext> {
    ctx.data_opt::<RequestContext>()
}

/// The authenticated principal, or `UNAUTHENTICATED`.
pub fn principal<'a>(ctx: &Context<'a>) -> AppResult<&'a Principal> {
    request(ctx)
        .and_then(|r| r.principal.as_ref())
        .ok_or_else(|| AppError::Unauthenticated("authentication required".to_owned()))
}

/// The principal, if it holds `permission`; `UNAUTHENTICATED` or `FORBIDDEN` otherwise.
pub fn authorize<'a>(ctx: &Context<'a>, permission: Permission) -> AppResult<&'a Principal> {
    let principal = principal(ctx)?;
    if principal.can(permission) {
        Ok(principal)
    } else {
        Err(AppError::Forbidden(format!("not allowed to {}", permission.describe())))
    }
}

/// For the few actions customers take on their own data (redeem a reward, rate a ticket): staff
/// and API keys need `permission`; a customer principal passes, and the resolver must check that
/// the data is theirs (`Principal::customer_id`).
pub fn authorize_or_customer<'a>(ctx: &Context<'a>, permission: Permission) -> AppResult<&'a Principal> {
    let principal = principal(ctx)?;
    if principal.customer_id().is_some() { Ok(principal) } else { authorize(ctx, permission) }
}

/// A data loader that lives for one request, with a per-request cache.
pub type RequestLoader<L> = async_graphql::dataloader::DataLoader<L, async_graphql::dataloader::HashMapCache>;

/// The request's loader of type `L` (registered in `schema::request_loaders`).
pub fn loader<'a, L: Send + Sync + 'static>(ctx: &Context<'a>) -> AppResult<&'a RequestLoader<L>> {
    ctx.data::<RequestLoader<L>>().map_err(|_| {
        AppError::Internal(anyhow::anyhow!("data loader {} is not registered", std::any::type_name::<L>()))
    })
}
