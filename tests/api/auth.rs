//! Login, refresh-token rotation and reuse detection, logout, deactivation, throttling.

use serde_json::{Value, json};

use crate::{
    db_tests,
    support::{PASSWORD, TestApp},
};

const ME: &str = "{ me { id email role workspace { id slug name } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken refreshToken } }";

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    app.post(None, REFRESH, json!({ "t": token })).await
}

async fn login_returns_tokens_that_answer_me(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (status, body) = app.login("acme", "ADMIN@acme.example", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["login"]["accessToken"].as_str().unwrap();
    let me = app.ok(Some(access), ME, json!({})).await;
    assert_eq!(me["me"]["email"], "admin@acme.example");
    assert_eq!(me["me"]["role"], "ADMIN");
    assert_eq!(me["me"]["workspace"]["slug"], "acme");
    assert_eq!(me["me"]["workspace"]["id"], tenant.workspace.id.to_string());
}

async fn wrong_credentials_are_indistinguishable(app: TestApp) {
    app.tenant("acme").await;
    let mut messages = Vec::new();
    for (ws, email, password) in [
        ("acme", "admin@acme.example", "wrong password!!"),
        ("acme", "nobody@acme.example", PASSWORD),
        ("no-such-workspace", "admin@acme.example", PASSWORD),
    ] {
        let (_, body) = app.login(ws, email, password).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        assert!(body["data"].is_null(), "{body}");
        messages.push(body["errors"][0]["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "messages differ: {messages:?}");
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    app.tenant("acme").await;
    let (_, body) = app.login("acme", "admin@acme.example", PASSWORD).await;
    let first = body["data"]["login"]["refreshToken"].as_str().unwrap().to_owned();

    let (status, body) = refresh(&app, &first).await;
    assert_eq!(status, 200, "{body}");
    let second = body["data"]["refreshToken"]["refreshToken"].as_str().unwrap().to_owned();
    let access = body["data"]["refreshToken"]["accessToken"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    app.ok(Some(&access), ME, json!({})).await;

    // The rotated token is dead; presenting it again is treated as theft …
    let (_, body) = refresh(&app, &first).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    // … so the family's live token is revoked too.
    let (_, body) = refresh(&app, &second).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");

    // A separate login is a separate family and still works.
    let (_, body) = app.login("acme", "admin@acme.example", PASSWORD).await;
    let other = body["data"]["login"]["refreshToken"].as_str().unwrap().to_owned();
    let (status, _) = refresh(&app, &other).await;
    assert_eq!(status, 200);
}

async fn garbage_refresh_tokens_are_rejected(app: TestApp) {
    for token in ["", "not-a-token", &"x".repeat(5000)] {
        let (_, body) = refresh(&app, token).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    }
}

async fn logout_ends_the_session(app: TestApp) {
    app.tenant("acme").await;
    let (_, body) = app.login("acme", "admin@acme.example", PASSWORD).await;
    let token = body["data"]["login"]["refreshToken"].as_str().unwrap().to_owned();
    let data = app
        .ok(None, "mutation($t: String!) { logout(input: { refreshToken: $t }) { revoked } }", json!({ "t": token }))
        .await;
    assert_eq!(data["logout"]["revoked"], true);
    let (_, body) = refresh(&app, &token).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn deactivated_users_lose_access_at_once(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (agent_id, _) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    let (_, body) = app.login("acme", "agent@acme.example", PASSWORD).await;
    let access = body["data"]["login"]["accessToken"].as_str().unwrap().to_owned();
    let refresh_token = body["data"]["login"]["refreshToken"].as_str().unwrap().to_owned();
    app.ok(Some(&access), ME, json!({})).await;

    let data = app
        .ok(
            Some(&tenant.admin_token),
            "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { active } } }",
            json!({ "id": agent_id }),
        )
        .await;
    assert_eq!(data["deactivateUser"]["user"]["active"], false);

    let (status, body) = app.post(Some(&access), ME, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (_, body) = refresh(&app, &refresh_token).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (_, body) = app.login("acme", "agent@acme.example", PASSWORD).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn admins_cannot_deactivate_themselves(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let code = app
        .error_code(
            Some(&tenant.admin_token),
            "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { active } } }",
            json!({ "id": tenant.admin.id.to_string() }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn repeated_logins_are_throttled(app: TestApp) {
    app.tenant("acme").await;
    for _ in 0..5 {
        let (_, body) = app.login("acme", "admin@acme.example", "guessing password").await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // Even the right password is refused while the account is throttled.
    let (_, body) = app.login("acme", "admin@acme.example", PASSWORD).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{body}");
    assert!(body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1);
}

db_tests!(
    login_returns_tokens_that_answer_me,
    wrong_credentials_are_indistinguishable,
    refresh_rotates_and_reuse_revokes_the_family,
    garbage_refresh_tokens_are_rejected,
    logout_ends_the_session,
    deactivated_users_lose_access_at_once,
    admins_cannot_deactivate_themselves,
    repeated_logins_are_throttled,
);
