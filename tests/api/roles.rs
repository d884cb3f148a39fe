//! Roles gate operations: only admins manage users and keys; managers read the audit log.

use serde_json::json;

use crate::{db_tests, support::TestApp};

const CREATE_USER: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }";

async fn roles_gate_operations(app: TestApp) {
    let tenant = app.tenant("acme").await;
    for role in ["MANAGER", "AGENT", "SALES", "VIEWER"] {
        let email = format!("{}@acme.example", role.to_lowercase());
        let (_, token) = app.user(&tenant, &email, role).await;
        let token = Some(token.as_str());
        // Everyone on staff can see their colleagues and workspace …
        let users = app.ok(token, "{ users { totalCount } workspace { slug } }", json!({})).await;
        assert_eq!(users["workspace"]["slug"], "acme");
        // … but cannot add users or keys.
        let input = json!({ "input": { "email": "x@acme.example", "name": "x", "role": "ADMIN", "password": "long enough password" } });
        assert_eq!(app.error_code(token, CREATE_USER, input).await, "FORBIDDEN", "{role}");
        let key = json!({ "input": { "name": "k", "scopes": ["USERS_READ"] } });
        assert_eq!(
            app.error_code(
                token,
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
                key
            )
            .await,
            "FORBIDDEN",
            "{role}"
        );
        let audit = app.post(token, "{ auditLog { totalCount } }", json!({})).await.1;
        let expected = if role == "MANAGER" { None } else { Some("FORBIDDEN") };
        assert_eq!(audit["errors"][0]["extensions"]["code"].as_str(), expected, "{role}: {audit}");
    }
    let count = app.ok(Some(&tenant.admin_token), "{ users { totalCount } }", json!({})).await;
    assert_eq!(count["users"]["totalCount"], 5, "no forbidden user was created");
}

/// A frontend hides what a user cannot do from `me { permissions }`: it must say exactly what the
/// server then allows.
async fn me_lists_what_the_role_allows(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (_, viewer) = app.user(&tenant, "viewer@acme.example", "VIEWER").await;
    let me = app.ok(Some(&viewer), "{ me { permissions } }", json!({})).await;
    assert_eq!(me["me"]["permissions"], json!(["READ_WORKSPACE", "READ_USERS", "READ_CUSTOMERS", "READ_TICKETS"]));
    assert_eq!(app.error_code(Some(&viewer), "{ auditLog { totalCount } }", json!({})).await, "FORBIDDEN");
    let (_, manager) = app.user(&tenant, "manager@acme.example", "MANAGER").await;
    let me = app.ok(Some(&manager), "{ me { permissions } }", json!({})).await;
    let permissions = me["me"]["permissions"].as_array().unwrap();
    assert!(permissions.contains(&json!("READ_AUDIT_LOG")) && !permissions.contains(&json!("MANAGE_USERS")), "{me}");
    app.ok(Some(&manager), "{ auditLog { totalCount } }", json!({})).await;
    let admin = app.ok(Some(&tenant.admin_token), "{ me { permissions } }", json!({})).await;
    assert!(admin["me"]["permissions"].as_array().unwrap().contains(&json!("MANAGE_API_KEYS")), "{admin}");
}

async fn anonymous_callers_must_authenticate(app: TestApp) {
    app.tenant("acme").await;
    for query in ["{ me { id } }", "{ users { totalCount } }", "{ workspace { slug } }", "{ apiKeys { totalCount } }"] {
        assert_eq!(app.error_code(None, query, json!({})).await, "UNAUTHENTICATED", "{query}");
    }
}

async fn changes_are_audited(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (user_id, _) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    let data = app
        .ok(
            Some(&tenant.admin_token),
            "query($id: ID!) { auditLog(entityId: $id) { edges { node { action actorKind actorId diff } } } }",
            json!({ "id": user_id }),
        )
        .await;
    let node = &data["auditLog"]["edges"][0]["node"];
    assert_eq!(node["action"], "user.create");
    assert_eq!(node["actorKind"], "USER");
    assert_eq!(node["actorId"], tenant.admin.id.to_string());
    assert_eq!(node["diff"]["role"], "AGENT");
    assert!(!data.to_string().contains("horse"), "no password in the audit log");
}

db_tests!(
    roles_gate_operations,
    me_lists_what_the_role_allows,
    anonymous_callers_must_authenticate,
    changes_are_audited
);
