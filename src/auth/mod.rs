//! Who is asking and what they may do: principals, permissions, and turning an
//! `Authorization` header into a principal.

pub mod api_keys;
pub mod graphql;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod service;
pub mod tokens;

use entity::{audit_log::ActorKind, user, user::UserRole};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::{
    AppState,
    graphql::{AppError, AppResult},
};

/// Scopes an API key can be given; a `…_WRITE` scope includes its `…_READ`. What each allows is in
/// the README's permission matrix, and `me { permissions }` lists what a caller may do.
#[derive(
    async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApiScope {
    /// Read the workspace's own settings.
    WorkspaceRead,
    /// List staff users (e.g. to map assignees).
    UsersRead,
    /// Read customers, leads and orders.
    CustomersRead,
    /// Create and change customers and leads.
    CustomersWrite,
    /// Record, refund and cancel orders (shops, POS systems).
    OrdersWrite,
    /// Read tickets, their history and complaint reports.
    TicketsRead,
    /// File complaints and work on tickets (web forms, chat widgets, help desks).
    TicketsWrite,
}

/// What an operation needs. Resolvers ask for one; roles and scopes grant them (see the README's
/// permission matrix). `me { permissions }` lists a user's, so an app can hide what they cannot do.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    ReadWorkspace,
    ReadUsers,
    ManageUsers,
    ManageApiKeys,
    ReadAuditLog,
    ReadCustomers,
    WriteCustomers,
    WriteOrders,
    /// Data-subject export and erasure.
    ManagePersonalData,
    ReadTickets,
    WriteTickets,
    /// SLA policies, business hours, holidays and agent groups.
    ManageSupport,
    /// Tiers, bonuses and point adjustments.
    ManageLoyalty,
    /// The workspace's settings.
    ManageSettings,
    /// Draft, start and end A/B tests of retention campaigns.
    ManageExperiments,
}

impl Permission {
    pub fn all() -> impl Iterator<Item = Permission> {
        <Permission as async_graphql::resolver_utils::EnumType>::items().iter().map(|item| item.value)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadWorkspace => "read the workspace",
            Permission::ReadUsers => "list users",
            Permission::ManageUsers => "manage users",
            Permission::ManageApiKeys => "manage API keys",
            Permission::ReadAuditLog => "read the audit log",
            Permission::ReadCustomers => "read customers, leads and orders",
            Permission::WriteCustomers => "change customers and leads",
            Permission::WriteOrders => "record or change orders",
            Permission::ManagePersonalData => "export or erase personal data",
            Permission::ReadTickets => "read tickets",
            Permission::WriteTickets => "work on tickets",
            Permission::ManageSupport => "configure SLA policies, business hours and agent groups",
            Permission::ManageLoyalty => "manage tiers and change points by hand",
            Permission::ManageSettings => "change the workspace settings",
            Permission::ManageExperiments => "run experiments",
        }
    }
}

/// An authenticated caller, always bound to exactly one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Staff {
        user_id: Uuid,
        workspace_id: Uuid,
        role: UserRole,
    },
    Integration {
        api_key_id: Uuid,
        workspace_id: Uuid,
        scopes: Vec<ApiScope>,
    },
    /// A customer signed in to an app: no staff permission at all; the few resolvers that serve
    /// customers check that the data is their own (`customer_app`).
    Customer {
        customer_id: Uuid,
        workspace_id: Uuid,
    },
}

impl Principal {
    pub fn workspace_id(&self) -> Uuid {
        match self {
            Principal::Staff { workspace_id, .. }
            | Principal::Integration { workspace_id, .. }
            | Principal::Customer { workspace_id, .. } => *workspace_id,
        }
    }

    /// The signed-in customer, for a customer principal.
    pub fn customer_id(&self) -> Option<Uuid> {
        match self {
            Principal::Customer { customer_id, .. } => Some(*customer_id),
            _ => None,
        }
    }

    /// Every permission this principal has, in the schema's order.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::all().filter(|&permission| self.can(permission)).collect()
    }

    pub fn can(&self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Principal::Staff { role, .. } => match role {
                UserRole::Admin => true,
                UserRole::Manager => !matches!(permission, ManageUsers | ManageApiKeys),
                UserRole::Agent | UserRole::Sales => {
                    matches!(
                        permission,
                        ReadWorkspace
                            | ReadUsers
                            | ReadCustomers
                            | WriteCustomers
                            | WriteOrders
                            | ReadTickets
                            | WriteTickets
                    )
                }
                UserRole::Viewer => matches!(permission, ReadWorkspace | ReadUsers | ReadCustomers | ReadTickets),
            },
            Principal::Integration { scopes, .. } => scopes.iter().any(|scope| match scope {
                ApiScope::WorkspaceRead => permission == ReadWorkspace,
                ApiScope::UsersRead => permission == ReadUsers,
                ApiScope::CustomersRead => permission == ReadCustomers,
                ApiScope::CustomersWrite => matches!(permission, ReadCustomers | WriteCustomers),
                ApiScope::OrdersWrite => permission == WriteOrders,
                ApiScope::TicketsRead => permission == ReadTickets,
                ApiScope::TicketsWrite => matches!(permission, ReadTickets | WriteTickets),
            }),
            Principal::Customer { .. } => false,
        }
    }

    /// How this principal appears in the audit log.
    /// The user, API key or customer this principal is.
    pub fn subject(&self) -> Uuid {
        match self {
            Principal::Staff { user_id, .. } => *user_id,
            Principal::Integration { api_key_id, .. } => *api_key_id,
            Principal::Customer { customer_id, .. } => *customer_id,
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Principal::Staff { user_id, .. } => Actor { kind: ActorKind::User, id: Some(*user_id) },
            Principal::Integration { api_key_id, .. } => Actor { kind: ActorKind::ApiKey, id: Some(*api_key_id) },
            Principal::Customer { customer_id, .. } => Actor { kind: ActorKind::Customer, id: Some(*customer_id) },
        }
    }
}

