//! No request takes Vafa down or corrupts its data: concurrent writers for one customer, amounts
//! and points at the edge of what fits, dates and durations out of range, hostile CSV files.

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;
use vafa::metrics::activity;

use crate::{
    db_tests,
    support::{TENANT_TIMEZONE, TestApp},
};

const RECORD: &str = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created order { id } } }";
const STATS: &str = "query($id: ID!) { customer(id: $id) {
  orderCount totalSpent firstOrderAt lastOrderAt loyaltyAccount { pointsBalance }
} }";

/// The n-th test order: `n + 1` days and n hours ago, for `n + 1`.50 EUR (so `n + 1` points).
fn nth_order(customer: &str, n: i64, now: DateTime<Utc>) -> (Value, DateTime<Utc>, i64) {
    let placed = (now - Duration::days(n + 1) - Duration::hours(n)).duration_trunc(Duration::seconds(1)).unwrap();
    let input = json!({
        "customerId": customer,
        "externalRef": format!("race-{n}"),
        "amount": format!("{}.50", n + 1),
        "placedAt": placed.to_rfc3339(),
    });
    (input, placed, (n + 1) * 100 + 50)
}

/// Statistics, purchase-day rollup and points are exact after concurrent orders, refunds and
/// cancellations of one customer: each writer recounts under the customer's row lock, so no
/// READ COMMITTED transaction overwrites another's recount.
async fn concurrent_orders_refunds_and_cancellations_keep_statistics_exact(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let now = Utc::now();
    let app = &app;

    let first_wave = join_all((0..60).map(|n| {
        let (input, _, _) = nth_order(&ada, n, now);
        async move { app.post(token, RECORD, json!({ "input": input })).await }
    }))
    .await;
    let mut ids = Vec::new();
    for (status, body) in first_wave {
        assert!(status == 200 && body.get("errors").is_none(), "{body}");
        ids.push(body["data"]["recordOrder"]["order"]["id"].as_str().unwrap().to_owned());
    }

    // Newest ten refunded, oldest ten cancelled, and ten older orders recorded, all at once.
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    let cancel = "mutation($id: ID!) { cancelOrder(input: { orderId: $id }) { order { status } } }";
    let mut second_wave = Vec::new();
    for n in 0..10 {
        second_wave.push((refund, json!({ "id": ids[n] })));
        second_wave.push((cancel, json!({ "id": ids[59 - n] })));
        second_wave.push((RECORD, json!({ "input": nth_order(&ada, 60 + n as i64, now).0 })));
    }
    for (status, body) in join_all(second_wave.iter().map(|(q, v)| app.post(token, q, v.clone()))).await {
        assert!(status == 200 && body.get("errors").is_none(), "{body}");
    }

    let completed: Vec<(DateTime<Utc>, i64)> =
        (10..50).chain(60..70).map(|n| nth_order(&ada, n, now)).map(|(_, at, minor)| (at, minor)).collect();
    let total: i64 = completed.iter().map(|(_, minor)| minor).sum();
    let points: i64 = (10..50).chain(60..70).map(|n| n + 1).sum();
    let stats = app.ok(token, STATS, json!({ "id": ada })).await;
    let c = &stats["customer"];
    assert_eq!(c["orderCount"], 50, "{c}");
    assert_eq!(c["totalSpent"], vafa::money::from_minor(total, "EUR").to_string(), "{c}");
    let at = |v: &Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc);
    assert_eq!(at(&c["firstOrderAt"]), completed.iter().map(|(t, _)| *t).min().unwrap());
    assert_eq!(at(&c["lastOrderAt"]), completed.iter().map(|(t, _)| *t).max().unwrap());
    assert_eq!(c["loyaltyAccount"]["pointsBalance"], points, "one account, every order earned and reversed once");

    // The rollup the metrics read is the fold of exactly the completed orders.
    let customer_id: Uuid = ada.parse().unwrap();
    let row = entity::customer_activity::Entity::find()
        .filter(entity::customer_activity::Column::CustomerId.eq(customer_id))
        .one(app.db())
        .await
        .unwrap()
        .expect("a purchase-day row");
    let mut days = Vec::new();
    activity::decode_into(&row.days, &mut days).unwrap();
    let mut sorted = completed.clone();
    sorted.sort();
    assert_eq!(days, activity::fold(&sorted, TENANT_TIMEZONE.parse().unwrap()));
    assert_eq!(row.orders, 50);
}

