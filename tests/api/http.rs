//! GraphQL over HTTP: methods, media types, status codes, limits, health, request ids, CORS.

use serde_json::{Value, json};
use vafa::config::HttpSettings;

use crate::{
    db_tests,
    support::{Backend, TestApp, run_with},
};

async fn get(app: &TestApp, token: &str, query: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.graphql_url())
        .query(&[("query", query)])
        .header("authorization", format!("Bearer {token}"))
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

async fn post_raw(app: &TestApp, content_type: &str, accept: &str, body: String) -> (u16, String, String) {
    let response = app
        .client
        .post(app.graphql_url())
        .header("content-type", content_type)
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let media = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, media, response.text().await.unwrap())
}

async fn methods_media_types_and_status_codes(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();

    let response = get(&app, token, "{ workspace { slug } }", "application/graphql-response+json").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/graphql-response+json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["workspace"]["slug"], "acme");

    // Mutations are never run from GET.
    let response =
        get(&app, token, "mutation { logout(input: { refreshToken: \"x\" }) { revoked } }", "application/json").await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    // A document that fails validation: 400 for the modern media type, 200 for legacy JSON.
    let invalid = json!({ "query": "{ noSuchField }" }).to_string();
    let (status, media, _) =
        post_raw(&app, "application/json", "application/graphql-response+json", invalid.clone()).await;
    assert_eq!((status, media.starts_with("application/graphql-response+json")), (400, true));
    let (status, media, body) = post_raw(&app, "application/json", "application/json", invalid).await;
    assert_eq!((status, media.starts_with("application/json")), (200, true));
    assert!(body.contains("noSuchField") && body.contains("GRAPHQL_VALIDATION_FAILED"), "{body}");
    let (status, _, body) =
        post_raw(&app, "application/json", "application/json", json!({ "query": "{ me { " }).to_string()).await;
    assert_eq!(status, 200);
    assert!(body.contains("GRAPHQL_PARSE_FAILED"), "{body}");
    // A field error after validation is still 200 with the modern type.
    let (status, _, body) = post_raw(
        &app,
        "application/json",
        "application/graphql-response+json",
        json!({ "query": "{ me { id } }" }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("UNAUTHENTICATED"));

    let (status, _, _) = post_raw(&app, "text/plain", "application/json", "{ me { id } }".to_owned()).await;
    assert_eq!(status, 415);
    let (status, _, _) = post_raw(&app, "application/json", "application/json", "{not json".to_owned()).await;
    assert_eq!(status, 400);
    let (status, _, _) =
        post_raw(&app, "application/json", "application/json", json!({ "query": 42 }).to_string()).await;
    assert_eq!(status, 400);
    let (status, _, _) =
        post_raw(&app, "application/json", "text/csv", json!({ "query": "{ __typename }" }).to_string()).await;
    assert_eq!(status, 406);
}

async fn limits_protect_the_server(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    // Too deep.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(14),
        "} ".repeat(14)
    );
    let (status, body) = app.post(token, &deep, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP", "{body}");
    assert_eq!(
        (body["errors"][0]["extensions"]["actual"].as_u64(), body["errors"][0]["extensions"]["limit"].as_u64()),
        (Some(19), Some(16))
    );
    // Too complex: page sizes multiply.
    let aliases: String = (0..10)
        .map(|i| format!("u{i}: users(first: 100) {{ edges {{ node {{ id email name role active createdAt }} }} }} "))
        .collect();
    let (_, body) = app.post(token, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{body}");
    assert!(body["errors"][0]["extensions"]["actual"].as_u64() > body["errors"][0]["extensions"]["limit"].as_u64());
    // A normal query is well within both.
    app.ok(token, "{ users(first: 100) { edges { node { id email workspace { slug } } } } }", json!({})).await;
    // GraphiQL's own introspection query fits the depth limit.
    let introspection = include_str!("introspection.graphql");
    let data = app.ok(token, introspection, json!({})).await;
    assert!(data["__schema"]["types"].as_array().unwrap().len() > 10);
    // Oversized bodies are refused before parsing.
    let huge = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(2 * 1024 * 1024)) }).to_string();
    let (status, _, _) = post_raw(&app, "application/json", "application/json", huge).await;
    assert_eq!(status, 413);
}

async fn health_and_request_ids(app: TestApp) {
    let response = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let response =
        app.client.get(format!("{}/readyz", app.url)).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    // Once the database is gone, the instance is not ready (but still alive).
    app.db().clone().close().await.unwrap();
    let response = app.client.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let response = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn graphiql_is_served_to_browsers(app: TestApp) {
    let response = app.client.get(app.graphql_url()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().to_lowercase().contains("graphiql"));
}

db_tests!(
    methods_media_types_and_status_codes,
    limits_protect_the_server,
    health_and_request_ids,
    graphiql_is_served_to_browsers
);

/// Production settings: no GraphiQL, no introspection, CORS for one origin.
async fn locked_down(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let response = app.client.get(app.graphql_url()).header("accept", "text/html").send().await.unwrap();
    assert!(!response.text().await.unwrap().to_lowercase().contains("graphiql"));
    let (_, body) = app.post(Some(&tenant.admin_token), "{ __schema { types { name } } }", json!({})).await;
    assert!(body["data"]["__schema"].is_null(), "introspection is off: {body}");
    assert!(!body.to_string().contains("ApiKey"), "{body}");

    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.graphql_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://crm.example.com").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://crm.example.com");
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(!refused.headers().contains_key("access-control-allow-origin"));
}

fn locked_down_settings() -> HttpSettings {
    HttpSettings {
        cors_origins: vec!["https://crm.example.com".to_owned()],
        graphiql: false,
        introspection: false,
        ..HttpSettings::default()
    }
}

mod locked_down {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run_with(Backend::Sqlite, locked_down_settings(), super::locked_down).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run_with(Backend::Postgres, locked_down_settings(), super::locked_down).await
    }
}

/// A TCP relay to `upstream` that can be frozen: bytes stop flowing, sockets stay open — a
/// database that hangs rather than refuses.
async fn freezable_relay(upstream: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let flag = frozen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, flag.clone()));
            tokio::spawn(pump(server_read, client_write, flag.clone()));
        }
    });
    (address, frozen)
}

async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = [0u8; 8192];
    while let Ok(n) = from.read(&mut buffer).await {
        while frozen.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if n == 0 || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// PostgreSQL only: an unresponsive database server (SQLite is a file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_promptly_when_the_database_hangs() {
    crate::support::run(Backend::Postgres, |app| async move {
        let mut url = url::Url::parse(&app.database_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let (relay, frozen) = freezable_relay(upstream).await;
        let (host, port) = relay.split_once(':').unwrap();
        url.set_host(Some(host)).unwrap();
        url.set_port(Some(port.parse().unwrap())).unwrap();
        let db = vafa::db::connect(url.as_str()).await.unwrap();
        let jwt = vafa::config::JwtSettings {
            secret: app.jwt_secret.clone(),
            access_token_ttl: std::time::Duration::from_secs(900),
            refresh_token_ttl: std::time::Duration::from_secs(3600),
        };
        let state = vafa::AppState::new(db, jwt, HttpSettings::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = state.http().connections;
        tokio::spawn(vafa::http::serve(listener, vafa::build_app(state), connections, std::future::pending()));
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(4)).build().unwrap();
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        frozen.store(true, std::sync::atomic::Ordering::SeqCst);
        let hung = client.get(format!("{base}/readyz")).send().await.expect("an answer despite the hung database");
        assert_eq!(hung.status(), 503);
        frozen.store(false, std::sync::atomic::Ordering::SeqCst);
    })
    .await
}
