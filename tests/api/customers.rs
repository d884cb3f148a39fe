//! Customers: profile, tags, notes, validation, tenancy, filters and ordering, no N+1.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{db_tests, support::TestApp};

const GET: &str = "query($id: ID!) { customer(id: $id) {
  id name email phone externalRef birthday lifecycleStage marketingConsent tags
  owner { email } profile { city country ageBand interests preferredChannel }
  notes { totalCount edges { node { body author { email } } } }
} }";
const UPDATE: &str = "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { id phone email tags name profile { city interests } } } }";

async fn customers_are_created_changed_and_read(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let id = app
        .customer(token, json!({
            "name": "  Ada Lovelace ", "email": "ADA@Example.com", "phone": "+44 20 7946 0018",
            "externalRef": "shop-17", "birthday": "1985-12-10", "ownerId": tenant.admin.id.to_string(),
            "tags": ["VIP", "vip", " newsletter "], "marketingConsent": true,
            "profile": { "city": "London", "country": "gb", "ageBand": "AGE_35_44", "interests": ["maths", "poetry", "maths"], "preferredChannel": "EMAIL" }
        }))
        .await;
    let data = app.ok(Some(token), GET, json!({ "id": id })).await;
    let c = &data["customer"];
    assert_eq!(c["name"], "Ada Lovelace");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["phone"], "+442079460018");
    assert_eq!(c["lifecycleStage"], "NEW");
    assert_eq!(c["tags"], json!(["newsletter", "vip"]));
    assert_eq!(c["owner"]["email"], "admin@acme.example");
    assert_eq!(c["profile"]["country"], "GB");
    assert_eq!(c["profile"]["interests"], json!(["maths", "poetry"]));

    // Absent fields are kept, null clears, tags are replaced.
    let data = app
        .ok(
            Some(token),
            UPDATE,
            json!({ "input": { "customerId": id, "phone": null, "tags": ["wholesale"], "profile": { "city": null } } }),
        )
        .await;
    let c = &data["updateCustomer"]["customer"];
    assert!(c["phone"].is_null());
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["tags"], json!(["wholesale"]));
    assert!(c["profile"]["city"].is_null());
    assert_eq!(c["profile"]["interests"], json!(["maths", "poetry"]));

    let note = "mutation($input: AddCustomerNoteInput!) { addCustomerNote(input: $input) { note { body } } }";
    app.ok(
        Some(token),
        note,
        json!({ "input": { "customerId": id, "body": "Prefers calls after 6pm; daughter Byron." } }),
    )
    .await;
    let data = app.ok(Some(token), GET, json!({ "id": id })).await;
    assert_eq!(data["customer"]["notes"]["totalCount"], 1);
    assert_eq!(data["customer"]["notes"]["edges"][0]["node"]["author"]["email"], "admin@acme.example");
}

async fn bad_customer_input_writes_nothing(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let other = app.tenant("other").await;
    app.customer(&tenant.admin_token, json!({ "name": "First", "externalRef": "x-1" })).await;
    let create = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }";
    for (input, code, field) in [
        (json!({ "name": "" }), "BAD_USER_INPUT", Some("input.name")),
        (json!({ "name": "B", "email": "nope" }), "BAD_USER_INPUT", Some("input.email")),
        (json!({ "name": "B", "phone": "12" }), "BAD_USER_INPUT", Some("input.phone")),
        (json!({ "name": "B", "externalRef": "x-1" }), "CONFLICT", None),
        (json!({ "name": "B", "ownerId": other.admin.id.to_string() }), "NOT_FOUND", None),
    ] {
        let (_, body) = app.post(token, create, json!({ "input": input.clone() })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{input}: {body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}");
        }
    }
    let count = app.ok(token, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 1);
    // Another workspace's customer is invisible and unchangeable.
    let theirs = app.customer(&other.admin_token, json!({ "name": "Theirs" })).await;
    assert_eq!(app.error_code(token, GET, json!({ "id": theirs })).await, "NOT_FOUND");
    let code = app.error_code(token, UPDATE, json!({ "input": { "customerId": theirs, "name": "Mine now" } })).await;
    assert_eq!(code, "NOT_FOUND");
    let theirs_now = app.ok(Some(&other.admin_token), GET, json!({ "id": theirs })).await;
    assert_eq!(theirs_now["customer"]["name"], "Theirs");
}

