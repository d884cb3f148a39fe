//! A/B tests of retention campaigns through the API: a draft, the audience split once with the
//! campaign's follow-ups for the treatment, results per customer window with significance, the
//! exclusivity of running tests, cancelling, roles and tenancy.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use vafa::experiments::{service, stats};

use crate::{db_tests, support::TestApp};

const CREATE: &str = "mutation($input: CreateExperimentInput!) {
  createExperiment(input: $input) { experiment { id status controlVariant windowDays audienceSize results { complete }
    variants { name weight isControl followUp { kind dueInDays } } } }
}";
const START: &str = "mutation($input: StartExperimentInput!) {
  startExperiment(input: $input) { experiment { id status audienceSize startedAt } }
}";
const RESULTS: &str = "query($id: ID!) { experiment(id: $id) { status results {
  complete winner sampleRatioPValue
  variants { name isControl customers purchasers purchaseRate orders revenue revenuePerCustomer significant adjustedPValue
    purchaseRateVsControl { difference pValue confidenceLow confidenceHigh }
    revenuePerCustomerVsControl { difference pValue } }
} } }";
const MEMBERS: &str = "query($id: ID!, $variant: String) { experiment(id: $id) {
  assignments(first: 100, variant: $variant) { totalCount edges { node { variant customer { id } } } }
} }";

fn win_back(name: &str) -> Value {
    json!({ "input": {
        "name": name, "kind": "REACTIVATION", "hypothesis": "A call brings lapsed customers back",
        "variants": [
            { "name": "control" },
            { "name": "call", "followUp": { "kind": "REACTIVATION", "dueInDays": 2, "note": "Call and offer 10 % off" } }
        ],
        "windowDays": 30
    } })
}

async fn members(app: &TestApp, token: &str, id: &str, variant: &str) -> Vec<String> {
    let data = app.ok(Some(token), MEMBERS, json!({ "id": id, "variant": variant })).await;
    let edges = data["experiment"]["assignments"]["edges"].as_array().unwrap().clone();
    edges.iter().map(|e| e["node"]["customer"]["id"].as_str().unwrap().to_owned()).collect()
}

async fn follow_ups(app: &TestApp, token: &str, status: &str) -> i64 {
    let query = "query($filter: FollowUpFilter) { followUps(filter: $filter) { totalCount } }";
    let filter = json!({ "filter": { "kind": { "eq": "REACTIVATION" }, "status": { "eq": status } } });
    app.ok(Some(token), query, filter).await["followUps"]["totalCount"].as_i64().unwrap()
}

