//! The `vafa` binary: schema export, configuration errors, administration commands, demo mode.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use serde_json::json;

use crate::{
    db_tests,
    support::{Backend, TestApp},
};

fn vafa() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vafa"));
    for (key, _) in std::env::vars() {
        if key.starts_with("VAFA_") {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn export_schema_matches_the_checked_in_sdl() {
    let output = vafa().arg("export-schema").output().unwrap();
    assert!(output.status.success());
    let checked_in = include_str!("../../schema.graphql");
    assert!(
        String::from_utf8(output.stdout).unwrap() == checked_in,
        "schema.graphql is stale: run `cargo run -- export-schema > schema.graphql`"
    );
}

/// `--help` shows only flags a command uses, and names the choices of the ones with choices.
#[test]
fn help_shows_used_flags_and_choices() {
    let help = |args: &[&str]| {
        let output = vafa().args(args).arg("--help").output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let issue_token = help(&["issue-token"]);
    assert!(issue_token.contains("--access-token-ttl"), "{issue_token}");
    assert!(!issue_token.contains("refresh-token"), "issue-token issues no refresh token: {issue_token}");
    assert!(help(&["serve"]).contains("--refresh-token-ttl"));
    let create_user = help(&["create-user"]);
    for role in ["admin", "manager", "agent", "sales", "viewer"] {
        assert!(create_user.contains(&format!("{role}:")), "{role} explained: {create_user}");
    }
    let import = help(&["import"]);
    assert!(import.contains("customer_ref") && import.contains("marketing_consent"), "columns: {import}");
}

#[test]
fn configuration_errors_are_clear_and_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (vec![("VAFA_DATABASE_URL", "postgres://127.0.0.1:1/vafa")], "VAFA_JWT_SECRET is required"),
        (vec![("VAFA_DATABASE_URL", "mysql://localhost/vafa")], "VAFA_DATABASE_URL must start with"),
        (vec![("VAFA_JWT_SECRET", "too-short")], "at least 32 bytes"),
        (vec![("VAFA_BIND", "not-an-address")], "invalid value"),
        (vec![("VAFA_ACCESS_TOKEN_TTL", "1")], "VAFA_ACCESS_TOKEN_TTL"),
    ];
    for (env, expected) in cases {
        let output = vafa().arg("serve").env("VAFA_DATA_DIR", dir.path()).envs(env.clone()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{env:?} should fail");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
        assert!(!stderr.contains("too-short"), "secrets are never echoed: {stderr}");
    }
}

#[test]
fn an_unreachable_database_is_waited_for_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = vafa()
        .arg("serve")
        .env("VAFA_DATA_DIR", dir.path())
        .env("VAFA_DATABASE_URL", "postgres://vafa:hunter22@127.0.0.1:1/vafa")
        .env("VAFA_JWT_SECRET", "x".repeat(40))
        .env("VAFA_DATABASE_WAIT", "5")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(started.elapsed() >= std::time::Duration::from_secs(4), "it retried before giving up: {stderr}");
    assert!(stderr.contains("database not reachable yet"), "{stderr}");
    assert!(stderr.contains("still unreachable after 5 s"), "{stderr}");
    assert!(!stderr.contains("hunter22"), "the password is never logged: {stderr}");
}

/// Environment pointing the CLI at the test app's database and secret.
fn env_for(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("VAFA_DATABASE_URL", app.database_url.clone()),
        ("VAFA_JWT_SECRET", String::from_utf8(app.jwt_secret.clone()).unwrap()),
    ]
}

async fn administration_commands(app: TestApp) {
    let env = env_for(&app);
    let output =
        vafa().args(["create-workspace", "--slug", "shop", "--name", "The Shop"]).envs(env.clone()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let again =
        vafa().args(["create-workspace", "--slug", "shop", "--name", "Again"]).envs(env.clone()).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let mut child = vafa()
        .args(["create-user", "--workspace", "shop", "--email", "owner@shop.example", "--role", "admin"])
        .envs(env.clone())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long and secret password\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let output = vafa()
        .args(["issue-token", "--workspace", "shop", "--email", "owner@shop.example"])
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "only the token is printed: {token}");
    let me = app.ok(Some(&token), "{ me { email role workspace { slug name } } }", json!({})).await;
    assert_eq!(me["me"]["role"], "ADMIN");
    assert_eq!(me["me"]["workspace"]["name"], "The Shop");

    // The password set through standard input works for login.
    let (status, _) = app.login("shop", "owner@shop.example", "a long and secret password").await;
    assert_eq!(status, 200);
}

