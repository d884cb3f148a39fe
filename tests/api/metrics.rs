//! Retention metrics through the API, checked against counts worked out by hand from
//! docs/metrics.md's definitions (monthly buckets in the workspace time zone, W = 90 days).

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    db_tests,
    support::{TestApp, local_date},
};

const METRICS: &str = "query($input: RetentionMetricsInput!) { retentionMetrics(input: $input) {
  activityWindowDays lifetimeRepeatPurchaseRate
  buckets { ...numbers }
  total { ...numbers }
} }
fragment numbers on RetentionBucket {
  startCustomers endCustomers newCustomers retained churned reactivated retention churn crrTextbook
  orders revenue averageOrderValue orderingCustomers purchaseFrequency repeatPurchaseRate returningCustomerRate
}";

fn row(bucket: &Value) -> Vec<Value> {
    [
        "startCustomers",
        "endCustomers",
        "newCustomers",
        "retained",
        "churned",
        "reactivated",
        "orders",
        "revenue",
        "averageOrderValue",
        "orderingCustomers",
    ]
    .iter()
    .map(|k| bucket[k].clone())
    .collect()
}

/// Five customers: Ada (Berlin) buys in Jan, Feb and Apr 2026; Bob once in Jan; Cy (Berlin) twice
/// in Mar; Dee in Sep 2025 and again in Apr; Eve's only order is refunded. Returns their ids.
async fn seed(app: &TestApp, token: &str) -> [String; 5] {
    let berlin = json!({ "city": "Berlin" });
    let ada = app.customer(token, json!({ "name": "Ada", "profile": berlin })).await;
    let bob = app.customer(token, json!({ "name": "Bob" })).await;
    let cy = app.customer(token, json!({ "name": "Cy", "profile": berlin })).await;
    let dee = app.customer(token, json!({ "name": "Dee" })).await;
    let eve = app.customer(token, json!({ "name": "Eve" })).await;
    let orders = [
        (&ada, "a1", "10.00", "2026-01-10"),
        (&ada, "a2", "20.00", "2026-02-15"),
        (&ada, "a3", "30.00", "2026-04-20"),
        (&bob, "b1", "50.00", "2026-01-05"),
        (&cy, "c1", "40.00", "2026-03-03"),
        (&cy, "c2", "60.00", "2026-03-20"),
        (&dee, "d1", "15.00", "2025-09-01"),
        (&dee, "d2", "25.00", "2026-04-02"),
        (&eve, "e1", "5.00", "2026-02-10"),
    ];
    for (customer, reference, amount, day) in orders {
        app.order(token, customer, reference, amount, &format!("{day}T12:00:00Z")).await;
    }
    // A refunded order counts nowhere: Eve never becomes a customer with orders.
    let eve_order = app.order(token, &eve, "e1", "5.00", "2026-02-10T12:00:00Z").await;
    app.ok(
        Some(token),
        "mutation($id: ID!) { refundOrder(input: { orderId: $id }) { order { status } } }",
        json!({ "id": eve_order["order"]["id"] }),
    )
    .await;
    [ada, bob, cy, dee, eve]
}

