//! API keys: shown once, stored hashed, scoped, revocable.

use serde_json::json;

use crate::{db_tests, support::TestApp};

const CREATE: &str =
    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id prefix scopes } } }";

async fn a_key_works_within_its_scopes_until_revoked(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let data = app.ok(admin, CREATE, json!({ "input": { "name": "BI export", "scopes": ["USERS_READ"] } })).await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let key_id = data["createApiKey"]["apiKey"]["id"].as_str().unwrap().to_owned();
    let prefix = data["createApiKey"]["apiKey"]["prefix"].as_str().unwrap();
    assert!(secret.starts_with(&format!("vafa_{prefix}_")), "{secret}");
    assert_eq!(data["createApiKey"]["apiKey"]["scopes"], json!(["USERS_READ"]));

    // Listing never shows the secret again, and the database holds only its hash.
    let listed = app.ok(admin, "{ apiKeys { totalCount edges { node { id prefix lastUsedAt } } } }", json!({})).await;
    assert_eq!(listed["apiKeys"]["totalCount"], 1);
    assert!(!listed.to_string().contains(&secret[secret.len() - 20..]));
    let stored = <entity::api_key::Entity as sea_orm::EntityTrait>::find().all(app.db()).await.unwrap();
    assert!(!stored[0].secret_hash.contains(&secret[secret.len() - 20..]));

    let key = Some(secret.as_str());
    let users = app.ok(key, "{ users { totalCount } }", json!({})).await;
    assert_eq!(users["users"]["totalCount"], 1);
    assert_eq!(app.error_code(key, "{ workspace { slug } }", json!({})).await, "FORBIDDEN");
    assert_eq!(app.error_code(key, "{ me { id } }", json!({})).await, "FORBIDDEN");
    let code = app.error_code(key, CREATE, json!({ "input": { "name": "escalate", "scopes": ["USERS_READ"] } })).await;
    assert_eq!(code, "FORBIDDEN");
    let used = app.ok(admin, "{ apiKeys { edges { node { lastUsedAt } } } }", json!({})).await;
    assert!(used["apiKeys"]["edges"][0]["node"]["lastUsedAt"].is_string());

    let revoked = app
        .ok(
            admin,
            "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { revokedAt } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert!(revoked["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
    let (status, body) = app.post(key, "{ users { totalCount } }", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn forged_and_malformed_keys_are_rejected(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let data = app
        .ok(Some(&tenant.admin_token), CREATE, json!({ "input": { "name": "k", "scopes": ["WORKSPACE_READ"] } }))
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let mut forged = secret.clone();
    forged.pop();
    forged.push(if secret.ends_with('A') { 'B' } else { 'A' });
    for key in [forged.as_str(), "vafa_", "vafa_nounderscore", "vafa_unknownprefix_secret"] {
        let (status, body) = app.post(Some(key), "{ workspace { slug } }", json!({})).await;
        assert_eq!(status, 401, "{key}: {body}");
    }
    let ok = app.ok(Some(&secret), "{ workspace { slug } }", json!({})).await;
    assert_eq!(ok["workspace"]["slug"], "acme");
}

async fn key_input_is_validated(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let (_, body) = app.post(admin, CREATE, json!({ "input": { "name": "k", "scopes": [] } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.scopes");
    let (_, body) = app.post(admin, CREATE, json!({ "input": { "name": "  ", "scopes": ["USERS_READ"] } })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.name");
    let listed = app.ok(admin, "{ apiKeys { totalCount } }", json!({})).await;
    assert_eq!(listed["apiKeys"]["totalCount"], 0, "nothing half-written");
}

db_tests!(a_key_works_within_its_scopes_until_revoked, forged_and_malformed_keys_are_rejected, key_input_is_validated);
