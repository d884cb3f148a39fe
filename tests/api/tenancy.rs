//! A principal of workspace A can neither see nor change anything of workspace B, even with
//! B's ids in hand.

use serde_json::json;

use crate::{db_tests, support::TestApp};

async fn workspaces_are_isolated(app: TestApp) {
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let (b_agent, b_agent_token) = app.user(&b, "agent@beta.example", "AGENT").await;
    let b_key = app
        .ok(
            Some(&b.admin_token),
            "mutation { createApiKey(input: { name: \"b\", scopes: [USERS_READ] }) { secret apiKey { id } } }",
            json!({}),
        )
        .await;
    let b_key_id = b_key["createApiKey"]["apiKey"]["id"].as_str().unwrap().to_owned();
    let b_key_secret = b_key["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let a_admin = Some(a.admin_token.as_str());

    // Reading B's user by id is NOT_FOUND, as if it did not exist.
    let code = app.error_code(a_admin, "query($id: ID!) { user(id: $id) { email } }", json!({ "id": b_agent })).await;
    assert_eq!(code, "NOT_FOUND");
    // Lists show only A.
    let users = app.ok(a_admin, "{ users { totalCount edges { node { email } } } }", json!({})).await;
    assert_eq!(users["users"]["totalCount"], 1);
    assert_eq!(users["users"]["edges"][0]["node"]["email"], "admin@alpha.example");
    let keys = app.ok(a_admin, "{ apiKeys { totalCount } }", json!({})).await;
    assert_eq!(keys["apiKeys"]["totalCount"], 0);
    let audit =
        app.ok(a_admin, "query($id: ID!) { auditLog(entityId: $id) { totalCount } }", json!({ "id": b_agent })).await;
    assert_eq!(audit["auditLog"]["totalCount"], 0);

    // Changing B's things is NOT_FOUND and changes nothing.
    let code = app
        .error_code(
            a_admin,
            "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { id } } }",
            json!({ "id": b_agent }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let code = app
        .error_code(
            a_admin,
            "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { id } } }",
            json!({ "id": b_key_id }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    app.ok(Some(&b_agent_token), "{ me { id } }", json!({})).await;
    app.ok(Some(&b_key_secret), "{ users { totalCount } }", json!({})).await;

    // B's credentials do not open A, and B's key sees only B.
    let (_, body) = app.login("alpha", "agent@beta.example", crate::support::PASSWORD).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let seen = app.ok(Some(&b_key_secret), "{ users { edges { node { email } } } }", json!({})).await;
    assert!(!seen.to_string().contains("alpha"));
    let me = app.ok(Some(&b_agent_token), "{ me { workspace { slug } } }", json!({})).await;
    assert_eq!(me["me"]["workspace"]["slug"], "beta");
}

db_tests!(workspaces_are_isolated);
