//! The at-risk early warning through the API: the job assesses, stores reasons and value at risk,
//! marks customers AT_RISK and asks staff to reach out; the list is ordered by value at risk.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    db_tests,
    support::{TestApp, local_date},
};

const LIST: &str = "query($filter: AtRiskFilter, $first: Int, $after: String) {
  atRiskCustomers(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { customer { name lifecycleStage } score reasons { reason weight detail } probabilityAlive
      value valueBasis valueAtRisk } }
  }
}";

fn names(list: &Value) -> Vec<String> {
    list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["customer"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(app: &TestApp, token: &str, variables: Value) -> Value {
    app.ok(Some(token), LIST, variables).await["atRiskCustomers"].clone()
}

async fn at_risk_customers_with_reasons_and_value(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ago = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    // Ann bought every 10 days, the last time 50 days ago: overdue on her own rhythm.
    let ann = app.customer(token, json!({ "name": "Ann" })).await;
    for (i, days) in [70, 60, 50].into_iter().enumerate() {
        app.order(token, &ann, &format!("ann-{i}"), "100.00", &ago(days)).await;
    }
    // Cat buys every 10 days and did so last week: fine.
    let cat = app.customer(token, json!({ "name": "Cat" })).await;
    app.order(token, &cat, "cat-0", "20.00", &ago(17)).await;
    app.order(token, &cat, "cat-1", "20.00", &ago(7)).await;
    // Ben bought 5 days ago, complained and is a detractor.
    let ben = app.customer(token, json!({ "name": "Ben", "email": "ben@example.com" })).await;
    app.order(token, &ben, "ben-0", "40.00", &ago(5)).await;
    let complaint = json!({ "input": { "customerId": ben, "channel": "EMAIL", "subject": "Late", "body": "Still waiting.", "category": "LATE_DELIVERY" } });
    app.ok(
        Some(token),
        "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { id } } }",
        complaint,
    )
    .await;
    let nps = json!({ "input": { "customerId": ben, "kind": "NPS", "score": 3 } });
    app.ok(
        Some(token),
        "mutation($input: RecordFeedbackInput!) { recordFeedback(input: $input) { feedback { id } } }",
        nps,
    )
    .await;
    // Eve bought once, 25 days ago: late against the workspace's median gap (10 days).
    let eve = app.customer(token, json!({ "name": "Eve" })).await;
    app.order(token, &eve, "eve-0", "30.00", &ago(25)).await;
    // Dan has been gone for 200 days: dormant, not "at risk".
    let dan = app.customer(token, json!({ "name": "Dan" })).await;
    app.order(token, &dan, "dan-0", "500.00", &ago(200)).await;

    assert_eq!(list(&app, token, json!({})).await["totalCount"], 0, "nothing is assessed before the job runs");
    vafa::jobs::run_once(app.db(), Utc::now()).await.unwrap();

    let all = list(&app, token, json!({})).await;
    assert_eq!(names(&all), ["Ann", "Ben", "Eve"], "most value at risk first: {all}");
    let nodes: Vec<&Value> = all["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    // No fitted models yet: the value is the trailing year's spend.
    assert_eq!(
        (nodes[0]["score"].as_i64(), nodes[0]["value"].as_str(), nodes[0]["valueAtRisk"].as_str()),
        (Some(50), Some("300.00"), Some("150.00"))
    );
    assert_eq!(nodes[0]["valueBasis"], "TRAILING_YEAR_SPEND");
    assert!(nodes[0]["probabilityAlive"].is_null());
    assert_eq!(nodes[0]["reasons"][0]["reason"], "OVERDUE");
    assert!(nodes[0]["reasons"][0]["detail"].as_str().unwrap().contains("their own rhythm over 3 orders"));
    // Ben: an open complaint (0.3) and a detractor (0.4) compound to 1 − 0.7 × 0.6 = 58.
    assert_eq!((nodes[1]["score"].as_i64(), nodes[1]["valueAtRisk"].as_str()), (Some(58), Some("23.20")));
    let reasons: Vec<&str> =
        nodes[1]["reasons"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["LOW_SATISFACTION", "OPEN_COMPLAINT"], "strongest first");
    assert!(nodes[2]["reasons"][0]["detail"].as_str().unwrap().contains("median gap"), "{}", nodes[2]);

    // The job marked them AT_RISK, Eve on the assessment's reason alone, and asked staff to reach out.
    for node in &nodes {
        assert_eq!(node["customer"]["lifecycleStage"], "AT_RISK", "{node}");
    }
    let history = app
        .ok(
            Some(token),
            "query($id: ID!) { customer(id: $id) { lifecycleHistory(first: 1) { edges { node { reason } } } } }",
            json!({ "id": eve }),
        )
        .await;
    let reason = history["customer"]["lifecycleHistory"]["edges"][0]["node"]["reason"].as_str().unwrap().to_owned();
    assert!(reason.starts_with("early warning: 25 days since the last order"), "{reason}");
    let follow_ups = app
        .ok(
            Some(token),
            "{ followUps(first: 10, filter: { kind: { eq: REACTIVATION } }) { edges { node { customer { name } note } } } }",
            json!({}),
        )
        .await["followUps"]["edges"]
        .clone();
    let mut notes: Vec<(String, String)> = follow_ups
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["customer"]["name"].as_str().unwrap().to_owned(),
                e["node"]["note"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    notes.sort();
    assert_eq!(
        notes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Ann", "Ben", "Dan", "Eve"],
        "Dan's is the dormant one"
    );
    assert!(notes[1].1.starts_with("At risk: ") && notes[1].1.contains("NPS 3/10"), "{:?}", notes[1]);
    vafa::jobs::run_once(app.db(), Utc::now()).await.unwrap();
    let again =
        app.ok(Some(token), "{ followUps(filter: { kind: { eq: REACTIVATION } }) { totalCount } }", json!({})).await;
    assert_eq!(again["followUps"]["totalCount"], 4, "once per at-risk spell");

    // Filters, paging and the per-customer view.
    let unhappy = list(&app, token, json!({ "filter": { "reasons": ["LOW_SATISFACTION", "HARD_TO_REACH"] } })).await;
    assert_eq!(names(&unhappy), ["Ben"]);
    assert_eq!(names(&list(&app, token, json!({ "filter": { "minScore": 55 } })).await), ["Ben"]);
    let named = list(&app, token, json!({ "filter": { "customer": { "name": { "eq": "Eve" } } } })).await;
    assert_eq!(names(&named), ["Eve"]);
    let page = list(&app, token, json!({ "first": 2 })).await;
    assert_eq!(
        (names(&page), page["pageInfo"]["hasNextPage"].as_bool()),
        (vec!["Ann".to_owned(), "Ben".to_owned()], Some(true))
    );
    let rest = list(&app, token, json!({ "first": 2, "after": page["pageInfo"]["endCursor"] })).await;
    assert_eq!(names(&rest), ["Eve"]);
    let risk = "query($id: ID!) { customer(id: $id) { risk { score reasons { reason } } } }";
    assert!(app.ok(Some(token), risk, json!({ "id": cat })).await["customer"]["risk"].is_null());
    assert_eq!(app.ok(Some(token), risk, json!({ "id": ann })).await["customer"]["risk"]["score"], 50);

    // Another workspace sees none of it.
    let other = app.tenant("other").await;
    assert_eq!(list(&app, &other.admin_token, json!({})).await["totalCount"], 0);

    // Eve orders again: the assessment predates it, so she is no longer at risk, at once.
    app.order(token, &eve, "eve-1", "30.00", &Utc::now().to_rfc3339()).await;
    let stage =
        app.ok(Some(token), "query($id: ID!) { customer(id: $id) { lifecycleStage } }", json!({ "id": eve })).await;
    assert_eq!(stage["customer"]["lifecycleStage"], "ACTIVE");
    vafa::jobs::run_once(app.db(), Utc::now()).await.unwrap();
    assert_eq!(names(&list(&app, token, json!({})).await), ["Ann", "Ben"]);
}

/// With fitted models, repeat buyers whose P(alive) today has fallen are flagged with weight
/// 1 − P(alive), and what is at stake is their predicted 12-month CLV.
async fn at_risk_with_the_fitted_models(app: TestApp) {
    use vafa::metrics::predictive::{BgNbdParams, GammaGammaParams, TimeUnit, customer_lifetime_value, data};

    use crate::metrics::{DayIndex, REFIT, purchase_csv};
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let (csv, histories) = purchase_csv(300);
    vafa::import::orders(app.db(), "acme", csv.as_bytes()).await.unwrap();
    // The simulated purchases are in 2025: keep everyone out of DORMANT to see the model's view.
    let settings =
        "mutation { updateWorkspaceSettings(input: { patch: { dormantAfterDays: 3650 } }) { dormantAfterDays } }";
    app.ok(Some(token), settings, json!({})).await;
    let fit =
        app.ok(Some(token), REFIT, json!({ "input": { "observationEnd": "2025-12-31", "timeUnit": "WEEK" } })).await;
    let fit = &fit["refitPredictiveModels"];
    let number = |v: &Value| v.as_f64().unwrap();
    let bg = BgNbdParams {
        r: number(&fit["bgnbd"]["r"]),
        alpha: number(&fit["bgnbd"]["alpha"]),
        a: number(&fit["bgnbd"]["a"]),
        b: number(&fit["bgnbd"]["b"]),
    };
    let gg = GammaGammaParams {
        p: number(&fit["gammaGamma"]["p"]),
        q: number(&fit["gammaGamma"]["q"]),
        gamma: number(&fit["gammaGamma"]["gamma"]),
    };
    vafa::jobs::run_once(app.db(), Utc::now()).await.unwrap();

    let query = "query($filter: AtRiskFilter) { atRiskCustomers(first: 5, filter: $filter) { totalCount edges { node {
      customer { externalRef } score reasons { reason weight } probabilityAlive value valueBasis valueAtRisk } } } }";
    let flagged = app.ok(Some(token), query, json!({ "filter": { "reasons": ["LOW_PROBABILITY_ALIVE"] } })).await;
    let flagged = &flagged["atRiskCustomers"];
    assert!(flagged["totalCount"].as_u64().unwrap() > 5, "{flagged}");
    // Scored today, with the stored parameters, on everything bought so far.
    let today = local_date(Utc::now()).num_days_from_ce_i64();
    let summaries = data::summarise(&histories, today, TimeUnit::Week).unwrap();
    for edge in flagged["edges"].as_array().unwrap() {
        let node = &edge["node"];
        let key = node["customer"]["externalRef"].as_str().unwrap();
        let s = summaries.iter().find(|s| s.key == key).unwrap();
        let alive = bg.probability_alive(s.x, s.t_x, s.age).unwrap();
        assert!(s.x >= 1 && alive < 0.5, "{key}: x = {}, P(alive) = {alive}", s.x);
        assert!((number(&node["probabilityAlive"]) - alive).abs() < 1e-9, "{node}");
        let weight =
            node["reasons"].as_array().unwrap().iter().find(|r| r["reason"] == "LOW_PROBABILITY_ALIVE").unwrap();
        assert!((number(&weight["weight"]) - (1.0 - alive)).abs() < 1e-9);
        assert_eq!(node["valueBasis"], "PREDICTED_CLV");
        let clv = customer_lifetime_value(&bg, &gg, s, 12, 0.01, TimeUnit::Week).unwrap();
        let value: f64 = node["value"].as_str().unwrap().parse().unwrap();
        assert!((value - clv).abs() <= 0.005 + 1e-9, "{key}: {value} vs {clv}");
        let at_risk: f64 = node["valueAtRisk"].as_str().unwrap().parse().unwrap();
        let score = node["score"].as_i64().unwrap() as f64;
        assert!((at_risk - value * score / 100.0).abs() < 0.01, "{node}");
    }
}

db_tests!(at_risk_customers_with_reasons_and_value, at_risk_with_the_fitted_models);
