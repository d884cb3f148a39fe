//! Loyalty: points earned by orders and reversed by refunds, tiers, debt, manual changes with
//! idempotency keys, and the ledger invariant under concurrent spending.

use chrono::{Duration, Utc};
use entity::{loyalty_account, points_transaction};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    db_tests,
    support::{Tenant, TestApp},
};

const ACCOUNT: &str = "query($id: ID!) { customer(id: $id) { loyaltyAccount {
  id pointsBalance lifetimePoints debtPoints referralCode tier { name } nextTier { tier { name } pointsNeeded }
  transactions(first: 50) { edges { node { kind points reason } } }
  tierHistory { edges { node { fromTier { name } toTier { name } } } }
} } }";
const CHANGE: &str =
    "mutation($input: ChangePointsInput!) { adjustPoints(input: $input) { replayed account { pointsBalance } } }";
const BONUS: &str = "mutation($input: ChangePointsInput!) { awardBonus(input: $input) { replayed transaction { points } account { pointsBalance lifetimePoints } } }";

pub(crate) async fn account(app: &TestApp, tenant: &Tenant, customer: &str) -> Value {
    app.ok(Some(&tenant.admin_token), ACCOUNT, json!({ "id": customer })).await["customer"]["loyaltyAccount"].clone()
}

/// For every account of the workspace: `pointsBalance == sum(released ledger rows)` and
/// `pendingPoints == sum(pending rows)`.
pub(crate) async fn assert_ledger_balances(app: &TestApp, tenant: &Tenant) {
    let accounts = loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(tenant.workspace.id))
        .all(app.db())
        .await
        .unwrap();
    for a in accounts {
        let ledger = points_transaction::Entity::find()
            .filter(points_transaction::Column::AccountId.eq(a.id))
            .all(app.db())
            .await
            .unwrap();
        let sum = |pending: bool| ledger.iter().filter(|t| t.pending == pending).map(|t| t.points).sum::<i64>();
        assert_eq!(a.points_balance, sum(false), "balance of {} differs from its ledger", a.id);
        assert_eq!(a.pending_points, sum(true), "pending points of {} differ from its ledger", a.id);
    }
}

pub(crate) async fn tiers(app: &TestApp, tenant: &Tenant) {
    for (name, rank, min, multiplier) in [("Bronze", 1, 0, 100), ("Gold", 2, 100, 150)] {
        app.ok(
            Some(&tenant.admin_token),
            "mutation($input: CreateTierInput!) { createTier(input: $input) { tier { id } } }",
            json!({ "input": { "name": name, "rank": rank, "minPoints": min, "multiplierPercent": multiplier, "perks": ["free coffee"] } }),
        )
        .await;
    }
}

pub(crate) fn earlier(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339()
}

async fn orders_earn_and_refunds_reverse(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    tiers(&app, &tenant).await;
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    assert!(account(&app, &tenant, &ada).await.is_null(), "not enrolled before the first order");

    app.order(token, &ada, "o1", "80.99", &earlier(3)).await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["tier"]["name"].as_str()), (Some(80), Some("Bronze")), "{a}");
    assert_eq!(a["nextTier"], json!({ "tier": { "name": "Gold" }, "pointsNeeded": 20 }));
    assert_eq!(a["referralCode"].as_str().unwrap().len(), 10);

    let placed = earlier(2);
    let second = app.order(token, &ada, "o2", "30.00", &placed).await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!(
        (a["lifetimePoints"].as_i64(), a["tier"]["name"].as_str()),
        (Some(110), Some("Gold")),
        "promoted at once"
    );
    assert!(a["nextTier"].is_null(), "already at the top");
    app.order(token, &ada, "o3", "10.00", &earlier(1)).await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!(a["pointsBalance"], 125, "Gold earns ×1.5: 80 + 30 + 15");

    // Recording an order again changes nothing; a refund takes back exactly what it earned, once.
    assert_eq!(app.order(token, &ada, "o2", "30.00", &placed).await["created"], false);
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    let order_id = second["order"]["id"].clone();
    app.ok(Some(token), refund, json!({ "id": order_id })).await;
    assert_eq!(app.error_code(Some(token), refund, json!({ "id": order_id })).await, "INVALID_TRANSITION");
    let a = account(&app, &tenant, &ada).await;
    assert_eq!(
        (a["pointsBalance"].as_i64(), a["lifetimePoints"].as_i64()),
        (Some(95), Some(125)),
        "lifetime never decreases"
    );
    let kinds: Vec<(&str, i64)> = a["transactions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["kind"].as_str().unwrap(), e["node"]["points"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, [("REVERSAL", -30), ("EARN_PURCHASE", 15), ("EARN_PURCHASE", 30), ("EARN_PURCHASE", 80)]);
    let history = a["tierHistory"]["edges"].as_array().unwrap();
    assert_eq!(history[0]["node"]["toTier"]["name"], "Gold");
    assert_eq!(history[0]["node"]["fromTier"]["name"], "Bronze");
    assert_ledger_balances(&app, &tenant).await;
}

