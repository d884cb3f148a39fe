//! `vafa import`: bad rows reported by line without losing good ones, customers created on the
//! fly, identical rows kept apart, re-runs that import nothing twice, a failing exit status when
//! rows were rejected, standard input, and which workspace when there are several.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use serde_json::json;

use crate::{db_tests, support::TestApp};

/// Runs `vafa import` with `args` on the test app's database, `stdin` piped in.
fn run_import(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vafa"))
        .arg("import")
        .args(args)
        .env("VAFA_DATABASE_URL", &app.database_url)
        .env("VAFA_DATA_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `vafa import KIND FILE --workspace acme` on `csv`; returns what it printed. The command
/// succeeds exactly when no row was rejected.
pub fn import(app: &TestApp, kind: &str, csv: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.csv");
    std::fs::write(&file, csv).unwrap();
    let output = run_import(app, &[kind, file.to_str().unwrap(), "--workspace", "acme"], "");
    let printed = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(printed.starts_with("rows read: "), "the summary is printed either way: {printed} {stderr}");
    let clean = printed.contains(", rejected: 0,");
    assert_eq!(output.status.success(), clean, "exit status {:?}: {printed} {stderr}", output.status);
    if !clean {
        assert!(stderr.contains("rows were rejected"), "{stderr}");
    }
    printed
}

async fn imports_are_idempotent_and_report_bad_rows(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let customers = "external_ref,name,email,city,birthday\n\
        c-1,Ada,ada@example.com,London,1985-12-10\n\
        c-2,,nobody@example.com,Paris,\n\
        c-3,Bob,not-an-email,Rome,\n\
        c-4,Cy,cy@example.com,Oslo,31/12/1990\n\
        c-5,Dee,dee@example.com,Lima,\n";
    let report = import(&app, "customers", customers);
    assert!(report.contains("rows read: 5, created: 2,"), "{report}");
    assert!(report.contains("line 3: name must have"), "{report}");
    assert!(report.contains("line 4: not a valid email"), "{report}");
    assert!(report.contains("line 5: birthday must be YYYY-MM-DD"), "{report}");
    let again = import(&app, "customers", customers);
    assert!(again.contains("created: 0, already present (skipped): 2"), "{again}");

    let orders = "customer_ref,placed_at,amount,external_ref,currency\n\
        c-1,2026-01-05T10:00:00Z,10.50,,\n\
        c-1,2026-01-05T10:00:00Z,10.50,,\n\
        ADA@example.com,2026-02-01,5.00,shop-9,EUR\n\
        new@example.com,2026-03-01,7.25,,\n\
        c-5,yesterday,1.00,,\n\
        c-5,2026-03-01,1.001,,\n\
        c-5,2026-03-01,3.00,,USD\n";
    let report = import(&app, "orders", orders);
    assert!(report.contains("rows read: 7, created: 4,"), "{report}");
    assert!(report.contains("customers created: 1"), "{report}");
    assert!(report.contains("line 6: placed_at must be"), "{report}");
    assert!(report.contains("line 7: EUR amounts have at most 2 decimal places"), "{report}");
    assert!(report.contains("line 8: currency USD is not the workspace currency EUR"), "{report}");
    let again = import(&app, "orders", orders);
    assert!(again.contains("created: 0, already present (skipped): 4"), "{again}");

    let q = "query($f: CustomerFilter) { customers(filter: $f) { edges { node { name orderCount totalSpent lifecycleStage } } } }";
    let ada = app.ok(token, q, json!({ "f": { "externalRef": { "eq": "c-1" } } })).await;
    let node = &ada["customers"]["edges"][0]["node"];
    assert_eq!(node["orderCount"], 3, "two identical rows are two orders, plus the one by email");
    assert_eq!(node["totalSpent"], "26.00");
    let new = app.ok(token, q, json!({ "f": { "email": { "eq": "new@example.com" } } })).await;
    assert_eq!(new["customers"]["edges"][0]["node"]["orderCount"], 1, "created on the fly");
    assert_ne!(new["customers"]["edges"][0]["node"]["lifecycleStage"], "NEW", "stages follow the imported orders");
}

/// `-` reads standard input; with one workspace `--workspace` may be left out, with two it must
/// be given.
async fn standard_input_and_which_workspace(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let csv = "external_ref,name\nc-1,Ada\nc-2,Grace\n";
    let output = run_import(&app, &["customers", "-"], csv);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed} {}", String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("rows read: 2, created: 2,"), "{printed}");
    let q = "{ customers { totalCount } }";
    assert_eq!(app.ok(Some(&tenant.admin_token), q, json!({})).await["customers"]["totalCount"], 2);

    app.tenant("other").await;
    let output = run_import(&app, &["customers", "-"], "external_ref,name\nc-3,Alan\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("several workspaces (") && stderr.contains("--workspace"), "{stderr}");
    assert!(stderr.contains("acme") && stderr.contains("other"), "the choices are named: {stderr}");
    assert_eq!(app.ok(Some(&tenant.admin_token), q, json!({})).await["customers"]["totalCount"], 2, "nothing imported");

    let output = run_import(&app, &["customers", "-", "--workspace", "acme"], "external_ref,name\nc-3,Alan\n");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(app.ok(Some(&tenant.admin_token), q, json!({})).await["customers"]["totalCount"], 3);
}

db_tests!(imports_are_idempotent_and_report_bad_rows, standard_input_and_which_workspace);