async fn retention_metrics_match_the_definitions(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    crate::loyalty::tiers(&app, &tenant).await;
    let [_, bob, _, dee, _] = seed(&app, token).await;

    let input = json!({ "from": "2026-02-01", "to": "2026-05-01", "granularity": "MONTH" });
    let data = app.ok(Some(token), METRICS, json!({ "input": input })).await["retentionMetrics"].clone();
    assert_eq!(data["activityWindowDays"], 90);
    assert_eq!(data["lifetimeRepeatPurchaseRate"], 0.75, "Ada, Cy and Dee of four buyers");
    let buckets = data["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3);
    // S, E, N, retained, churned, reactivated, orders, revenue, AOV, ordering customers.
    assert_eq!(row(&buckets[0]), json!([2, 2, 0, 2, 0, 0, 1, "20.00", "20.00", 1]).as_array().unwrap().clone());
    assert_eq!(row(&buckets[1]), json!([2, 3, 1, 2, 0, 0, 2, "100.00", "50.00", 1]).as_array().unwrap().clone());
    assert_eq!(row(&buckets[2]), json!([3, 3, 0, 2, 1, 1, 2, "55.00", "27.50", 2]).as_array().unwrap().clone());
    assert_eq!(buckets[1]["repeatPurchaseRate"], 1.0);
    assert_eq!(buckets[1]["purchaseFrequency"], 2.0);
    assert_eq!(buckets[1]["crrTextbook"], 1.0, "(3 − 1) / 2");
    let third = 1.0 / 3.0;
    assert_eq!(buckets[2]["churn"].as_f64(), Some(third));
    assert_eq!(buckets[2]["retention"].as_f64(), Some(2.0 / 3.0));
    assert_eq!(buckets[2]["returningCustomerRate"], 1.0);
    let total = &data["total"];
    assert_eq!(row(total), json!([2, 3, 1, 1, 1, 1, 5, "175.00", "35.00", 3]).as_array().unwrap().clone());
    assert_eq!((total["retention"].as_f64(), total["crrTextbook"].as_f64()), (Some(0.5), Some(1.0)));

    // A segment: Berlin customers only (Ada and Cy).
    let segment = json!({ "from": "2026-02-01", "to": "2026-05-01", "granularity": "MONTH", "filter": { "city": { "eq": "Berlin" } } });
    let data = app.ok(Some(token), METRICS, json!({ "input": segment })).await["retentionMetrics"].clone();
    assert_eq!(row(&data["total"]), json!([1, 2, 1, 1, 0, 0, 4, "150.00", "37.50", 2]).as_array().unwrap().clone());
    // A loyalty tier: Cy's 100 points make Gold, everyone else is Bronze.
    let tiers = app.ok(Some(token), "{ tiers(first: 10) { edges { node { id name } } } }", json!({})).await;
    let gold =
        tiers["tiers"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["name"] == "Gold").unwrap()["node"]["id"]
            .clone();
    let segment = json!({ "from": "2026-02-01", "to": "2026-05-01", "granularity": "MONTH", "filter": { "loyaltyTierId": { "eq": gold } } });
    let data = app.ok(Some(token), METRICS, json!({ "input": segment })).await["retentionMetrics"].clone();
    assert_eq!(row(&data["total"]), json!([0, 1, 1, 0, 0, 0, 2, "100.00", "50.00", 1]).as_array().unwrap().clone());

    // The numbers follow the data as it stands: a deleted customer leaves them, a restored one comes
    // back, and a merge moves the duplicate's orders to the survivor.
    let total = async |expected: Value| {
        let data =
            app.ok(Some(token), METRICS, json!({ "input": input.clone() })).await["retentionMetrics"]["total"].clone();
        assert_eq!(row(&data), expected.as_array().unwrap().clone());
    };
    let by_id = |mutation: &str| {
        format!("mutation($id: ID!) {{ {mutation}(input: {{ customerId: $id }}) {{ customer {{ id }} }} }}")
    };
    app.ok(Some(token), &by_id("deleteCustomer"), json!({ "id": bob })).await;
    total(json!([1, 3, 1, 1, 0, 1, 5, "175.00", "35.00", 3])).await;
    app.ok(Some(token), &by_id("restoreCustomer"), json!({ "id": bob })).await;
    total(json!([2, 3, 1, 1, 1, 1, 5, "175.00", "35.00", 3])).await;
    let merge =
        "mutation($s: ID!, $m: ID!) { mergeCustomers(input: { survivorId: $s, mergedId: $m }) { survivor { id } } }";
    app.ok(Some(token), merge, json!({ "s": bob, "m": dee })).await;
    total(json!([2, 3, 1, 2, 0, 0, 5, "175.00", "35.00", 3])).await;

    // An empty period: nulls, never zeros or NaN.
    let empty = json!({ "from": "2020-01-01", "to": "2020-02-01", "granularity": "MONTH" });
    let data = app.ok(Some(token), METRICS, json!({ "input": empty })).await["retentionMetrics"]["total"].clone();
    for field in ["retention", "churn", "crrTextbook", "averageOrderValue", "purchaseFrequency", "repeatPurchaseRate"] {
        assert!(data[field].is_null(), "{field}: {data}");
    }
    let bad = json!({ "from": "2026-05-01", "to": "2026-02-01", "granularity": "MONTH" });
    assert_eq!(app.error_code(Some(token), METRICS, json!({ "input": bad })).await, "BAD_USER_INPUT");
}

async fn lead_conversion_by_source(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let create = "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }";
    let mut ids = Vec::new();
    for (name, source) in [("L1", "REFERRAL"), ("L2", "REFERRAL"), ("L3", "WEBSITE")] {
        let input = json!({ "input": { "name": name, "source": source, "category": "COMPARING" } });
        ids.push(app.ok(Some(token), create, input).await["createLead"]["lead"]["id"].clone());
    }
    app.ok(
        Some(token),
        "mutation($id: ID!) { convertLead(input: { leadId: $id }) { customer { id } } }",
        json!({ "id": ids[0] }),
    )
    .await;
    let today = local_date(Utc::now());
    let query = "query($input: RetentionMetricsInput!) { retentionMetrics(input: $input) { total { leadConversion {
      created converted createdAndConverted flowRate cohortRate medianDaysToConvert
      bySource { key created converted flowRate } byCategory { key created }
    } } } }";
    let input = json!({ "from": (today - Duration::days(40)).to_string(), "to": (today + Duration::days(2)).to_string(), "granularity": "MONTH" });
    let leads =
        app.ok(Some(token), query, json!({ "input": input })).await["retentionMetrics"]["total"]["leadConversion"]
            .clone();
    assert_eq!((leads["created"].as_u64(), leads["converted"].as_u64()), (Some(3), Some(1)));
    assert_eq!(leads["flowRate"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(leads["cohortRate"].as_f64(), Some(1.0 / 3.0));
    assert!(leads["medianDaysToConvert"].as_f64().is_some_and(|d| (0.0..0.01).contains(&d)));
    assert_eq!(
        leads["bySource"],
        json!([
            { "key": "REFERRAL", "created": 2, "converted": 1, "flowRate": 0.5 },
            { "key": "WEBSITE", "created": 1, "converted": 0, "flowRate": 0.0 }
        ])
    );
    assert_eq!(leads["byCategory"], json!([{ "key": "COMPARING", "created": 3 }]));
}

async fn cohort_matrix_by_first_order_month(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    seed(&app, token).await;
    let query = "query($input: CohortRetentionInput!) { cohortRetention(input: $input) {
      periodStart size cells { offset customers share customersOrLater shareOrLater revenue revenuePerCustomer value partial }
    } }";
    let input = json!({ "from": "2026-01-01", "to": "2026-04-01", "granularity": "MONTH" });
    let cohorts = app.ok(Some(token), query, json!({ "input": input })).await["cohortRetention"].clone();
    let sizes: Vec<u64> = cohorts.as_array().unwrap().iter().map(|c| c["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [2, 0, 1], "Jan: Ada and Bob; Feb: nobody (Eve's order was refunded); Mar: Cy");
    let january = cohorts[0]["cells"].as_array().unwrap();
    let shares: Vec<(u64, f64, u64)> = january[..4]
        .iter()
        .map(|c| {
            (c["customers"].as_u64().unwrap(), c["share"].as_f64().unwrap(), c["customersOrLater"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(shares, [(2, 1.0, 2), (1, 0.5, 1), (0, 0.0, 1), (1, 0.5, 1)]);
    assert_eq!(january[0]["revenue"], "60.00");
    assert_eq!(january[0]["revenuePerCustomer"], "30.00");
    assert_eq!(january[0]["value"], "1");
    // One cell per month up to the current one, which is partial; nothing for future months.
    assert!(january.last().unwrap()["partial"].as_bool().unwrap());
    assert!(january[..january.len() - 1].iter().all(|c| c["partial"] == false));
    assert_eq!(cohorts[1]["cells"][0]["share"], Value::Null, "an empty cohort has no shares");
    assert_eq!(cohorts[2]["cells"].as_array().unwrap().len(), january.len() - 2);
    let input = json!({ "from": "2026-03-01", "to": "2026-04-01", "granularity": "MONTH", "metric": "REVENUE" });
    let march = app.ok(Some(token), query, json!({ "input": input })).await["cohortRetention"][0].clone();
    assert_eq!(march["cells"][0]["value"], "100.00");
}

async fn rfm_scores_and_segments(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    seed(&app, token).await;
    let score = "query($id: ID!) { customer(id: $id) { rfm { r f m segment frequency monetary } } }";
    let customers = "{ customers(first: 10) { edges { node { id name } } } }";
    let ids: std::collections::HashMap<String, String> =
        app.ok(Some(token), customers, json!({})).await["customers"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["node"]["name"].as_str().unwrap().to_owned(), e["node"]["id"].as_str().unwrap().to_owned()))
            .collect();
    let ada = app.ok(Some(token), score, json!({ "id": ids["Ada"] })).await;
    assert!(ada["customer"]["rfm"].is_null(), "four buyers are too few for quintiles");

    let fay = app.customer(token, json!({ "name": "Fay" })).await;
    app.order(token, &fay, "f1", "70.00", &(Utc::now() - Duration::days(3)).to_rfc3339()).await;
    // Recency: Fay < Ada < Dee < Cy < Bob; orders: Ada 3, Cy 2, Dee 2, Bob 1, Fay 1;
    // spend: Dee 40 < Bob 50 < Ada 60 < Fay 70 < Cy 100.
    let expected = [
        ("Fay", json!({ "r": 5, "f": 1, "m": 4, "segment": "NEW", "frequency": 1, "monetary": "70.00" })),
        ("Ada", json!({ "r": 4, "f": 5, "m": 3, "segment": "LOYAL", "frequency": 3, "monetary": "60.00" })),
        ("Dee", json!({ "r": 3, "f": 3, "m": 1, "segment": "NEED_ATTENTION", "frequency": 2, "monetary": "40.00" })),
        ("Cy", json!({ "r": 2, "f": 3, "m": 5, "segment": "AT_RISK", "frequency": 2, "monetary": "100.00" })),
        ("Bob", json!({ "r": 1, "f": 1, "m": 2, "segment": "LOST", "frequency": 1, "monetary": "50.00" })),
    ];
    for (name, scores) in expected {
        let id = if name == "Fay" { fay.clone() } else { ids[name].clone() };
        assert_eq!(app.ok(Some(token), score, json!({ "id": id })).await["customer"]["rfm"], scores, "{name}");
    }
    let report = app
        .ok(
            Some(token),
            "{ rfm { customers segments { segment customers share revenue revenueShare } thresholds { score frequency } } }",
            json!({}),
        )
        .await["rfm"]
        .clone();
    assert_eq!(report["customers"], 5);
    let segments = report["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 11, "every segment, empty ones included");
    let loyal = segments.iter().find(|s| s["segment"] == "LOYAL").unwrap();
    assert_eq!(
        *loyal,
        json!({ "segment": "LOYAL", "customers": 1, "share": 0.2, "revenue": "60.00", "revenueShare": 60.0 / 320.0 })
    );
    assert_eq!(segments.iter().find(|s| s["segment"] == "CHAMPIONS").unwrap()["customers"], 0);
    assert_eq!(report["thresholds"][0], json!({ "score": 1, "frequency": [1, 1] }));
    assert_eq!(report["thresholds"][1], json!({ "score": 2, "frequency": null }), "ties leave F = 2 empty");
}

/// Purchase histories for `n` customers in 2025 from the BG/NBD story, with a seeded generator:
/// each buys first on a day in the first 200, then at exponential gaps (own rate) and drops out
/// after each purchase with their own probability (0.05–0.6); amounts scatter around their own mean.
/// Per customer reference: (day number, amount) of each purchase.
pub type Histories = Vec<(String, Vec<(i64, f64)>)>;

pub fn purchase_csv(n: u64) -> (String, Histories) {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut csv = String::from("customer_ref,placed_at,amount\n");
    let mut histories = Vec::new();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    for i in 0..n {
        let rate = 0.01 + 0.09 * uniform();
        let mean = 20.0 + 80.0 * uniform();
        let dropout = 0.05 + 0.55 * uniform();
        let mut day = (200.0 * uniform()) as i64;
        let mut days = Vec::new();
        loop {
            let cents = (mean * (0.7 + 0.6 * uniform()) * 100.0).round() as i64;
            let date = start + Duration::days(day);
            csv.push_str(&format!("cust-{i},{date},{}.{:02}\n", cents / 100, cents % 100));
            days.push((date.num_days_from_ce_i64(), cents as f64 / 100.0));
            if uniform() < dropout {
                break;
            }
            day += 1 + (-uniform().ln() / rate) as i64;
            if day > 364 {
                break;
            }
        }
        histories.push((format!("cust-{i}"), days));
    }
    (csv, histories)
}

pub trait DayIndex {
    fn num_days_from_ce_i64(&self) -> i64;
}

impl DayIndex for chrono::NaiveDate {
    fn num_days_from_ce_i64(&self) -> i64 {
        use chrono::Datelike;
        i64::from(self.num_days_from_ce())
    }
}

pub const REFIT: &str = "mutation($input: RefitPredictiveModelsInput!) { refitPredictiveModels(input: $input) {
  observationEnd timeUnit customers fittedAt
  bgnbd { r alpha a b logLikelihood repeatBuyers parametersAtBounds }
  gammaGamma { p q gamma logLikelihood repeatBuyers frequencySpendCorrelation parametersAtBounds }
  holdout { minRepeatPurchases maxRepeatPurchases customers actualMean predictedMean }
} }";

async fn predictive_models_fit_and_score_customers(app: TestApp) {
    use vafa::metrics::predictive::{BgNbdParams, TimeUnit, data};
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let (csv, histories) = purchase_csv(300);
    // The transaction log goes in through the command line, as an integration would load it.
    let printed = crate::import::import(&app, "orders", &csv);
    assert!(printed.contains("rejected: 0"), "{printed}");

    let input = json!({ "input": { "observationEnd": "2025-12-31", "timeUnit": "WEEK" } });
    let fit = app.ok(Some(token), REFIT, input).await["refitPredictiveModels"].clone();
    assert_eq!((fit["observationEnd"].as_str(), fit["timeUnit"].as_str()), (Some("2025-12-31"), Some("WEEK")));
    assert_eq!(fit["customers"], 300);
    for p in ["r", "alpha", "a", "b"] {
        assert!(fit["bgnbd"][p].as_f64().is_some_and(|v| v.is_finite() && v > 0.0), "{p}: {fit}");
    }
    assert!(fit["bgnbd"]["logLikelihood"].as_f64().unwrap().is_finite(), "a density, so it may be positive");
    assert!(fit["gammaGamma"]["q"].as_f64().unwrap() > 1.0, "q > 1 keeps expected spend positive");
    assert_eq!(
        (&fit["bgnbd"]["parametersAtBounds"], &fit["gammaGamma"]["parametersAtBounds"]),
        (&json!([]), &json!([]))
    );
    assert_eq!(fit["holdout"].as_array().unwrap().len(), 8, "x = 0..6 and 7+");
    let current = app.ok(Some(token), "{ predictionModel { fittedAt customers } }", json!({})).await;
    assert_eq!(current["predictionModel"]["fittedAt"], fit["fittedAt"]);

    let params = BgNbdParams {
        r: fit["bgnbd"]["r"].as_f64().unwrap(),
        alpha: fit["bgnbd"]["alpha"].as_f64().unwrap(),
        a: fit["bgnbd"]["a"].as_f64().unwrap(),
        b: fit["bgnbd"]["b"].as_f64().unwrap(),
    };
    let summaries = data::summarise(
        &histories,
        chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap().num_days_from_ce_i64(),
        TimeUnit::Week,
    )
    .unwrap();
    let predictions = "query($f: CustomerFilter) { customers(first: 5, filter: $f) { edges { node {
      predictions { probabilityAlive next: expectedPurchases(periods: 10) none: expectedPurchases(periods: 0) expectedOrderValue clv(months: 12) noClv: clv(months: 0) }
    } } } }";
    for i in [0usize, 1, 5] {
        let filter = json!({ "f": { "externalRef": { "eq": format!("cust-{i}") } } });
        let p = app.ok(Some(token), predictions, filter).await["customers"]["edges"][0]["node"]["predictions"].clone();
        let s = &summaries[i];
        let alive = params.probability_alive(s.x, s.t_x, s.age).unwrap();
        assert!((p["probabilityAlive"].as_f64().unwrap() - alive).abs() < 1e-12, "{i}: {p}");
        if s.x == 0 {
            assert_eq!(alive, 1.0, "one-time buyers are 'alive' to BG/NBD");
        }
        let expected = params.conditional_expected_purchases(10.0, s.x, s.t_x, s.age).unwrap();
        assert!((p["next"].as_f64().unwrap() - expected).abs() < 1e-12);
        assert_eq!(p["none"], 0.0);
        assert!(p["clv"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
        assert_eq!(p["noClv"].as_str().unwrap().parse::<f64>().unwrap(), 0.0);
    }
    // A customer whose first order came after the observation end has no predictions.
    let late = app.customer(token, json!({ "name": "Late" })).await;
    app.order(token, &late, "late-1", "10.00", &Utc::now().to_rfc3339()).await;
    let none = app
        .ok(
            Some(token),
            "query($id: ID!) { customer(id: $id) { predictions { probabilityAlive } } }",
            json!({ "id": late }),
        )
        .await;
    assert!(none["customer"]["predictions"].is_null());

    // Too few customers for a fit.
    let small = app.tenant("small").await;
    let (csv, _) = purchase_csv(30);
    vafa::import::orders(app.db(), "small", csv.as_bytes()).await.unwrap();
    let input = json!({ "input": { "observationEnd": "2025-12-31" } });
    assert_eq!(app.error_code(Some(&small.admin_token), REFIT, input).await, "INSUFFICIENT_DATA");
    let none = app.ok(Some(&small.admin_token), "{ predictionModel { fittedAt } }", json!({})).await;
    assert!(none["predictionModel"].is_null());
}

async fn customer_value_pareto_and_historical_clv(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ago = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let p = app.customer(token, json!({ "name": "P" })).await;
    let q = app.customer(token, json!({ "name": "Q" })).await;
    let r = app.customer(token, json!({ "name": "R" })).await;
    app.order(token, &p, "p1", "10.00", &ago(300)).await;
    app.order(token, &p, "p2", "30.00", &ago(200)).await;
    app.order(token, &q, "q1", "50.00", &ago(400)).await;
    app.order(token, &r, "r1", "20.00", &ago(30)).await;
    let query = "{ customerValue { customers revenue top20RevenueShare paretoCurve { customerShare revenueShare }
      averageOrderValue yearlyPurchaseFrequency annualChurn lifespanYears historicalClv grossMarginPercent historicalClvWithMargin } }";
    let value = app.ok(Some(token), query, json!({})).await["customerValue"].clone();
    assert_eq!((value["customers"].as_u64(), value["revenue"].as_str()), (Some(3), Some("110.00")));
    assert!((value["top20RevenueShare"].as_f64().unwrap() - 50.0 / 110.0).abs() < 1e-12, "Q alone: {value}");
    assert_eq!(value["paretoCurve"].as_array().unwrap().last().unwrap()["revenueShare"], 1.0);
    // The trailing year: P's two orders and R's one; Q, active a year ago, is gone: churn 1.
    assert_eq!(value["averageOrderValue"], "20.00");
    assert_eq!(value["yearlyPurchaseFrequency"], 1.5);
    assert_eq!((value["annualChurn"].as_f64(), value["lifespanYears"].as_f64()), (Some(1.0), Some(1.0)));
    assert_eq!(value["historicalClv"], "30.00", "20.00 × 1.5 × 1 year");
    assert!(value["historicalClvWithMargin"].is_null() && value["grossMarginPercent"].is_null());

    app.ok(
        Some(token),
        "mutation { updateWorkspaceSettings(input: { patch: { grossMarginPercent: 40, customerLifespanYears: 2.5 } }) { grossMarginPercent } }",
        json!({}),
    )
    .await;
    let value = app.ok(Some(token), query, json!({})).await["customerValue"].clone();
    assert_eq!(
        (value["historicalClv"].as_str(), value["historicalClvWithMargin"].as_str()),
        (Some("75.00"), Some("30.00"))
    );
    let bad =
        "mutation { updateWorkspaceSettings(input: { patch: { grossMarginPercent: 140 } }) { grossMarginPercent } }";
    assert_eq!(app.error_code(Some(token), bad, json!({})).await, "BAD_USER_INPUT");
}

