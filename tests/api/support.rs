//! The test harness: a real server on an ephemeral port, over a fresh SQLite file or a fresh
//! PostgreSQL database (copied from a template migrated once per test process).

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use vafa::{
    AppState,
    auth::Actor,
    build_app,
    config::{HttpSettings, JwtSettings},
    db,
    graphql::transact,
    users, workspaces,
};

pub const PG_ENV: &str = "VAFA_TEST_POSTGRES_URL";
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub database_url: String,
    /// Printable, so the CLI can be given it through `VAFA_JWT_SECRET`.
    pub jwt_secret: Vec<u8>,
    pub backend: Backend,
    /// SQL statements run by the app so far (to prove the absence of N+1 queries).
    pub statements: Arc<AtomicU64>,
    /// The start of each statement's SQL, for diagnosing a count that is off.
    pub statement_log: Arc<Mutex<Vec<String>>>,
    postgres_database: Option<String>,
    _dir: tempfile::TempDir,
}

/// A workspace with an admin, ready for requests.
pub struct Tenant {
    pub workspace: entity::workspace::Model,
    pub admin: entity::user::Model,
    pub admin_token: String,
}

/// Runs `test` against a fresh app on `backend`. PostgreSQL variants are skipped, loudly, when
/// `VAFA_TEST_POSTGRES_URL` is unset (and fail in CI, where skipping would hide breakage).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(backend, HttpSettings::default(), test).await
}

pub async fn run_with<F, Fut>(backend: Backend, http: HttpSettings, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(app) = TestApp::spawn(backend, http).await else { return };
    let cleanup = app.postgres_database.clone();
    test(app).await;
    if let Some(name) = cleanup {
        drop_database(&name).await;
    }
}

/// Declares each test on SQLite and PostgreSQL with the settings `$settings()`.
#[macro_export]
macro_rules! db_tests_with {
    ($settings:ident: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run_with($crate::support::Backend::Sqlite, super::$settings(), super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::run_with($crate::support::Backend::Postgres, super::$settings(), super::$name).await
            }
        }
    )*};
}

/// Declares each listed async test function twice: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run($crate::support::Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::run($crate::support::Backend::Postgres, super::$name).await
            }
        }
    )*};
}

/// The time zone of every workspace `TestApp::tenant` creates.
pub const TENANT_TIMEZONE: &str = "Europe/Berlin";

/// The calendar day `at` falls on in the test workspaces' time zone: the day metrics and jobs
/// count in, which is not the UTC day for an hour or two around midnight.
pub fn local_date(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    let zone: chrono_tz::Tz = TENANT_TIMEZONE.parse().expect("a known zone");
    at.with_timezone(&zone).date_naive()
}

impl TestApp {
    pub async fn spawn(backend: Backend, http: HttpSettings) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("vafa.db").display()), None),
            Backend::Postgres => {
                let (url, name) = fresh_postgres_database().await?;
                (url, Some(name))
            }
        };
        let mut db = db::connect(&database_url).await.expect("connect");
        let statements = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (counter, sql_log) = (statements.clone(), log.clone());
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut log) = sql_log.lock() {
                log.push(info.statement.sql.chars().take(160).collect::<String>());
            }
        });
        if backend == Backend::Sqlite {
            db::migrate(&db).await.expect("migrate");
        }
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let jwt_secret = hex::encode(random).into_bytes();
        let jwt = JwtSettings {
            secret: jwt_secret.clone(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
        };
        let state = AppState::new(db, jwt, http);
        state.events().start_listener().await.expect("event listener");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = build_app(state.clone());
        tokio::spawn(vafa::http::serve(listener, app, state.http().connections, std::future::pending()));
        Some(TestApp {
            url,
            state,
            client: reqwest::Client::new(),
            database_url,
            jwt_secret,
            backend,
            statements,
            statement_log: log,
            postgres_database,
            _dir: dir,
        })
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.state.db()
    }

    /// Runs `query` and returns its data and how many SQL statements it took.
    pub async fn counted(&self, token: Option<&str>, query: &str, variables: Value) -> (Value, u64, Vec<String>) {
        let before = self.statements.load(Ordering::SeqCst);
        let logged = self.statement_log.lock().unwrap().len();
        let data = self.ok(token, query, variables).await;
        let sql = self.statement_log.lock().unwrap()[logged..].to_vec();
        (data, self.statements.load(Ordering::SeqCst) - before, sql)
    }

    /// Creates a customer through the API; returns its id.
    pub async fn customer(&self, token: &str, input: Value) -> String {
        let data = self
            .ok(
                Some(token),
                "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }",
                json!({ "input": input }),
            )
            .await;
        data["createCustomer"]["customer"]["id"].as_str().expect("id").to_owned()
    }

    /// Records an order through the API; returns the payload.
    pub async fn order(&self, token: &str, customer: &str, external_ref: &str, amount: &str, placed_at: &str) -> Value {
        let data = self
            .ok(
                Some(token),
                "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { created order { id amount status } } }",
                json!({ "input": { "customerId": customer, "externalRef": external_ref, "amount": amount, "placedAt": placed_at } }),
            )
            .await;
        data["recordOrder"].clone()
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// POSTs a GraphQL request and returns the status and JSON body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.graphql_url())
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
    }

    /// Runs a query that must succeed; returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables).await;
        assert!(status == 200 && body.get("errors").is_none(), "expected success, got {status}: {body}");
        body["data"].clone()
    }

    /// Runs a query that must fail with one error; returns that error's `extensions.code`.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let (_, body) = self.post(token, query, variables).await;
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected an error, got {body}"));
        errors[0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("error without code: {body}")).to_owned()
    }

    /// Creates a workspace with an admin (password [`PASSWORD`]) and an access token for them.
    pub async fn tenant(&self, slug: &str) -> Tenant {
        let new_ws = workspaces::service::NewWorkspace { slug, name: slug, currency: "EUR", timezone: TENANT_TIMEZONE };
        let (workspace, admin) = transact(self.db(), async |txn| {
            let ws = workspaces::service::create(txn, Actor::SYSTEM, new_ws).await?;
            let admin = users::service::NewUser {
                email: format!("admin@{slug}.example"),
                name: format!("{slug} admin"),
                role: entity::user::UserRole::Admin,
                password: PASSWORD.to_owned(),
            };
            let admin = users::service::create(txn, ws.id, Actor::SYSTEM, admin).await?;
            Ok((ws, admin))
        })
        .await
        .expect("tenant");
        let admin_token = self.state.jwt().issue_access(admin.id, workspace.id).expect("token").token;
        Tenant { workspace, admin, admin_token }
    }

    /// Adds a user with `role` to the tenant's workspace through the API; returns (id, token).
    pub async fn user(&self, tenant: &Tenant, email: &str, role: &str) -> (String, String) {
        let data = self
            .ok(
                Some(&tenant.admin_token),
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
                json!({ "input": { "email": email, "name": email, "role": role, "password": PASSWORD } }),
            )
            .await;
        let id = data["createUser"]["user"]["id"].as_str().expect("id").to_owned();
        let token = self.state.jwt().issue_access(id.parse().expect("uuid"), tenant.workspace.id).expect("token").token;
        (id, token)
    }

    /// Starts another server instance over the same database (as a second `vafa serve` would
    /// be); returns its base URL. Tokens of this app work there too.
    pub async fn another_instance(&self) -> String {
        let db = db::connect(&self.database_url).await.expect("connect");
        let jwt = JwtSettings {
            secret: self.jwt_secret.clone(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
        };
        let state = AppState::new(db, jwt, HttpSettings::default());
        state.events().start_listener().await.expect("event listener");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connections = state.http().connections;
        tokio::spawn(vafa::http::serve(listener, build_app(state), connections, std::future::pending()));
        url
    }

    /// Logs in through the API; returns the `login` payload.
    pub async fn login(&self, workspace: &str, email: &str, password: &str) -> (u16, Value) {
        self.post(
            None,
            "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id email } } }",
            json!({ "input": { "workspace": workspace, "email": email, "password": password } }),
        )
        .await
    }
}

