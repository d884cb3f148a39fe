//! The cost boundary (issue 13): no document, filter or value can crash, stall or exhaust the
//! server; each is refused before it runs, with a code, the measured value and the limit.

use serde_json::{Value, json};

use crate::{db_tests, support::TestApp};

/// The first error of a request that must fail.
async fn first_error(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let (_, body) = app.post(token, query, variables).await;
    body["errors"].as_array().and_then(|e| e.first()).cloned().unwrap_or_else(|| panic!("expected an error: {body}"))
}

async fn healthy(app: &TestApp) {
    let response = app.client.get(format!("{}/healthz", app.url)).send().await.expect("the server is up");
    assert_eq!(response.status(), 200);
}

async fn huge_filters_are_refused_before_they_run(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (_, viewer) = app.user(&tenant, "viewer@acme.example", "VIEWER").await;
    let branches: Vec<Value> = (0..20_000).map(|_| json!({ "name": { "eq": "z" } })).collect();
    for (list, op) in [("customers", "or"), ("customers", "and"), ("leads", "or"), ("orders", "and")] {
        let filter_type = match list {
            "customers" => "CustomerFilter",
            "leads" => "LeadFilter",
            _ => "OrderFilter",
        };
        let branch = if list == "orders" { json!({ "externalRef": { "eq": "z" } }) } else { branches[0].clone() };
        let query = format!("query($f: {filter_type}) {{ {list}(filter: $f) {{ totalCount }} }}");
        let error = first_error(&app, Some(&viewer), &query, json!({ "f": { op: vec![branch; 20_000] } })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{list} {op}: {error}");
        assert_eq!(error["extensions"]["field"], format!("filter.{op}"));
        assert_eq!(
            (error["extensions"]["limit"].as_u64(), error["extensions"]["actual"].as_u64()),
            (Some(100), Some(20_000))
        );
    }
    healthy(&app).await;

    // A hundred branches still run; nested ones count against the filter's node budget.
    let query = "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }";
    let data = app.ok(Some(&viewer), query, json!({ "f": { "or": &branches[..100] } })).await;
    assert_eq!(data["customers"]["totalCount"], 0);
    let nested: Vec<Value> = (0..30).map(|_| json!({ "or": &branches[..50] })).collect();
    let error = first_error(&app, Some(&viewer), query, json!({ "f": { "and": nested } })).await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    assert_eq!(error["extensions"]["limit"], 1_000);

    // `in` lists and strings inside filters are bounded too.
    let values: Vec<String> = (0..40_000).map(|i| format!("v{i}")).collect();
    let error = first_error(&app, Some(&viewer), query, json!({ "f": { "email": { "in": values } } })).await;
    assert_eq!(error["extensions"]["field"], "filter.email.in", "{error}");
    assert_eq!(
        (error["extensions"]["limit"].as_u64(), error["extensions"]["actual"].as_u64()),
        (Some(1_000), Some(40_000))
    );
    let error =
        first_error(&app, Some(&viewer), query, json!({ "f": { "name": { "contains": "ä".repeat(300_000) } } })).await;
    assert_eq!(error["extensions"]["field"], "filter.name.contains", "{error}");
    assert_eq!(error["extensions"]["limit"], 500);
    healthy(&app).await;
}

async fn fragment_fan_out_is_refused_unauthenticated(app: TestApp) {
    // 2^23 copies of one field in under a kilobyte.
    let mut query = String::from("query { ...f23 }\nfragment f0 on Query { __typename }\n");
    for i in 1..24 {
        query.push_str(&format!("fragment f{i} on Query {{ ...f{p} ...f{p} }}\n", p = i - 1));
    }
    assert!(query.len() < 1_200);
    for _ in 0..3 {
        let error = first_error(&app, None, &query, json!({})).await;
        assert_eq!(error["extensions"]["code"], "QUERY_TOO_LARGE", "{error}");
        assert_eq!(error["extensions"]["actual"], 1u64 << 23);
        assert_eq!(error["extensions"]["limit"], 2_000);
    }
    let (status, _) = app.post(None, &query, json!({})).await;
    assert_eq!(status, 400);
    healthy(&app).await;
}

async fn metric_fields_carry_their_cost(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let metric = |i: usize| {
        format!(
            "m{i}: retentionMetrics(input: {{ from: \"2025-01-01\", to: \"2025-03-01\", granularity: MONTH }}) {{ activityWindowDays }}"
        )
    };
    let aliases = |n: usize| format!("{{ {} }}", (0..n).map(metric).collect::<Vec<_>>().join(" "));

    let error = first_error(&app, token, &aliases(1_000), json!({})).await;
    assert_eq!(error["extensions"]["code"], "QUERY_TOO_LARGE", "{error}");
    assert_eq!(
        (error["extensions"]["limit"].as_u64(), error["extensions"]["actual"].as_u64()),
        (Some(32), Some(1_000))
    );

    let error = first_error(&app, token, &aliases(12), json!({})).await;
    assert_eq!(error["extensions"]["code"], "QUERY_TOO_COMPLEX", "{error}");
    assert_eq!(error["extensions"]["limit"], 5_000);
    assert!(error["extensions"]["actual"].as_u64().unwrap() > 5_000, "{error}");

    let data = app.ok(token, &aliases(2), json!({})).await;
    assert!(data["m1"]["activityWindowDays"].is_number());

    // The cohort matrix grows with the square of its span: daily cohorts over three years are
    // refused before they run, monthly ones over two years are not.
    let cohorts = "query($i: CohortRetentionInput!) { cohortRetention(input: $i) { periodStart size } }";
    let daily = json!({ "i": { "from": "2023-01-01", "to": "2026-01-01", "granularity": "DAY" } });
    let error = first_error(&app, token, cohorts, daily).await;
    assert_eq!(error["extensions"]["code"], "QUERY_TOO_COMPLEX", "{error}");
    let monthly = json!({ "i": { "from": "2024-01-01", "to": "2026-01-01", "granularity": "MONTH" } });
    app.ok(token, cohorts, monthly).await;

    // Reports and exports weigh the same.
    for field in ["rfm { analyzedAt }", "customerValue { customers }", "predictionModel { customers }"] {
        let query = format!("{{ {} }}", (0..12).map(|i| format!("a{i}: {field}")).collect::<Vec<_>>().join(" "));
        let (_, body) = app.post(token, &query, json!({})).await;
        let heavy = field != "predictionModel { customers }";
        assert_eq!(body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", heavy, "{field}: {body}");
    }
}

async fn every_bad_value_gets_a_code_and_its_field(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let customer = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let record = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created } }";
    for amount in ["NaN", "1,50", " 5 ", "abc"] {
        let input = json!({ "customerId": customer, "externalRef": "o1", "amount": amount, "placedAt": "2025-01-01T10:00:00Z" });
        let error = first_error(&app, token, record, json!({ "input": input })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{amount}: {error}");
        assert_eq!(error["extensions"]["field"], "input.amount", "{amount}: {error}");
    }
    let input =
        json!({ "customerId": customer, "externalRef": "o1", "amount": "5", "placedAt": "2024-02-30T10:00:00Z" });
    let error = first_error(&app, token, record, json!({ "input": input })).await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("input.placedAt"))
    );
    // The same values written inline in the document.
    let inline = format!(
        "mutation {{ recordOrder(input: {{ customerId: \"{customer}\", externalRef: \"o1\", amount: \"NaN\", placedAt: \"2025-01-01T10:00:00Z\" }}) {{ created }} }}"
    );
    let error = first_error(&app, token, &inline, json!({})).await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("input.amount"))
    );

    let metrics = "query($input: RetentionMetricsInput!) { retentionMetrics(input: $input) { activityWindowDays } }";
    let input = json!({ "from": "2025-13-01", "to": "2025-03-01", "granularity": "MONTH" });
    let error = first_error(&app, token, metrics, json!({ "input": input })).await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("input.from"))
    );

    // An unsigned argument given a negative number, and an `Int` beyond 32 bits.
    let enroll = "mutation($c: ID!) { enrollCustomer(input: { customerId: $c }) { account { id } } }";
    let account = app.ok(token, enroll, json!({ "c": customer })).await["enrollCustomer"]["account"]["id"].clone();
    let expiring = "query($a: ID!) { loyaltyAccount(id: $a) { expiringPoints(days: -1) { points } } }";
    let error = first_error(&app, token, expiring, json!({ "a": account })).await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("days")),
        "{error}"
    );
    let error = first_error(
        &app,
        token,
        "query($n: Int) { customers(first: $n) { totalCount } }",
        json!({ "n": 4_294_967_296u64 }),
    )
    .await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("first"))
    );
}

async fn control_characters_are_refused_in_text(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let create = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }";
    let error = first_error(&app, token, create, json!({ "input": { "name": "Ada\u{0}Lovelace" } })).await;
    assert_eq!(
        (error["extensions"]["code"].as_str(), error["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("input.name")),
        "{error}"
    );
    let search = "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }";
    let error = first_error(&app, token, search, json!({ "f": { "name": { "contains": "\u{0}" } } })).await;
    assert_eq!(error["extensions"]["field"], "filter.name.contains", "{error}");
    // Nothing was written; ordinary line breaks and tabs are text.
    let data = app.ok(token, search, json!({})).await;
    assert_eq!(data["customers"]["totalCount"], 0);
    app.customer(&tenant.admin_token, json!({ "name": "Ada\tLovelace" })).await;
}

db_tests!(
    huge_filters_are_refused_before_they_run,
    fragment_fan_out_is_refused_unauthenticated,
    metric_fields_carry_their_cost,
    every_bad_value_gets_a_code_and_its_field,
    control_characters_are_refused_in_text,
);