async fn spent_points_become_debt(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let first = app.order(token, &ada, "o1", "50.00", &earlier(2)).await;
    let id = account(&app, &tenant, &ada).await["id"].clone();
    let spend =
        json!({ "input": { "accountId": id, "points": -45, "reason": "gift card", "idempotencyKey": "spend-1" } });
    app.ok(Some(token), CHANGE, spend).await;
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    app.ok(Some(token), refund, json!({ "id": first["order"]["id"] })).await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["debtPoints"].as_i64()), (Some(0), Some(45)), "never below zero: {a}");
    // The next purchase pays the debt first.
    app.order(token, &ada, "o2", "100.00", &earlier(1)).await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["debtPoints"].as_i64()), (Some(55), Some(0)));
    assert_eq!(a["transactions"]["edges"][0]["node"]["reason"], "100 earned, 45 kept against earlier debt");
    assert_ledger_balances(&app, &tenant).await;
}

async fn manual_changes_are_idempotent_and_guarded(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let enrolled = app
        .ok(token, "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { created account { id pointsBalance } } }", json!({ "id": ada }))
        .await;
    assert_eq!(enrolled["enrollCustomer"]["created"], true);
    let again = app
        .ok(
            token,
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { created account { id } } }",
            json!({ "id": ada }),
        )
        .await;
    assert_eq!(again["enrollCustomer"]["created"], false, "one account per customer");
    let id = enrolled["enrollCustomer"]["account"]["id"].clone();
    let input = |points: i64, key: &str| json!({ "input": { "accountId": id, "points": points, "reason": "birthday", "idempotencyKey": key } });

    let first = app.ok(token, BONUS, input(50, "bday-2026")).await;
    assert_eq!(first["awardBonus"]["replayed"], false);
    let retry = app.ok(token, BONUS, input(50, "bday-2026")).await;
    assert_eq!(retry["awardBonus"]["replayed"], true);
    assert_eq!(retry["awardBonus"]["account"]["pointsBalance"], 50, "a retry never changes points twice");
    assert_eq!(app.error_code(token, BONUS, input(60, "bday-2026")).await, "CONFLICT");
    assert_eq!(app.error_code(token, BONUS, input(-5, "neg")).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(token, CHANGE, input(-51, "too-much")).await, "INSUFFICIENT_POINTS");
    let (_, agent) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    assert_eq!(app.error_code(Some(&agent), BONUS, input(10, "agent")).await, "FORBIDDEN");
    let other = app.tenant("other").await;
    assert_eq!(app.error_code(Some(&other.admin_token), BONUS, input(10, "foreign")).await, "NOT_FOUND");
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["lifetimePoints"].as_i64()), (Some(50), Some(50)));
    assert_eq!(a["transactions"]["edges"].as_array().unwrap().len(), 1);
    assert_ledger_balances(&app, &tenant).await;
}

async fn concurrent_spending_never_overdraws(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let id = app
        .ok(
            Some(token),
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { account { id } } }",
            json!({ "id": ada }),
        )
        .await["enrollCustomer"]["account"]["id"]
        .clone();
    app.ok(
        Some(token),
        BONUS,
        json!({ "input": { "accountId": id, "points": 100, "reason": "welcome", "idempotencyKey": "w" } }),
    )
    .await;
    let app = &app;
    let spends = (0..40).map(|i| {
        let input = json!({ "input": { "accountId": id, "points": -10, "reason": "spend", "idempotencyKey": format!("s{i}") } });
        async move { app.post(Some(token), CHANGE, input).await.1 }
    });
    let results = futures_util::future::join_all(spends).await;
    let ok = results.iter().filter(|r| r["errors"].is_null()).count();
    let refused = results.iter().filter(|r| r["errors"][0]["extensions"]["code"] == "INSUFFICIENT_POINTS").count();
    assert_eq!((ok, refused), (10, 30), "{results:?}");
    assert_eq!(account(app, &tenant, &ada).await["pointsBalance"], 0);
    assert_ledger_balances(app, &tenant).await;
}