/// Ten exclusive experiments started at once split the audience instead of sharing customers:
/// starts queue on the workspace, so the second sees the first's assignments.
async fn concurrent_exclusive_experiments_share_no_customer(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    for i in 0..20 {
        app.customer(&tenant.admin_token, json!({ "name": format!("C{i}") })).await;
    }
    let create = "mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { experiment { id } } }";
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        let input = json!({ "input": { "name": name, "kind": "REACTIVATION",
            "variants": [{ "name": "control" }, { "name": "call" }], "windowDays": 30 } });
        ids.push(app.ok(token, create, input).await["createExperiment"]["experiment"]["id"].clone());
    }
    let start =
        "mutation($input: StartExperimentInput!) { startExperiment(input: $input) { experiment { audienceSize } } }";
    let started = join_all(ids.iter().map(|id| {
        app.post(token, start, json!({ "input": { "experimentId": id, "maxCustomers": 2, "exclusive": true } }))
    }))
    .await;
    for (status, body) in started {
        assert!(status == 200 && body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["startExperiment"]["experiment"]["audienceSize"], 2);
    }
    let assigned = entity::experiment_assignment::Entity::find().all(app.db()).await.unwrap();
    let mut customers: Vec<Uuid> = assigned.iter().map(|a| a.customer_id).collect();
    customers.sort();
    customers.dedup();
    assert_eq!((assigned.len(), customers.len()), (20, 20), "every customer in exactly one test");
}

/// Asserts a BAD_USER_INPUT error naming `field`.
async fn assert_bad_input(app: &TestApp, token: Option<&str>, query: &str, variables: Value, field: &str) {
    let (_, body) = app.post(token, query, variables).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
}

/// Amounts are bounded by `money::MAX_MINOR` (10^12 minor units) and points by `MAX_POINTS`
/// (10^12): beyond is BAD_USER_INPUT, never a wrapped total or an INTERNAL error.
async fn money_and_points_beyond_the_limits_are_bad_input(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let placed = (Utc::now() - Duration::days(1)).to_rfc3339();
    let order = |reference: &str, amount: &str| json!({ "input": { "customerId": ada, "externalRef": reference, "amount": amount, "placedAt": placed } });
    for amount in ["92233720368547758.07", "10000000000.01"] {
        assert_bad_input(&app, token, RECORD, order(amount, amount), "input.amount").await;
    }
    app.ok(token, RECORD, order("max-1", "10000000000.00")).await;
    app.ok(token, RECORD, order("max-2", "10000000000.00")).await;
    let stats = app.ok(token, STATS, json!({ "id": ada })).await;
    assert_eq!(stats["customer"]["totalSpent"], "20000000000.00", "{stats}");

    let account = stats["customer"]["loyaltyAccount"].clone();
    assert!(account.is_object(), "{stats}");
    let id = app
        .ok(token, "query($id: ID!) { customer(id: $id) { loyaltyAccount { id } } }", json!({ "id": ada }))
        .await["customer"]["loyaltyAccount"]["id"]
        .clone();
    let bonus = "mutation($input: ChangePointsInput!) { awardBonus(input: $input) { account { pointsBalance } } }";
    let input = |points: i64, key: &str| json!({ "input": { "accountId": id, "points": points, "reason": "test", "idempotencyKey": key } });
    assert_bad_input(&app, token, bonus, input(i64::MAX, "huge"), "input.points").await;
    assert_bad_input(&app, token, bonus, input(1_000_000_000_001, "over"), "input.points").await;
    let adjust = "mutation($input: ChangePointsInput!) { adjustPoints(input: $input) { account { pointsBalance } } }";
    assert_bad_input(&app, token, adjust, input(i64::MIN, "min"), "input.points").await;
    let reward = "mutation($input: RewardInput!) { createReward(input: $input) { reward { id } } }";
    let reward_input = |cost: i64, value: &str| json!({ "input": { "name": "Voucher", "kind": "AMOUNT_DISCOUNT", "value": value, "costPoints": cost } });
    assert_bad_input(&app, token, reward, reward_input(i64::MAX, "5.00"), "input.costPoints").await;
    assert_bad_input(&app, token, reward, reward_input(100, "92233720368547758.07"), "input.value").await;
}

