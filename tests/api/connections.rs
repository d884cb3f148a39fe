//! Connection hygiene and live-socket revocation (issue 13): idle and slow clients are cut off,
//! connections and in-flight requests are capped, WebSockets must initialise in time, carry a
//! bounded number of subscriptions, and close (4403) when their credentials stop being valid.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use vafa::config::{ConnectionLimits, HttpSettings};

use crate::{
    db_tests_with,
    support::{Backend, TestApp, next_json, subscribe},
};

/// Tight socket limits, so that a test sees them act within seconds.
fn tight_sockets() -> HttpSettings {
    HttpSettings {
        connections: ConnectionLimits {
            max_connections: 4,
            header_read_timeout: Duration::from_secs(1),
            max_in_flight: 1,
            ..ConnectionLimits::default()
        },
        ..HttpSettings::default()
    }
}

/// Tight WebSocket limits (and the default socket timeouts, so pooled clients stay usable).
fn tight_websockets() -> HttpSettings {
    HttpSettings {
        connections: ConnectionLimits {
            ws_init_timeout: Duration::from_secs(1),
            max_subscriptions_per_socket: 2,
            ..ConnectionLimits::default()
        },
        ..HttpSettings::default()
    }
}

/// A client that opens a connection per request: the server closes idle ones after a second.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

async fn post_status(client: &reqwest::Client, app: &TestApp) -> (u16, Option<String>, serde_json::Value) {
    let response = client
        .post(app.graphql_url())
        .header("content-type", "application/json")
        .body(json!({ "query": "{ __typename }" }).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap())
}

fn address(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; true when it does within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn idle_and_slow_connections_are_closed(app: TestApp) {
    // Sends nothing at all.
    let mut idle = TcpStream::connect(address(&app)).await.unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await, "an idle connection stayed open");
    // Slowloris: a header that never ends.
    let mut slow = TcpStream::connect(address(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X-A: b\r\n").await.is_err() {
                return;
            }
        }
    };
    trickle.await;
    assert!(closed_within(&mut slow, Duration::from_secs(2)).await, "a slowloris connection stayed open");
    // A kept-alive connection that goes quiet after its request.
    let mut kept = TcpStream::connect(address(&app)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(closed_within(&mut kept, Duration::from_secs(5)).await, "an idle keep-alive connection stayed open");
}

async fn connections_and_requests_are_capped(app: TestApp) {
    // A request whose body never finishes keeps the one in-flight slot: the next one is shed.
    let mut stuck = TcpStream::connect(address(&app)).await.unwrap();
    stuck
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = unpooled();
    let (status, retry_after, body) = post_status(&client, &app).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
    // Health checks are not shed.
    let health = client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(stuck);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(post_status(&client, &app).await.0, 200);

    // Four connections at most: a fifth waits until one goes.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut socket = TcpStream::connect(address(&app)).await.unwrap();
        socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        held.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting =
        tokio::time::timeout(Duration::from_millis(500), client.get(format!("{}/healthz", app.url)).send()).await;
    assert!(waiting.is_err(), "a fifth connection was served: {waiting:?}");
    // The header timeout frees the held slots; then the server answers again.
    let served = tokio::time::timeout(Duration::from_secs(5), client.get(format!("{}/healthz", app.url)).send()).await;
    assert_eq!(served.expect("served once slots free up").unwrap().status(), 200);
}

