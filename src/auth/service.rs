//! Sign-in, token refresh and sign-out.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, IntoActiveModel};
use serde_json::json;

use super::{Actor, jwt::JwtKeys, password, rate_limit::LoginLimiter, tokens};
use crate::{
    audit,
    graphql::{AppError, AppResult, ids::new_id, transact},
    users, workspaces,
};

/// What a successful login or refresh hands back.
pub struct Session {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub user: user::Model,
}

pub struct Credentials {
    pub workspace: String,
    pub email: String,
    pub password: String,
}

fn bad_credentials() -> AppError {
    AppError::Unauthenticated("wrong workspace, email or password".to_owned())
}

pub async fn login(
    db: &DatabaseConnection,
    jwt: &JwtKeys,
    limiter: &LoginLimiter,
    credentials: Credentials,
    client_ip: Option<IpAddr>,
) -> AppResult<Session> {
    let account =
        format!("{}/{}", credentials.workspace.trim().to_lowercase(), credentials.email.trim().to_lowercase());
    limiter.check(&account, client_ip)?;

    let workspace = workspaces::service::find_by_slug(db, &credentials.workspace).await?;
    let user = match &workspace {
        Some(ws) => users::service::find_by_email(db, ws.id, &credentials.email).await?,
        None => None,
    };
    // Always verify, even for unknown accounts, so timing does not reveal which exist.
    let stored_hash = user.as_ref().filter(|u| u.active).map(|u| u.password_hash.clone());
    if !password::verify(credentials.password, stored_hash).await? {
        tracing::info!(workspace = %credentials.workspace, "failed login");
        return Err(bad_credentials());
    }
    let user = user.ok_or_else(bad_credentials)?;

    transact(db, async |txn| {
        let now = Utc::now();
        let mut active = user.into_active_model();
        active.last_login_at = Set(Some(now));
        active.updated_at = Set(now);
        let user = active.update(txn).await?;
        let family = new_id();
        let refresh = tokens::issue(txn, user.workspace_id, user.id, family, jwt.settings.refresh_token_ttl).await?;
        audit::record(
            txn,
            user.workspace_id,
            Actor { kind: entity::audit_log::ActorKind::User, id: Some(user.id) },
            "auth.login",
            "user",
            Some(user.id),
            json!({}),
        )
        .await?;
        session(jwt, user, refresh, family)
    })
    .await
}

/// Rotates a refresh token. Reusing a rotated token revokes its whole family.
pub async fn refresh(db: &DatabaseConnection, jwt: &JwtKeys, presented: &str) -> AppResult<Session> {
    let outcome = transact(db, async |txn| {
        let Some(current) = tokens::find(txn, presented).await? else { return Ok(Err(tokens::rejected())) };
        if current.revoked_at.is_some() {
            let revoked = tokens::revoke_family(txn, current.family_id).await?;
            session_ended(current.workspace_id, current.family_id);
            tracing::warn!(family = %current.family_id, revoked, "refresh token reuse; family revoked");
            return Ok(Err(tokens::rejected()));
        }
        if current.expires_at <= Utc::now() {
            return Ok(Err(tokens::rejected()));
        }
        let user = users::service::get(txn, current.workspace_id, current.user_id).await?;
        if !user.active {
            return Ok(Err(tokens::rejected()));
        }
        let next =
            tokens::issue(txn, user.workspace_id, user.id, current.family_id, jwt.settings.refresh_token_ttl).await?;
        if !tokens::mark_rotated(txn, current.id, next.id).await? {
            // Lost a race with a concurrent refresh of the same token: treat as reuse.
            return Err(tokens::rejected());
        }
        Ok(Ok(session(jwt, user, next, current.family_id)?))
    })
    .await?;
    // A reuse must stay revoked, so its writes are committed before the error is returned.
    outcome
}

/// Revokes the refresh token's family (this device's session). Unknown tokens are ignored.
pub async fn logout(db: &DatabaseConnection, presented: &str) -> AppResult<bool> {
    transact(db, async |txn| match tokens::find(txn, presented).await? {
        Some(token) => {
            session_ended(token.workspace_id, token.family_id);
            Ok(tokens::revoke_family(txn, token.family_id).await? > 0)
        }
        None => Ok(false),
    })
    .await
}

/// Live sockets opened with the session's access tokens close.
fn session_ended(workspace_id: uuid::Uuid, family_id: uuid::Uuid) {
    crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: family_id });
}

fn session(
    jwt: &JwtKeys,
    user: user::Model,
    refresh: tokens::IssuedRefreshToken,
    family: uuid::Uuid,
) -> AppResult<Session> {
    let access = jwt.issue_session_access(user.id, user.workspace_id, family)?;
    Ok(Session {
        access_token: access.token,
        access_token_expires_at: access.expires_at,
        refresh_token: refresh.token,
        refresh_token_expires_at: refresh.expires_at,
        user,
    })
}