async fn a_campaign_tested_against_its_control(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let mut lapsed = Vec::new();
    for i in 0..30 {
        lapsed.push(app.customer(token, json!({ "name": format!("Lapsed {i}"), "tags": ["lapsed"] })).await);
    }
    for i in 0..10 {
        app.customer(token, json!({ "name": format!("Active {i}") })).await;
    }
    // Bought before the test: not an outcome of it.
    app.order(token, &lapsed[0], "before", "80.00", &(Utc::now() - Duration::days(3)).to_rfc3339()).await;

    let created =
        app.ok(Some(token), CREATE, win_back("Win-back call")).await["createExperiment"]["experiment"].clone();
    assert_eq!((created["status"].as_str(), created["controlVariant"].as_str()), (Some("DRAFT"), Some("control")));
    assert!(created["results"].is_null(), "a draft has no results");
    assert_eq!(
        created["variants"][1],
        json!({ "name": "call", "weight": 1, "isControl": false, "followUp": { "kind": "REACTIVATION", "dueInDays": 2 } })
    );
    let id = created["id"].as_str().unwrap().to_owned();

    let start = json!({ "input": { "experimentId": id, "audience": { "tagsAny": ["lapsed"] } } });
    let started = app.ok(Some(token), START, start.clone()).await["startExperiment"]["experiment"].clone();
    assert_eq!((started["status"].as_str(), started["audienceSize"].as_i64()), (Some("RUNNING"), Some(30)));
    assert_eq!(app.error_code(Some(token), START, start).await, "INVALID_TRANSITION", "a test starts once");

    let (control, call) = (members(&app, token, &id, "control").await, members(&app, token, &id, "call").await);
    assert_eq!(control.len() + call.len(), 30);
    assert!(control.iter().chain(&call).all(|c| lapsed.contains(c)), "only the audience is assigned");
    assert!(control.len() >= 2 && call.len() >= 2, "both arms have customers: {} / {}", control.len(), call.len());
    assert_eq!(
        follow_ups(&app, token, "PENDING").await,
        call.len() as i64,
        "staff call every treated customer, no one else"
    );

    // Every called customer buys for 25.00; one control customer buys twice for 10.00.
    let now = Utc::now().to_rfc3339();
    for (i, customer) in call.iter().enumerate() {
        app.order(token, customer, &format!("call-{i}"), "25.00", &now).await;
    }
    app.order(token, &control[0], "control-0", "10.00", &now).await;
    app.order(token, &control[0], "control-1", "10.00", &now).await;

    let results = app.ok(Some(token), RESULTS, json!({ "id": id })).await["experiment"]["results"].clone();
    assert_eq!((results["complete"].as_bool(), &results["winner"]), (Some(false), &Value::Null), "{results}");
    let [base, treated] = &results["variants"].as_array().unwrap()[..] else { panic!("two variants: {results}") };
    let (nc, nt) = (control.len() as u64, call.len() as u64);
    assert_eq!(
        (base["customers"].as_u64(), base["purchasers"].as_u64(), base["orders"].as_u64(), base["revenue"].as_str()),
        (Some(nc), Some(1), Some(2), Some("20.00")),
        "the order before the start does not count: {base}"
    );
    assert!(base["purchaseRateVsControl"].is_null() && base["isControl"] == true);
    assert_eq!((treated["purchasers"].as_u64(), treated["purchaseRate"].as_f64()), (Some(nt), Some(1.0)));
    assert_eq!(treated["revenuePerCustomer"], "25.00");
    let expected = stats::compare_proportions((1, nc), (nt, nt), 0.95).unwrap();
    let rate = &treated["purchaseRateVsControl"];
    assert!((rate["difference"].as_f64().unwrap() - expected.difference).abs() < 1e-12, "{rate}");
    assert!((rate["pValue"].as_f64().unwrap() - expected.p_value).abs() < 1e-12, "{rate}");
    let (low, high) = (rate["confidenceLow"].as_f64().unwrap(), rate["confidenceHigh"].as_f64().unwrap());
    assert!((low - expected.low).abs() < 1e-12 && (high - expected.high).abs() < 1e-12, "{rate}");
    assert_eq!(low > 0.0 || high < 0.0, expected.p_value < 0.05, "the interval agrees with the test: {rate}");
    assert_eq!(treated["adjustedPValue"], rate["pValue"], "one treatment: nothing to correct");
    assert_eq!(treated["significant"], expected.p_value < 0.05);
    let revenue: f64 = treated["revenuePerCustomerVsControl"]["difference"].as_str().unwrap().parse().unwrap();
    assert!((revenue - (25.0 - 20.0 / nc as f64)).abs() < 0.006, "{treated}");
    // In minor units: one control customer spent 2,000, the rest nothing; every treated one 2,500.
    let spend = stats::compare_means(
        &stats::Sample::from_moments(nc, 2_000.0, 2_000.0 * 2_000.0),
        &stats::Sample::from_moments(nt, 2_500.0 * nt as f64, 2_500.0 * 2_500.0 * nt as f64),
        0.95,
    )
    .unwrap();
    let p_value = treated["revenuePerCustomerVsControl"]["pValue"].as_f64().unwrap();
    assert!((p_value - spend.p_value).abs() < 1e-9, "{p_value} vs {spend:?}");

    // After every window has closed the numbers are final and a significant winner is named.
    let model = service::get(app.db(), tenant.workspace.id, id.parse().unwrap()).await.unwrap();
    let later = service::results(app.db(), &model, 0.95, Utc::now() + Duration::days(31)).await.unwrap();
    assert!(later.complete);
    let winner = service::winner(&later.analysis, model.success_metric).map(|o| o.variant.name.clone());
    assert_eq!(winner.as_deref(), expected_winner(expected.p_value));

    // The customer's side: which test and variant they are in.
    let query =
        "query($id: ID!) { customer(id: $id) { experiments { edges { node { variant experiment { name } } } } } }";
    let seen = app.ok(Some(token), query, json!({ "id": call[0] })).await;
    assert_eq!(
        seen["customer"]["experiments"]["edges"][0]["node"],
        json!({ "variant": "call", "experiment": { "name": "Win-back call" } })
    );

    // A second test leaves out everyone already in a running one.
    let other =
        app.ok(Some(token), CREATE, win_back("Loyalty nudge")).await["createExperiment"]["experiment"]["id"].clone();
    let started = app.ok(Some(token), START, json!({ "input": { "experimentId": other } })).await;
    assert_eq!(started["startExperiment"]["experiment"]["audienceSize"], 10);

    // Calling the first test off skips the calls nobody made yet.
    let cancel =
        "mutation($input: ExperimentIdInput!) { cancelExperiment(input: $input) { experiment { status endedAt } } }";
    let cancelled = app.ok(Some(token), cancel, json!({ "input": { "experimentId": id } })).await;
    assert_eq!(cancelled["cancelExperiment"]["experiment"]["status"], "CANCELLED");
    let second_call_arm = members(&app, token, other.as_str().unwrap(), "call").await.len() as i64;
    assert_eq!(follow_ups(&app, token, "PENDING").await, second_call_arm);
    assert_eq!(follow_ups(&app, token, "SKIPPED").await, call.len() as i64);
    let complete =
        "mutation($input: ExperimentIdInput!) { completeExperiment(input: $input) { experiment { status } } }";
    let code = app.error_code(Some(token), complete, json!({ "input": { "experimentId": id } })).await;
    assert_eq!(code, "INVALID_TRANSITION");
}