/// Averages of money are shown at the currency's scale, not with 28 digits.
async fn averages_of_money_are_shown_at_the_currency_scale(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ago = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let p = app.customer(token, json!({ "name": "P" })).await;
    for (reference, amount) in [("p1", "10.00"), ("p2", "10.00"), ("p3", "10.01")] {
        app.order(token, &p, reference, amount, &ago(3)).await;
    }
    let value = app.ok(Some(token), "{ customerValue { averageOrderValue historicalClv } }", json!({})).await;
    assert_eq!(value["customerValue"]["averageOrderValue"], "10.00", "{value}");
    let customer =
        app.ok(Some(token), "query($id: ID!) { customer(id: $id) { averageOrderValue } }", json!({ "id": p })).await;
    assert_eq!(customer["customer"]["averageOrderValue"], "10.00", "{customer}");
    let today = Utc::now().date_naive();
    let input = json!({ "input": { "from": (today - Duration::days(30)).to_string(), "to": (today + Duration::days(1)).to_string(), "granularity": "MONTH" } });
    let metrics = app.ok(Some(token), METRICS, input).await;
    assert_eq!(metrics["retentionMetrics"]["total"]["averageOrderValue"], "10.00", "{metrics}");
}

async fn loyalty_kpis(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    crate::loyalty::tiers(&app, &tenant).await;
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let bob = app.customer(token, json!({ "name": "Bob" })).await;
    app.order(token, &ada, "a1", "150.00", &Utc::now().to_rfc3339()).await;
    app.ok(
        Some(token),
        "mutation($id: ID!) { enrollCustomer(input: { customerId: $id }) { created } }",
        json!({ "id": bob }),
    )
    .await;
    let coffee =
        crate::loyalty::reward(&app, &tenant, json!({ "name": "Coffee", "kind": "FREE_PRODUCT", "costPoints": 40 }))
            .await;
    let account = crate::loyalty::account(&app, &tenant, &ada).await["id"].clone();
    app.ok(
        Some(token),
        "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { created } }",
        json!({ "input": { "accountId": account, "rewardId": coffee["id"], "idempotencyKey": "k" } }),
    )
    .await;
    let today = local_date(Utc::now());
    let query = "query($input: PeriodInput!) { loyaltyMetrics(input: $input) {
      members outstandingPoints pointsLiability pendingPoints
      tierDistribution { tier { name } accounts }
      total { pointsEarned pointsBurned pointsExpired redemptionRate activeMembers newMembers tierUpgrades tierDowngrades }
    } }";
    let input = json!({ "from": (today - Duration::days(1)).to_string(), "to": (today + Duration::days(2)).to_string(), "granularity": "DAY" });
    let m = app.ok(Some(token), query, json!({ "input": input })).await["loyaltyMetrics"].clone();
    assert_eq!((m["members"].as_u64(), m["outstandingPoints"].as_i64()), (Some(2), Some(110)));
    assert_eq!(m["pointsLiability"], "1.10", "110 points at 1.00 per 100 points");
    assert_eq!(
        m["tierDistribution"],
        json!([{ "tier": null, "accounts": 0 }, { "tier": { "name": "Bronze" }, "accounts": 1 }, { "tier": { "name": "Gold" }, "accounts": 1 }])
    );
    let total = &m["total"];
    assert_eq!((total["pointsEarned"].as_i64(), total["pointsBurned"].as_i64()), (Some(150), Some(40)));
    assert_eq!(total["redemptionRate"].as_f64(), Some(40.0 / 150.0));
    assert_eq!((total["activeMembers"].as_u64(), total["newMembers"].as_u64()), (Some(1), Some(2)));
    assert_eq!(
        (total["tierUpgrades"].as_u64(), total["tierDowngrades"].as_u64()),
        (Some(3), Some(0)),
        "both join Bronze, Ada reaches Gold"
    );
}