/// What `serve --demo` prints: the GraphiQL URL, the access token, and the seed summary line
/// (`Demo data: …`, printed when the data was created).
struct DemoAccess {
    url: String,
    token: String,
    seeded: Option<String>,
}

fn demo_access(child: &mut std::process::Child) -> DemoAccess {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let (mut url, mut seeded) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("GraphiQL: ") {
            url = Some(rest.to_owned());
        }
        if let Some(rest) = line.strip_prefix("Demo data: ") {
            seeded = Some(rest.to_owned());
        }
        if let Some(token) = line.strip_prefix("Access token: ") {
            return DemoAccess { url: url.expect("GraphiQL URL printed"), token: token.to_owned(), seeded };
        }
    }
    panic!("no access token printed");
}

/// The number printed before `what` in the seed summary, e.g. `412 orders`.
fn printed_count(summary: &str, what: &str) -> i64 {
    let at = summary.find(what).unwrap_or_else(|| panic!("no `{what}` in {summary}"));
    let number = summary[..at].trim_end().rsplit([' ', '(']).next().unwrap();
    number.parse().unwrap_or_else(|_| panic!("no count before `{what}` in {summary}"))
}

/// Every screen of the demo has real data, and the printed summary is what was seeded.
async fn demo_data_fills_every_screen(url: &str, token: &str, summary: &str) {
    let client = reqwest::Client::new();
    let query = |q: &'static str| {
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(json!({ "query": q }).to_string());
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body["errors"].is_null(), "{body}");
            body["data"].clone()
        }
    };
    let counts = query(
        "{ customers { totalCount } orders { totalCount } leads { totalCount } tickets { totalCount }
           breached: tickets(filter: { breached: true }) { totalCount }
           members: customers(filter: { loyaltyTierId: { isNull: false } }) { totalCount }
           tiers { totalCount } rewards { totalCount } referrals { totalCount } }",
    )
    .await;
    for (field, printed) in [
        ("customers", "customers"),
        ("orders", "orders"),
        ("leads", "leads"),
        ("tickets", "tickets"),
        ("breached", "missed an SLA target"),
    ] {
        assert_eq!(counts[field]["totalCount"], printed_count(summary, printed), "{field}: {summary}");
    }
    assert!(counts["breached"]["totalCount"].as_i64().unwrap() > 0, "some SLA clocks ran out");
    assert_eq!(counts["tiers"]["totalCount"], 3);
    assert!(counts["members"]["totalCount"].as_i64().unwrap() > 0, "tiers have members: {counts}");
    assert!(counts["rewards"]["totalCount"].as_i64().unwrap() > 0);
    assert!(counts["referrals"]["totalCount"].as_i64().unwrap() > 0, "leads referred by members");
    assert!(printed_count(summary, "rewards redeemed") > 0 && printed_count(summary, "coupons used") > 0);

    let states = query(
        "{ new: tickets(filter: { status: { eq: NEW } }) { totalCount }
           open: tickets(filter: { status: { eq: OPEN } }) { totalCount }
           pending: tickets(filter: { status: { eq: PENDING_CUSTOMER } }) { totalCount }
           escalated: tickets(filter: { status: { eq: ESCALATED } }) { totalCount }
           resolved: tickets(filter: { status: { eq: RESOLVED } }) { totalCount }
           closed: tickets(filter: { status: { eq: CLOSED } }) { totalCount }
           email: tickets(filter: { channel: { eq: EMAIL } }) { totalCount }
           social: tickets(filter: { channel: { eq: SOCIAL } }) { totalCount }
           phone: tickets(filter: { channel: { eq: PHONE } }) { totalCount } }",
    )
    .await;
    for (state, count) in states.as_object().unwrap() {
        assert!(count["totalCount"].as_i64().unwrap() > 0, "no {state} tickets: {states}");
    }

    let analytics = query(
        "{ experiments(first: 5) { nodes { status results { complete variants { customers } } } }
           predictionModel { customers } }",
    )
    .await;
    let experiment = &analytics["experiments"]["nodes"][0];
    assert_eq!(experiment["status"], "COMPLETED", "{analytics}");
    assert_eq!(experiment["results"]["complete"], true, "{analytics}");
    let assigned: i64 =
        experiment["results"]["variants"].as_array().unwrap().iter().map(|v| v["customers"].as_i64().unwrap()).sum();
    assert_eq!(assigned, 200, "{analytics}");
    assert!(summary.contains("a fitted predictive model"), "{summary}");
    assert!(analytics["predictionModel"]["customers"].as_i64().unwrap() > 0, "{analytics}");

    // Leads were contacted over months, not all "today".
    let leads = query("{ leads(first: 50) { nodes { scoreReasons { rule detail } } } }").await;
    let recency: std::collections::BTreeSet<String> = leads["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|lead| lead["scoreReasons"].as_array().unwrap().clone())
        .filter(|reason| reason["rule"] == "RECENCY")
        .map(|reason| reason["detail"].as_str().unwrap().to_owned())
        .collect();
    assert!(recency.len() > 10, "last-activity ages vary: {recency:?}");
}

