//! Follow-up rules (once per occasion, however often the job runs), manual follow-ups,
//! the lifecycle sweep, and feedback.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    db_tests,
    support::{TestApp, local_date},
};

const LIST: &str = "query($f: FollowUpFilter) { followUps(first: 100, filter: $f) { totalCount edges { node { id kind status dueAt ruleKey customer { name } assignee { email } } } } }";

fn kinds(data: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = data["followUps"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["node"]["customer"]["name"].as_str().unwrap().to_owned(), e["node"]["kind"].as_str().unwrap().to_owned())
        })
        .collect();
    out.sort();
    out
}

async fn rules_create_each_follow_up_once(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let now = Utc::now();
    let tomorrow = local_date(now + Duration::days(1));
    let birthday = format!("1990-{}", tomorrow.format("%m-%d"));
    let owner = tenant.admin.id.to_string();
    let fresh = app.customer(token, json!({ "name": "Fresh", "ownerId": owner })).await;
    let quiet = app.customer(token, json!({ "name": "Quiet" })).await;
    let gone = app.customer(token, json!({ "name": "Gone" })).await;
    app.customer(token, json!({ "name": "Bday", "birthday": birthday })).await;
    app.order(token, &fresh, "f1", "10.00", &(now - Duration::days(2)).to_rfc3339()).await;
    app.order(token, &quiet, "q1", "10.00", &(now - Duration::days(70)).to_rfc3339()).await;
    app.order(token, &gone, "g1", "10.00", &(now - Duration::days(120)).to_rfc3339()).await;

    let first = vafa::jobs::run_once(app.db(), now).await.unwrap();
    assert_eq!(first.follow_ups_created, 5, "{first:?}");
    let second = vafa::jobs::run_once(app.db(), now).await.unwrap();
    assert_eq!(second.follow_ups_created, 0, "running again creates nothing");

    let data = app.ok(Some(token), LIST, json!({})).await;
    let expected: Vec<(String, String)> = [
        ("Bday", "BIRTHDAY"),
        ("Fresh", "POST_PURCHASE_SURVEY"),
        ("Fresh", "THANK_YOU"),
        ("Gone", "REACTIVATION"),
        ("Quiet", "CHECK_IN"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(kinds(&data), expected);
    let thank_you =
        data["followUps"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["kind"] == "THANK_YOU").unwrap();
    assert_eq!(thank_you["node"]["assignee"]["email"], "admin@acme.example", "assigned to the customer's owner");

    // Done and skipped follow-ups stay closed.
    let id = thank_you["node"]["id"].clone();
    let complete = "mutation($id: ID!) { completeFollowUp(input: { followUpId: $id, note: \"Sent a card\" }) { followUp { status note closedAt } } }";
    let done = app.ok(Some(token), complete, json!({ "id": id })).await;
    assert_eq!(done["completeFollowUp"]["followUp"]["status"], "DONE");
    assert_eq!(app.error_code(Some(token), complete, json!({ "id": id })).await, "INVALID_TRANSITION");
    let pending = app.ok(Some(token), LIST, json!({ "f": { "status": { "eq": "PENDING" } } })).await;
    assert_eq!(pending["followUps"]["totalCount"], 4);

    // A manual follow-up, on the customer's own list.
    let schedule =
        "mutation($input: ScheduleFollowUpInput!) { scheduleFollowUp(input: $input) { followUp { kind ruleKey } } }";
    let due = (now + Duration::days(3)).to_rfc3339();
    let data = app
        .ok(
            Some(token),
            schedule,
            json!({ "input": { "customerId": quiet, "dueAt": due, "note": "ask about the new range" } }),
        )
        .await;
    assert_eq!(data["scheduleFollowUp"]["followUp"]["kind"], "CUSTOM");
    assert!(data["scheduleFollowUp"]["followUp"]["ruleKey"].is_null());
    let own = app
        .ok(Some(token), "query($id: ID!) { customer(id: $id) { followUps { totalCount } } }", json!({ "id": quiet }))
        .await;
    assert_eq!(own["customer"]["followUps"]["totalCount"], 2);
}

async fn the_sweep_moves_stages_that_time_changes(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let now = Utc::now();
    let id = app.customer(token, json!({ "name": "Drifting" })).await;
    app.order(token, &id, "d1", "10.00", &(now - Duration::days(80)).to_rfc3339()).await;
    let q = "query($id: ID!) { customer(id: $id) { lifecycleStage lifecycleHistory(first: 1) { edges { node { reason actorId } } } } }";
    assert_eq!(app.ok(Some(token), q, json!({ "id": id })).await["customer"]["lifecycleStage"], "ACTIVE");
    let report = vafa::jobs::run_once(app.db(), now + Duration::days(20)).await.unwrap();
    assert_eq!(report.stages_changed, 1);
    let data = app.ok(Some(token), q, json!({ "id": id })).await;
    assert_eq!(data["customer"]["lifecycleStage"], "DORMANT");
    let change = &data["customer"]["lifecycleHistory"]["edges"][0]["node"];
    assert_eq!(change["reason"], "no completed order for 100 days");
    assert!(change["actorId"].is_null(), "the rules, not a person");
    let again = vafa::jobs::run_once(app.db(), now + Duration::days(20)).await.unwrap();
    assert_eq!(again.stages_changed, 0);
}

async fn feedback_is_validated_and_listed(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let id = app.customer(token, json!({ "name": "Critic" })).await;
    let record =
        "mutation($input: RecordFeedbackInput!) { recordFeedback(input: $input) { feedback { kind score whyUs } } }";
    for (kind, score) in [("NPS", json!(11)), ("NPS", Value::Null), ("CSAT", json!(0))] {
        let (_, body) =
            app.post(Some(token), record, json!({ "input": { "customerId": id, "kind": kind, "score": score } })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.score", "{kind} {score}");
    }
    let data = app
        .ok(
            Some(token),
            record,
            json!({ "input": { "customerId": id, "kind": "NPS", "score": 9, "whyUs": "fast delivery" } }),
        )
        .await;
    assert_eq!(data["recordFeedback"]["feedback"]["whyUs"], "fast delivery");
    let list = app
        .ok(
            Some(token),
            "query($id: ID!) { customer(id: $id) { feedback { totalCount edges { node { score } } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(list["customer"]["feedback"]["totalCount"], 1);
    assert_eq!(list["customer"]["feedback"]["edges"][0]["node"]["score"], 9);
}

db_tests!(rules_create_each_follow_up_once, the_sweep_moves_stages_that_time_changes, feedback_is_validated_and_listed);
