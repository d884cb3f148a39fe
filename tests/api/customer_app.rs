//! The customer principal: a one-time code becomes a customer token that sees and changes only the
//! customer's own loyalty data and tickets.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    db_tests,
    loyalty::{enrolled_with, reward},
    support::{Backend, Tenant, TestApp, next_json, subscribe},
};

const ISSUE: &str = "mutation($id: ID!) { issueCustomerLoginCode(input: { customerId: $id }) { code expiresAt } }";
const EXCHANGE: &str =
    "mutation($code: String!) { exchangeCustomerLoginCode(input: { code: $code }) { accessToken customerId } }";
const MINE: &str = "{ myAccount { name
  loyaltyAccount { pointsBalance redemptions { totalCount } }
  tiers { name } affordableRewards { name } coupons { couponCode }
  tickets { totalCount edges { node { number status rating } } }
} }";

async fn resolved_complaint(app: &TestApp, tenant: &Tenant, customer: &str) -> Value {
    let token = Some(tenant.admin_token.as_str());
    let filed = app
        .ok(
            token,
            "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { id } } }",
            json!({ "input": { "channel": "EMAIL", "subject": "Broken", "body": "It broke.", "category": "PRODUCT_QUALITY", "customerId": customer } }),
        )
        .await["fileComplaint"]["ticket"]["id"]
        .clone();
    app.ok(
        token,
        "mutation($id: ID!) { setTicketStatus(input: { ticketId: $id, status: OPEN }) { ticket { status } } }",
        json!({ "id": filed }),
    )
    .await;
    app.ok(
        token,
        "mutation($input: ResolveTicketInput!) { resolveTicket(input: $input) { ticket { status } } }",
        json!({ "input": { "ticketId": filed, "rootCause": "Carrier", "customerError": false, "resolution": "Replaced" } }),
    )
    .await;
    filed
}

async fn customers_sign_in_and_see_only_their_own_data(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let (ada, ada_account) = enrolled_with(&app, &tenant, 100).await;
    let coffee = reward(&app, &tenant, json!({ "name": "Coffee", "kind": "FREE_PRODUCT", "costPoints": 40 })).await;
    reward(&app, &tenant, json!({ "name": "Weekend trip", "kind": "FREE_PRODUCT", "costPoints": 5000 })).await;
    let bob = app.customer(&tenant.admin_token, json!({ "name": "Bob" })).await;
    let bob_account = app
        .ok(
            admin,
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { account { id } } }",
            json!({ "id": bob }),
        )
        .await["enrollCustomer"]["account"]["id"]
        .clone();
    let ada_ticket = resolved_complaint(&app, &tenant, &ada).await;
    let bob_ticket = resolved_complaint(&app, &tenant, &bob).await;

    // A code works once; unknown codes and staff-less callers get nothing.
    let code = app.ok(admin, ISSUE, json!({ "id": ada })).await["issueCustomerLoginCode"]["code"].clone();
    let session = app.ok(None, EXCHANGE, json!({ "code": code })).await["exchangeCustomerLoginCode"].clone();
    assert_eq!(session["customerId"], ada.as_str());
    assert_eq!(app.error_code(None, EXCHANGE, json!({ "code": code })).await, "UNAUTHENTICATED", "used once");
    assert_eq!(app.error_code(None, EXCHANGE, json!({ "code": "NOTACODE" })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(None, ISSUE, json!({ "id": ada })).await, "UNAUTHENTICATED");
    let me = session["accessToken"].as_str().unwrap();

    let mine = app.ok(Some(me), MINE, json!({})).await["myAccount"].clone();
    assert_eq!(mine["name"], "Ada");
    assert_eq!(mine["loyaltyAccount"]["pointsBalance"], 100);
    assert_eq!(mine["affordableRewards"], json!([{ "name": "Coffee" }]), "only what the balance pays for");
    assert_eq!(mine["tickets"]["totalCount"], 1, "only their own tickets");

    // Their own reward and rating work; someone else's account or ticket does not exist for them.
    let redeem = "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { redemption { couponCode } account { pointsBalance } } }";
    let own = json!({ "input": { "accountId": ada_account, "rewardId": coffee["id"], "idempotencyKey": "app-1" } });
    let redeemed = app.ok(Some(me), redeem, own).await;
    assert_eq!(redeemed["redeemReward"]["account"]["pointsBalance"], 60);
    let other = json!({ "input": { "accountId": bob_account, "rewardId": coffee["id"], "idempotencyKey": "app-2" } });
    assert_eq!(app.error_code(Some(me), redeem, other).await, "NOT_FOUND");
    let rate = "mutation($id: ID!) { rateTicket(input: { ticketId: $id, score: 5 }) { ticket { satisfaction } } }";
    assert_eq!(app.ok(Some(me), rate, json!({ "id": ada_ticket })).await["rateTicket"]["ticket"]["satisfaction"], 5);
    assert_eq!(app.error_code(Some(me), rate, json!({ "id": bob_ticket })).await, "NOT_FOUND");
    let mine = app.ok(Some(me), MINE, json!({})).await["myAccount"].clone();
    assert_eq!(mine["coupons"].as_array().unwrap().len(), 1);
    assert_eq!(mine["tickets"]["edges"][0]["node"]["rating"], 5);

    // Nothing else: staff queries and mutations, other accounts, staff-only fields.
    let denied = [
        ("{ customers { totalCount } }", json!({})),
        ("{ tickets { totalCount } }", json!({})),
        ("{ me { id } }", json!({})),
        ("query($id: ID!) { loyaltyAccount(id: $id) { pointsBalance } }", json!({ "id": bob_account })),
        ("{ myAccount { loyaltyAccount { customer { name } } } }", json!({})),
        ("{ referrals { totalCount } }", json!({})),
        (
            "mutation($input: ChangePointsInput!) { awardBonus(input: $input) { replayed } }",
            json!({ "input": { "accountId": ada_account, "points": 1000, "reason": "me", "idempotencyKey": "x" } }),
        ),
        (
            "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created } }",
            json!({ "input": { "customerId": ada, "externalRef": "self", "amount": "1000.00", "placedAt": Utc::now().to_rfc3339() } }),
        ),
        (ISSUE, json!({ "id": bob })),
    ];
    for (query, variables) in denied {
        assert_eq!(app.error_code(Some(me), query, variables).await, "FORBIDDEN", "{query}");
    }
    // Staff are not customers.
    assert_eq!(app.error_code(admin, MINE, json!({})).await, "FORBIDDEN");
}

