//! Creating users (validation, uniqueness, nothing half-written) and the `users` connection.

use serde_json::{Value, json};

use crate::{db_tests, support::TestApp};

const CREATE: &str =
    "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id email role active } } }";
const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter, $orderBy: [UserOrder!]) {
  users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { email role } }
  }
}";

fn emails(data: &Value) -> Vec<String> {
    data["users"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["email"].as_str().unwrap().to_owned()).collect()
}

async fn user_input_is_validated(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let input = |email: &str, password: &str| json!({ "input": { "email": email, "name": "N", "role": "AGENT", "password": password } });
    for (vars, field) in [
        (input("not-an-email", "long enough password"), "input.email"),
        (input("ok@acme.example", "short"), "input.password"),
    ] {
        let (_, body) = app.post(admin, CREATE, vars).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let data = app.ok(admin, CREATE, input(" New@Acme.example ", "long enough password")).await;
    assert_eq!(data["createUser"]["user"]["email"], "new@acme.example");
    let code = app.error_code(admin, CREATE, input("NEW@acme.example", "long enough password")).await;
    assert_eq!(code, "CONFLICT");
    // Unknown enum values never reach the resolver.
    let (status, body) = app
        .post(admin, CREATE, json!({ "input": { "email": "z@acme.example", "name": "z", "role": "ROOT", "password": "long enough password" } }))
        .await;
    assert_eq!(status, 400, "{body}");
    let all = app.ok(admin, PAGE, json!({})).await;
    assert_eq!(all["users"]["totalCount"], 2, "only the admin and the one valid user exist");
    let audit = app.ok(admin, "{ auditLog { edges { node { action } } } }", json!({})).await;
    let creations = audit.to_string().matches("user.create").count();
    assert_eq!(creations, 2, "failed attempts leave no audit rows: {audit}");
}

async fn users_page_forward_and_backward_in_a_stable_order(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    for (name, role) in [("dave", "AGENT"), ("bob", "SALES"), ("erin", "AGENT"), ("carol", "VIEWER")] {
        app.user(&tenant, &format!("{name}@acme.example"), role).await;
    }
    let by_email = json!([{ "field": "EMAIL" }]);
    let page1 = app.ok(admin, PAGE, json!({ "first": 2, "orderBy": by_email })).await;
    assert_eq!(emails(&page1), ["admin@acme.example", "bob@acme.example"]);
    assert_eq!(page1["users"]["totalCount"], 5);
    assert_eq!(page1["users"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(page1["users"]["pageInfo"]["hasPreviousPage"], false);

    let after = page1["users"]["pageInfo"]["endCursor"].clone();
    let page2 = app.ok(admin, PAGE, json!({ "first": 2, "after": after, "orderBy": by_email })).await;
    assert_eq!(emails(&page2), ["carol@acme.example", "dave@acme.example"]);
    let after = page2["users"]["pageInfo"]["endCursor"].clone();
    let page3 = app.ok(admin, PAGE, json!({ "first": 2, "after": after, "orderBy": by_email })).await;
    assert_eq!(emails(&page3), ["erin@acme.example"]);
    assert_eq!(page3["users"]["pageInfo"]["hasNextPage"], false);

    // Backwards from the end, and back from a cursor.
    let tail = app.ok(admin, PAGE, json!({ "last": 2, "orderBy": by_email })).await;
    assert_eq!(emails(&tail), ["dave@acme.example", "erin@acme.example"]);
    assert_eq!(tail["users"]["pageInfo"]["hasPreviousPage"], true);
    let before = tail["users"]["pageInfo"]["startCursor"].clone();
    let prev = app.ok(admin, PAGE, json!({ "last": 2, "before": before, "orderBy": by_email })).await;
    assert_eq!(emails(&prev), ["bob@acme.example", "carol@acme.example"]);

    // Descending order, and filters combined with `or` / `not`.
    let desc = app.ok(admin, PAGE, json!({ "first": 1, "orderBy": [{ "field": "EMAIL", "direction": "DESC" }] })).await;
    assert_eq!(emails(&desc), ["erin@acme.example"]);
    let agents = app.ok(admin, PAGE, json!({ "filter": { "role": { "eq": "AGENT" } }, "orderBy": by_email })).await;
    assert_eq!(emails(&agents), ["dave@acme.example", "erin@acme.example"]);
    let filter = json!({ "or": [{ "role": { "in": ["SALES", "VIEWER"] } }, { "email": { "contains": "ERIN" } }], "not": { "email": { "eq": "carol@acme.example" } } });
    let mixed = app.ok(admin, PAGE, json!({ "filter": filter, "orderBy": by_email })).await;
    assert_eq!(emails(&mixed), ["bob@acme.example", "erin@acme.example"]);
    assert_eq!(mixed["users"]["totalCount"], 2);
    let literal = app.ok(admin, PAGE, json!({ "filter": { "email": { "contains": "%" } } })).await;
    assert_eq!(emails(&literal).len(), 0, "LIKE wildcards in user text match literally");
}

async fn bad_page_arguments_are_bad_input(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let page = app.ok(admin, PAGE, json!({ "first": 1 })).await;
    let cursor = page["users"]["pageInfo"]["endCursor"].clone();
    for (vars, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "garbage" }), "after"),
        (json!({ "after": cursor, "orderBy": [{ "field": "NAME" }] }), "after"),
    ] {
        let (_, body) = app.post(admin, PAGE, vars.clone()).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{vars}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{vars}: {body}");
    }
}

db_tests!(user_input_is_validated, users_page_forward_and_backward_in_a_stable_order, bad_page_arguments_are_bad_input);