async fn merging_customers_folds_accounts_and_tickets(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let dup = app.customer(token, json!({ "name": "Ada L." })).await;
    app.order(token, &ada, "o1", "40.00", &earlier(2)).await;
    app.order(token, &dup, "o2", "25.00", &earlier(1)).await;
    let complaint = json!({ "input": { "customerId": dup, "channel": "EMAIL", "subject": "Late", "body": "Where is it?", "category": "LATE_DELIVERY" } });
    app.ok(
        Some(token),
        "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { id } } }",
        complaint,
    )
    .await;
    app.ok(
        Some(token),
        "mutation($input: MergeCustomersInput!) { mergeCustomers(input: $input) { survivor { id } } }",
        json!({ "input": { "survivorId": ada, "mergedId": dup } }),
    )
    .await;
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["lifetimePoints"].as_i64()), (Some(65), Some(65)));
    assert_eq!(a["transactions"]["edges"].as_array().unwrap().len(), 2, "both ledgers, one account");
    let accounts = loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(tenant.workspace.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    let tickets = app
        .ok(Some(token), "query($id: ID!) { customer(id: $id) { tickets { totalCount } } }", json!({ "id": ada }))
        .await;
    assert_eq!(tickets["customer"]["tickets"]["totalCount"], 1, "the complaint moved to the survivor");
    assert_ledger_balances(&app, &tenant).await;
}

const REDEEM: &str = "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) {
  created redemption { id couponCode status points } account { pointsBalance } } }";

pub(crate) async fn enrolled_with(app: &TestApp, tenant: &Tenant, points: i64) -> (String, Value) {
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let id = app
        .ok(
            token,
            "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { account { id } } }",
            json!({ "id": ada }),
        )
        .await["enrollCustomer"]["account"]["id"]
        .clone();
    app.ok(
        token,
        BONUS,
        json!({ "input": { "accountId": id, "points": points, "reason": "welcome", "idempotencyKey": "welcome" } }),
    )
    .await;
    (ada, id)
}

pub(crate) async fn reward(app: &TestApp, tenant: &Tenant, input: Value) -> Value {
    app.ok(
        Some(&tenant.admin_token),
        "mutation($input: RewardInput!) { createReward(input: $input) { reward { id stock value } } }",
        json!({ "input": input }),
    )
    .await["createReward"]["reward"]
        .clone()
}