/// `expiringPoints(days:)` is bounded (1–3650), so a customer's token cannot make the server
/// compute a date past the end of the calendar.
async fn out_of_range_durations_are_bad_input(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let enrolled = app
        .ok(
            token,
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { account { id } } }",
            json!({ "id": ada }),
        )
        .await;
    let id = enrolled["enrollCustomer"]["account"]["id"].clone();
    let expiring =
        "query($id: ID!, $days: Int!) { loyaltyAccount(id: $id) { expiringPoints(days: $days) { points } } }";
    for days in [0, 3651, 2_147_483_647] {
        assert_bad_input(&app, token, expiring, json!({ "id": id, "days": days }), "days").await;
    }
    app.ok(token, expiring, json!({ "id": id, "days": 3650 })).await;
}

/// Orders are placed between 1970-01-01 and now + 5 minutes; birthdays lie within the last 120
/// years and not in the future; every workspace setting has a range. All BAD_USER_INPUT with the field.
async fn dates_and_settings_out_of_range_are_bad_input(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    for (n, placed) in ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2099-01-01T00:00:00Z"].iter().enumerate() {
        let input =
            json!({ "customerId": ada, "externalRef": format!("old-{n}"), "amount": "1.00", "placedAt": placed });
        assert_bad_input(&app, token, RECORD, json!({ "input": input }), "input.placedAt").await;
    }
    let input =
        json!({ "customerId": ada, "externalRef": "epoch", "amount": "1.00", "placedAt": "1970-01-01T00:00:00Z" });
    app.ok(token, RECORD, json!({ "input": input })).await;

    let create = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }";
    let update = "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { birthday } } }";
    let next_year = (Utc::now() + Duration::days(366)).date_naive().to_string();
    for birthday in ["0024-05-01", "2100-01-01", next_year.as_str()] {
        let input = json!({ "input": { "name": "Old", "birthday": birthday } });
        assert_bad_input(&app, token, create, input, "input.birthday").await;
        let input = json!({ "input": { "customerId": ada, "birthday": birthday } });
        assert_bad_input(&app, token, update, input, "input.birthday").await;
    }
    let data = app.ok(token, update, json!({ "input": { "customerId": ada, "birthday": "1950-02-28" } })).await;
    assert_eq!(data["updateCustomer"]["customer"]["birthday"], "1950-02-28");

    let settings =
        "mutation($patch: JSON!) { updateWorkspaceSettings(input: { patch: $patch }) { activityWindowDays } }";
    for (name, value) in [
        ("activityWindowDays", json!(0)),
        ("activityWindowDays", json!(100000)),
        ("customerLifespanYears", json!(1e308)),
        ("thankYouDelayHours", json!(i64::MAX)),
        ("pointsPerCurrencyUnit", json!(i64::MAX)),
        ("valuePer100PointsMinor", json!(i64::MAX)),
        ("birthdayBonusPoints", json!(i64::MAX)),
        ("pointsExpiryMonths", json!(u32::MAX)),
    ] {
        let patch = json!({ "patch": { name: value } });
        assert_bad_input(&app, token, settings, patch, &format!("input.patch.{name}")).await;
    }
    let data = app.ok(token, settings, json!({ "patch": { "activityWindowDays": 3650 } })).await;
    assert_eq!(data["updateWorkspaceSettings"]["activityWindowDays"], 3650);
}