async fn nps_and_csat_per_period(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let bob = app.customer(token, json!({ "name": "Bob" })).await;
    let answers = [
        (&ada, "NPS", 10, "2026-01-05"),
        (&bob, "NPS", 6, "2026-01-10"),
        (&ada, "NPS", 8, "2026-01-20"),
        (&ada, "CSAT", 5, "2026-02-03"),
        (&bob, "CSAT", 3, "2026-02-04"),
    ];
    for (customer, kind, score, day) in answers {
        app.ok(
            Some(token),
            "mutation($input: RecordFeedbackInput!) { recordFeedback(input: $input) { feedback { id } } }",
            json!({ "input": { "customerId": customer, "kind": kind, "score": score, "submittedAt": format!("{day}T12:00:00Z") } }),
        )
        .await;
    }
    let query = "query($input: SatisfactionMetricsInput!) { satisfactionMetrics(input: $input) {
      buckets { nps { score promoters passives detractors responses } csat { score averageRating responses } }
      total { nps { score } csat { score } ticketCsat { score responses } }
    } }";
    let run = async |extra: Value| {
        let mut input = json!({ "from": "2026-01-01", "to": "2026-03-01", "granularity": "MONTH" });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        app.ok(Some(token), query, json!({ "input": input })).await["satisfactionMetrics"].clone()
    };
    let all = run(json!({})).await;
    assert_eq!(
        all["buckets"][0]["nps"],
        json!({ "score": 0.0, "promoters": 1, "passives": 1, "detractors": 1, "responses": 3 })
    );
    assert!(all["buckets"][0]["csat"]["score"].is_null(), "no CSAT answers in January");
    assert_eq!(all["buckets"][1]["csat"], json!({ "score": 0.5, "averageRating": 4.0, "responses": 2 }));
    assert!(all["total"]["ticketCsat"]["score"].is_null());
    let latest = run(json!({ "latestPerCustomer": true })).await;
    assert_eq!(latest["buckets"][0]["nps"]["score"], -50.0, "Ada's last answer (8) and Bob's 6");
    let segment = run(json!({ "filter": { "name": { "eq": "Ada" } } })).await;
    assert_eq!(segment["buckets"][0]["nps"]["score"], 50.0);
}