async fn rewards_and_coupons(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let (ada, account_id) = enrolled_with(&app, &tenant, 100).await;
    let ten_off = reward(
        &app,
        &tenant,
        json!({ "name": "10% off", "kind": "PERCENT_DISCOUNT", "value": "10", "costPoints": 30, "stock": 2 }),
    )
    .await;
    let vip = reward(
        &app,
        &tenant,
        json!({ "name": "VIP evening", "kind": "EXCLUSIVE_ACCESS", "costPoints": 10, "minTierRank": 2 }),
    )
    .await;
    let redeem = |reward: &Value, key: &str| json!({ "input": { "accountId": account_id, "rewardId": reward["id"], "idempotencyKey": key } });

    let first = app.ok(token, REDEEM, redeem(&ten_off, "k1")).await["redeemReward"].clone();
    assert_eq!((first["created"].as_bool(), first["account"]["pointsBalance"].as_i64()), (Some(true), Some(70)));
    assert_eq!(first["redemption"]["status"], "ISSUED");
    let retry = app.ok(token, REDEEM, redeem(&ten_off, "k1")).await["redeemReward"].clone();
    assert_eq!((retry["created"].as_bool(), retry["account"]["pointsBalance"].as_i64()), (Some(false), Some(70)));
    assert_eq!(retry["redemption"]["couponCode"], first["redemption"]["couponCode"]);
    let second = app.ok(token, REDEEM, redeem(&ten_off, "k2")).await["redeemReward"].clone();
    assert_eq!(second["account"]["pointsBalance"], 40);
    assert_eq!(app.error_code(token, REDEEM, redeem(&ten_off, "k3")).await, "CONFLICT", "out of stock");
    assert_eq!(app.error_code(token, REDEEM, redeem(&vip, "k4")).await, "FORBIDDEN", "for a higher tier");
    let visible = app
        .ok(
            token,
            "query($id: ID!) { rewards(accountId: $id) { edges { node { name } } } }",
            json!({ "id": account_id }),
        )
        .await;
    assert_eq!(visible["rewards"]["edges"], json!([]), "out of stock and the VIP reward are not offered");

    // A coupon is used once; an unused one can be cancelled, returning points and stock.
    let code = first["redemption"]["couponCode"].as_str().unwrap();
    let check = app
        .ok(token, "query($code: String!) { validateCoupon(code: $code) { valid reason } }", json!({ "code": code }))
        .await;
    assert_eq!(check["validateCoupon"], json!({ "valid": true, "reason": null }));
    let order = app.order(&tenant.admin_token, &ada, "o1", "20.00", &earlier(0)).await;
    let use_coupon = "mutation($input: UseCouponInput!) { useCoupon(input: $input) { status usedOrderId } }";
    let input = json!({ "input": { "code": code.to_lowercase(), "orderId": order["order"]["id"] } });
    assert_eq!(app.ok(token, use_coupon, input.clone()).await["useCoupon"]["status"], "USED");
    assert_eq!(app.error_code(token, use_coupon, input).await, "INVALID_TRANSITION", "single use");
    let cancel = "mutation($id: ID!) { cancelRedemption(input: { redemptionId: $id }) { redemption { status } account { pointsBalance } } }";
    assert_eq!(app.error_code(token, cancel, json!({ "id": first["redemption"]["id"] })).await, "INVALID_TRANSITION");
    let cancelled =
        app.ok(token, cancel, json!({ "id": second["redemption"]["id"] })).await["cancelRedemption"].clone();
    assert_eq!(cancelled["redemption"]["status"], "CANCELLED");
    assert_eq!(cancelled["account"]["pointsBalance"], 90, "40, plus 20 for the order, plus the 30 given back");
    let stock = app.ok(token, "{ rewards { edges { node { name stock } } } }", json!({})).await;
    assert!(
        stock["rewards"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"] == json!({ "name": "10% off", "stock": 1 }))
    );
    assert_ledger_balances(&app, &tenant).await;
}

async fn concurrent_redemptions_spend_exactly_the_balance(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (_, account_id) = enrolled_with(&app, &tenant, 100).await;
    let coffee = reward(&app, &tenant, json!({ "name": "Coffee", "kind": "FREE_PRODUCT", "costPoints": 10 })).await;
    let app = &app;
    let token = tenant.admin_token.as_str();
    let attempts = (0..200).map(|i| {
        let input = json!({ "input": { "accountId": account_id, "rewardId": coffee["id"], "idempotencyKey": format!("r{i}") } });
        async move { app.post(Some(token), REDEEM, input).await.1 }
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r["errors"].is_null()).count();
    let refused = results.iter().filter(|r| r["errors"][0]["extensions"]["code"] == "INSUFFICIENT_POINTS").count();
    assert_eq!((ok, refused), (10, 190));
    assert_ledger_balances(app, &tenant).await;
}

/// Orders, refunds and redemptions on one account at once, each also retried: every order earns
/// once, every refund reverses once, every idempotency key buys at most once, the balance never
/// goes below zero and always equals the ledger.
async fn mixed_concurrent_changes_keep_the_ledger(app: TestApp) {
    use futures_util::FutureExt;
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let (ada, account_id) = enrolled_with(&app, &tenant, 100).await;
    let coffee = reward(&app, &tenant, json!({ "name": "Coffee", "kind": "FREE_PRODUCT", "costPoints": 10 })).await;
    let mut old_orders = Vec::new();
    for i in 0..10 {
        old_orders.push(app.order(token, &ada, &format!("old{i}"), "10.00", &earlier(1)).await["order"]["id"].clone());
    }
    let app = &app;
    let placed = earlier(0);
    let record = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created } }";
    let refund = "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }";
    let mut work = Vec::new();
    for attempt in 0..2 {
        for i in 0..20 {
            let input = json!({ "input": { "customerId": ada, "externalRef": format!("new{i}"), "amount": "10.00", "placedAt": placed } });
            work.push(async move { ("order", app.post(Some(token), record, input).await.1) }.boxed_local());
        }
        for id in &old_orders {
            let variables = json!({ "id": id });
            work.push(async move { ("refund", app.post(Some(token), refund, variables).await.1) }.boxed_local());
        }
        for i in 0..30 {
            let key = format!("r{}", (i + attempt * 7) % 40);
            let input =
                json!({ "input": { "accountId": account_id, "rewardId": coffee["id"], "idempotencyKey": key } });
            work.push(async move { ("redeem", app.post(Some(token), REDEEM, input).await.1) }.boxed_local());
        }
    }
    let results = futures_util::future::join_all(work).await;
    for (kind, result) in &results {
        let code = &result["errors"][0]["extensions"]["code"];
        let allowed = match *kind {
            "order" => code.is_null(),
            "refund" => code.is_null() || code == "INVALID_TRANSITION",
            _ => code.is_null() || code == "INSUFFICIENT_POINTS",
        };
        assert!(allowed, "{kind}: {result}");
    }
    let ledger = points_transaction::Entity::find()
        .filter(points_transaction::Column::WorkspaceId.eq(tenant.workspace.id))
        .all(app.db())
        .await
        .unwrap();
    let rows = |kind: &str| ledger.iter().filter(|t| format!("{:?}", t.kind).eq_ignore_ascii_case(kind)).count();
    assert_eq!(rows("EarnPurchase"), 30, "each order earned once");
    assert_eq!(rows("Reversal"), 10, "each refund reversed once");
    let redemptions = entity::redemption::Entity::find()
        .filter(entity::redemption::Column::WorkspaceId.eq(tenant.workspace.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows("Redeem"), redemptions.len(), "one debit per coupon");
    let keys: std::collections::HashSet<_> = redemptions.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), redemptions.len(), "a retried key never buys twice");
    let a = loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(tenant.workspace.id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(a.points_balance >= 0, "{a:?}");
    let taken_back: i64 =
        ledger.iter().filter(|t| t.kind == points_transaction::PointsKind::Reversal).map(|t| -t.points).sum();
    let earned: i64 =
        ledger.iter().filter(|t| t.kind == points_transaction::PointsKind::EarnPurchase).map(|t| t.points).sum();
    // Debt is kept back from later earnings: 300 earned minus what was posted.
    let netted = 300 - earned;
    assert_eq!(taken_back + a.debt_points + netted, 100, "what refunds could not take back is owed or netted");
    assert_eq!(a.points_balance, 100 + earned - 10 * redemptions.len() as i64 - taken_back);
    assert_ledger_balances(app, &tenant).await;
}