// ---- PostgreSQL: one template per test process, one database per test ----

static TEMPLATE: OnceCell<Option<String>> = OnceCell::const_new();

fn base_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{PG_ENV} must be set in CI: PostgreSQL variants may not be skipped there");
            }
            None
        }
    }
}

fn url_for(base: &str, database: &str) -> String {
    let mut url = url::Url::parse(base).expect("VAFA_TEST_POSTGRES_URL is not a URL");
    url.set_path(database);
    url.to_string()
}

async fn admin_connection(base: &str) -> DatabaseConnection {
    Database::connect(base).await.unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}: {e}"))
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.map(|_| ())
}

/// Creates (once per process) a migrated template, after dropping databases left behind by
/// test processes that are gone.
async fn template() -> Option<String> {
    TEMPLATE
        .get_or_init(|| async {
            let base = base_url()?;
            let admin = admin_connection(&base).await;
            exec(&admin, "SELECT pg_advisory_lock(72110)").await.expect("lock");
            let rows = admin
                .query_all_raw(Statement::from_string(
                    admin.get_database_backend(),
                    "SELECT datname FROM pg_database WHERE datname LIKE 'vafa_t%'".to_owned(),
                ))
                .await
                .expect("list databases");
            for row in rows {
                let name: String = row.try_get("", "datname").expect("datname");
                let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                }
            }
            let name = format!("vafa_tpl_{}", std::process::id());
            exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.expect("drop template");
            exec(&admin, &format!("CREATE DATABASE \"{name}\"")).await.expect("create template");
            let template_db = db::connect(&url_for(&base, &name)).await.expect("connect template");
            db::migrate(&template_db).await.expect("migrate template");
            template_db.close().await.expect("close template");
            exec(&admin, "SELECT pg_advisory_unlock(72110)").await.expect("unlock");
            Some(name)
        })
        .await
        .clone()
}

async fn fresh_postgres_database() -> Option<(String, String)> {
    let Some(template) = template().await else {
        eprintln!(
            "\n*** SKIPPED PostgreSQL variant: set {PG_ENV} (e.g. postgres://postgres@127.0.0.1:5432/postgres) ***\n"
        );
        return None;
    };
    let base = base_url()?;
    let name = format!("vafa_t_{}_{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let admin = admin_connection(&base).await;
    let mut attempt = 0;
    // Concurrent copies of one template can briefly collide; retry a few times.
    while let Err(err) = exec(&admin, &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")).await {
        attempt += 1;
        assert!(attempt < 20, "cannot create test database: {err}");
        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
    }
    let _ = admin.close().await;
    Some((url_for(&base, &name), name))
}

async fn drop_database(name: &str) {
    if let Some(base) = base_url() {
        let admin = admin_connection(&base).await;
        let _ = exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        let _ = admin.close().await;
    }
}

/// Opens a `graphql-transport-ws` subscription on `base_url`; returns the socket once subscribed.
pub async fn subscribe(
    base_url: &str,
    token: &str,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("{}/graphql", base_url.replacen("http", "ws", 1)).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    socket
}

pub async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Value {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("no message within 10 s")
            .expect("socket open")
            .expect("message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}