/// The background job keeps the fit fresh: a first fit once there is enough data, a new one when
/// it is `predictionRefitDays` old, none when refits are off or the data is too thin.
async fn models_are_refitted_by_the_job(app: TestApp) {
    let acme = app.tenant("acme").await;
    let small = app.tenant("small").await;
    vafa::import::orders(app.db(), "acme", purchase_csv(300).0.as_bytes()).await.unwrap();
    vafa::import::orders(app.db(), "small", purchase_csv(30).0.as_bytes()).await.unwrap();
    let current = async |token: &str| {
        app.ok(Some(token), "{ predictionModel { observationEnd timeUnit fittedAt customers } }", json!({})).await
            ["predictionModel"]
            .clone()
    };
    let now = Utc::now();
    assert_eq!(vafa::jobs::run_once(app.db(), now).await.unwrap().models_fitted, 1, "acme only");
    let first = current(&acme.admin_token).await;
    let yesterday = (local_date(now) - Duration::days(1)).to_string();
    assert_eq!(
        (first["observationEnd"].as_str(), first["timeUnit"].as_str()),
        (Some(yesterday.as_str()), Some("WEEK"))
    );
    assert_eq!(first["customers"], 300);
    assert!(current(&small.admin_token).await.is_null(), "30 customers are too few: no fit, no error");
    assert_eq!(vafa::jobs::run_once(app.db(), now).await.unwrap().models_fitted, 0, "still fresh");
    let later = now + Duration::days(8);
    assert_eq!(vafa::jobs::run_once(app.db(), later).await.unwrap().models_fitted, 1);
    let second = current(&acme.admin_token).await;
    assert_eq!(second["observationEnd"].as_str(), Some((local_date(later) - Duration::days(1)).to_string().as_str()));
    app.ok(
        Some(&acme.admin_token),
        "mutation { updateWorkspaceSettings(input: { patch: { predictionRefitDays: 0 } }) { predictionRefitDays } }",
        json!({}),
    )
    .await;
    let much_later = now + Duration::days(60);
    assert_eq!(vafa::jobs::run_once(app.db(), much_later).await.unwrap().models_fitted, 0, "only on demand now");
}