async fn settings_drive_goodwill_for_breached_complaints(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let update = "mutation($patch: JSON!) { updateWorkspaceSettings(input: { patch: $patch }) { goodwillPointsOnBreach pointsPerCurrencyUnit } }";
    for (patch, field) in [
        (json!({ "noSuchSetting": 1 }), "input.patch.noSuchSetting"),
        (json!({ "goodwillPointsOnBreach": "lots" }), "input.patch.goodwillPointsOnBreach"),
        (json!({ "goodwillPointsOnBreach": -5 }), "input.patch.goodwillPointsOnBreach"),
    ] {
        let (_, body) = app.post(token, update, json!({ "patch": patch })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let (_, agent) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    assert_eq!(
        app.error_code(Some(&agent), update, json!({ "patch": { "goodwillPointsOnBreach": 5 } })).await,
        "FORBIDDEN"
    );
    let updated = app.ok(token, update, json!({ "patch": { "goodwillPointsOnBreach": 25 } })).await;
    assert_eq!(updated["updateWorkspaceSettings"], json!({ "goodwillPointsOnBreach": 25, "pointsPerCurrencyUnit": 1 }));

    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let complaint = json!({ "input": { "customerId": ada, "channel": "PHONE", "subject": "Rude", "body": "…", "category": "STAFF_BEHAVIOR", "priority": "URGENT" } });
    app.ok(
        token,
        "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { id } } }",
        complaint,
    )
    .await;
    // Nobody answers: the 30-minute first-response target is missed, once, whoever checks.
    for minutes in [45, 50] {
        vafa::tickets::breaches::run(app.db(), None, Utc::now() + Duration::minutes(minutes)).await.unwrap();
    }
    let a = account(&app, &tenant, &ada).await;
    assert_eq!(a["pointsBalance"], 25, "goodwill once: {a}");
    assert_eq!(a["transactions"]["edges"][0]["node"]["reason"], "goodwill: complaint #1 missed its SLA");
    assert_ledger_balances(&app, &tenant).await;
}

async fn points_expire_oldest_first_once(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    app.ok(
        token,
        "mutation { updateWorkspaceSettings(input: { patch: { pointsExpiryMonths: 12 } }) { pointsExpiryMonths } }",
        json!({}),
    )
    .await;
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    app.order(&tenant.admin_token, &ada, "o1", "50.00", &earlier(1)).await;
    let id = account(&app, &tenant, &ada).await["id"].clone();
    app.ok(
        token,
        CHANGE,
        json!({ "input": { "accountId": id, "points": -20, "reason": "gift", "idempotencyKey": "g" } }),
    )
    .await;
    let soon = app
        .ok(
            token,
            "query($id: ID!) { loyaltyAccount(id: $id) { expiringPoints(days: 400) { points } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        soon["loyaltyAccount"]["expiringPoints"],
        json!([{ "points": 30 }]),
        "the 20 spent came from these points"
    );

    let later = Utc::now() + Duration::days(400);
    vafa::jobs::run_once(app.db(), later).await.unwrap();
    vafa::jobs::run_once(app.db(), later + Duration::days(1)).await.unwrap();
    let a = account(&app, &tenant, &ada).await;
    assert_eq!((a["pointsBalance"].as_i64(), a["lifetimePoints"].as_i64()), (Some(0), Some(50)), "{a}");
    let expired: Vec<&Value> =
        a["transactions"]["edges"].as_array().unwrap().iter().filter(|e| e["node"]["kind"] == "EXPIRE").collect();
    assert_eq!(expired.len(), 1, "expired once");
    assert_eq!(expired[0]["node"]["points"], -30);
    assert_ledger_balances(&app, &tenant).await;
}

/// Cancelling a cancelled coupon, or using a used or cancelled one, is refused and changes
/// nothing: no points back twice, no stock restored twice, no second order on the coupon (issue 14.4).
async fn same_state_redemption_moves_are_refused(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let (ada, account_id) = enrolled_with(&app, &tenant, 100).await;
    let coffee =
        reward(&app, &tenant, json!({ "name": "Coffee", "kind": "FREE_PRODUCT", "costPoints": 10, "stock": 5 })).await;
    let redeem =
        |key: &str| json!({ "input": { "accountId": account_id, "rewardId": coffee["id"], "idempotencyKey": key } });
    let cancelled = app.ok(token, REDEEM, redeem("c1")).await["redeemReward"]["redemption"].clone();
    let used = app.ok(token, REDEEM, redeem("u1")).await["redeemReward"]["redemption"].clone();
    let first_order = app.order(&tenant.admin_token, &ada, "o1", "20.00", &earlier(0)).await;
    let second_order = app.order(&tenant.admin_token, &ada, "o2", "20.00", &earlier(0)).await;
    let snapshot = "query($id: ID!) {
      loyaltyAccount(id: $id) { pointsBalance transactions(first: 100) { totalCount }
        redemptions(first: 10) { edges { node { id status usedAt usedOrderId } } } }
      rewards { edges { node { id stock } } }
    }";
    let cancel = "mutation($id: ID!) { cancelRedemption(input: { redemptionId: $id }) { redemption { status } } }";
    let use_coupon = "mutation($input: UseCouponInput!) { useCoupon(input: $input) { status } }";
    let use_on = |coupon: &Value, order: &Value| json!({ "input": { "code": coupon["couponCode"], "orderId": order["order"]["id"] } });
    app.ok(token, cancel, json!({ "id": cancelled["id"] })).await;
    app.ok(token, use_coupon, use_on(&used, &first_order)).await;

    for (mutation, variables) in [
        (cancel, json!({ "id": cancelled["id"] })),
        (cancel, json!({ "id": used["id"] })),
        (use_coupon, use_on(&used, &second_order)),
        (use_coupon, use_on(&cancelled, &second_order)),
    ] {
        let before = app.ok(token, snapshot, json!({ "id": account_id })).await;
        assert_eq!(app.error_code(token, mutation, variables.clone()).await, "INVALID_TRANSITION", "{variables}");
        assert_eq!(app.ok(token, snapshot, json!({ "id": account_id })).await, before, "{variables} changed something");
    }
    assert_ledger_balances(&app, &tenant).await;
}

db_tests!(
    same_state_redemption_moves_are_refused,
    orders_earn_and_refunds_reverse,
    points_expire_oldest_first_once,
    settings_drive_goodwill_for_breached_complaints,
    rewards_and_coupons,
    concurrent_redemptions_spend_exactly_the_balance,
    merging_customers_folds_accounts_and_tickets,
    spent_points_become_debt,
    manual_changes_are_idempotent_and_guarded,
    concurrent_spending_never_overdraws,
    mixed_concurrent_changes_keep_the_ledger,
);
