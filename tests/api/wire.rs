//! The wire level: how responses are written (key order, nullability against the schema),
//! CORS for browsers, and how scalars print.

use serde_json::{Value, json};

use vafa::config::HttpSettings;

use crate::{
    db_tests,
    support::{Backend, TestApp, run_with},
};

/// POSTs a query and returns the body as the server wrote it.
async fn post_text(app: &TestApp, token: &str, query: &str) -> String {
    app.client
        .post(app.graphql_url())
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(json!({ "query": query }).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The keys of the first JSON object after `after` in `text`, in the order written.
fn keys_after(text: &str, after: &str) -> Vec<String> {
    let start = text.find(after).unwrap_or_else(|| panic!("{after} not in {text}")) + after.len();
    let object = &text[start..text[start..].find('}').map(|end| start + end).unwrap()];
    object
        .split(',')
        .filter_map(|pair| pair.split(':').next())
        .map(|key| key.trim_matches(['{', '"']))
        .map(str::to_owned)
        .collect()
}

async fn response_keys_come_in_selection_order(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let text = post_text(&app, token, "{ me { role id email } }").await;
    assert_eq!(keys_after(&text, "\"me\":"), ["role", "id", "email"], "{text}");
    // Aliases and root fields too.
    let text = post_text(&app, token, "{ z: workspace { slug name } a: me { name } }").await;
    let z = text.find("\"z\"").unwrap();
    assert!(z < text.find("\"a\"").unwrap(), "{text}");
    assert_eq!(keys_after(&text, "\"z\":"), ["slug", "name"], "{text}");
    // The same over GET.
    let text = app
        .client
        .get(app.graphql_url())
        .query(&[("query", "{ me { role id email } }")])
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(keys_after(&text, "\"me\":"), ["role", "id", "email"], "{text}");
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["data"]["me"]["email"], "admin@acme.example");
}

/// Code generators copy scalar descriptions into typed clients: they must say what the string holds.
async fn scalars_say_what_their_strings_hold(app: TestApp) {
    let query =
        r#"{ dateTime: __type(name: "DateTime") { description } decimal: __type(name: "Decimal") { description } }"#;
    let data = app.ok(None, query, json!({})).await;
    let date_time = data["dateTime"]["description"].as_str().unwrap();
    assert!(date_time.contains("RFC 3339") && !date_time.contains("Implement"), "{date_time}");
    let decimal = data["decimal"]["description"].as_str().unwrap_or_default();
    assert!(decimal.contains("workspace currency"), "{decimal:?}");
}

db_tests!(response_keys_come_in_selection_order, scalars_say_what_their_strings_hold);

const BROWSER_ORIGIN: &str = "https://crm.example.com";

/// The headers browser clients send along: idempotent retries, tracing, Apollo's client
/// awareness and a request id of their own.
const CLIENT_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "baggage",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-request-id",
];

async fn browsers_may_send_client_headers_and_read_the_request_id(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.graphql_url())
        .header("origin", BROWSER_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", CLIENT_HEADERS.join(","))
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], BROWSER_ORIGIN);
    let allowed = header_list(&preflight, "access-control-allow-headers");
    for header in CLIENT_HEADERS {
        assert!(allowed.iter().any(|a| a == header), "{header} not allowed: {allowed:?}");
    }

    let response = app
        .client
        .post(app.graphql_url())
        .header("origin", BROWSER_ORIGIN)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", tenant.admin_token))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .header("x-request-id", "browser-7")
        .body(json!({ "query": "{ me { id } }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], BROWSER_ORIGIN);
    assert_eq!(response.headers()["x-request-id"], "browser-7");
    let exposed = header_list(&response, "access-control-expose-headers");
    for header in ["x-request-id", "retry-after"] {
        assert!(exposed.iter().any(|e| e == header), "{header} not exposed: {exposed:?}");
    }
}

/// A comma-separated header's items, lower-cased.
fn header_list(response: &reqwest::Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .flat_map(|value| value.to_str().unwrap().split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

fn browser_settings() -> HttpSettings {
    HttpSettings { cors_origins: vec![BROWSER_ORIGIN.to_owned()], ..HttpSettings::default() }
}

mod browsers_may_send_client_headers_and_read_the_request_id {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run_with(Backend::Sqlite, browser_settings(), super::browsers_may_send_client_headers_and_read_the_request_id)
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run_with(Backend::Postgres, browser_settings(), super::browsers_may_send_client_headers_and_read_the_request_id)
            .await
    }
}