async fn login_codes_expire(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let code = app.ok(Some(&tenant.admin_token), ISSUE, json!({ "id": ada })).await["issueCustomerLoginCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = Utc::now() + Duration::minutes(16);
    assert!(vafa::customer_app::service::redeem(app.db(), &code, late).await.is_err());
    // Not used up by the failed attempt: still good within its 15 minutes.
    assert!(vafa::customer_app::service::redeem(app.db(), &code, Utc::now()).await.is_ok());
}

async fn sign_in(app: &TestApp, tenant: &Tenant, customer: &str) -> String {
    let code =
        app.ok(Some(&tenant.admin_token), ISSUE, json!({ "id": customer })).await["issueCustomerLoginCode"]["code"]
            .clone();
    app.ok(None, EXCHANGE, json!({ "code": code })).await["exchangeCustomerLoginCode"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An app showing the balance hears of every committed change, from any server instance, and of
/// nothing that was rolled back.
async fn apps_follow_the_balance_live(app: TestApp) {
    use futures_util::StreamExt;
    let tenant = app.tenant("acme").await;
    let (ada, ada_account) = enrolled_with(&app, &tenant, 100).await;
    let bob = app.customer(&tenant.admin_token, json!({ "name": "Bob" })).await;
    let me = sign_in(&app, &tenant, &ada).await;
    let changes = format!(
        "subscription {{ loyaltyAccountChanged(accountId: \"{}\") {{ pointsBalance }} }}",
        ada_account.as_str().unwrap()
    );
    let mut socket = subscribe(&app.url, &me, &changes).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let writer = if app.backend == Backend::Postgres { app.another_instance().await } else { app.url.clone() };
    let client = reqwest::Client::new();
    let post = async |query: &str, variables: Value| {
        let body = json!({ "query": query, "variables": variables });
        let response = client
            .post(format!("{writer}/graphql"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", tenant.admin_token))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    let change = "mutation($input: ChangePointsInput!) { adjustPoints(input: $input) { replayed } }";
    // Refused (not enough points): rolled back, so nothing is heard.
    let refused = post(
        change,
        json!({ "input": { "accountId": ada_account, "points": -500, "reason": "x", "idempotencyKey": "a" } }),
    )
    .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "INSUFFICIENT_POINTS");
    // An order: purchase points; the app sees the new balance.
    let record = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created } }";
    post(record, json!({ "input": { "customerId": ada, "externalRef": "o1", "amount": "25.00", "placedAt": Utc::now().to_rfc3339() } })).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["payload"]["data"]["loyaltyAccountChanged"]["pointsBalance"], 125, "{event}");
    // Bob's account changing is not Ada's business.
    post(record, json!({ "input": { "customerId": bob, "externalRef": "b1", "amount": "5.00", "placedAt": Utc::now().to_rfc3339() } })).await;
    let silence = tokio::time::timeout(std::time::Duration::from_millis(500), socket.next()).await;
    assert!(silence.is_err(), "heard {silence:?}");

    // A customer cannot follow someone else's account.
    let bob_account = app
        .ok(
            Some(&tenant.admin_token),
            "query($id: ID!) { customer(id: $id) { loyaltyAccount { id } } }",
            json!({ "id": bob }),
        )
        .await["customer"]["loyaltyAccount"]["id"]
        .clone();
    let spy = format!(
        "subscription {{ loyaltyAccountChanged(accountId: \"{}\") {{ pointsBalance }} }}",
        bob_account.as_str().unwrap()
    );
    let mut spying = subscribe(&app.url, &me, &spy).await;
    let answer = next_json(&mut spying).await;
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{answer}");
}

db_tests!(customers_sign_in_and_see_only_their_own_data, login_codes_expire, apps_follow_the_balance_live);
