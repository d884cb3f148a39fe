//! Leads: scoring, the status machine, conversion (create, merge, dry run) and its rejections.

use serde_json::{Value, json};

use crate::{db_tests, support::TestApp};

const CREATE: &str = "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id status score priority scoreReasons { rule points detail } } } }";
const CONVERT: &str = "mutation($input: ConvertLeadInput!) { convertLead(input: $input) {
  dryRun action filledFields
  duplicateCandidates { id name }
  customer { id name email phone source lifecycleStage owner { email } profile { city occupation interests } interactions { totalCount } }
  lead { status convertedAt convertedCustomer { id } }
} }";
const INTERACT: &str = "mutation($input: RecordInteractionInput!) { recordInteraction(input: $input) { interaction { id user { email } } } }";
const LEAD: &str = "query($id: ID!) { lead(id: $id) { status score priority interactions { totalCount } } }";

async fn create_lead(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(Some(token), CREATE, json!({ "input": input })).await["createLead"]["lead"].clone()
}

async fn a_lead_is_worked_converted_and_buys(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let lead = create_lead(&app, token, json!({
        "name": "Grace Hopper", "email": "grace@navy.example", "company": "US Navy", "source": "REFERRAL", "category": "COMPARING",
        "ownerId": tenant.admin.id.to_string(), "profile": { "city": "Arlington", "occupation": "Admiral", "interests": ["compilers"] }
    }))
    .await;
    let id = lead["id"].as_str().unwrap().to_owned();
    assert_eq!(lead["status"], "NEW");
    let reasons = lead["scoreReasons"].as_array().unwrap();
    let sum: i64 = reasons.iter().map(|r| r["points"].as_i64().unwrap()).sum();
    assert_eq!(lead["score"].as_i64().unwrap(), sum, "the score is exactly its reasons");
    assert!(reasons.iter().any(|r| r["rule"] == "SOURCE" && r["points"] == 20));

    // Contact moves the lead on and raises its score.
    let call = json!({ "leadId": id, "channel": "PHONE", "direction": "INBOUND", "outcome": "REACHED", "summary": "Asked for a quote" });
    let data = app.ok(Some(token), INTERACT, json!({ "input": call })).await;
    assert_eq!(data["recordInteraction"]["interaction"]["user"]["email"], "admin@acme.example");
    let after = app.ok(Some(token), LEAD, json!({ "id": id })).await;
    assert_eq!(after["lead"]["status"], "CONTACTED");
    assert!(after["lead"]["score"].as_i64() > lead["score"].as_i64());
    let status = "mutation($id: ID!, $s: LeadStatus!) { updateLeadStatus(input: { leadId: $id, status: $s }) { lead { status } } }";
    app.ok(Some(token), status, json!({ "id": id, "s": "QUALIFIED" })).await;

    let data = app.ok(Some(token), CONVERT, json!({ "input": { "leadId": id } })).await;
    let conversion = &data["convertLead"];
    assert_eq!(conversion["action"], "CREATE");
    assert_eq!(conversion["dryRun"], false);
    let customer = &conversion["customer"];
    assert_eq!(customer["name"], "Grace Hopper");
    assert_eq!(customer["email"], "grace@navy.example");
    assert_eq!(customer["source"], "REFERRAL");
    assert_eq!(customer["owner"]["email"], "admin@acme.example");
    assert_eq!(customer["profile"]["occupation"], "Admiral");
    assert_eq!(customer["profile"]["interests"], json!(["compilers"]));
    assert_eq!(customer["interactions"]["totalCount"], 1, "the lead's history moves with it");
    assert_eq!(conversion["lead"]["status"], "CONVERTED");
    assert_eq!(conversion["lead"]["convertedCustomer"]["id"], customer["id"]);
    assert!(conversion["lead"]["convertedAt"].is_string());

    // The converted lead is read-only.
    assert_eq!(app.error_code(Some(token), CONVERT, json!({ "input": { "leadId": id } })).await, "INVALID_TRANSITION");
    let update = "mutation($id: ID!) { updateLead(input: { leadId: $id, name: \"Changed\" }) { lead { id } } }";
    assert_eq!(app.error_code(Some(token), update, json!({ "id": id })).await, "INVALID_TRANSITION");
    assert_eq!(app.error_code(Some(token), INTERACT, json!({ "input": call })).await, "INVALID_TRANSITION");

    let customer_id = customer["id"].as_str().unwrap().to_owned();
    app.order(token, &customer_id, "first-order", "99.00", &chrono::Utc::now().to_rfc3339()).await;
    let stage = app
        .ok(
            Some(token),
            "query($id: ID!) { customer(id: $id) { lifecycleStage orderCount } }",
            json!({ "id": customer_id }),
        )
        .await;
    assert_eq!(stage["customer"]["lifecycleStage"], "ACTIVE");
    assert_eq!(stage["customer"]["orderCount"], 1);
}

