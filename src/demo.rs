//! `vafa serve --demo`: a ready-to-use workspace on an empty database.

use entity::{user::UserRole, workspace};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::{
    auth::{Actor, jwt::JwtKeys, tokens},
    graphql::{AppResult, transact},
    users, workspaces,
};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";

/// What the operator needs to start: a token, and the password when one was just generated.
pub struct DemoAccess {
    pub access_token: String,
    pub new_password: Option<String>,
}

/// Creates the demo workspace and admin if the database has no workspace yet, then issues a
/// token for that admin. `None` when the database holds other data but no demo admin.
pub async fn ensure(db: &DatabaseConnection, jwt: &JwtKeys) -> AppResult<Option<DemoAccess>> {
    let mut new_password = None;
    if workspace::Entity::find().count(db).await? == 0 {
        // No default password anywhere: a random one, shown once.
        let password = tokens::random_secret();
        let pass = password.clone();
        transact(db, async |txn| {
            let ws = workspaces::service::create(
                txn,
                Actor::SYSTEM,
                workspaces::service::NewWorkspace {
                    slug: DEMO_SLUG,
                    name: "Demo shop",
                    currency: "USD",
                    timezone: "UTC",
                },
            )
            .await?;
            let admin = users::service::NewUser {
                email: DEMO_ADMIN_EMAIL.to_owned(),
                name: "Demo Admin".to_owned(),
                role: UserRole::Admin,
                password: pass,
            };
            users::service::create(txn, ws.id, Actor::SYSTEM, admin).await
        })
        .await?;
        new_password = Some(password);
    }
    let Some(ws) = workspaces::service::find_by_slug(db, DEMO_SLUG).await? else { return Ok(None) };
    let Some(admin) = users::service::find_by_email(db, ws.id, DEMO_ADMIN_EMAIL).await?.filter(|u| u.active) else {
        return Ok(None);
    };
    let token = jwt.issue_access(admin.id, ws.id)?;
    Ok(Some(DemoAccess { access_token: token.token, new_password }))
}
