//! Loyalty rules that play out over time: tier downgrade policies and referrals (rewards after
//! an approval period, refusals).

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    db_tests,
    loyalty::{account, assert_ledger_balances, earlier, tiers},
    support::{Tenant, TestApp},
};

async fn settings(app: &TestApp, tenant: &Tenant, patch: Value) {
    app.ok(
        Some(&tenant.admin_token),
        "mutation($patch: JSON!) { updateWorkspaceSettings(input: { patch: $patch }) { tierDowngrade } }",
        json!({ "patch": patch }),
    )
    .await;
}

fn tier_of(account: &Value) -> &str {
    account["tier"]["name"].as_str().unwrap_or("none")
}

async fn tier_downgrades_follow_the_workspace_policy(app: TestApp) {
    let mut gold = Vec::new();
    for (slug, policy) in [("never", "NEVER"), ("period", "END_OF_PERIOD"), ("below", "AFTER_DAYS_BELOW")] {
        let tenant = app.tenant(slug).await;
        tiers(&app, &tenant).await;
        settings(
            &app,
            &tenant,
            json!({ "tierQualification": "ROLLING_YEAR", "tierDowngrade": policy, "tierDowngradeDays": 30 }),
        )
        .await;
        let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
        app.order(&tenant.admin_token, &ada, "o1", "150.00", &earlier(1)).await;
        let a = account(&app, &tenant, &ada).await;
        assert_eq!(tier_of(&a), "Gold", "promoted at once: {a}");
        gold.push((tenant, ada));
    }
    let tier_now = async |i: usize| tier_of(&account(&app, &gold[i].0, &gold[i].1).await).to_owned();

    // Six months on, the rolling year still holds the 150 points: nobody moves.
    vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(180)).await.unwrap();
    assert_eq!([tier_now(0).await, tier_now(1).await, tier_now(2).await], ["Gold", "Gold", "Gold"]);

    // 13 months on the points left the window. END_OF_PERIOD moves down at once (the period that
    // began with the promotion is over); AFTER_DAYS_BELOW starts counting.
    let below = Utc::now() + Duration::days(395);
    vafa::jobs::run_once(app.db(), below).await.unwrap();
    assert_eq!([tier_now(0).await, tier_now(1).await, tier_now(2).await], ["Gold", "Bronze", "Gold"]);
    vafa::jobs::run_once(app.db(), below + Duration::days(29)).await.unwrap();
    assert_eq!(tier_now(2).await, "Gold", "29 days below are not 30");
    vafa::jobs::run_once(app.db(), below + Duration::days(30)).await.unwrap();
    assert_eq!([tier_now(0).await, tier_now(1).await, tier_now(2).await], ["Gold", "Bronze", "Bronze"]);

    let history = account(&app, &gold[1].0, &gold[1].1).await["tierHistory"]["edges"].clone();
    assert_eq!(history[0]["node"]["toTier"]["name"], "Bronze", "{history}");
    assert_eq!(history[0]["node"]["fromTier"]["name"], "Gold");
    // Earning again promotes again, immediately.
    let (tenant, ada) = &gold[1];
    app.order(&tenant.admin_token, ada, "o2", "120.00", &earlier(0)).await;
    assert_eq!(tier_of(&account(&app, tenant, ada).await), "Gold");
}

async fn pending_points_wait_and_bonuses_come_once(app: TestApp) {
    use chrono::Datelike;
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.clone();
    settings(
        &app,
        &tenant,
        json!({ "pointsPendingDays": 14, "firstPurchaseBonusPoints": 20, "feedbackBonusPoints": 5, "birthdayBonusPoints": 30 }),
    )
    .await;
    // Mid-month, two months on: the birthday month whatever the time zone.
    let birthday_time = (Utc::now() + Duration::days(60)).with_day(15).unwrap();
    let birthday = format!("1990-{:02}-03", birthday_time.month());
    let ada = app.customer(&token, json!({ "name": "Ada", "birthday": birthday })).await;
    let state = async || {
        let a = account(&app, &tenant, &ada).await;
        let pending = app
            .ok(
                Some(&token),
                "query($id: ID!) { customer(id: $id) { loyaltyAccount { pendingPoints } } }",
                json!({ "id": ada }),
            )
            .await["customer"]["loyaltyAccount"]["pendingPoints"]
            .as_i64();
        (a["pointsBalance"].as_i64(), pending, a["lifetimePoints"].as_i64())
    };

    app.order(&token, &ada, "o1", "50.00", &earlier(0)).await;
    assert_eq!(state().await, (Some(0), Some(70), Some(0)), "50 + the first-purchase bonus wait");
    let second = app.order(&token, &ada, "o2", "30.00", &earlier(0)).await;
    assert_eq!(state().await, (Some(0), Some(100), Some(0)), "no second first-purchase bonus");
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    app.ok(Some(&token), refund, json!({ "id": second["order"]["id"] })).await;
    assert_eq!(state().await, (Some(0), Some(70), Some(0)), "refunded while pending: cancelled, no debt");
    let redeemable = "mutation($input: ChangePointsInput!) { adjustPoints(input: $input) { replayed } }";
    let account_id = account(&app, &tenant, &ada).await["id"].clone();
    let spend = json!({ "input": { "accountId": account_id, "points": -10, "reason": "try", "idempotencyKey": "t" } });
    assert_eq!(app.error_code(Some(&token), redeemable, spend.clone()).await, "INSUFFICIENT_POINTS");

    app.ok(
        Some(&token),
        "mutation($input: RecordFeedbackInput!) { recordFeedback(input: $input) { feedback { id } } }",
        json!({ "input": { "customerId": ada, "kind": "NPS", "score": 9 } }),
    )
    .await;
    assert_eq!(state().await, (Some(5), Some(70), Some(5)), "feedback bonus at once");

    vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(13)).await.unwrap();
    assert_eq!(state().await, (Some(5), Some(70), Some(5)), "13 days: still pending");
    for _ in 0..2 {
        vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(15)).await.unwrap();
    }
    assert_eq!(state().await, (Some(75), Some(0), Some(75)), "released once");

    for day in [0, 1] {
        vafa::jobs::run_once(app.db(), birthday_time + Duration::days(day)).await.unwrap();
    }
    assert_eq!(state().await, (Some(105), Some(0), Some(105)), "birthday bonus once a year");
    assert_ledger_balances(&app, &tenant).await;
}