/// The author of a change, as recorded in the audit log.
#[derive(Copy, Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<Uuid>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor { kind: ActorKind::System, id: None };
}

/// Resolves an `Authorization` header value. No header is anonymous; a header that is present
/// but wrong is an error, never silently anonymous.
pub async fn authenticate(state: &AppState, header: Option<&str>) -> AppResult<Option<Principal>> {
    let Some(header) = header else { return Ok(None) };
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::Unauthenticated("expected `Authorization: Bearer <token>`".to_owned()))?;
    if token.starts_with(api_keys::KEY_PREFIX) {
        return api_keys::authenticate(state.db(), token).await.map(Some);
    }
    let claims = state.jwt().verify_access(token)?;
    if claims.aud == jwt::CUSTOMER_AUDIENCE {
        let customer = entity::customer::Entity::find_by_id(claims.sub)
            .one(state.db())
            .await?
            .filter(|c| c.workspace_id == claims.ws && c.deleted_at.is_none())
            .ok_or_else(|| AppError::Unauthenticated("the token's customer is unknown or deleted".to_owned()))?;
        return Ok(Some(Principal::Customer { customer_id: customer.id, workspace_id: customer.workspace_id }));
    }
    let user = user::Entity::find_by_id(claims.sub)
        .one(state.db())
        .await?
        .filter(|u| u.workspace_id == claims.ws && u.active)
        .ok_or_else(|| AppError::Unauthenticated("the token's user is unknown or deactivated".to_owned()))?;
    Ok(Some(Principal::Staff { user_id: user.id, workspace_id: user.workspace_id, role: user.role }))
}

/// The claims of the access token in `header` (none for API keys, which do not expire).
pub fn access_token_claims(state: &AppState, header: &str) -> Option<jwt::AccessClaims> {
    let token = header.strip_prefix("Bearer ")?.trim();
    if token.starts_with(api_keys::KEY_PREFIX) {
        return None;
    }
    state.jwt().verify_access(token).ok()
}

#[cfg(test)]
mod tests {
    use async_graphql::resolver_utils::EnumType;

    use super::*;

    /// The README's permission matrix, rendered from `Principal::can` so it cannot drift.
    fn permission_matrix() -> String {
        let roles = <UserRole as EnumType>::items();
        let scopes = <ApiScope as EnumType>::items();
        let permission_names = <Permission as EnumType>::items();
        let columns: Vec<&str> = roles.iter().map(|r| r.name).chain(scopes.iter().map(|s| s.name)).collect();
        let mut table =
            format!("| Permission | {} |\n", columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" | "));
        table += &format!("|---|{}\n", "---|".repeat(columns.len()));
        for item in permission_names {
            let principals =
                roles.iter().map(|role| staff(role.value)).chain(scopes.iter().map(|scope| key(vec![scope.value])));
            let cells: Vec<&str> = principals.map(|p| if p.can(item.value) { "✓" } else { "" }).collect();
            table += &format!("| `{}`: {} | {} |\n", item.name, item.value.describe(), cells.join(" | "));
        }
        table
    }

    #[test]
    fn the_readme_shows_the_permission_matrix() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let matrix = permission_matrix();
        assert!(readme.contains(&matrix), "README.md should contain this permission matrix:\n\n{matrix}");
    }

    #[test]
    fn customers_have_no_staff_permission() {
        let customer = Principal::Customer { customer_id: Uuid::nil(), workspace_id: Uuid::nil() };
        assert_eq!(customer.permissions(), vec![]);
        assert_eq!(staff(UserRole::Admin).permissions(), Permission::all().collect::<Vec<_>>());
    }

    fn key(scopes: Vec<ApiScope>) -> Principal {
        Principal::Integration { api_key_id: Uuid::nil(), workspace_id: Uuid::nil(), scopes }
    }

    fn staff(role: UserRole) -> Principal {
        Principal::Staff { user_id: Uuid::nil(), workspace_id: Uuid::nil(), role }
    }

    #[test]
    fn only_admins_manage_users_and_keys() {
        assert!(staff(UserRole::Admin).can(Permission::ManageUsers));
        assert!(staff(UserRole::Admin).can(Permission::ManageApiKeys));
        for role in [UserRole::Manager, UserRole::Agent, UserRole::Sales, UserRole::Viewer] {
            assert!(!staff(role).can(Permission::ManageUsers), "{role:?}");
            assert!(!staff(role).can(Permission::ManageApiKeys), "{role:?}");
            assert!(staff(role).can(Permission::ReadUsers), "{role:?}");
        }
        assert!(staff(UserRole::Manager).can(Permission::ReadAuditLog));
        assert!(!staff(UserRole::Viewer).can(Permission::ReadAuditLog));
    }

    #[test]
    fn api_keys_get_exactly_their_scopes() {
        let key = Principal::Integration {
            api_key_id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            scopes: vec![ApiScope::UsersRead],
        };
        assert!(key.can(Permission::ReadUsers));
        assert!(!key.can(Permission::ReadWorkspace));
        assert!(!key.can(Permission::ManageApiKeys));
        assert!(!key.can(Permission::ManageUsers));
    }
}