/// Orders CSV with hostile rows: each bad row is refused with its physical line, the good rows
/// import with exact statistics and purchase days, and a re-run adds nothing and succeeds.
async fn hostile_order_rows_are_refused_per_line(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let long_ref = "x".repeat(100_000);
    let csv = format!(
        "customer_ref,placed_at,amount,external_ref\n\
         c-1,2026-01-05T10:00:00Z,10.50,o-1\n\
         c-1,2026-01-06T10:00:00Z,92233720368547758.07,o-2\n\
         c-2,2026-01-07,1.00,o-3\0\n\
         c-2,2099-01-01,1.00,o-4\n\
         c-2,0000-01-01T00:00:00Z,1.00,o-5\n\
         \"c-3 on\ntwo lines\",2026-01-01,1.00,o-6\n\
         c-3,2026-01-02,2.00,o-7\n\
         c-3,2026-01-02,oops,o-8\n\
         c-4,2026-01-03,1.00\n\
         {long_ref},2026-01-03,1.00,o-9\n\
         c-5,2026-01-04,1.\x0700,o-10\n\
         \"c-6,2026-01-04,1.00,o-11\n\
         c-7,2026-01-05,1.00,o-12\n"
    );
    let report = crate::import::import(&app, "orders", &csv);
    for expected in [
        "created: 2,",
        "line 3: amount is too large",
        "line 4: field 4 contains the control character U+0000",
        "line 5: placed_at `2099-01-01`: an order cannot be placed in the future",
        "line 6: placed_at `0000-01-01T00:00:00Z`: an order cannot be placed before 1970-01-01",
        "line 7: field 1 spans several lines",
        "line 10: amount `oops` is not a decimal number",
        "line 11: 3 fields where the header has 4",
        "line 12: an external reference has 1 to 200 characters",
        "line 13: field 3 contains the control character U+0007",
        "line 14: 1 fields where the header has 4",
    ] {
        assert!(report.contains(expected), "{expected}: {report}");
    }
    assert!(!report.contains(&long_ref[..300]), "the long value is not echoed");
    let again = crate::import::import(&app, "orders", &csv);
    assert!(again.contains("created: 0, already present (skipped): 2"), "{again}");

    let q = "query { customers(first: 20) { edges { node { externalRef orderCount totalSpent firstOrderAt } } } }";
    let data = app.ok(token, q, json!({})).await;
    let mut customers: Vec<(String, i64, String)> = data["customers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["externalRef"].as_str().unwrap().to_owned(),
                n["orderCount"].as_i64().unwrap(),
                n["totalSpent"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    customers.sort();
    assert_eq!(customers, [("c-1".to_owned(), 1, "10.50".to_owned()), ("c-3".to_owned(), 1, "2.00".to_owned())]);
    let rollups = entity::customer_activity::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(rollups.iter().map(|r| r.orders).sum::<i32>(), 2, "purchase days written with the rows");
}

/// Customers CSV: a NUL, an impossible birthday or an over-long name is refused by line; a row
/// with neither reference nor e-mail is created once, however often the file is imported.
async fn hostile_customer_rows_are_refused_and_reimport_is_idempotent(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let csv = format!(
        "name,email,phone,birthday\n\
         Nomail,,+49 30 1234567,1990-01-01\n\
         Old,,,0024-05-01\n\
         Nul\0byte,,,\n\
         {},,,\n\
         Good,good@example.com,,2100-01-01\n\
         Fine,fine@example.com,,\n",
        "n".repeat(300)
    );
    let report = crate::import::import(&app, "customers", &csv);
    for expected in [
        "created: 2,",
        "line 3: birthday at most 120 years ago",
        "line 4: field 1 contains the control character U+0000",
        "line 5: name must have 1 to 200 characters",
        "line 6: birthday cannot be in the future",
    ] {
        assert!(report.contains(expected), "{expected}: {report}");
    }
    let again = crate::import::import(&app, "customers", &csv);
    assert!(again.contains("created: 0, already present (skipped): 2"), "{again}");
    let count = app.ok(token, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 2, "{count}");
}

/// Concurrent enrolments of one customer open one account and all succeed (no unique-key CONFLICT).
async fn concurrent_enrolments_open_one_account(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let enroll = "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { created account { id } } }";
    let results = join_all((0..20).map(|_| app.post(token, enroll, json!({ "id": ada })))).await;
    let mut created = 0;
    let mut accounts = Vec::new();
    for (status, body) in results {
        assert!(status == 200 && body.get("errors").is_none(), "{body}");
        created += i32::from(body["data"]["enrollCustomer"]["created"] == true);
        accounts.push(body["data"]["enrollCustomer"]["account"]["id"].clone());
    }
    accounts.dedup();
    assert_eq!((created, accounts.len()), (1, 1));
}

db_tests!(
    concurrent_enrolments_open_one_account,
    hostile_order_rows_are_refused_per_line,
    hostile_customer_rows_are_refused_and_reimport_is_idempotent,
    dates_and_settings_out_of_range_are_bad_input,
    money_and_points_beyond_the_limits_are_bad_input,
    out_of_range_durations_are_bad_input,
    concurrent_orders_refunds_and_cancellations_keep_statistics_exact,
    concurrent_exclusive_experiments_share_no_customer,
);