fn names(data: &Value) -> Vec<String> {
    data["customers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn customers_filter_and_sort(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let now = Utc::now();
    let day = |n: i64| (now - Duration::days(n)).to_rfc3339();
    let ann = app
        .customer(
            token,
            json!({ "name": "Ann", "tags": ["vip"], "birthday": "1990-03-14", "profile": { "city": "Berlin" } }),
        )
        .await;
    let bob =
        app.customer(token, json!({ "name": "Bob", "tags": ["vip", "wholesale"], "birthday": "1985-07-01" })).await;
    let cid = app.customer(token, json!({ "name": "Cid", "profile": { "city": "Bern" } })).await;
    app.customer(token, json!({ "name": "Dee" })).await;
    app.order(token, &ann, "a1", "10.00", &day(30)).await;
    app.order(token, &ann, "a2", "15.50", &day(5)).await;
    app.order(token, &bob, "b1", "250.00", &day(60)).await;
    app.order(token, &cid, "c1", "40.00", &day(2)).await;

    let q = "query($f: CustomerFilter, $o: [CustomerOrder!]) { customers(filter: $f, orderBy: $o) { totalCount edges { node { name } } } }";
    let run = |f: Value, o: Value| app.ok(Some(token), q, json!({ "f": f, "o": o }));
    let by_name = json!([{ "field": "NAME" }]);
    assert_eq!(names(&run(json!({ "tagsAny": ["VIP"] }), by_name.clone()).await), ["Ann", "Bob"]);
    assert_eq!(names(&run(json!({ "tagsAll": ["vip", "wholesale"] }), by_name.clone()).await), ["Bob"]);
    assert_eq!(
        names(&run(json!({ "totalSpent": { "gte": "25.50", "lte": "100" } }), by_name.clone()).await),
        ["Ann", "Cid"]
    );
    assert_eq!(names(&run(json!({ "hasOrder": { "amount": { "gte": "100" } } }), by_name.clone()).await), ["Bob"]);
    assert_eq!(names(&run(json!({ "orderCount": { "gte": 2 } }), by_name.clone()).await), ["Ann"]);
    assert_eq!(names(&run(json!({ "birthdayMonth": 7 }), by_name.clone()).await), ["Bob"]);
    assert_eq!(names(&run(json!({ "city": { "contains": "ber" } }), by_name.clone()).await), ["Ann", "Cid"]);
    assert_eq!(names(&run(json!({ "not": { "orderCount": { "gte": 1 } } }), by_name.clone()).await), ["Dee"]);
    assert_eq!(
        names(
            &run(
                json!({ "or": [{ "lifecycleStage": { "eq": "NEW" } }, { "name": { "eq": "Bob" } }] }),
                by_name.clone()
            )
            .await
        ),
        ["Bob", "Dee"]
    );
    let last_order = |dir: &str, nulls: &str| json!([{ "field": "LAST_ORDER_AT", "direction": dir, "nulls": nulls }]);
    assert_eq!(names(&run(Value::Null, last_order("DESC", "LAST")).await), ["Cid", "Ann", "Bob", "Dee"]);
    assert_eq!(names(&run(Value::Null, last_order("ASC", "FIRST")).await), ["Dee", "Bob", "Ann", "Cid"]);
    assert_eq!(
        names(&run(Value::Null, json!([{ "field": "TOTAL_SPENT", "direction": "DESC" }])).await),
        ["Bob", "Cid", "Ann", "Dee"]
    );

    // Paging through a nullable order with cursors visits everyone once.
    let page = "query($after: String) { customers(first: 1, after: $after, orderBy: [{ field: LAST_ORDER_AT, direction: DESC, nulls: LAST }]) { pageInfo { endCursor hasNextPage } edges { node { name } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.ok(Some(token), page, json!({ "after": after })).await;
        seen.extend(names(&data));
        if data["customers"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["customers"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["Cid", "Ann", "Bob", "Dee"]);
    let (_, body) = app.post(Some(token), q, json!({ "f": { "birthdayMonth": 13 } })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "filter.birthdayMonth");
}

async fn a_page_of_customers_costs_a_bounded_number_of_statements(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let start = Utc::now() - Duration::days(300);
    for c in 0..30 {
        let id = app
            .customer(
                token,
                json!({ "name": format!("c{c:02}"), "tags": ["t"], "ownerId": tenant.admin.id.to_string() }),
            )
            .await;
        for o in 0..6 {
            let at = (start + Duration::days(c * 3 + o * 20)).to_rfc3339();
            app.order(token, &id, &format!("{c}-{o}"), "12.34", &at).await;
        }
    }
    let query = "query($n: Int) { customers(first: $n) { edges { node {
      name orderCount totalSpent averageOrderValue firstOrderAt lastOrderAt daysSinceLastOrder lifecycleStage tags
      owner { email }
      orders(first: 5) { pageInfo { hasNextPage } edges { node { amount placedAt } } }
      lifecycleHistory(first: 3) { edges { node { toStage reason } } }
    } } } }";
    let (small, small_count, small_sql) = app.counted(Some(token), query, json!({ "n": 3 })).await;
    let (large, large_count, large_sql) = app.counted(Some(token), query, json!({ "n": 30 })).await;
    assert_eq!(small["customers"]["edges"].as_array().unwrap().len(), 3);
    let edges = large["customers"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 30);
    for edge in edges {
        let orders = edge["node"]["orders"]["edges"].as_array().unwrap();
        assert_eq!(orders.len(), 5);
        assert_eq!(edge["node"]["orders"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(edge["node"]["orderCount"], 6);
        assert_eq!(edge["node"]["totalSpent"], "74.04");
        assert_eq!(edge["node"]["averageOrderValue"], "12.34");
        // Newest first.
        assert!(orders[0]["node"]["placedAt"].as_str() > orders[4]["node"]["placedAt"].as_str());
    }
    assert_eq!(
        small_count, large_count,
        "statements must not grow with the page size:\n{small_sql:#?}\n{large_sql:#?}"
    );
    assert!(large_count <= 8, "{large_count} statements for one page");
}

/// `contains` ignores case beyond ASCII, on SQLite as on PostgreSQL.
async fn search_folds_case_in_every_script(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    app.customer(token, json!({ "name": "ÄRGER Müller" })).await;
    app.customer(token, json!({ "name": "Ιωάννης ΠΑΠΑΔΌΠΟΥΛΟΣ" })).await;
    app.customer(token, json!({ "name": "Plain Ascii" })).await;
    let query = "query($f: CustomerFilter) { customers(filter: $f) { edges { node { name } } } }";
    for (needle, expected) in [
        ("ärger", "ÄRGER Müller"),
        ("MÜLLER", "ÄRGER Müller"),
        ("ιωάννης παπαδόπουλ", "Ιωάννης ΠΑΠΑΔΌΠΟΥΛΟΣ"),
        ("ascii", "Plain Ascii"),
    ] {
        let data = app.ok(Some(token), query, json!({ "f": { "name": { "contains": needle } } })).await;
        let names: Vec<&str> = data["customers"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [expected], "{needle}");
    }
}

db_tests!(
    search_folds_case_in_every_script,
    customers_are_created_changed_and_read,
    bad_customer_input_writes_nothing,
    customers_filter_and_sort,
    a_page_of_customers_costs_a_bounded_number_of_statements,
);