async fn merge_conversion_and_dry_run(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let existing = app
        .customer(token, json!({ "name": "Ada L.", "email": "ada@example.com", "profile": { "city": "London" } }))
        .await;
    let lead = create_lead(&app, token, json!({
        "name": "Ada Lovelace", "email": "ADA@example.com", "phone": "+44 1234 567890", "source": "WEBSITE", "category": "PAST_BUYER",
        "profile": { "city": "Paris", "occupation": "Analyst" }
    }))
    .await;
    let id = lead["id"].as_str().unwrap().to_owned();
    let count = "{ customers { totalCount } }";

    // A dry run without merge would create, and shows the duplicate.
    let dry = app.ok(Some(token), CONVERT, json!({ "input": { "leadId": id, "dryRun": true } })).await;
    assert_eq!(dry["convertLead"]["dryRun"], true);
    assert_eq!(dry["convertLead"]["action"], "CREATE");
    assert!(dry["convertLead"]["customer"].is_null());
    assert_eq!(dry["convertLead"]["duplicateCandidates"][0]["id"], existing);
    // A dry run with merge names the target and the fields it would fill.
    let dry = app.ok(Some(token), CONVERT, json!({ "input": { "leadId": id, "dryRun": true, "merge": true } })).await;
    assert_eq!(dry["convertLead"]["action"], "MERGE");
    assert_eq!(dry["convertLead"]["customer"]["id"], existing);
    assert_eq!(dry["convertLead"]["filledFields"], json!(["phone", "occupation"]));
    assert_eq!(dry["convertLead"]["lead"]["status"], "NEW");
    assert_eq!(app.ok(Some(token), count, json!({})).await["customers"]["totalCount"], 1, "dry runs write nothing");
    let still = app.ok(Some(token), LEAD, json!({ "id": id })).await;
    assert_eq!(still["lead"]["status"], "NEW");

    let merged =
        app.ok(Some(token), CONVERT, json!({ "input": { "leadId": id, "mergeIntoCustomerId": existing } })).await;
    let c = &merged["convertLead"]["customer"];
    assert_eq!(c["id"], existing);
    assert_eq!(c["name"], "Ada L.", "filled fields only: the name stays");
    assert_eq!(c["profile"]["city"], "London", "existing values are kept");
    assert_eq!(c["phone"], "+441234567890");
    assert_eq!(c["profile"]["occupation"], "Analyst");
    assert_eq!(app.ok(Some(token), count, json!({})).await["customers"]["totalCount"], 1);
}

