//! Merging duplicates, soft delete and restore, data-subject export and erasure.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::{db_tests, support::TestApp};

const MERGE: &str = "mutation($input: MergeCustomersInput!) { mergeCustomers(input: $input) {
  dryRun filledFields moved { orders interactions notes followUps feedback tags }
  survivor { id name email phone orderCount totalSpent tags notes { totalCount } orders { totalCount } }
} }";

async fn duplicates_merge_into_one_customer(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let keep =
        app.customer(token, json!({ "name": "Ada Lovelace", "email": "ada@example.com", "tags": ["vip"] })).await;
    let dup = app.customer(token, json!({ "name": "A. Lovelace", "email": "other@example.com", "phone": "+44 20 1234 5678", "tags": ["newsletter"] })).await;
    let day = |n: i64| (Utc::now() - Duration::days(n)).to_rfc3339();
    app.order(token, &keep, "k1", "10.00", &day(10)).await;
    app.order(token, &dup, "d1", "5.00", &day(5)).await;
    let note = "mutation($input: AddCustomerNoteInput!) { addCustomerNote(input: $input) { note { body } } }";
    app.ok(Some(token), note, json!({ "input": { "customerId": dup, "body": "likes green" } })).await;

    let dry =
        app.ok(Some(token), MERGE, json!({ "input": { "survivorId": keep, "mergedId": dup, "dryRun": true } })).await;
    let plan = &dry["mergeCustomers"];
    assert_eq!(plan["dryRun"], true);
    assert_eq!(plan["filledFields"], json!(["phone"]));
    assert_eq!(
        plan["moved"],
        json!({ "orders": 1, "interactions": 0, "notes": 1, "followUps": 0, "feedback": 0, "tags": 1 })
    );
    assert_eq!(plan["survivor"]["orderCount"], 1, "a dry run changes nothing");

    let done = app.ok(Some(token), MERGE, json!({ "input": { "survivorId": keep, "mergedId": dup } })).await;
    let s = &done["mergeCustomers"]["survivor"];
    assert_eq!(s["name"], "Ada Lovelace");
    assert_eq!(s["email"], "ada@example.com", "filled fields only");
    assert_eq!(s["phone"], "+442012345678");
    assert_eq!(s["orderCount"], 2);
    assert_eq!(s["totalSpent"], "15.00");
    assert_eq!(s["tags"], json!(["newsletter", "vip"]));
    assert_eq!(s["notes"]["totalCount"], 1);
    // The duplicate is gone from view; the audit log says what happened.
    assert_eq!(
        app.error_code(Some(token), "query($id: ID!) { customer(id: $id) { id } }", json!({ "id": dup })).await,
        "NOT_FOUND"
    );
    let count = app.ok(Some(token), "{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 1);
    let audit = app
        .ok(
            Some(token),
            "query($id: ID!) { auditLog(entityId: $id) { edges { node { action diff } } } }",
            json!({ "id": keep }),
        )
        .await;
    assert!(audit.to_string().contains("customer.merge"));
    let code = app.error_code(Some(token), MERGE, json!({ "input": { "survivorId": keep, "mergedId": keep } })).await;
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn deleted_customers_can_be_restored(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let id = app.customer(token, json!({ "name": "Paused" })).await;
    let delete = "mutation($id: ID!) { deleteCustomer(input: { customerId: $id }) { customer { id } } }";
    let restore = "mutation($id: ID!) { restoreCustomer(input: { customerId: $id }) { customer { name } } }";
    app.ok(Some(token), delete, json!({ "id": id })).await;
    assert_eq!(app.ok(Some(token), "{ customers { totalCount } }", json!({})).await["customers"]["totalCount"], 0);
    assert_eq!(app.error_code(Some(token), delete, json!({ "id": id })).await, "INVALID_TRANSITION");
    let back = app.ok(Some(token), restore, json!({ "id": id })).await;
    assert_eq!(back["restoreCustomer"]["customer"]["name"], "Paused");
    assert_eq!(app.ok(Some(token), "{ customers { totalCount } }", json!({})).await["customers"]["totalCount"], 1);
}

async fn personal_data_is_exported_and_erased(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let id = app
        .customer(
            token,
            json!({ "name": "Private Person", "email": "pp@example.com", "birthday": "1980-01-02", "tags": ["x"] }),
        )
        .await;
    app.order(token, &id, "p1", "42.00", &Utc::now().to_rfc3339()).await;
    let note = "mutation($input: AddCustomerNoteInput!) { addCustomerNote(input: $input) { note { body } } }";
    app.ok(Some(token), note, json!({ "input": { "customerId": id, "body": "allergic to nuts" } })).await;

    let export = app.ok(Some(token), "query($id: ID!) { exportCustomerData(id: $id) }", json!({ "id": id })).await;
    let data = &export["exportCustomerData"];
    assert_eq!(data["customer"]["email"], "pp@example.com");
    assert_eq!(data["orders"].as_array().unwrap().len(), 1);
    assert_eq!(data["notes"][0]["body"], "allergic to nuts");
    assert_eq!(data["tags"], json!(["x"]));

    // Agents may not erase.
    let (_, agent) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    let erase = "mutation($id: ID!) { eraseCustomer(input: { customerId: $id }) { customer { name email birthday totalSpent orderCount tags } } }";
    assert_eq!(app.error_code(Some(&agent), erase, json!({ "id": id })).await, "FORBIDDEN");
    let erased = app.ok(Some(token), erase, json!({ "id": id })).await;
    let c = &erased["eraseCustomer"]["customer"];
    assert_eq!(c["name"], "Erased customer");
    assert!(c["email"].is_null() && c["birthday"].is_null());
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["orderCount"], 1, "orders stay for aggregate metrics");
    assert_eq!(c["totalSpent"], "42.00");
    let after = app.ok(Some(token), "query($id: ID!) { exportCustomerData(id: $id) }", json!({ "id": id })).await;
    assert!(!after.to_string().contains("pp@example.com"));
    assert!(!after.to_string().contains("allergic"));
    assert_eq!(app.error_code(Some(token), erase, json!({ "id": id })).await, "INVALID_TRANSITION");
}

db_tests!(duplicates_merge_into_one_customer, deleted_customers_can_be_restored, personal_data_is_exported_and_erased);
