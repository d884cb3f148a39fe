//! Orders: idempotent recording, conflicts, money validation, refunds, and the lifecycle they drive.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::{db_tests, support::TestApp};

const RECORD: &str = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created order { id amount currency status customer { name } } } }";
const STATS: &str = "query($id: ID!) { customer(id: $id) {
  lifecycleStage orderCount totalSpent averageOrderValue firstOrderAt lastOrderAt daysSinceLastOrder
  lifecycleHistory { edges { node { fromStage toStage reason actorId } } }
} }";

async fn recording_is_idempotent_and_conflicts_are_refused(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let placed = (Utc::now() - Duration::days(1)).to_rfc3339();
    let input = json!({ "customerId": ada, "externalRef": "web-1001", "amount": "19.90", "placedAt": placed, "channel": "ONLINE" });

    let first = app.ok(token, RECORD, json!({ "input": input })).await;
    assert_eq!(first["recordOrder"]["created"], true);
    assert_eq!(first["recordOrder"]["order"]["amount"], "19.90");
    assert_eq!(first["recordOrder"]["order"]["currency"], "EUR");
    assert_eq!(first["recordOrder"]["order"]["customer"]["name"], "Ada");
    // A retry (same reference, same content) returns the same order and changes nothing.
    let retry = app.ok(token, RECORD, json!({ "input": input })).await;
    assert_eq!(retry["recordOrder"]["created"], false);
    assert_eq!(retry["recordOrder"]["order"]["id"], first["recordOrder"]["order"]["id"]);
    let same_value = json!({ "customerId": ada, "externalRef": "web-1001", "amount": "19.9000", "placedAt": placed, "channel": "ONLINE" });
    assert_eq!(app.ok(token, RECORD, json!({ "input": same_value })).await["recordOrder"]["created"], false);

    // The same reference with other content is a conflict.
    let mut changed = input.clone();
    changed["amount"] = json!("29.90");
    assert_eq!(app.error_code(token, RECORD, json!({ "input": changed })).await, "CONFLICT");

    for (patch, field) in [
        (json!({ "amount": "19.999" }), "input.amount"),
        (json!({ "amount": "-5" }), "input.amount"),
        (json!({ "currency": "USD" }), "input.currency"),
        (json!({ "currency": "EURO" }), "input.currency"),
        (json!({ "placedAt": (Utc::now() + Duration::days(2)).to_rfc3339() }), "input.placedAt"),
        (json!({ "customerId": "not-an-id" }), "input.customerId"),
    ] {
        let mut bad = input.clone();
        bad["externalRef"] = json!(format!("bad-{field}"));
        for (k, v) in patch.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (_, body) = app.post(token, RECORD, json!({ "input": bad })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{patch}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{patch}");
    }
    let stats = app.ok(token, STATS, json!({ "id": ada })).await;
    assert_eq!(stats["customer"]["orderCount"], 1, "rejected orders leave no trace");
    assert_eq!(stats["customer"]["totalSpent"], "19.90");

    // Another workspace cannot record against this customer, nor see the order.
    let other = app.tenant("other").await;
    let mut foreign = input.clone();
    foreign["externalRef"] = json!("foreign-1");
    assert_eq!(app.error_code(Some(&other.admin_token), RECORD, json!({ "input": foreign })).await, "NOT_FOUND");
    let order_id = first["recordOrder"]["order"]["id"].clone();
    let code = app
        .error_code(Some(&other.admin_token), "query($id: ID!) { order(id: $id) { id } }", json!({ "id": order_id }))
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn orders_drive_statistics_and_lifecycle(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let now = Utc::now();
    let day = |n: i64| (now - Duration::days(n)).to_rfc3339();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let stats = app.ok(Some(token), STATS, json!({ "id": ada })).await;
    assert_eq!(stats["customer"]["lifecycleStage"], "NEW");
    assert!(stats["customer"]["averageOrderValue"].is_null());

    app.order(token, &ada, "o1", "10.00", &day(120)).await;
    let stats = app.ok(Some(token), STATS, json!({ "id": ada })).await;
    assert_eq!(stats["customer"]["lifecycleStage"], "DORMANT", "only order 120 days ago");
    app.order(token, &ada, "o2", "20.00", &day(60)).await;
    let third = app.order(token, &ada, "o3", "30.01", &day(10)).await;
    let stats = app.ok(Some(token), STATS, json!({ "id": ada })).await;
    let c = &stats["customer"];
    assert_eq!(c["orderCount"], 3);
    assert_eq!(c["totalSpent"], "60.01");
    assert_eq!(c["averageOrderValue"], "20.00");
    assert_eq!(c["daysSinceLastOrder"], 10);
    assert_eq!(c["lifecycleStage"], "LOYAL", "3 orders over 110 days, the last within 90");

    // A refund leaves the statistics; the order cannot be refunded twice.
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status refundedAt } } }";
    let order_id = third["order"]["id"].clone();
    let refunded = app.ok(Some(token), refund, json!({ "id": order_id })).await;
    assert_eq!(refunded["refundOrder"]["order"]["status"], "REFUNDED");
    assert_eq!(app.error_code(Some(token), refund, json!({ "id": order_id })).await, "INVALID_TRANSITION");
    let stats = app.ok(Some(token), STATS, json!({ "id": ada })).await;
    let c = &stats["customer"];
    assert_eq!(c["orderCount"], 2);
    assert_eq!(c["totalSpent"], "30.00");
    assert_eq!(c["daysSinceLastOrder"], 60);
    assert_eq!(c["lifecycleStage"], "ACTIVE");

    let history: Vec<String> = c["lifecycleHistory"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["toStage"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(history, ["ACTIVE", "LOYAL", "ACTIVE", "DORMANT", "NEW"], "newest first, every change recorded");
}

async fn staff_decisions_are_kept_and_recorded(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada", "ownerId": tenant.admin.id.to_string() })).await;
    app.order(token, &ada, "o1", "10.00", &(Utc::now() - Duration::days(3)).to_rfc3339()).await;

    let until = (Utc::now() + Duration::days(30)).to_rfc3339();
    let not_now = "mutation($input: MarkCustomerNotNowInput!) { markCustomerNotNow(input: $input) { customer { lifecycleStage notNowUntil } } }";
    let data = app
        .ok(
            Some(token),
            not_now,
            json!({ "input": { "customerId": ada, "until": until, "reason": "budget frozen until spring" } }),
        )
        .await;
    assert_eq!(data["markCustomerNotNow"]["customer"]["lifecycleStage"], "NOT_NOW");
    assert!(data["markCustomerNotNow"]["customer"]["notNowUntil"].is_string());
    let follow_ups = <entity::follow_up::Entity as sea_orm::EntityTrait>::find().all(app.db()).await.unwrap();
    assert_eq!(follow_ups.len(), 1);
    assert_eq!(follow_ups[0].kind, entity::follow_up::FollowUpKind::NotNowRevisit);
    assert_eq!(follow_ups[0].assignee_id, Some(tenant.admin.id));
    let past = (Utc::now() - Duration::days(1)).to_rfc3339();
    let (_, body) = app.post(Some(token), not_now, json!({ "input": { "customerId": ada, "until": past } })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.until");

    let set = "mutation($input: SetLifecycleStageInput!) { setCustomerLifecycleStage(input: $input) { customer { lifecycleStage } } }";
    let data = app
        .ok(Some(token), set, json!({ "input": { "customerId": ada, "stage": "CHURNED", "reason": "moved abroad" } }))
        .await;
    assert_eq!(data["setCustomerLifecycleStage"]["customer"]["lifecycleStage"], "CHURNED");
    let (_, body) =
        app.post(Some(token), set, json!({ "input": { "customerId": ada, "stage": "ACTIVE", "reason": " " } })).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.reason");

    // Ordering again brings a churned customer back.
    app.order(token, &ada, "o2", "12.00", &Utc::now().to_rfc3339()).await;
    let stats = app.ok(Some(token), STATS, json!({ "id": ada })).await;
    assert_eq!(stats["customer"]["lifecycleStage"], "ACTIVE");
    let edges = stats["customer"]["lifecycleHistory"]["edges"].as_array().unwrap();
    let churn = edges.iter().find(|e| e["node"]["toStage"] == "CHURNED").unwrap();
    assert_eq!(churn["node"]["reason"], "moved abroad");
    assert_eq!(churn["node"]["actorId"], tenant.admin.id.to_string());
}

db_tests!(
    recording_is_idempotent_and_conflicts_are_refused,
    orders_drive_statistics_and_lifecycle,
    staff_decisions_are_kept_and_recorded,
);