fn expected_winner(p_value: f64) -> Option<&'static str> {
    (p_value < 0.05).then_some("call")
}

async fn drafts_are_validated_and_scoped(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let mut bad = win_back("Solo");
    bad["input"]["variants"] = json!([{ "name": "only" }]);
    let (_, body) = app.post(Some(token), CREATE, bad).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.variants");
    let mut bad_control = win_back("Bad control");
    bad_control["input"]["controlVariant"] = json!("nobody");
    assert_eq!(app.error_code(Some(token), CREATE, bad_control).await, "BAD_USER_INPUT");
    let count = "{ experiments { totalCount } }";
    assert_eq!(app.ok(Some(token), count, json!({})).await["experiments"]["totalCount"], 0, "nothing half-written");

    // Too small an audience: refused, and the draft stays a draft.
    app.customer(token, json!({ "name": "Only one" })).await;
    let id = app.ok(Some(token), CREATE, win_back("Tiny")).await["createExperiment"]["experiment"]["id"].clone();
    let start = json!({ "input": { "experimentId": id } });
    assert_eq!(app.error_code(Some(token), START, start).await, "BAD_USER_INPUT");
    let status = app.ok(Some(token), RESULTS, json!({ "id": id })).await;
    assert_eq!(status["experiment"]["status"], "DRAFT");

    // Agents read experiments but do not run them; other workspaces do not see them.
    let (_, agent) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    assert_eq!(app.error_code(Some(&agent), CREATE, win_back("Mine")).await, "FORBIDDEN");
    assert_eq!(app.ok(Some(&agent), count, json!({})).await["experiments"]["totalCount"], 1);
    let other = app.tenant("globex").await;
    assert_eq!(app.error_code(Some(&other.admin_token), RESULTS, json!({ "id": id })).await, "NOT_FOUND");
    let start = json!({ "input": { "experimentId": id } });
    assert_eq!(app.error_code(Some(&other.admin_token), START, start).await, "NOT_FOUND");
}

db_tests!(a_campaign_tested_against_its_control, drafts_are_validated_and_scoped);