const REFERRALS: &str = "query($id: ID!) { customer(id: $id) { loyaltyAccount { referralCode
  referrals { edges { node { status refusalReason referee { name } qualifiedAt rewardDueAt rewardedAt } } }
} } }";

async fn referrals_of(app: &TestApp, tenant: &Tenant, customer: &str) -> Vec<Value> {
    let data = app.ok(Some(&tenant.admin_token), REFERRALS, json!({ "id": customer })).await;
    data["customer"]["loyaltyAccount"]["referrals"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn code_of(app: &TestApp, tenant: &Tenant, customer: &str) -> String {
    let data = app
        .ok(
            Some(&tenant.admin_token),
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { account { referralCode } } }",
            json!({ "id": customer }),
        )
        .await;
    data["enrollCustomer"]["account"]["referralCode"].as_str().unwrap().to_owned()
}

fn referral_points(account: &Value) -> Vec<i64> {
    account["transactions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "EARN_REFERRAL")
        .map(|e| e["node"]["points"].as_i64().unwrap())
        .collect()
}

async fn referrals_pay_both_sides_once_after_approval(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.clone();
    settings(&app, &tenant, json!({ "referrerPoints": 100, "refereePoints": 50, "referralApprovalDays": 14 })).await;
    let ada = app.customer(&token, json!({ "name": "Ada", "email": "ada@example.com" })).await;
    let code = code_of(&app, &tenant, &ada).await;

    let unknown = "mutation { createCustomer(input: { name: \"Eve\", referralCode: \"NOPE\" }) { customer { id } } }";
    assert_eq!(app.error_code(Some(&token), unknown, json!({})).await, "BAD_USER_INPUT");

    let bob = app.customer(&token, json!({ "name": "Bob", "referralCode": code.to_lowercase() })).await;
    let r = referrals_of(&app, &tenant, &ada).await;
    assert_eq!((r.len(), r[0]["status"].as_str(), r[0]["referee"]["name"].as_str()), (1, Some("PENDING"), Some("Bob")));

    // The first order qualifies; refunded within the approval period, it pays nothing.
    let first = app.order(&token, &bob, "b1", "30.00", &earlier(0)).await;
    assert_eq!(referrals_of(&app, &tenant, &ada).await[0]["status"], "QUALIFIED");
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    app.ok(Some(&token), refund, json!({ "id": first["order"]["id"] })).await;
    assert_eq!(referrals_of(&app, &tenant, &ada).await[0]["status"], "PENDING");
    vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(15)).await.unwrap();
    assert!(referral_points(&account(&app, &tenant, &ada).await).is_empty());

    // The next order qualifies again; paid when the approval period is over, exactly once.
    app.order(&token, &bob, "b2", "40.00", &earlier(0)).await;
    vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(13)).await.unwrap();
    assert_eq!(referrals_of(&app, &tenant, &ada).await[0]["status"], "QUALIFIED", "not yet due");
    for _ in 0..2 {
        vafa::jobs::run_once(app.db(), Utc::now() + Duration::days(15)).await.unwrap();
    }
    let r = &referrals_of(&app, &tenant, &ada).await[0];
    assert_eq!(r["status"], "REWARDED");
    assert!(r["rewardedAt"].is_string());
    assert_eq!(referral_points(&account(&app, &tenant, &ada).await), vec![100]);
    assert_eq!(referral_points(&account(&app, &tenant, &bob).await), vec![50]);
    assert_ledger_balances(&app, &tenant).await;
}