async fn rejected_conversions_write_nothing(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let token = tenant.admin_token.as_str();
    let theirs = app.customer(&other.admin_token, json!({ "name": "Theirs" })).await;
    let lead = create_lead(&app, token, json!({ "name": "Lin", "source": "EVENT", "category": "UNAWARE" })).await;
    let id = lead["id"].as_str().unwrap().to_owned();

    let code =
        app.error_code(Some(token), CONVERT, json!({ "input": { "leadId": id, "mergeIntoCustomerId": theirs } })).await;
    assert_eq!(code, "NOT_FOUND");
    let (_, body) = app.post(Some(token), CONVERT, json!({ "input": { "leadId": id, "merge": true } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let status = "mutation($id: ID!, $s: LeadStatus!) { updateLeadStatus(input: { leadId: $id, status: $s }) { lead { status } } }";
    assert_eq!(app.error_code(Some(token), status, json!({ "id": id, "s": "QUALIFIED" })).await, "INVALID_TRANSITION");
    assert_eq!(app.error_code(Some(token), status, json!({ "id": id, "s": "CONVERTED" })).await, "INVALID_TRANSITION");

    let disqualify = "mutation($id: ID!, $r: String!) { disqualifyLead(input: { leadId: $id, reason: $r }) { lead { status disqualifyReason } } }";
    let (_, body) = app.post(Some(token), disqualify, json!({ "id": id, "r": "  " })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.reason");
    let data = app.ok(Some(token), disqualify, json!({ "id": id, "r": "no budget" })).await;
    assert_eq!(data["disqualifyLead"]["lead"]["disqualifyReason"], "no budget");
    assert_eq!(app.error_code(Some(token), CONVERT, json!({ "input": { "leadId": id } })).await, "INVALID_TRANSITION");
    // Another workspace cannot even see the lead.
    assert_eq!(
        app.error_code(Some(&other.admin_token), CONVERT, json!({ "input": { "leadId": id } })).await,
        "NOT_FOUND"
    );

    let customers = app.ok(Some(token), "{ customers { totalCount } }", json!({})).await;
    assert_eq!(customers["customers"]["totalCount"], 0);
    let audit = app.ok(Some(token), "{ auditLog { edges { node { action } } } }", json!({})).await;
    assert!(!audit.to_string().contains("lead.convert"), "{audit}");
    // Requalified, it can be worked again.
    let data = app.ok(Some(token), status, json!({ "id": id, "s": "NEW" })).await;
    assert_eq!(data["updateLeadStatus"]["lead"]["status"], "NEW");
}

async fn leads_are_found_and_prioritised(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    for (name, company, source, category) in [
        ("Hot", "Initech", "REFERRAL", "PAST_BUYER"),
        ("Warm", "Globex", "WEBSITE", "COMPARING"),
        ("Cold", "Umbrella", "COLD_OUTREACH", "UNAWARE"),
    ] {
        create_lead(&app, token, json!({ "name": name, "company": company, "source": source, "category": category }))
            .await;
    }
    let q = "query($f: LeadFilter) { leads(filter: $f) { totalCount edges { node { name score priority } } } }";
    let names = |d: &Value| -> Vec<String> {
        d["leads"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&app.ok(Some(token), q, json!({})).await), ["Hot", "Warm", "Cold"], "highest score first");
    assert_eq!(names(&app.ok(Some(token), q, json!({ "f": { "search": "GLOB" } })).await), ["Warm"]);
    assert_eq!(names(&app.ok(Some(token), q, json!({ "f": { "score": { "lte": 25 } } })).await), ["Cold"]);
    assert_eq!(
        names(&app.ok(Some(token), q, json!({ "f": { "category": { "in": ["PAST_BUYER", "UNAWARE"] } } })).await),
        ["Hot", "Cold"]
    );
    let not_now = "mutation($id: ID!, $u: DateTime!) { markLeadNotNow(input: { leadId: $id, until: $u }) { lead { status notNowUntil } } }";
    let ids =
        app.ok(Some(token), "{ leads(filter: { search: \"umbrella\" }) { edges { node { id } } } }", json!({})).await;
    let id = ids["leads"]["edges"][0]["node"]["id"].clone();
    let until = (chrono::Utc::now() + chrono::Duration::days(60)).to_rfc3339();
    let data = app.ok(Some(token), not_now, json!({ "id": id, "u": until })).await;
    assert_eq!(data["markLeadNotNow"]["lead"]["status"], "NURTURING");
}

async fn unreachable_customers_are_flagged(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let id = app.customer(token, json!({ "name": "Ghost" })).await;
    app.order(token, &id, "g1", "10.00", &chrono::Utc::now().to_rfc3339()).await;
    let q = "query($id: ID!) { customer(id: $id) { lifecycleStage reachability { attempts unanswered hardToReach } } }";
    for outcome in ["NO_ANSWER", "BOUNCED", "REACHED", "NO_ANSWER"] {
        let call = json!({ "customerId": id, "channel": "PHONE", "direction": "OUTBOUND", "outcome": outcome });
        app.ok(Some(token), INTERACT, json!({ "input": call })).await;
    }
    let data = app.ok(Some(token), q, json!({ "id": id })).await;
    assert_eq!(data["customer"]["reachability"], json!({ "attempts": 4, "unanswered": 3, "hardToReach": true }));
    assert_eq!(data["customer"]["lifecycleStage"], "AT_RISK");
    let both =
        json!({ "customerId": id, "leadId": id, "channel": "PHONE", "direction": "OUTBOUND", "outcome": "REACHED" });
    let (_, body) = app.post(Some(token), INTERACT, json!({ "input": both })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.customerId");
}

db_tests!(
    a_lead_is_worked_converted_and_buys,
    merge_conversion_and_dry_run,
    rejected_conversions_write_nothing,
    leads_are_found_and_prioritised,
    unreachable_customers_are_flagged,
);