async fn complaint_impact_on_churn_and_value(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ago = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let complain = async |customer: &str| -> Value {
        let input = json!({ "input": { "customerId": customer, "channel": "PHONE", "subject": "Broken", "body": "It broke.", "category": "PRODUCT_QUALITY" } });
        app.ok(
            Some(token),
            "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { id } } }",
            input,
        )
        .await["fileComplaint"]["ticket"]["id"]
            .clone()
    };
    // The period is the last ten days. Ann and Dan last bought 95 days ago: active at its start,
    // gone by its end. Bob and Cy bought 20 days ago and stay. Eve is new: not in S.
    let mut ids = std::collections::HashMap::new();
    for (name, days, amount) in
        [("Ann", 95, "80.00"), ("Bob", 20, "40.00"), ("Cy", 20, "10.00"), ("Dan", 95, "30.00"), ("Eve", 2, "5.00")]
    {
        let id = app.customer(token, json!({ "name": name })).await;
        app.order(token, &id, &format!("{name}-1"), amount, &ago(days)).await;
        ids.insert(name, id);
    }
    // Ann's complaint is resolved at once, Bob's is still open; Eve complains too.
    let ann = complain(&ids["Ann"]).await;
    app.ok(
        Some(token),
        "mutation($id: ID!) { replyToTicket(input: { ticketId: $id, body: \"Sorry\" }) { ticket { id } } }",
        json!({ "id": ann }),
    )
    .await;
    app.ok(Some(token), "mutation($id: ID!) { resolveTicket(input: { ticketId: $id, rootCause: \"Courier\", resolution: \"Replaced\" }) { ticket { id } } }", json!({ "id": ann }))
        .await;
    complain(&ids["Bob"]).await;
    complain(&ids["Bob"]).await;
    complain(&ids["Eve"]).await;

    let today = local_date(Utc::now());
    let query = "query($input: ComplaintImpactInput!) { complaintImpact(input: $input) {
      activityWindowDays
      withoutComplaints { customers complaints retained churn averageLifetimeSpend averagePredictedClv }
      withComplaints { customers complaints retained churn averageLifetimeSpend }
      byResolutionSpeed { speed group { customers churn } }
    } }";
    let input = json!({ "input": { "from": (today - Duration::days(10)).to_string(), "to": (today + Duration::days(1)).to_string() } });
    let impact = app.ok(Some(token), query, input).await["complaintImpact"].clone();
    assert_eq!(
        impact["withoutComplaints"],
        json!({ "customers": 2, "complaints": 0, "retained": 1, "churn": 0.5, "averageLifetimeSpend": "20.00", "averagePredictedClv": null }),
        "Cy stays, Dan left"
    );
    assert_eq!(
        impact["withComplaints"],
        json!({ "customers": 2, "complaints": 3, "retained": 1, "churn": 0.5, "averageLifetimeSpend": "60.00" }),
        "Ann and Bob; Eve was not a customer at the start"
    );
    let speeds: Vec<(String, u64)> = impact["byResolutionSpeed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["speed"].as_str().unwrap().to_owned(), g["group"]["customers"].as_u64().unwrap()))
        .collect();
    assert_eq!(speeds[0], ("WITHIN_A_DAY".to_owned(), 1));
    assert_eq!(speeds[4], ("UNRESOLVED".to_owned(), 1));
    assert_eq!(impact["byResolutionSpeed"][0]["group"]["churn"], 1.0, "Ann was helped fast and left anyway");
    assert_eq!(impact["byResolutionSpeed"][4]["group"]["churn"], 0.0);
    assert!(impact["byResolutionSpeed"][1]["group"]["churn"].is_null(), "nobody in that group");
    let bad = json!({ "input": { "from": today.to_string(), "to": today.to_string() } });
    assert_eq!(app.error_code(Some(token), query, bad).await, "BAD_USER_INPUT");
}

db_tests!(
    averages_of_money_are_shown_at_the_currency_scale,
    models_are_refitted_by_the_job,
    complaint_impact_on_churn_and_value,
    nps_and_csat_per_period,
    loyalty_kpis,
    customer_value_pareto_and_historical_clv,
    predictive_models_fit_and_score_customers,
    retention_metrics_match_the_definitions,
    lead_conversion_by_source,
    cohort_matrix_by_first_order_month,
    rfm_scores_and_segments,
);