async fn referred_leads_pay_when_converted_customers_buy(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.clone();
    settings(&app, &tenant, json!({ "referrerPoints": 10, "refereePoints": 5 })).await;
    let ada = app.customer(&token, json!({ "name": "Ada" })).await;
    let code = code_of(&app, &tenant, &ada).await;
    let lead = app
        .ok(
            Some(&token),
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id referredBy { name } } } }",
            json!({ "input": { "name": "Cy", "source": "REFERRAL", "category": "COMPARING", "referralCode": code } }),
        )
        .await["createLead"]["lead"]
        .clone();
    assert_eq!(lead["referredBy"]["name"], "Ada");
    let converted = app
        .ok(
            Some(&token),
            "mutation($id: ID!) { convertLead(input: { leadId: $id }) { customer { id } } }",
            json!({ "id": lead["id"] }),
        )
        .await;
    let cy = converted["convertLead"]["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(account(&app, &tenant, &cy).await["pointsBalance"], 0, "enrolled on conversion");
    assert_eq!(referrals_of(&app, &tenant, &ada).await[0]["referee"]["name"], "Cy");
    // No approval period: paid with the first order.
    app.order(&token, &cy, "c1", "20.00", &earlier(0)).await;
    assert_eq!(referrals_of(&app, &tenant, &ada).await[0]["status"], "REWARDED");
    assert_eq!(referral_points(&account(&app, &tenant, &ada).await), vec![10]);
    assert_eq!(referral_points(&account(&app, &tenant, &cy).await), vec![5]);
}

async fn suspicious_referrals_are_refused_and_flagged(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.clone();
    settings(&app, &tenant, json!({ "referrerPoints": 10, "refereePoints": 5 })).await;
    let ada = app.customer(&token, json!({ "name": "Ada", "email": "ada@example.com", "phone": "+4930123456" })).await;
    let ada_code = code_of(&app, &tenant, &ada).await;
    let create_lead = "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }";
    let convert = "mutation($id: ID!, $into: ID) { convertLead(input: { leadId: $id, mergeIntoCustomerId: $into }) { customer { id } } }";

    // Same phone as the referrer.
    app.customer(&token, json!({ "name": "Ada's other self", "phone": "+49 30 123456", "referralCode": ada_code }))
        .await;
    // Same email, as a lead.
    app.ok(
        Some(&token),
        create_lead,
        json!({ "input": { "name": "A. L.", "email": "ADA@example.com", "source": "REFERRAL", "category": "COMPARING", "referralCode": ada_code } }),
    )
    .await;
    // A lead with Ada's code merged into Ada herself.
    let own = app
        .ok(
            Some(&token),
            create_lead,
            json!({ "input": { "name": "Walk-in", "source": "REFERRAL", "category": "COMPARING", "referralCode": ada_code } }),
        )
        .await["createLead"]["lead"]["id"]
        .clone();
    app.ok(Some(&token), convert, json!({ "id": own, "into": ada })).await;
    // A loop: Ada referred Bob; a lead Bob referred turns out to be Ada.
    let bob = app.customer(&token, json!({ "name": "Bob", "referralCode": ada_code })).await;
    let bob_code = code_of(&app, &tenant, &bob).await;
    let back = app
        .ok(
            Some(&token),
            create_lead,
            json!({ "input": { "name": "Someone", "source": "REFERRAL", "category": "COMPARING", "referralCode": bob_code } }),
        )
        .await["createLead"]["lead"]["id"]
        .clone();
    app.ok(Some(&token), convert, json!({ "id": back, "into": ada })).await;

    let flagged =
        app.ok(Some(&token), "{ referrals(status: REFUSED) { edges { node { refusalReason } } } }", json!({})).await;
    let mut reasons: Vec<String> = flagged["referrals"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["refusalReason"].as_str().unwrap().to_owned())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "referral loop: the referee referred the referrer",
            "self-referral",
            "the referee has the referrer's email",
            "the referee has the referrer's phone",
        ],
        "{flagged}"
    );
    // Bob's own referral is fine; refused ones never pay, even when the referee buys.
    let ada_referrals = referrals_of(&app, &tenant, &ada).await;
    assert_eq!(ada_referrals.iter().filter(|r| r["status"] == "PENDING").count(), 1, "{ada_referrals:?}");
    app.order(&token, &ada, "a1", "50.00", &earlier(0)).await;
    assert_eq!(referral_points(&account(&app, &tenant, &bob).await), Vec::<i64>::new());
    app.order(&token, &bob, "b1", "50.00", &earlier(0)).await;
    assert_eq!(referral_points(&account(&app, &tenant, &ada).await), vec![10]);
}

db_tests!(
    tier_downgrades_follow_the_workspace_policy,
    pending_points_wait_and_bonuses_come_once,
    referrals_pay_both_sides_once_after_approval,
    referred_leads_pay_when_converted_customers_buy,
    suspicious_referrals_are_refused_and_flagged,
);