async fn demo_mode_prints_a_working_token(app: TestApp) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = vafa();
    command.arg("serve").arg("--demo").env("VAFA_BIND", "127.0.0.1:0").env("VAFA_DATA_DIR", data_dir.path());
    if app.backend == Backend::Postgres {
        command.envs(env_for(&app));
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let DemoAccess { url, token, seeded } = demo_access(&mut child);
    demo_data_fills_every_screen(&url, &token, &seeded.expect("the seed summary is printed")).await;
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(json!({ "query": "{ me { email role workspace { slug } } }" }).to_string())
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["me"]["email"], "admin@demo.example", "{body}");
    assert_eq!(body["data"]["me"]["workspace"]["slug"], "demo");
    if app.backend == Backend::Sqlite {
        assert!(data_dir.path().join("vafa.db").exists(), "embedded database created in the data dir");
        // Customer data and password hashes are the owner's alone.
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| std::fs::metadata(data_dir.path().join(name)).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode("").unwrap(), 0o700, "data dir");
        for file in ["vafa.db", "vafa.db-wal", "vafa.db-shm", "jwt-secret"] {
            assert_eq!(mode(file).unwrap(), 0o600, "{file}");
        }
    }

    // SIGTERM shuts the server down cleanly.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

/// Even at `trace`, no credential reaches the log: not a header, not a WebSocket's
/// `connection_init`.
async fn tokens_never_reach_the_log(app: TestApp) {
    let data_dir = tempfile::tempdir().unwrap();
    let log = data_dir.path().join("server.log");
    let mut command = vafa();
    command
        .arg("serve")
        .arg("--demo")
        .env("VAFA_BIND", "127.0.0.1:0")
        .env("VAFA_DATA_DIR", data_dir.path().join("data"))
        .env("VAFA_LOG", "trace")
        .env("VAFA_JOB_INTERVAL_SECS", "0");
    if app.backend == Backend::Postgres {
        command.envs(env_for(&app));
    }
    let mut child = command.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
    let DemoAccess { url, token, .. } = demo_access(&mut child);
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(json!({ "query": "{ me { email } }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let base = url.trim_end_matches("/graphql");
    let mut socket = crate::support::subscribe(base, &token, "subscription { ticketEvents { kind } }").await;
    let _ = futures_util::SinkExt::close(&mut socket).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("finished processing request"), "the log is verbose: {written}");
    // The signature part is what makes a token usable.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!written.contains(signature), "a token reached the log");
}

db_tests!(administration_commands, demo_mode_prints_a_working_token, tokens_never_reach_the_log);