/// The close code a socket ends with.
async fn close_code(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    within: Duration,
) -> Option<u16> {
    tokio::time::timeout(within, async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the socket was not closed in time")
}

async fn sockets_must_initialise_and_bound_their_subscriptions(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let mut request = format!("{}/graphql", app.url.replacen("http", "ws", 1)).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut silent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(close_code(&mut silent, Duration::from_secs(5)).await, Some(4408));

    let query = "subscription { ticketEvents { kind } }";
    let mut socket = subscribe(&app.url, &tenant.admin_token, query).await;
    let second = json!({ "id": "2", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(second.to_string())).await.unwrap();
    let third = json!({ "id": "3", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(third.to_string())).await.unwrap();
    let refusal = next_json(&mut socket).await;
    assert_eq!((refusal["id"].as_str(), refusal["type"].as_str()), (Some("3"), Some("error")), "{refusal}");
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
    assert_eq!(refusal["payload"][0]["extensions"]["limit"], 2);
    // Completing one frees its place.
    socket.send(Message::text(json!({ "id": "1", "type": "complete" }).to_string())).await.unwrap();
    let fourth = json!({ "id": "4", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(fourth.to_string())).await.unwrap();
    let mut heard = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(700), async {
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            heard.push(serde_json::from_str::<serde_json::Value>(&text).unwrap());
        }
    })
    .await;
    assert!(!heard.iter().any(|m| m["type"] == "error"), "the fourth subscription was refused: {heard:?}");
}

async fn sockets_close_when_credentials_are_revoked(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let admin = Some(tenant.admin_token.as_str());
    let query = "subscription { ticketEvents { kind } }";

    // A deactivated user.
    let (agent_id, agent_token) = app.user(&tenant, "agent@acme.example", "AGENT").await;
    let mut socket = subscribe(&app.url, &agent_token, query).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deactivate = "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { active } } }";
    app.ok(admin, deactivate, json!({ "id": agent_id })).await;
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)).await, Some(4403));

    // A revoked API key, from another instance on PostgreSQL.
    let create =
        "mutation { createApiKey(input: { name: \"feed\", scopes: [TICKETS_READ] }) { secret apiKey { id } } }";
    let key = app.ok(admin, create, json!({})).await;
    let secret = key["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let mut socket = subscribe(&app.url, &secret, query).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let revoker = if app.backend == Backend::Postgres { app.another_instance().await } else { app.url.clone() };
    let revoke = json!({
        "query": "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { id } } }",
        "variables": { "id": key["createApiKey"]["apiKey"]["id"] },
    });
    let response = app
        .client
        .post(format!("{revoker}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", tenant.admin_token))
        .body(revoke.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(close_code(&mut socket, Duration::from_secs(5)).await, Some(4403));

    // A logout ends the sockets of that sign-in session only.
    let signed_in = |n: u32| {
        let app = &app;
        async move {
            let (status, body) = app.login("acme", "admin@acme.example", crate::support::PASSWORD).await;
            assert_eq!(status, 200, "login {n}: {body}");
            let login = &body["data"]["login"];
            (login["accessToken"].as_str().unwrap().to_owned(), login["refreshToken"].as_str().unwrap().to_owned())
        }
    };
    let (phone_access, phone_refresh) = signed_in(1).await;
    let (laptop_access, _) = signed_in(2).await;
    let mut phone = subscribe(&app.url, &phone_access, query).await;
    let mut laptop = subscribe(&app.url, &laptop_access, query).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logout = "mutation($t: String!) { logout(input: { refreshToken: $t }) { revoked } }";
    app.ok(Some(&phone_access), logout, json!({ "t": phone_refresh })).await;
    assert_eq!(close_code(&mut phone, Duration::from_secs(5)).await, Some(4403));
    let still = tokio::time::timeout(Duration::from_millis(500), laptop.next()).await;
    assert!(still.is_err(), "the other session's socket was touched: {still:?}");

    // A token that expires while the socket is open.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": tenant.admin.id, "ws": tenant.workspace.id, "iss": "vafa", "aud": "vafa:staff",
        "iat": now, "nbf": now, "exp": now + 2, "jti": uuid::Uuid::now_v7(),
    });
    let short = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&app.jwt_secret)).unwrap();
    let mut socket = subscribe(&app.url, &short, query).await;
    assert_eq!(close_code(&mut socket, Duration::from_secs(6)).await, Some(4403));
}

db_tests_with!(tight_sockets: idle_and_slow_connections_are_closed, connections_and_requests_are_capped);
db_tests_with!(tight_websockets: sockets_must_initialise_and_bound_their_subscriptions, sockets_close_when_credentials_are_revoked);

/// PostgreSQL only: SQLite has one process and no event connection to lose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_hear_of_a_lost_event_connection() {
    crate::support::run(Backend::Postgres, |app| async move {
        let tenant = app.tenant("acme").await;
        let mut socket = subscribe(&app.url, &tenant.admin_token, "subscription { ticketEvents { kind } }").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Cut this instance's LISTEN connection, as a database failover would.
        let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                   WHERE datname = current_database() AND query ILIKE 'LISTEN%'";
        let rows = app.db().query_all_raw(Statement::from_string(DbBackend::Postgres, cut)).await.unwrap();
        assert_eq!(rows.len(), 1, "one listener per instance");
        let message = next_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "EVENTS_MISSED", "{message}");
    })
    .await
}
